package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
)

// The helpers of the merge and suggestion tests are prefixed mg.

// mgLocal returns the local id inside a global id.
func mgLocal(tb testing.TB, gid string) string {
	tb.Helper()
	_, id, ok := globalid.Decode(gid)
	if !ok {
		tb.Fatalf("%q is not a global id", gid)
	}
	return id
}

// mgGlobal returns the global id of an object of a type.
func mgGlobal(typ, local string) string { return globalid.Encode(typ, local) }

// mgExec runs a statement on the test database directly.
func mgExec(tb testing.TB, env *testenv.Env, q string, args ...any) {
	tb.Helper()
	if _, err := env.DB.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// mgCount runs a count(*) query on the test database directly.
func mgCount(tb testing.TB, env *testenv.Env, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := env.DB.GetContext(context.Background(), &n, q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// mgChannel creates a channel of a type and returns its global id.
func mgChannel(tb testing.TB, env *testenv.Env, token, typ, name string) string {
	tb.Helper()
	in := map[string]any{"type": typ, "name": name}
	if typ == "FACEBOOK" {
		in["pageId"] = "1234567890"
	}
	var data struct {
		CreateChannel struct{ Channel struct{ ID string } }
	}
	env.MustDo(tb, token, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { channel { id } } }`,
		map[string]any{"in": in}, &data)
	return data.CreateChannel.Channel.ID
}

// mgReceived is what receiveMessage returned.
type mgReceived struct {
	ContactID, ConversationID, MessageID string
	Created                              bool
}

// mgReceive records an inbound message and returns the contact, conversation and message.
func mgReceive(tb testing.TB, env *testenv.Env, token, channelID, identifier, text string) mgReceived {
	tb.Helper()
	var data struct {
		ReceiveMessage struct {
			Contact        struct{ ID string }
			Conversation   struct{ ID string }
			Message        struct{ ID string }
			ContactCreated bool
		}
	}
	env.MustDo(tb, token, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) {
		contact { id } conversation { id } message { id } contactCreated } }`,
		map[string]any{"in": map[string]any{"channelId": channelID, "identifier": identifier, "text": text}}, &data)
	r := data.ReceiveMessage
	return mgReceived{ContactID: r.Contact.ID, ConversationID: r.Conversation.ID, MessageID: r.Message.ID, Created: r.ContactCreated}
}

// mgSend records an outbound message (on the default channel when channelID is "") and
// returns the message's and conversation's ids.
func mgSend(tb testing.TB, env *testenv.Env, token, contactID, channelID, text string) (string, string) {
	tb.Helper()
	in := map[string]any{"contactId": contactID, "text": text}
	if channelID != "" {
		in["channelId"] = channelID
	}
	var data struct {
		SendMessage struct {
			Message      struct{ ID string }
			Conversation struct{ ID string }
		}
	}
	env.MustDo(tb, token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } conversation { id } } }`,
		map[string]any{"in": in}, &data)
	return data.SendMessage.Message.ID, data.SendMessage.Conversation.ID
}

// mgClose closes a conversation.
func mgClose(tb testing.TB, env *testenv.Env, token, conversationID string) {
	tb.Helper()
	env.MustDo(tb, token, `mutation($id: ID!) { closeConversation(input: {conversationId: $id}) { conversation { id } } }`,
		map[string]any{"id": conversationID}, nil)
}

// mgTag tags contacts with tags by name.
func mgTag(tb testing.TB, env *testenv.Env, token string, contactIDs []string, names ...string) {
	tb.Helper()
	env.MustDo(tb, token, `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { tags { id } } }`,
		map[string]any{"in": map[string]any{"contactIds": contactIDs, "tagNames": names}}, nil)
}

// mgUpdate changes a contact.
func mgUpdate(tb testing.TB, env *testenv.Env, token, id string, fields map[string]any) {
	tb.Helper()
	in := map[string]any{"id": id}
	for k, v := range fields {
		in[k] = v
	}
	env.MustDo(tb, token, `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
		map[string]any{"in": in}, nil)
}

// mgCreate creates a contact and returns its id.
func mgCreate(tb testing.TB, env *testenv.Env, token string, in map[string]any) string {
	tb.Helper()
	var data struct {
		CreateContact struct{ Contact struct{ ID string } }
	}
	env.MustDo(tb, token, `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
		map[string]any{"in": in}, &data)
	return data.CreateContact.Contact.ID
}

// mgChoice is one field choice of a merge.
type mgChoice struct{ Field, Use string }

func mgChoices(choices []mgChoice) []map[string]any {
	out := []map[string]any{}
	for _, c := range choices {
		out = append(out, map[string]any{"field": c.Field, "use": c.Use})
	}
	return out
}

const mgMergeFields = `id mergedContactId mergedAt undoneAt canUndo undoBlockedReason mergedBy { id } undoneBy { id } primaryContact { id }`

// mgMergeData is a Merge as the tests read it.
type mgMergeData struct {
	ID                string
	MergedContactID   string
	MergedAt          string
	UndoneAt          *string
	CanUndo           bool
	UndoBlockedReason *string
	MergedBy          *struct{ ID string }
	UndoneBy          *struct{ ID string }
	PrimaryContact    *struct{ ID string }
}

// mgTryMerge merges the secondary into the primary and returns the response.
func mgTryMerge(tb testing.TB, env *testenv.Env, token, primary, secondary string, choices ...mgChoice) *testenv.Response {
	tb.Helper()
	in := map[string]any{"primaryContactId": primary, "secondaryContactId": secondary}
	if choices != nil {
		in["fieldChoices"] = mgChoices(choices)
	}
	return env.Do(tb, token, `mutation($in: MergeContactsInput!) { mergeContacts(input: $in) {
		contact { id } merge { `+mgMergeFields+` } } }`, map[string]any{"in": in})
}

// mgMerge merges the secondary into the primary and returns the merge.
func mgMerge(tb testing.TB, env *testenv.Env, token, primary, secondary string, choices ...mgChoice) mgMergeData {
	tb.Helper()
	r := mgTryMerge(tb, env, token, primary, secondary, choices...)
	if len(r.Errors) > 0 {
		tb.Fatalf("mergeContacts: unexpected errors %+v", r.Errors)
	}
	var data struct {
		MergeContacts struct {
			Contact struct{ ID string }
			Merge   mgMergeData
		}
	}
	r.Decode(tb, &data)
	if data.MergeContacts.Contact.ID != primary {
		tb.Fatalf("merged contact: got %s, want the primary %s", data.MergeContacts.Contact.ID, primary)
	}
	return data.MergeContacts.Merge
}

// mgTryUnmerge undoes a merge and returns the response.
func mgTryUnmerge(tb testing.TB, env *testenv.Env, token, mergeID string) *testenv.Response {
	tb.Helper()
	return env.Do(tb, token, `mutation($id: ID!) { unmergeContacts(input: {mergeId: $id}) {
		primaryContact { id } restoredContact { id } merge { `+mgMergeFields+` } } }`, map[string]any{"id": mergeID})
}

// mgUnmerge undoes a merge and returns it, now undone.
func mgUnmerge(tb testing.TB, env *testenv.Env, token, mergeID string) mgMergeData {
	tb.Helper()
	r := mgTryUnmerge(tb, env, token, mergeID)
	if len(r.Errors) > 0 {
		tb.Fatalf("unmergeContacts: unexpected errors %+v", r.Errors)
	}
	var data struct {
		UnmergeContacts struct {
			PrimaryContact  struct{ ID string }
			RestoredContact struct{ ID string }
			Merge           mgMergeData
		}
	}
	r.Decode(tb, &data)
	u := data.UnmergeContacts
	if u.RestoredContact.ID != u.Merge.MergedContactID || u.Merge.UndoneAt == nil {
		tb.Fatalf("unmerge: got restored %s, merge %+v, want the merged contact back and undoneAt set", u.RestoredContact.ID, u.Merge)
	}
	return u.Merge
}

// mgSnapshotQuery reads everything the API shows of a contact (its pages are as large as the
// complexity limit allows; the tests' contacts have far fewer conversations and messages).
const mgSnapshotQuery = `query($id: ID!) { contact(id: $id) {
	id displayName firstName lastName email emails phone phones country language profilePictureUrl
	blocked blockedAt createdAt updatedAt conversationStatus assignee { id }
	tags { id name }
	customFields { definition { key type } value }
	channels { channel { id type } status identifier connectedAt lastInteractionAt canConnect conversationUrl }
	conversations(first: 20) { totalCount edges { node {
		id status createdAt closedAt channel { id }
		messages(first: 40) { totalCount edges { node { id text direction identifier sentAt channel { id } } } }
	} } }
} }`

// mgSnapshot returns a contact as the API shows it, as a generic JSON value (nil when the
// contact does not exist).
func mgSnapshot(tb testing.TB, env *testenv.Env, token, id string) map[string]any {
	tb.Helper()
	r := env.Do(tb, token, mgSnapshotQuery, map[string]any{"id": id})
	var data struct{ Contact map[string]any }
	r.Decode(tb, &data)
	if data.Contact == nil {
		if r.Code() != "NOT_FOUND" {
			tb.Fatalf("contact(%s): got %+v, want the contact or NOT_FOUND", id, r.Errors)
		}
		return nil
	} else if len(r.Errors) > 0 {
		tb.Fatalf("contact(%s): unexpected errors %+v", id, r.Errors)
	}
	return data.Contact
}

// mgSameSnapshot fails unless two snapshots are equal, but for the listed top-level keys.
func mgSameSnapshot(tb testing.TB, what string, got, want map[string]any, except ...string) {
	tb.Helper()
	g, w := map[string]any{}, map[string]any{}
	for k, v := range got {
		g[k] = v
	}
	for k, v := range want {
		w[k] = v
	}
	for _, k := range except {
		delete(g, k)
		delete(w, k)
	}
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", " ")
		wb, _ := json.MarshalIndent(w, "", " ")
		tb.Errorf("%s: snapshots differ\n%s", what, mgDiff(string(gb), string(wb)))
	}
}

// mgDiff shows the lines of two texts that differ (got -, want +), with line numbers.
func mgDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("%4d got:  %s\n%4d want: %s", i+1, a, i+1, b))
		}
		if len(out) > 40 {
			out = append(out, "...")
			break
		}
	}
	return strings.Join(out, "\n")
}

// mgMessageIDs returns the ids of every message of a snapshot, sorted.
func mgMessageIDs(snap map[string]any) []string {
	var ids []string
	if snap == nil {
		return nil
	}
	for _, e := range snap["conversations"].(map[string]any)["edges"].([]any) {
		conv := e.(map[string]any)["node"].(map[string]any)
		for _, m := range conv["messages"].(map[string]any)["edges"].([]any) {
			ids = append(ids, m.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
	}
	sort.Strings(ids)
	return ids
}

// mgConversationIDs returns the ids of a snapshot's conversations, sorted.
func mgConversationIDs(snap map[string]any) []string {
	var ids []string
	for _, e := range snap["conversations"].(map[string]any)["edges"].([]any) {
		ids = append(ids, e.(map[string]any)["node"].(map[string]any)["id"].(string))
	}
	sort.Strings(ids)
	return ids
}

// mgChannelOf returns a snapshot's entry for a channel.
func mgChannelOf(tb testing.TB, snap map[string]any, channelID string) map[string]any {
	tb.Helper()
	for _, c := range snap["channels"].([]any) {
		cc := c.(map[string]any)
		if cc["channel"].(map[string]any)["id"] == channelID {
			return cc
		}
	}
	tb.Fatalf("channel %s: not in the snapshot", channelID)
	return nil
}

// mgTagNames returns a snapshot's tag names, in the API's order.
func mgTagNames(snap map[string]any) []string {
	var out []string
	for _, t := range snap["tags"].([]any) {
		out = append(out, t.(map[string]any)["name"].(string))
	}
	return out
}

// mgCustom returns a snapshot's custom values by key.
func mgCustom(snap map[string]any) map[string]string {
	out := map[string]string{}
	for _, v := range snap["customFields"].([]any) {
		cv := v.(map[string]any)
		val, _ := cv["value"].(string)
		out[cv["definition"].(map[string]any)["key"].(string)] = val
	}
	return out
}

// mgStr returns a snapshot's string field, "<nil>" for null.
func mgStr(snap map[string]any, key string) string {
	if s, ok := snap[key].(string); ok {
		return s
	}
	return "<nil>"
}

// mgEventRow is one row of the events outbox.
type mgEventRow struct {
	Kind      string  `db:"kind"`
	Type      string  `db:"type"`
	ContactID *string `db:"contact_id"`
	SubjectID *string `db:"subject_id"`
}

// mgEvents returns the workspace's events after seq (and the last seq).
func mgEvents(tb testing.TB, env *testenv.Env, workspaceID string, after int64) ([]mgEventRow, int64) {
	tb.Helper()
	var rows []struct {
		Seq int64 `db:"seq"`
		mgEventRow
	}
	if err := env.DB.SelectContext(context.Background(), &rows, `SELECT seq, kind, type, contact_id::text, subject_id::text
		FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq`, workspaceID, after); err != nil {
		tb.Fatal(err)
	}
	out := make([]mgEventRow, len(rows))
	last := after
	for i, r := range rows {
		out[i] = r.mgEventRow
		last = r.Seq
	}
	return out, last
}

// mgLastSeq returns the workspace's last event seq.
func mgLastSeq(tb testing.TB, env *testenv.Env, workspaceID string) int64 {
	tb.Helper()
	_, last := mgEvents(tb, env, workspaceID, 0)
	return last
}

// mgHasEvent reports whether events hold one of the kind and type about the contact (any
// when "") and subject (any when "").
func mgHasEvent(events []mgEventRow, kind, typ, contactID, subjectID string) bool {
	for _, e := range events {
		if e.Kind != kind || e.Type != typ {
			continue
		}
		if contactID != "" && (e.ContactID == nil || *e.ContactID != contactID) {
			continue
		}
		if subjectID != "" && (e.SubjectID == nil || *e.SubjectID != subjectID) {
			continue
		}
		return true
	}
	return false
}

// mgWant fails with got/want when got != want.
func mgWant[T comparable](tb testing.TB, what string, got, want T) {
	tb.Helper()
	if got != want {
		tb.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// mgWantSlice fails with got/want when the slices differ.
func mgWantSlice[T comparable](tb testing.TB, what string, got, want []T) {
	tb.Helper()
	if !slices.Equal(got, want) {
		tb.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// mgPair is a workspace with two contacts set up for the classic merge cases: A (the primary)
// and B (the secondary), custom field definitions plan (LIST), score (NUMBER), since (DATE),
// vip (CHECKBOX), and a WhatsApp, an email and a Facebook channel.
type mgPair struct {
	ws                 *testenv.Workspace
	token              string
	a, b               string
	whatsapp, email, f string
}

func mgSetupPair(t *testing.T, env *testenv.Env, name string) *mgPair {
	t.Helper()
	ws := env.Workspace(t, name)
	p := &mgPair{ws: ws, token: ws.Owner()}
	fxDefinition(t, env, p.token, "plan", "LIST", "gold", "silver", "bronze")
	fxDefinition(t, env, p.token, "score", "NUMBER")
	fxDefinition(t, env, p.token, "since", "DATE")
	fxDefinition(t, env, p.token, "vip", "CHECKBOX")
	p.whatsapp = mgChannel(t, env, p.token, "WHATSAPP", "WhatsApp")
	p.email = mgChannel(t, env, p.token, "EMAIL", "Mailbox")
	p.f = mgChannel(t, env, p.token, "FACEBOOK", "Page")
	p.a = mgCreate(t, env, p.token, map[string]any{"firstName": "Ada", "email": "ada@example.com", "language": "it",
		"customFields": []map[string]any{{"key": "plan", "value": "gold"}, {"key": "score", "value": "10"}}})
	p.b = mgCreate(t, env, p.token, map[string]any{"firstName": "Bea", "lastName": "Lovelace", "email": "ADA@example.com ",
		"phone": "+447911123456", "language": "en",
		"customFields": []map[string]any{{"key": "plan", "value": "silver"}, {"key": "since", "value": "2024-05-06"}, {"key": "vip", "value": "true"}}})
	return p
}

func TestMergeContacts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("PrimaryKeepsAndGains", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Keeps")
		m := mgMerge(t, env, p.token, p.a, p.b)
		got := mgSnapshot(t, env, p.token, p.a)
		for key, want := range map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
			"phone": "+447911123456", "country": "GG", "language": "it"} { // +447911 is a Guernsey number
			mgWant(t, key, mgStr(got, key), want)
		}
		wantCustom := map[string]string{"plan": "gold", "score": "10", "since": "2024-05-06", "vip": "true"}
		if c := mgCustom(got); !reflect.DeepEqual(c, wantCustom) {
			t.Errorf("customFields: got %v, want %v", c, wantCustom)
		}
		mgWant(t, "mergedContactId", m.MergedContactID, p.b)
		mgWant(t, "canUndo (the merging owner)", m.CanUndo, true)
	})

	t.Run("FieldChoicesTakeTheSecondary", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Choices")
		mgMerge(t, env, p.token, p.a, p.b, mgChoice{"firstName", "SECONDARY"}, mgChoice{"language", "SECONDARY"},
			mgChoice{"email", "SECONDARY"}, mgChoice{"plan", "SECONDARY"}, mgChoice{"score", "SECONDARY"}, mgChoice{"lastName", "PRIMARY"})
		got := mgSnapshot(t, env, p.token, p.a)
		for key, want := range map[string]string{"firstName": "Bea", "lastName": "<nil>", "email": "ADA@example.com",
			"phone": "+447911123456", "language": "en"} {
			mgWant(t, key, mgStr(got, key), want)
		}
		// score: the secondary has none, so choosing it clears the primary's.
		wantCustom := map[string]string{"plan": "silver", "since": "2024-05-06", "vip": "true"}
		if c := mgCustom(got); !reflect.DeepEqual(c, wantCustom) {
			t.Errorf("customFields: got %v, want %v", c, wantCustom)
		}
	})

	t.Run("SecondaryGone", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Gone")
		mgUpdate(t, env, p.token, p.b, map[string]any{"firstName": "Zebulon"})
		mgMerge(t, env, p.token, p.a, p.b)
		r := env.Do(t, p.token, `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": p.b})
		fxWantError(t, r, "NOT_FOUND", "id")
		mgWant(t, "contact(secondary) data", string(r.Data), `{"contact":null}`)
		r = env.Do(t, p.token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": p.b})
		fxWantError(t, r, "NOT_FOUND", "id")
		var data struct {
			All struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
			Search struct{ TotalCount int }
		}
		env.MustDo(t, p.token, `{ all: contacts(first: 100) { totalCount edges { node { id } } }
			search: contacts(filter: {search: "Zebulon"}) { totalCount } }`, nil, &data)
		mgWant(t, "contacts totalCount", data.All.TotalCount, 1)
		for _, e := range data.All.Edges {
			if e.Node.ID == p.b {
				t.Errorf("contacts: got the secondary %s, want it gone", p.b)
			}
		}
		mgWant(t, "search for the secondary's name", data.Search.TotalCount, 0)
		// Merging it again names it as merged away: CONFLICT, not INTERNAL.
		r = mgTryMerge(t, env, p.token, p.a, p.b)
		fxWantError(t, r, "CONFLICT", "secondaryContactId")
	})

	t.Run("ConversationsLinksAndMessagesOnThePrimary", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Links")
		tok := ws.Owner()
		wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
		mail := mgChannel(t, env, tok, "EMAIL", "Mailbox")
		fb := mgChannel(t, env, tok, "FACEBOOK", "Page")
		// X writes on WhatsApp, twice, in a conversation that is then closed, then again.
		x := mgReceive(t, env, tok, wa, "+393330000001", "x1")
		mgReceive(t, env, tok, wa, "+393330000001", "x2")
		mgClose(t, env, tok, x.ConversationID)
		mgReceive(t, env, tok, wa, "+393330000001", "x3")
		// Y writes on WhatsApp from another number and on Facebook; a member answers by email.
		y := mgReceive(t, env, tok, wa, "+393330000002", "y1")
		mgUpdate(t, env, tok, y.ContactID, map[string]any{"email": "y@example.com"})
		mgSend(t, env, tok, y.ContactID, mail, "welcome")
		fbMsg := mgReceive(t, env, tok, fb, "psid-42", "hello from fb")
		before := mgSnapshot(t, env, tok, x.ContactID)
		beforeY := mgSnapshot(t, env, tok, y.ContactID)
		beforeF := mgSnapshot(t, env, tok, fbMsg.ContactID)

		mgMerge(t, env, tok, x.ContactID, y.ContactID)
		mgMerge(t, env, tok, x.ContactID, fbMsg.ContactID)
		got := mgSnapshot(t, env, tok, x.ContactID)
		for _, ch := range []string{wa, mail, fb} {
			mgWant(t, "channel "+ch+" status", mgChannelOf(t, got, ch)["status"], any("ACTIVE"))
		}
		wantConvs := append(append(mgConversationIDs(before), mgConversationIDs(beforeY)...), mgConversationIDs(beforeF)...)
		sort.Strings(wantConvs)
		mgWantSlice(t, "conversations", mgConversationIDs(got), wantConvs)
		mgWant(t, "conversations totalCount", got["conversations"].(map[string]any)["totalCount"], any(float64(len(wantConvs))))
		wantMsgs := append(append(mgMessageIDs(before), mgMessageIDs(beforeY)...), mgMessageIDs(beforeF)...)
		sort.Strings(wantMsgs)
		mgWantSlice(t, "messages", mgMessageIDs(got), wantMsgs)
		// Two identities on WhatsApp now: each number reaches the merged contact.
		mgWant(t, "links on WhatsApp", mgCount(t, env, `SELECT count(*) FROM contact_channels WHERE contact_id = $1 AND channel_id = $2`,
			mgLocal(t, x.ContactID), mgLocal(t, wa)), 2)
		for _, from := range []string{"+393330000001", "+393330000002"} {
			r := mgReceive(t, env, tok, wa, from, "after the merge from "+from)
			mgWant(t, "contact of a message from "+from, r.ContactID, x.ContactID)
			mgWant(t, "contactCreated", r.Created, false)
		}
		r := mgReceive(t, env, tok, fb, "psid-42", "fb after")
		mgWant(t, "contact of a Facebook message", r.ContactID, x.ContactID)
		// One open conversation at most.
		mgWant(t, "open conversations", mgCount(t, env, `SELECT count(*) FROM conversations WHERE contact_id = $1 AND status = 'OPEN'`,
			mgLocal(t, x.ContactID)), 1)
	})

	t.Run("TagsUnited", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Tags")
		mgTag(t, env, p.token, []string{p.a}, "alpha", "both")
		mgTag(t, env, p.token, []string{p.b}, "both", "gamma")
		mgMerge(t, env, p.token, p.a, p.b)
		mgWantSlice(t, "tags", mgTagNames(mgSnapshot(t, env, p.token, p.a)), []string{"alpha", "both", "gamma"})
		for _, tag := range fxAllTags(t, env, p.token) {
			mgWant(t, "contactCount of "+tag.Name, tag.ContactCount, 1)
		}
	})

	t.Run("ErrSameContactTwice", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Twice")
		fxWantError(t, mgTryMerge(t, env, p.token, p.a, p.a), "BAD_USER_INPUT", "secondaryContactId")
		r := env.Do(t, p.token, `query($a: ID!) { mergePreview(primaryContactId: $a, secondaryContactId: $a) { id } }`, map[string]any{"a": p.a})
		fxWantError(t, r, "BAD_USER_INPUT", "secondaryContactId")
	})

	t.Run("ErrAnotherWorkspacesContact", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Mine")
		other := mgSetupPair(t, env, "Theirs")
		fxWantError(t, mgTryMerge(t, env, p.token, p.a, other.b), "NOT_FOUND", "secondaryContactId")
		fxWantError(t, mgTryMerge(t, env, p.token, other.a, p.b), "NOT_FOUND", "primaryContactId")
		r := env.Do(t, p.token, `query($a: ID!, $b: ID!) { mergePreview(primaryContactId: $a, secondaryContactId: $b) { id } }`,
			map[string]any{"a": p.a, "b": other.b})
		fxWantError(t, r, "NOT_FOUND", "secondaryContactId")
		// Nothing changed on either side.
		if s := mgSnapshot(t, env, other.token, other.b); s == nil {
			t.Errorf("other workspace's contact: got gone, want it untouched")
		}
		fxWantError(t, mgTryMerge(t, env, p.token, p.a, "bm90LWFuLWlk"), "NOT_FOUND", "secondaryContactId")
		fxWantError(t, mgTryMerge(t, env, p.token, p.a, p.whatsapp), "NOT_FOUND", "secondaryContactId")
	})

	t.Run("ErrAnotherWorkspacesMerge", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Ours")
		other := mgSetupPair(t, env, "Others")
		m := mgMerge(t, env, other.token, other.a, other.b)
		fxWantError(t, mgTryUnmerge(t, env, p.token, m.ID), "NOT_FOUND", "mergeId")
		r := env.Do(t, p.token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": m.ID})
		fxWantError(t, r, "NOT_FOUND", "id")
		// The other workspace's merge stands.
		if got := mgCount(t, env, `SELECT count(*) FROM merges WHERE id = $1 AND undone_at IS NULL`, mgLocal(t, m.ID)); got != 1 {
			t.Errorf("other workspace's merge: got %d standing, want 1", got)
		}
	})

	t.Run("ErrUnknownFieldChoice", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Unknown")
		fxWantError(t, mgTryMerge(t, env, p.token, p.a, p.b, mgChoice{"shoeSize", "SECONDARY"}), "BAD_USER_INPUT", "fieldChoices")
		if s := mgSnapshot(t, env, p.token, p.b); s == nil {
			t.Errorf("secondary after a refused merge: got gone, want it untouched")
		}
	})

	t.Run("PreviewChangesNothing", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Preview")
		mgTag(t, env, p.token, []string{p.a}, "alpha")
		mgTag(t, env, p.token, []string{p.b}, "beta")
		mgSend(t, env, p.token, p.b, p.whatsapp, "hi") // connects B on WhatsApp
		beforeA, beforeB := mgSnapshot(t, env, p.token, p.a), mgSnapshot(t, env, p.token, p.b)
		seq := mgLastSeq(t, env, p.ws.ID)
		var data struct{ MergePreview map[string]any }
		env.MustDo(t, p.token, `query($a: ID!, $b: ID!, $c: [MergeFieldChoice!]) {
			mergePreview(primaryContactId: $a, secondaryContactId: $b, fieldChoices: $c) {
				id firstName lastName email phone language tags { name } customFields { definition { key } value }
				channels { channel { id } status identifier } } }`,
			map[string]any{"a": p.a, "b": p.b, "c": mgChoices([]mgChoice{{"firstName", "SECONDARY"}, {"plan", "SECONDARY"}})}, &data)
		pv := data.MergePreview
		mgWant(t, "preview id", mgStr(pv, "id"), p.a)
		for key, want := range map[string]string{"firstName": "Bea", "lastName": "Lovelace", "phone": "+447911123456", "language": "it"} {
			mgWant(t, "preview "+key, mgStr(pv, key), want)
		}
		mgWantSlice(t, "preview tags", mgTagNames(pv), []string{"alpha", "beta"})
		wantCustom := map[string]string{"plan": "silver", "score": "10", "since": "2024-05-06", "vip": "true"}
		if c := mgCustom(pv); !reflect.DeepEqual(c, wantCustom) {
			t.Errorf("preview customFields: got %v, want %v", c, wantCustom)
		}
		wa := mgChannelOf(t, pv, p.whatsapp)
		if wa["status"] != "ACTIVE" || wa["identifier"] != "+447911123456" {
			t.Errorf("preview WhatsApp: got %v %v, want ACTIVE +447911123456", wa["status"], wa["identifier"])
		}
		mgSameSnapshot(t, "primary after the preview", mgSnapshot(t, env, p.token, p.a), beforeA)
		mgSameSnapshot(t, "secondary after the preview", mgSnapshot(t, env, p.token, p.b), beforeB)
		if events, _ := mgEvents(t, env, p.ws.ID, seq); len(events) != 0 {
			t.Errorf("events of a preview: got %+v, want none", events)
		}
		mgWant(t, "merges after a preview", mgCount(t, env, `SELECT count(*) FROM merges WHERE workspace_id = $1`, p.ws.ID), 0)
		// And the same request reads the real contact afterwards: the preview's primed values do
		// not leak into another field of the query.
		var both struct {
			MergePreview struct{ Tags []struct{ Name string } }
			Contact      struct{ Tags []struct{ Name string } }
		}
		env.MustDo(t, p.token, `query($a: ID!, $b: ID!) { mergePreview(primaryContactId: $a, secondaryContactId: $b) { tags { name } }
			contact(id: $a) { tags { name } } }`, map[string]any{"a": p.a, "b": p.b}, &both)
		if len(both.Contact.Tags) != 1 {
			t.Errorf("contact(primary) tags next to a preview: got %v, want [alpha]", both.Contact.Tags)
		}
	})
}

func TestMergeBlocked(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	blockedAt := "2026-01-02T03:04:05Z"

	for _, tc := range []struct {
		name      string
		blockSide string // "a", "b" or "both"
	}{
		{"SecondaryBlocked", "b"},
		{"PrimaryBlocked", "a"},
		{"BothBlocked", "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mgSetupPair(t, env, tc.name)
			if tc.blockSide != "a" {
				mgExec(t, env, `UPDATE contacts SET blocked_at = $2 WHERE id = $1`, mgLocal(t, p.b), blockedAt)
			}
			if tc.blockSide != "b" {
				mgExec(t, env, `UPDATE contacts SET blocked_at = $2 WHERE id = $1`, mgLocal(t, p.a), "2025-12-31T00:00:00Z")
			}
			beforeA, beforeB := mgSnapshot(t, env, p.token, p.a), mgSnapshot(t, env, p.token, p.b)
			m := mgMerge(t, env, p.token, p.a, p.b)
			got := mgSnapshot(t, env, p.token, p.a)
			// A merge never silently unblocks: the result is blocked when either contact was.
			mgWant(t, "blocked", got["blocked"], any(true))
			wantAt := blockedAt
			if tc.blockSide != "b" {
				wantAt = "2025-12-31T00:00:00Z"
			}
			mgWant(t, "blockedAt", mgStr(got, "blockedAt"), wantAt)
			mgUnmerge(t, env, p.token, m.ID)
			mgSameSnapshot(t, "primary after the undo", mgSnapshot(t, env, p.token, p.a), beforeA, "updatedAt")
			mgSameSnapshot(t, "secondary after the undo", mgSnapshot(t, env, p.token, p.b), beforeB)
		})
	}

	t.Run("BlockedInNoSuggestion", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "NoSuggestion") // A and B share their email
		if n := mgOpenSuggestions(t, env, p.token); len(n) != 1 {
			t.Fatalf("open suggestions before blocking: got %d, want 1", len(n))
		}
		mgExec(t, env, `UPDATE contacts SET blocked_at = now() WHERE id = $1`, mgLocal(t, p.b))
		// Any change that refreshes the suggestions of B's values sees B blocked: a third contact
		// with the same email makes a group of A and C only.
		c := mgCreate(t, env, p.token, map[string]any{"firstName": "Cy", "email": "ada@example.com"})
		open := mgOpenSuggestions(t, env, p.token)
		if len(open) != 1 || !reflect.DeepEqual(open[0].contactIDs(), mgSorted(p.a, c)) {
			t.Errorf("open suggestions: got %+v, want one of A and C (B is blocked)", open)
		}
		// The merged contact of a blocked secondary is blocked, so it leaves the group.
		mgMerge(t, env, p.token, c, p.b)
		if open := mgOpenSuggestions(t, env, p.token); len(open) != 0 {
			t.Errorf("open suggestions after merging a blocked contact into C: got %+v, want none", open)
		}
	})
}

func TestUnmergeContacts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("AgentUndoesOwnMergeWithin10Minutes", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "AgentOwn")
		m := mgMerge(t, env, p.ws.Agent(), p.a, p.b)
		mgWant(t, "canUndo", m.CanUndo, true)
		u := mgUnmerge(t, env, p.ws.Agent(), m.ID)
		mgWant(t, "undoneBy", u.UndoneBy.ID, fxViewerID(t, env, p.ws.Agent()))
		mgWant(t, "canUndo after the undo", u.CanUndo, false)
	})

	t.Run("ErrAgentUndoesAnothersMerge", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "AgentOther")
		m := mgMerge(t, env, p.ws.Manager(), p.a, p.b)
		fxWantError(t, mgTryUnmerge(t, env, p.ws.Agent(), m.ID), "FORBIDDEN", "mergeId")
		if s := mgSnapshot(t, env, p.token, p.b); s != nil {
			t.Errorf("secondary after a refused undo: got it back, want it still merged")
		}
	})

	t.Run("ErrAgentAfter10Minutes", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "AgentLate")
		m := mgMerge(t, env, p.ws.Agent(), p.a, p.b)
		mgExec(t, env, `UPDATE merges SET merged_at = merged_at - interval '11 minutes' WHERE id = $1`, mgLocal(t, m.ID))
		r := mgTryUnmerge(t, env, p.ws.Agent(), m.ID)
		fxWantError(t, r, "FORBIDDEN", "mergeId")
		// A manager still may.
		mgUnmerge(t, env, p.ws.Manager(), m.ID)
	})

	t.Run("OwnersAndManagersAnyTime", func(t *testing.T) {
		t.Parallel()
		for _, role := range []string{"OWNER", "MANAGER"} {
			p := mgSetupPair(t, env, "Any"+role)
			m := mgMerge(t, env, p.ws.Agent(), p.a, p.b)
			mgExec(t, env, `UPDATE merges SET merged_at = merged_at - interval '400 days' WHERE id = $1`, mgLocal(t, m.ID))
			tok := p.ws.Owner()
			if role == "MANAGER" {
				tok = p.ws.Manager()
			}
			var data struct{ Node mgMergeData }
			env.MustDo(t, tok, `query($id: ID!) { node(id: $id) { ... on Merge { `+mgMergeFields+` } } }`, map[string]any{"id": m.ID}, &data)
			mgWant(t, role+" canUndo", data.Node.CanUndo, true)
			mgUnmerge(t, env, tok, m.ID)
		}
	})

	t.Run("ErrAlreadyUndone", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Twice")
		m := mgMerge(t, env, p.token, p.a, p.b)
		mgUnmerge(t, env, p.token, m.ID)
		fxWantError(t, mgTryUnmerge(t, env, p.token, m.ID), "CONFLICT", "mergeId")
	})

	t.Run("ErrUnknownMerge", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Unknown")
		other := mgSetupPair(t, env, "UnknownOther")
		m := mgMerge(t, env, other.token, other.a, other.b)
		fxWantError(t, mgTryUnmerge(t, env, p.token, m.ID), "NOT_FOUND", "mergeId")
		fxWantError(t, mgTryUnmerge(t, env, p.token, p.a), "NOT_FOUND", "mergeId")
		fxWantError(t, mgTryUnmerge(t, env, p.token, "garbage"), "NOT_FOUND", "mergeId")
	})

	t.Run("NewestFirst", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Newest")
		c := mgCreate(t, env, p.token, map[string]any{"firstName": "Cy", "phone": "+393331234567"})
		m1 := mgMerge(t, env, p.token, p.a, p.b)
		m2 := mgMerge(t, env, p.token, p.a, c)
		r := mgTryUnmerge(t, env, p.token, m1.ID)
		fxWantError(t, r, "CONFLICT", "mergeId")
		if len(r.Errors) > 0 && !strings.Contains(r.Errors[0].Message, m2.ID) {
			t.Errorf("message: got %q, want it to name the later merge %s", r.Errors[0].Message, m2.ID)
		}
		var data struct{ Node mgMergeData }
		env.MustDo(t, p.token, `query($id: ID!) { node(id: $id) { ... on Merge { `+mgMergeFields+` } } }`, map[string]any{"id": m1.ID}, &data)
		if data.Node.CanUndo || data.Node.UndoBlockedReason == nil {
			t.Errorf("first merge: got canUndo %v, reason %v, want false and a reason", data.Node.CanUndo, data.Node.UndoBlockedReason)
		}
		mgUnmerge(t, env, p.token, m2.ID)
		mgUnmerge(t, env, p.token, m1.ID)
		for _, id := range []string{p.a, p.b, c} {
			if mgSnapshot(t, env, p.token, id) == nil {
				t.Errorf("contact %s after both undos: got gone, want it back", id)
			}
		}
	})

	t.Run("NewestFirstWhenThePrimaryWasMergedAway", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Chain")
		c := mgCreate(t, env, p.token, map[string]any{"firstName": "Cy"})
		m1 := mgMerge(t, env, p.token, p.a, p.b) // B into A
		m2 := mgMerge(t, env, p.token, c, p.a)   // then A into C
		r := mgTryUnmerge(t, env, p.token, m1.ID)
		fxWantError(t, r, "CONFLICT", "mergeId")
		if len(r.Errors) > 0 && !strings.Contains(r.Errors[0].Message, m2.ID) {
			t.Errorf("message: got %q, want it to name the later merge %s", r.Errors[0].Message, m2.ID)
		}
		var data struct{ Node mgMergeData }
		env.MustDo(t, p.token, `query($id: ID!) { node(id: $id) { ... on Merge { `+mgMergeFields+` } } }`, map[string]any{"id": m1.ID}, &data)
		if data.Node.CanUndo || data.Node.UndoBlockedReason == nil || !strings.Contains(*data.Node.UndoBlockedReason, "later merge") {
			t.Errorf("first merge: got canUndo %v, reason %v, want false, a later merge first", data.Node.CanUndo, data.Node.UndoBlockedReason)
		}
		mgUnmerge(t, env, p.token, m2.ID)
		mgUnmerge(t, env, p.token, m1.ID)
	})

	t.Run("ErrPrimaryDeleted", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Deleted")
		m := mgMerge(t, env, p.token, p.a, p.b)
		mgExec(t, env, `DELETE FROM contacts WHERE id = $1`, mgLocal(t, p.a))
		var data struct {
			Merges struct{ Edges []struct{ Node mgMergeData } }
		}
		env.MustDo(t, p.token, `{ merges { edges { node { `+mgMergeFields+` } } } }`, nil, &data)
		if len(data.Merges.Edges) != 1 {
			t.Fatalf("merges: got %d, want 1", len(data.Merges.Edges))
		}
		got := data.Merges.Edges[0].Node
		mgWant(t, "canUndo", got.CanUndo, false)
		if got.UndoBlockedReason == nil || !strings.Contains(*got.UndoBlockedReason, "deleted") {
			t.Errorf("undoBlockedReason: got %v, want why (deleted)", got.UndoBlockedReason)
		}
		if got.PrimaryContact != nil {
			t.Errorf("primaryContact: got %v, want null", got.PrimaryContact)
		}
		fxWantError(t, mgTryUnmerge(t, env, p.token, m.ID), "CONFLICT", "mergeId")
	})

	t.Run("MergedContactSnapshot", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Snapshot")
		mgTag(t, env, p.token, []string{p.b}, "beta")
		_, conv := mgSend(t, env, p.token, p.b, p.whatsapp, "hello B")
		before := mgSnapshot(t, env, p.token, p.b)
		m := mgMerge(t, env, p.token, p.a, p.b)
		var data struct {
			Node struct{ MergedContactSnapshot string }
		}
		env.MustDo(t, p.token, `query($id: ID!) { node(id: $id) { ... on Merge { mergedContactSnapshot } } }`, map[string]any{"id": m.ID}, &data)
		var got struct {
			ID, DisplayName, CreatedAt, UpdatedAt string
			FirstName, LastName, Email, Phone     *string
			CustomFields                          map[string]string
			TagIDs                                []string `json:"tagIds"`
			Channels                              []struct{ ChannelID, Identifier string }
			ConversationIDs                       []string `json:"conversationIds"`
		}
		if err := json.Unmarshal([]byte(data.Node.MergedContactSnapshot), &got); err != nil {
			t.Fatalf("mergedContactSnapshot %q: %v", data.Node.MergedContactSnapshot, err)
		}
		mgWant(t, "id", got.ID, p.b)
		mgWant(t, "displayName", got.DisplayName, mgStr(before, "displayName"))
		mgWant(t, "createdAt", got.CreatedAt, mgStr(before, "createdAt"))
		mgWant(t, "updatedAt", got.UpdatedAt, mgStr(before, "updatedAt"))
		mgWant(t, "phone", ctDeref(got.Phone), "+447911123456")
		if want := mgCustom(before); !reflect.DeepEqual(got.CustomFields, want) {
			t.Errorf("customFields: got %v, want %v", got.CustomFields, want)
		}
		tags := before["tags"].([]any)
		if len(got.TagIDs) != 1 || len(tags) != 1 || got.TagIDs[0] != tags[0].(map[string]any)["id"] {
			t.Errorf("tagIds: got %v, want the id of beta (%v)", got.TagIDs, tags)
		}
		if len(got.Channels) != 1 || got.Channels[0].ChannelID != p.whatsapp || got.Channels[0].Identifier != "+447911123456" {
			t.Errorf("channels: got %+v, want WhatsApp +447911123456", got.Channels)
		}
		mgWantSlice(t, "conversationIds", got.ConversationIDs, []string{conv})
	})

	t.Run("MergeHistory", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "History")
		c := mgCreate(t, env, p.token, map[string]any{"firstName": "Cy"})
		d := mgCreate(t, env, p.token, map[string]any{"firstName": "Di"})
		m1 := mgMerge(t, env, p.ws.Agent(), p.a, p.b)
		m2 := mgMerge(t, env, p.ws.Manager(), c, d)
		m3 := mgMerge(t, env, p.token, p.a, c)
		mgUnmerge(t, env, p.token, m3.ID)
		r := env.Do(t, p.ws.Agent(), `{ merges { totalCount edges { node { id } } } }`, nil)
		fxWantError(t, r, "FORBIDDEN", "-")
		r = env.Do(t, p.ws.Agent(), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": m2.ID})
		fxWantError(t, r, "FORBIDDEN", "-")
		for _, tok := range []string{p.ws.Owner(), p.ws.Manager()} {
			var data struct {
				Merges struct {
					TotalCount int
					Edges      []struct{ Node mgMergeData }
					PageInfo   struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			env.MustDo(t, tok, `{ merges(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { `+mgMergeFields+` } } } }`, nil, &data)
			mgWant(t, "totalCount", data.Merges.TotalCount, 3)
			var ids []string
			for _, e := range data.Merges.Edges {
				ids = append(ids, e.Node.ID)
			}
			mgWantSlice(t, "first page, newest first", ids, []string{m3.ID, m2.ID})
			mgWant(t, "hasNextPage", data.Merges.PageInfo.HasNextPage, true)
			if len(data.Merges.Edges) == 2 {
				mgWant(t, "m3 undoneAt set", data.Merges.Edges[0].Node.UndoneAt != nil, true)
				mgWant(t, "m2 mergedBy", data.Merges.Edges[1].Node.MergedBy.ID, fxViewerID(t, env, p.ws.Manager()))
			}
			var next struct {
				Merges struct{ Edges []struct{ Node mgMergeData } }
			}
			env.MustDo(t, tok, `query($after: String) { merges(first: 2, after: $after) { edges { node { id } } } }`,
				map[string]any{"after": data.Merges.PageInfo.EndCursor}, &next)
			if len(next.Merges.Edges) != 1 || next.Merges.Edges[0].Node.ID != m1.ID {
				t.Errorf("second page: got %+v, want the first merge %s", next.Merges.Edges, m1.ID)
			}
		}
	})
}

func TestUnmergeRestores(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("BothContactsAsTheyWere", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Restore")
		mgTag(t, env, p.token, []string{p.a}, "alpha", "both")
		mgTag(t, env, p.token, []string{p.b}, "both", "beta")
		mgSend(t, env, p.token, p.b, p.whatsapp, "hello B") // links B on WhatsApp
		r := mgReceive(t, env, p.token, p.f, "psid-b", "B on Facebook")
		mgMerge(t, env, p.token, p.b, r.ContactID) // B now holds a Facebook identity and two conversations
		mgSend(t, env, p.token, p.a, p.email, "hello A")
		beforeA, beforeB := mgSnapshot(t, env, p.token, p.a), mgSnapshot(t, env, p.token, p.b)
		m := mgMerge(t, env, p.token, p.a, p.b, mgChoice{"firstName", "SECONDARY"}, mgChoice{"plan", "SECONDARY"})
		mgUnmerge(t, env, p.token, m.ID)
		afterA, afterB := mgSnapshot(t, env, p.token, p.a), mgSnapshot(t, env, p.token, p.b)
		mgSameSnapshot(t, "secondary", afterB, beforeB)
		mgSameSnapshot(t, "primary", afterA, beforeA, "updatedAt")
		mgWant(t, "secondary id", mgStr(afterB, "id"), p.b)
		for _, tag := range fxAllTags(t, env, p.token) {
			want := 1
			if tag.Name == "both" {
				want = 2
			}
			mgWant(t, "contactCount of "+tag.Name, tag.ContactCount, want)
		}
	})

	t.Run("FieldsEditedAfterTheMergeKeepTheirValue", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Edited")
		m := mgMerge(t, env, p.token, p.a, p.b, mgChoice{"firstName", "SECONDARY"}, mgChoice{"plan", "SECONDARY"})
		// The primary gained B's phone, last name and custom values; edit some of them.
		mgUpdate(t, env, p.token, p.a, map[string]any{"phone": "+393339876543", "customFields": []map[string]any{{"key": "since", "value": "2025-01-01"}}})
		mgUnmerge(t, env, p.token, m.ID)
		a := mgSnapshot(t, env, p.token, p.a)
		for key, want := range map[string]string{"phone": "+393339876543", "firstName": "Ada", "lastName": "<nil>", "language": "it"} {
			mgWant(t, "primary "+key, mgStr(a, key), want)
		}
		wantCustom := map[string]string{"plan": "gold", "score": "10", "since": "2025-01-01"}
		if c := mgCustom(a); !reflect.DeepEqual(c, wantCustom) {
			t.Errorf("primary customFields: got %v, want %v", c, wantCustom)
		}
		b := mgSnapshot(t, env, p.token, p.b)
		mgWant(t, "secondary phone", mgStr(b, "phone"), "+447911123456")
		wantCustom = map[string]string{"plan": "silver", "since": "2024-05-06", "vip": "true"}
		if c := mgCustom(b); !reflect.DeepEqual(c, wantCustom) {
			t.Errorf("secondary customFields: got %v, want %v", c, wantCustom)
		}
	})

	t.Run("ConversationOpenedSinceGoesWithItsIdentity", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name       string
			closeFirst bool // B's conversation was closed before the merge
		}{{"SecondaryHadAnOpenConversation", false}, {"SecondaryHadNone", true}} {
			t.Run(tc.name, func(t *testing.T) {
				ws := env.Workspace(t, "Since"+tc.name)
				tok := ws.Owner()
				wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
				fb := mgChannel(t, env, tok, "FACEBOOK", "Page")
				a := mgReceive(t, env, tok, wa, "+393331111111", "A writes")
				b := mgReceive(t, env, tok, fb, "psid-b", "B writes")
				if tc.closeFirst {
					mgClose(t, env, tok, b.ConversationID)
				}
				m := mgMerge(t, env, tok, a.ContactID, b.ContactID)
				mgClose(t, env, tok, a.ConversationID)
				// B's identity writes: a new conversation opens on the merged contact.
				late := mgReceive(t, env, tok, fb, "psid-b", "B writes after the merge")
				mgUnmerge(t, env, tok, m.ID)

				sa, sb := mgSnapshot(t, env, tok, a.ContactID), mgSnapshot(t, env, tok, b.ContactID)
				mgWantSlice(t, "A's conversations", mgConversationIDs(sa), []string{a.ConversationID})
				mgWant(t, "A's conversationStatus", mgStr(sa, "conversationStatus"), "CLOSED")
				mgWantSlice(t, "B's messages", mgMessageIDs(sb), mgSorted(b.MessageID, late.MessageID))
				mgWant(t, "B's conversationStatus", mgStr(sb, "conversationStatus"), "OPEN")
				wantConvs := []string{b.ConversationID}
				if tc.closeFirst {
					// Without the merge, the late message would have opened a conversation of B.
					wantConvs = mgSorted(b.ConversationID, late.ConversationID)
				}
				mgWantSlice(t, "B's conversations", mgConversationIDs(sb), wantConvs)
				mgWant(t, "empty conversations", mgCount(t, env, `SELECT count(*) FROM conversations cv WHERE workspace_id = $1
					AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = cv.id)`, ws.ID), 0)
			})
		}
	})

	t.Run("SuggestionReappears", func(t *testing.T) {
		t.Parallel()
		p := mgSetupPair(t, env, "Reappears") // A and B share their email
		open := mgOpenSuggestions(t, env, p.token)
		if len(open) != 1 {
			t.Fatalf("open suggestions: got %d, want 1", len(open))
		}
		m := mgMerge(t, env, p.token, p.a, p.b)
		mgWant(t, "status after the merge", mgSuggestion(t, env, p.token, open[0].ID).Status, "MERGED")
		mgWant(t, "open suggestions after the merge", len(mgOpenSuggestions(t, env, p.token)), 0)
		mgUnmerge(t, env, p.token, m.ID)
		again := mgOpenSuggestions(t, env, p.token)
		if len(again) != 1 || !reflect.DeepEqual(again[0].contactIDs(), mgSorted(p.a, p.b)) {
			t.Fatalf("open suggestions after the undo: got %+v, want one of A and B", again)
		}
		mgWant(t, "status", again[0].Status, "OPEN")
		var data struct {
			Contact struct {
				MergeSuggestions []struct{ ID string }
				DuplicateValues  []mgMatch
			}
		}
		env.MustDo(t, p.token, `query($id: ID!) { contact(id: $id) { mergeSuggestions { id } duplicateValues { field value contactIds } } }`,
			map[string]any{"id": p.b}, &data)
		if len(data.Contact.MergeSuggestions) != 1 || data.Contact.MergeSuggestions[0].ID != again[0].ID {
			t.Errorf("secondary's mergeSuggestions: got %+v, want [%s]", data.Contact.MergeSuggestions, again[0].ID)
		}
		if len(data.Contact.DuplicateValues) != 1 || data.Contact.DuplicateValues[0].Value != "ada@example.com" {
			t.Errorf("secondary's duplicateValues: got %+v, want the shared email", data.Contact.DuplicateValues)
		}
	})
}

func TestMergeEvents(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	p := mgSetupPair(t, env, "Events")
	mgSend(t, env, p.token, p.b, p.whatsapp, "hi B")
	sug := mgOpenSuggestions(t, env, p.token)
	if len(sug) != 1 {
		t.Fatalf("open suggestions: got %d, want 1", len(sug))
	}
	seq := mgLastSeq(t, env, p.ws.ID)
	m := mgMerge(t, env, p.token, p.a, p.b)
	events, seq := mgEvents(t, env, p.ws.ID, seq)
	a, b, wa, s := mgLocal(t, p.a), mgLocal(t, p.b), mgLocal(t, p.whatsapp), mgLocal(t, sug[0].ID)
	for _, want := range []struct{ kind, typ, contact, subject string }{
		{"contact", "MERGED", a, ""},
		{"contact", "MERGED", b, ""},
		{"contactChannel", "LINKED", a, wa},
		{"contactChannel", "UNLINKED", b, wa},
		{"mergeSuggestion", "RESOLVED", "", s},
	} {
		if !mgHasEvent(events, want.kind, want.typ, want.contact, want.subject) {
			t.Errorf("merge events: got %+v, want %s %s about %s %s", events, want.kind, want.typ, want.contact, want.subject)
		}
	}
	mgUnmerge(t, env, p.token, m.ID)
	events, _ = mgEvents(t, env, p.ws.ID, seq)
	for _, want := range []struct{ kind, typ, contact, subject string }{
		{"contact", "UNMERGED", a, ""},
		{"contact", "UNMERGED", b, ""},
		{"contactChannel", "LINKED", b, wa},
		{"contactChannel", "UNLINKED", a, wa},
		{"mergeSuggestion", "CREATED", "", ""},
	} {
		if !mgHasEvent(events, want.kind, want.typ, want.contact, want.subject) {
			t.Errorf("unmerge events: got %+v, want %s %s about %s %s", events, want.kind, want.typ, want.contact, want.subject)
		}
	}
}
