package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"rubrica"
	"rubrica/internal/testenv"
)

// The helpers of this file are prefixed bk.

// bkChannel creates a channel of the type (as owner) and returns its id.
func bkChannel(tb testing.TB, env *testenv.Env, ws *testenv.Workspace, typ string) string {
	tb.Helper()
	var data struct {
		CreateChannel struct{ Channel struct{ ID string } }
	}
	env.MustDo(tb, ws.Owner(), `mutation($in: CreateChannelInput!) { createChannel(input: $in) { channel { id } } }`,
		map[string]any{"in": map[string]any{"type": typ, "name": typ + " line"}}, &data)
	return data.CreateChannel.Channel.ID
}

// bkReceived is what receiveMessage returned.
type bkReceived struct {
	Contact      struct{ ID string }
	Conversation struct {
		ID     string
		Status string
	}
	Message struct{ ID string }
}

// bkReceive delivers an inbound message; sentAt "" means now.
func bkReceive(tb testing.TB, env *testenv.Env, token, channelID, identifier, text, sentAt string) bkReceived {
	tb.Helper()
	in := map[string]any{"channelId": channelID, "identifier": identifier, "text": text}
	if sentAt != "" {
		in["sentAt"] = sentAt
	}
	var data struct{ ReceiveMessage bkReceived }
	env.MustDo(tb, token, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) {
		contact { id } conversation { id status } message { id } } }`, map[string]any{"in": in}, &data)
	return data.ReceiveMessage
}

const bkBlock = `mutation($id: ID!) { blockContact(input: {contactId: $id}) { contact { id blocked blockedAt conversationStatus } } }`
const bkUnblock = `mutation($id: ID!) { unblockContact(input: {contactId: $id}) { contact { id blocked blockedAt } } }`

type bkBlocked struct {
	ID                 string
	Blocked            bool
	BlockedAt          *string
	ConversationStatus *string
}

func bkMustBlock(tb testing.TB, env *testenv.Env, token, id string) bkBlocked {
	tb.Helper()
	var data struct{ BlockContact struct{ Contact bkBlocked } }
	env.MustDo(tb, token, bkBlock, map[string]any{"id": id}, &data)
	return data.BlockContact.Contact
}

func bkMustUnblock(tb testing.TB, env *testenv.Env, token, id string) bkBlocked {
	tb.Helper()
	var data struct{ UnblockContact struct{ Contact bkBlocked } }
	env.MustDo(tb, token, bkUnblock, map[string]any{"id": id}, &data)
	return data.UnblockContact.Contact
}

// bkView is everything a member can see of a contact's conversations and activity.
type bkView struct {
	Blocked            bool
	ConversationStatus *string
	Channels           []struct {
		Channel           struct{ ID string }
		Status            string
		LastInteractionAt *string
	}
	Conversations struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				ID       string
				Status   string
				Messages struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID, Text string } }
				}
			}
		}
	}
}

// bkViewQuery is a contact as the inbox shows it (its pages are as large as the complexity
// limit allows; the tests' contacts have far fewer conversations and messages).
const bkViewQuery = `query($id: ID!) { contact(id: $id) { blocked conversationStatus
	channels { channel { id } status lastInteractionAt }
	conversations(first: 20) { totalCount edges { node { id status
		messages(first: 40) { totalCount edges { node { id text } } } } } } } }`

func bkViewOf(tb testing.TB, env *testenv.Env, token, id string) bkView {
	tb.Helper()
	var data struct{ Contact *bkView }
	env.MustDo(tb, token, bkViewQuery, map[string]any{"id": id}, &data)
	if data.Contact == nil {
		tb.Fatalf("contact %s: got null", id)
	}
	return *data.Contact
}

// texts lists every message text the view shows.
func (v bkView) texts() []string {
	var out []string
	for _, c := range v.Conversations.Edges {
		for _, m := range c.Node.Messages.Edges {
			out = append(out, m.Node.Text)
		}
	}
	return out
}

func (v bkView) messageCount() int {
	n := 0
	for _, c := range v.Conversations.Edges {
		n += c.Node.Messages.TotalCount
	}
	return n
}

func bkActive(tb testing.TB, env *testenv.Env, token, month string) int {
	tb.Helper()
	var data struct{ ActiveContacts int }
	env.MustDo(tb, token, `query($m: String!) { activeContacts(month: $m) }`, map[string]any{"m": month}, &data)
	return data.ActiveContacts
}

func TestBlockContact(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Block")
	other := env.Workspace(t, "Block other")
	wa := bkChannel(t, env, ws, "WHATSAPP")

	for i, role := range []string{"OWNER", "MANAGER", "AGENT"} {
		t.Run("OK"+role, func(t *testing.T) {
			token := ws.Tokens[rubrica.Role(role)]
			r := bkReceive(t, env, ws.Agent(), wa, fmt.Sprintf("+3933312345%02d", i), "hello", "")
			if r.Conversation.Status != "OPEN" {
				t.Fatalf("conversation before the block: got %s, want OPEN", r.Conversation.Status)
			}
			c := bkMustBlock(t, env, token, r.Contact.ID)
			if !c.Blocked || c.BlockedAt == nil {
				t.Errorf("blocked, blockedAt: got %v, %v, want true and a time", c.Blocked, c.BlockedAt)
			}
			if c.ConversationStatus == nil || *c.ConversationStatus != "CLOSED" {
				t.Errorf("conversationStatus: got %v, want CLOSED (the open conversation is closed)", ctDeref(c.ConversationStatus))
			}
			v := bkViewOf(t, env, token, r.Contact.ID)
			if v.Conversations.Edges[0].Node.Status != "CLOSED" {
				t.Errorf("conversation: got %s, want CLOSED", v.Conversations.Edges[0].Node.Status)
			}
		})
	}

	t.Run("BlockTwiceChangesNothing", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Twice")
		first := bkMustBlock(t, env, ws.Agent(), id)
		second := bkMustBlock(t, env, ws.Agent(), id)
		if *first.BlockedAt != *second.BlockedAt {
			t.Errorf("blockedAt after a second block: got %s, want %s", *second.BlockedAt, *first.BlockedAt)
		}
	})

	t.Run("ListedAsBlocked", func(t *testing.T) {
		bws := env.Workspace(t, "Block list")
		a := fxContact(t, env, bws.Owner(), "Stays")
		b := fxContact(t, env, bws.Owner(), "Goes")
		bkMustBlock(t, env, bws.Agent(), b)
		for blocked, want := range map[bool]string{true: b, false: a} {
			var data struct {
				Contacts struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID string } }
				}
			}
			env.MustDo(t, bws.Agent(), `query($b: Boolean) { contacts(filter: {blocked: $b}) { totalCount edges { node { id } } } }`,
				map[string]any{"b": blocked}, &data)
			if data.Contacts.TotalCount != 1 || len(data.Contacts.Edges) != 1 || data.Contacts.Edges[0].Node.ID != want {
				t.Errorf("contacts(blocked: %v): got %+v, want only %s", blocked, data.Contacts, want)
			}
		}
	})

	t.Run("ErrOtherWorkspaceNotFound", func(t *testing.T) {
		foreign := fxContact(t, env, other.Owner(), "Foreign")
		for _, token := range []string{ws.Owner(), ws.Agent()} {
			fxWantError(t, env.Do(t, token, bkBlock, map[string]any{"id": foreign}), "NOT_FOUND", "contactId")
		}
		if c := ctGet(t, env, other.Owner(), foreign); c.Blocked {
			t.Errorf("foreign contact blocked: got true, want false")
		}
	})

	t.Run("ErrMalformedIDNotFound", func(t *testing.T) {
		fxWantError(t, env.Do(t, ws.Owner(), bkBlock, map[string]any{"id": "nope"}), "NOT_FOUND", "contactId")
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Anon")
		fxWantError(t, env.Do(t, "", bkBlock, map[string]any{"id": id}), "UNAUTHENTICATED", "-")
	})

	t.Run("ErrSendToBlocked", func(t *testing.T) {
		r := bkReceive(t, env, ws.Agent(), wa, "+393331239999", "hi", "")
		bkMustBlock(t, env, ws.Agent(), r.Contact.ID)
		res := env.Do(t, ws.Owner(), `mutation($id: ID!) { sendMessage(input: {contactId: $id, text: "hello?"}) { message { id } } }`,
			map[string]any{"id": r.Contact.ID})
		fxWantError(t, res, "BAD_USER_INPUT", "contactId")
		if v := bkViewOf(t, env, ws.Owner(), r.Contact.ID); *v.ConversationStatus != "CLOSED" || v.messageCount() != 1 {
			t.Errorf("after a refused send: status %s, messages %d, want CLOSED, 1", *v.ConversationStatus, v.messageCount())
		}
	})
}

func TestUnblockContact(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Unblock")
	other := env.Workspace(t, "Unblock other")

	for _, role := range []string{"OWNER", "MANAGER"} {
		t.Run("OK"+role, func(t *testing.T) {
			id := fxContact(t, env, ws.Owner(), "Unblock "+role)
			bkMustBlock(t, env, ws.Agent(), id)
			c := bkMustUnblock(t, env, ws.Tokens[rubrica.Role(role)], id)
			if c.Blocked || c.BlockedAt != nil {
				t.Errorf("blocked, blockedAt: got %v, %v, want false, null", c.Blocked, c.BlockedAt)
			}
		})
	}

	t.Run("ErrAgentForbidden", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Agent unblock")
		bkMustBlock(t, env, ws.Agent(), id)
		fxWantError(t, env.Do(t, ws.Agent(), bkUnblock, map[string]any{"id": id}), "FORBIDDEN", "-")
		if c := ctGet(t, env, ws.Owner(), id); !c.Blocked {
			t.Errorf("blocked after the agent's refused unblock: got false, want true")
		}
	})

	t.Run("NotBlockedChangesNothing", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Never blocked")
		before := ctGet(t, env, ws.Owner(), id)
		c := bkMustUnblock(t, env, ws.Manager(), id)
		after := ctGet(t, env, ws.Owner(), id)
		if c.Blocked || after.UpdatedAt != before.UpdatedAt {
			t.Errorf("unblock of an unblocked contact: blocked %v, updatedAt %s -> %s, want false and unchanged", c.Blocked, before.UpdatedAt, after.UpdatedAt)
		}
	})

	t.Run("ErrOtherWorkspaceNotFound", func(t *testing.T) {
		foreign := fxContact(t, env, other.Owner(), "Foreign")
		bkMustBlock(t, env, other.Agent(), foreign)
		fxWantError(t, env.Do(t, ws.Owner(), bkUnblock, map[string]any{"id": foreign}), "NOT_FOUND", "contactId")
		if c := ctGet(t, env, other.Owner(), foreign); !c.Blocked {
			t.Errorf("foreign contact unblocked by another workspace")
		}
	})
}

// TestHiddenMessages checks that what a blocked contact sends never shows: not in its
// conversations, their messages or counts, its conversation status, its channels'
// lastInteractionAt, node(id), nor activeContacts; and that unblocking shows later messages
// only.
func TestHiddenMessages(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Hidden")
	wa := bkChannel(t, env, ws, "WHATSAPP")
	const phone = "+393331111111"

	bkReceive(t, env, ws.Agent(), wa, phone, "first", "2025-01-10T10:00:00Z")
	r := bkReceive(t, env, ws.Agent(), wa, phone, "second", "2025-01-11T10:00:00Z")
	id := r.Contact.ID
	before := bkViewOf(t, env, ws.Owner(), id)
	bkMustBlock(t, env, ws.Agent(), id)

	hidden := bkReceive(t, env, ws.Agent(), wa, phone, "while blocked", "2025-02-05T10:00:00Z")
	if hidden.Contact.ID != id {
		t.Fatalf("a blocked contact's message went to contact %s, want %s", hidden.Contact.ID, id)
	}
	if hidden.Conversation.Status != "CLOSED" {
		t.Errorf("receiveMessage's conversation: got %s, want CLOSED (not reopened)", hidden.Conversation.Status)
	}

	for _, token := range []string{ws.Owner(), ws.Agent()} {
		v := bkViewOf(t, env, token, id)
		if got := strings.Join(v.texts(), ","); got != "second,first" {
			t.Errorf("messages shown: got %s, want second,first", got)
		}
		if v.Conversations.TotalCount != 1 || v.messageCount() != 2 {
			t.Errorf("conversations, messages totalCount: got %d, %d, want 1, 2", v.Conversations.TotalCount, v.messageCount())
		}
		if v.ConversationStatus == nil || *v.ConversationStatus != "CLOSED" {
			t.Errorf("conversationStatus: got %s, want CLOSED", ctDeref(v.ConversationStatus))
		}
		for i, ch := range v.Channels {
			if ctDeref(ch.LastInteractionAt) != ctDeref(before.Channels[i].LastInteractionAt) {
				t.Errorf("lastInteractionAt on %s: got %s, want %s (the hidden message must not move it)",
					ch.Channel.ID, ctDeref(ch.LastInteractionAt), ctDeref(before.Channels[i].LastInteractionAt))
			}
		}
	}
	var node struct{ Node *struct{ ID string } }
	res := env.Do(t, ws.Owner(), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": hidden.Message.ID})
	if len(res.Errors) == 0 {
		res.Decode(t, &node)
	}
	if node.Node != nil {
		t.Errorf("node(hidden message): got %s, want null or NOT_FOUND", res.Data)
	} else if len(res.Errors) > 0 && res.Code() != "NOT_FOUND" {
		t.Errorf("node(hidden message): got %s, want NOT_FOUND", res.Code())
	}
	if n := bkActive(t, env, ws.Owner(), "2025-02"); n != 0 {
		t.Errorf("activeContacts(2025-02) with only a hidden message: got %d, want 0", n)
	}
	if n := bkActive(t, env, ws.Owner(), "2025-01"); n != 1 {
		t.Errorf("activeContacts(2025-01): got %d, want 1", n)
	}

	t.Run("NoEventForHiddenMessage", func(t *testing.T) {
		sub := bkSubscribe(t, env, ws.Owner(), `subscription($id: ID) { contactEvents(contactId: $id) { type } }`, map[string]any{"id": id})
		env.WaitSubscribers(t, 1)
		bkReceive(t, env, ws.Agent(), wa, phone, "still blocked", "")
		// A visible change afterwards marks the end: nothing may come between.
		bkMustUnblock(t, env, ws.Owner(), id)
		bkWaitEvent(t, sub, "UNBLOCKED", "UPDATED")
	})

	t.Run("UnblockShowsLaterMessagesOnly", func(t *testing.T) {
		bkMustUnblock(t, env, ws.Manager(), id) // already unblocked above: no change
		bkReceive(t, env, ws.Agent(), wa, phone, "after unblock", "2025-03-01T10:00:00Z")
		v := bkViewOf(t, env, ws.Owner(), id)
		if got := strings.Join(v.texts(), ","); got != "after unblock,second,first" {
			t.Errorf("messages after unblock: got %s, want after unblock,second,first", got)
		}
		if v.Conversations.TotalCount != 2 || v.ConversationStatus == nil || *v.ConversationStatus != "OPEN" {
			t.Errorf("conversations, status: got %d, %s, want 2, OPEN", v.Conversations.TotalCount, ctDeref(v.ConversationStatus))
		}
		if n := bkActive(t, env, ws.Owner(), "2025-03"); n != 1 {
			t.Errorf("activeContacts(2025-03) after unblock: got %d, want 1", n)
		}
	})

	t.Run("UnlinkedIdentityOfBlockedContact", func(t *testing.T) {
		// A removed link comes back with the identity's next message, but not for a blocked
		// contact: the message is hidden and nothing is linked.
		r := bkReceive(t, env, ws.Agent(), wa, "+393333333333", "hi", "")
		env.MustDo(t, ws.Manager(), `mutation($c: ID!, $ch: ID!) { removeContactChannel(input: {contactId: $c, channelId: $ch}) { contact { id } } }`,
			map[string]any{"c": r.Contact.ID, "ch": wa}, nil)
		bkMustBlock(t, env, ws.Agent(), r.Contact.ID)
		before := bkViewOf(t, env, ws.Owner(), r.Contact.ID)
		h := bkReceive(t, env, ws.Agent(), wa, "+393333333333", "hidden", "")
		if h.Contact.ID != r.Contact.ID {
			t.Fatalf("message of an unlinked identity: went to %s, want its blocked contact %s", h.Contact.ID, r.Contact.ID)
		}
		after := bkViewOf(t, env, ws.Owner(), r.Contact.ID)
		if after.messageCount() != before.messageCount() || after.Conversations.TotalCount != before.Conversations.TotalCount {
			t.Errorf("messages, conversations: got %d, %d, want %d, %d", after.messageCount(), after.Conversations.TotalCount,
				before.messageCount(), before.Conversations.TotalCount)
		}
		for i, ch := range after.Channels {
			if ch.Status != before.Channels[i].Status || ctDeref(ch.LastInteractionAt) != ctDeref(before.Channels[i].LastInteractionAt) {
				t.Errorf("channel %s: got %s %s, want %s %s (not linked again)", ch.Channel.ID, ch.Status, ctDeref(ch.LastInteractionAt),
					before.Channels[i].Status, ctDeref(before.Channels[i].LastInteractionAt))
			}
		}
	})

	t.Run("HiddenConversation", func(t *testing.T) {
		// A linked contact with no conversation left (as after an unmerge) gets a hidden one.
		r := bkReceive(t, env, ws.Agent(), wa, "+393332222222", "hi", "")
		if _, err := env.DB.ExecContext(context.Background(), `DELETE FROM conversations WHERE contact_id = $1`, ctLocal(t, r.Contact.ID)); err != nil {
			t.Fatal(err)
		}
		bkMustBlock(t, env, ws.Agent(), r.Contact.ID)
		h := bkReceive(t, env, ws.Agent(), wa, "+393332222222", "hidden", "")
		v := bkViewOf(t, env, ws.Owner(), r.Contact.ID)
		if v.Conversations.TotalCount != 0 || len(v.Conversations.Edges) != 0 || v.ConversationStatus != nil {
			t.Errorf("conversations of a contact with only a hidden one: got %d %v, status %s, want none",
				v.Conversations.TotalCount, v.Conversations.Edges, ctDeref(v.ConversationStatus))
		}
		res := env.Do(t, ws.Owner(), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": h.Conversation.ID})
		if len(res.Errors) == 0 && !strings.Contains(string(res.Data), "null") {
			t.Errorf("node(hidden conversation): got %s, want null or NOT_FOUND", res.Data)
		}
		fxWantError(t, env.Do(t, ws.Owner(), `mutation($id: ID!) { closeConversation(input: {conversationId: $id}) { conversation { id } } }`,
			map[string]any{"id": h.Conversation.ID}), "NOT_FOUND", "conversationId")
	})
}

// TestActiveContacts counts contacts with visible inbound messages per month, across a block
// in the middle of a month.
func TestActiveContacts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Billing")
	other := env.Workspace(t, "Billing other")
	wa := bkChannel(t, env, ws, "WHATSAPP")
	owa := bkChannel(t, env, other, "WHATSAPP")

	// March: A writes on the 5th, then is blocked mid-month (its next messages are hidden);
	// B writes on the 10th. April: A (blocked) and C write.
	a := bkReceive(t, env, ws.Agent(), wa, "+393330000001", "a1", "2025-03-05T09:00:00Z").Contact.ID
	bkReceive(t, env, ws.Agent(), wa, "+393330000002", "b1", "2025-03-10T09:00:00Z")
	bkMustBlock(t, env, ws.Agent(), a)
	bkReceive(t, env, ws.Agent(), wa, "+393330000001", "a2 hidden", "2025-03-20T09:00:00Z")
	bkReceive(t, env, ws.Agent(), wa, "+393330000001", "a3 hidden", "2025-04-02T09:00:00Z")
	// C writes at 00:30 UTC on April 1st, which is still March 31st in UTC-1.
	bkReceive(t, env, ws.Agent(), wa, "+393330000003", "c1", "2025-03-31T23:30:00-01:00")
	// Another workspace's contact writing in March counts there only.
	bkReceive(t, env, other.Agent(), owa, "+393330000009", "x", "2025-03-15T09:00:00Z")
	// An outbound message alone makes no contact active.
	d := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Outbound", "phone": "+393330000004"})
	env.MustDo(t, ws.Owner(), `mutation($id: ID!) { sendMessage(input: {contactId: $id, text: "hi"}) { message { id } } }`,
		map[string]any{"id": d.ID}, nil)
	now := time.Now().UTC().Format("2006-01")

	for _, tc := range []struct {
		month string
		want  int
	}{
		{"2025-02", 0},
		{"2025-03", 2}, // A (before its block) and B
		{"2025-04", 1}, // C only: what A sent is hidden
		{now, 0},       // D only received an outbound message
	} {
		for _, token := range []string{ws.Owner(), ws.Manager(), ws.Agent()} {
			if got := bkActive(t, env, token, tc.month); got != tc.want {
				t.Errorf("activeContacts(%s): got %d, want %d", tc.month, got, tc.want)
			}
		}
	}
	if got := bkActive(t, env, other.Owner(), "2025-03"); got != 1 {
		t.Errorf("activeContacts(2025-03) of the other workspace: got %d, want 1", got)
	}
	t.Run("UnblockDoesNotRevealHidden", func(t *testing.T) {
		bkMustUnblock(t, env, ws.Owner(), a)
		if got := bkActive(t, env, ws.Owner(), "2025-04"); got != 1 {
			t.Errorf("activeContacts(2025-04) after unblocking A: got %d, want 1", got)
		}
	})

	t.Run("ErrMonth", func(t *testing.T) {
		for _, m := range []string{"", "2025", "2025-13", "2025-00", "2025-3", "25-03", "2025-03-01", "March", "2025/03"} {
			t.Run(m, func(t *testing.T) {
				fxWantError(t, env.Do(t, ws.Owner(), `query($m: String!) { activeContacts(month: $m) }`, map[string]any{"m": m}), "BAD_USER_INPUT", "month")
			})
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		fxWantError(t, env.Do(t, "", `{ activeContacts(month: "2025-03") }`, nil), "UNAUTHENTICATED", "-")
	})
}

type bkRun struct {
	ID           string
	WorkflowName string
	Status       string
	StopReason   *string
	StartedAt    string
	StoppedAt    *string
	Contact      struct{ ID string }
}

const bkRunFields = `id workflowName status stopReason startedAt stoppedAt contact { id }`

func bkStart(tb testing.TB, env *testenv.Env, token, contactID, name string) bkRun {
	tb.Helper()
	var data struct{ StartWorkflowRun struct{ WorkflowRun bkRun } }
	env.MustDo(tb, token, `mutation($id: ID!, $n: String!) { startWorkflowRun(input: {contactId: $id, workflowName: $n}) {
		workflowRun { `+bkRunFields+` } } }`, map[string]any{"id": contactID, "n": name}, &data)
	return data.StartWorkflowRun.WorkflowRun
}

func bkRuns(tb testing.TB, env *testenv.Env, token, contactID string) []bkRun {
	tb.Helper()
	var data struct {
		Contact struct{ WorkflowRuns []bkRun }
	}
	env.MustDo(tb, token, `query($id: ID!) { contact(id: $id) { workflowRuns { `+bkRunFields+` } } }`, map[string]any{"id": contactID}, &data)
	return data.Contact.WorkflowRuns
}

func TestWorkflowRuns(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Workflows")
	other := env.Workspace(t, "Workflows other")

	id := fxContact(t, env, ws.Owner(), "Runner")
	welcome := bkStart(t, env, ws.Agent(), id, "  Welcome  ")
	if welcome.Status != "RUNNING" || welcome.WorkflowName != "Welcome" || welcome.StoppedAt != nil || welcome.Contact.ID != id {
		t.Errorf("started run: got %+v, want RUNNING Welcome of %s", welcome, id)
	}
	survey := bkStart(t, env, ws.Manager(), id, "Survey")
	done := bkStart(t, env, ws.Owner(), id, "Done")
	var fin struct{ FinishWorkflowRun struct{ WorkflowRun bkRun } }
	env.MustDo(t, ws.Agent(), `mutation($id: ID!) { finishWorkflowRun(input: {workflowRunId: $id}) { workflowRun { `+bkRunFields+` } } }`,
		map[string]any{"id": done.ID}, &fin)
	if r := fin.FinishWorkflowRun.WorkflowRun; r.Status != "FINISHED" || r.StoppedAt == nil || r.StopReason != nil {
		t.Errorf("finished run: got %+v, want FINISHED with stoppedAt and no reason", r)
	}

	runs := bkRuns(t, env, ws.Agent(), id)
	if len(runs) != 3 || runs[0].ID != done.ID || runs[1].ID != survey.ID || runs[2].ID != welcome.ID {
		t.Fatalf("workflowRuns: got %+v, want Done, Survey, Welcome (newest first)", runs)
	}

	bkMustBlock(t, env, ws.Agent(), id)
	runs = bkRuns(t, env, ws.Owner(), id)
	for _, r := range runs {
		switch r.ID {
		case done.ID:
			if r.Status != "FINISHED" || r.StopReason != nil {
				t.Errorf("finished run after the block: got %s %s, want FINISHED with no reason", r.Status, ctDeref(r.StopReason))
			}
		default:
			if r.Status != "STOPPED" || ctDeref(r.StopReason) != "contact blocked" || r.StoppedAt == nil {
				t.Errorf("run %s after the block: got %s %s stoppedAt %s, want STOPPED, contact blocked, a time",
					r.WorkflowName, r.Status, ctDeref(r.StopReason), ctDeref(r.StoppedAt))
			}
		}
	}

	t.Run("ErrStartOnBlocked", func(t *testing.T) {
		res := env.Do(t, ws.Agent(), `mutation($id: ID!) { startWorkflowRun(input: {contactId: $id, workflowName: "Again"}) { workflowRun { id } } }`,
			map[string]any{"id": id})
		fxWantError(t, res, "BAD_USER_INPUT", "contactId")
	})

	t.Run("UnblockKeepsRunsStopped", func(t *testing.T) {
		bkMustUnblock(t, env, ws.Owner(), id)
		for _, r := range bkRuns(t, env, ws.Owner(), id) {
			if r.Status == "RUNNING" {
				t.Errorf("run %s after unblock: got RUNNING, want it stopped", r.WorkflowName)
			}
		}
		var f struct{ FinishWorkflowRun struct{ WorkflowRun bkRun } }
		env.MustDo(t, ws.Agent(), `mutation($id: ID!) { finishWorkflowRun(input: {workflowRunId: $id}) { workflowRun { `+bkRunFields+` } } }`,
			map[string]any{"id": survey.ID}, &f)
		if f.FinishWorkflowRun.WorkflowRun.Status != "STOPPED" {
			t.Errorf("finishing a stopped run: got %s, want it to stay STOPPED", f.FinishWorkflowRun.WorkflowRun.Status)
		}
	})

	t.Run("Node", func(t *testing.T) {
		var data struct{ Node struct{ WorkflowName string } }
		env.MustDo(t, ws.Agent(), `query($id: ID!) { node(id: $id) { ... on WorkflowRun { workflowName } } }`, map[string]any{"id": welcome.ID}, &data)
		if data.Node.WorkflowName != "Welcome" {
			t.Errorf("node(run): got %q, want Welcome", data.Node.WorkflowName)
		}
	})

	t.Run("ErrOtherWorkspace", func(t *testing.T) {
		foreign := fxContact(t, env, other.Owner(), "Foreign")
		fxWantError(t, env.Do(t, ws.Owner(), `mutation($id: ID!) { startWorkflowRun(input: {contactId: $id, workflowName: "X"}) { workflowRun { id } } }`,
			map[string]any{"id": foreign}), "NOT_FOUND", "contactId")
		fxWantError(t, env.Do(t, other.Owner(), `mutation($id: ID!) { finishWorkflowRun(input: {workflowRunId: $id}) { workflowRun { id } } }`,
			map[string]any{"id": welcome.ID}), "NOT_FOUND", "workflowRunId")
		fxWantError(t, env.Do(t, other.Owner(), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": welcome.ID}), "NOT_FOUND", "-")
	})

	t.Run("ErrName", func(t *testing.T) {
		for _, n := range []string{"", "   ", strings.Repeat("x", 256)} {
			fxWantError(t, env.Do(t, ws.Owner(), `mutation($id: ID!, $n: String!) { startWorkflowRun(input: {contactId: $id, workflowName: $n}) { workflowRun { id } } }`,
				map[string]any{"id": id, "n": n}), "BAD_USER_INPUT", "workflowName")
		}
	})

	t.Run("OneStatementForAPage", func(t *testing.T) {
		pws := env.Workspace(t, "Workflows page")
		ids := fxContacts(t, env, pws.Owner(), 30, nil)
		for _, cid := range ids[:10] {
			bkStart(t, env, pws.Owner(), cid, "Nurture")
		}
		env.Counter.Reset()
		var data struct {
			Contacts struct {
				Edges []struct {
					Node struct{ WorkflowRuns []bkRun }
				}
			}
		}
		env.MustDo(t, pws.Agent(), `{ contacts(first: 50) { edges { node { workflowRuns { id status } } } } }`, nil, &data)
		n, runs := 0, 0
		for _, s := range env.Counter.Statements() {
			if strings.Contains(s, "FROM workflow_runs") {
				n++
			}
		}
		for _, e := range data.Contacts.Edges {
			runs += len(e.Node.WorkflowRuns)
		}
		if n != 1 || runs != 10 {
			t.Errorf("workflow run statements, runs for a page of 30: got %d, %d, want 1, 10", n, runs)
		}
	})
}

// TestBlockEvents checks the BLOCKED and UNBLOCKED contact events.
func TestBlockEvents(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Block events")
	id := fxContact(t, env, ws.Owner(), "Evented")
	sub := bkSubscribe(t, env, ws.Agent(), `subscription($id: ID) { contactEvents(contactId: $id) { type contactId contact { blocked } } }`,
		map[string]any{"id": id})
	env.WaitSubscribers(t, 1)
	bkMustBlock(t, env, ws.Agent(), id)
	bkMustBlock(t, env, ws.Agent(), id) // no change, no event
	bkMustUnblock(t, env, ws.Owner(), id)
	bkWaitEvent(t, sub, "BLOCKED", "UNBLOCKED")
	bkWaitEvent(t, sub, "UNBLOCKED", "BLOCKED")
}

// bkWaitEvent reads contact events until one of type want, failing on one of type bad first.
// Events of other types are skipped: a subscription may start just before the delivery of
// events committed earlier.
func bkWaitEvent(tb testing.TB, sub *testenv.WS, want, bad string) {
	tb.Helper()
	for {
		r, _ := bkNext(tb, sub, 10*time.Second)
		if r == nil {
			tb.Fatalf("contact events: got none, want %s", want)
		}
		var data struct{ ContactEvents struct{ Type string } }
		r.Decode(tb, &data)
		switch data.ContactEvents.Type {
		case want:
			return
		case bad:
			tb.Fatalf("contact event: got %s before %s", bad, want)
		}
	}
}

// bkSubscribe opens a websocket (graphql-transport-ws) authenticated as token and starts one
// subscription, operation "1".
func bkSubscribe(tb testing.TB, env *testenv.Env, token, query string, vars map[string]any) *testenv.WS {
	tb.Helper()
	c := testenv.Dial(tb, env.WSURL(), testenv.TransportWS, token)
	c.Subscribe("1", query, vars)
	return c
}

// bkNext returns the next result (or error message) of operation "1" within timeout. With no
// result, complete says whether the subscription completed rather than nothing coming.
func bkNext(tb testing.TB, c *testenv.WS, timeout time.Duration) (r *testenv.Response, complete bool) {
	tb.Helper()
	m, err := c.Message("1", timeout)
	switch {
	case err != nil:
		return nil, false
	case m.IsData():
		return m.Response(tb), false
	case m.Type == "error":
		return &testenv.Response{Errors: m.Errors(tb)}, false
	}
	return nil, m.Type == "complete"
}
