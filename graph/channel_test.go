package graph_test

// Tests of workspace channels, each contact's standing on them (Contact.channels) and
// removeContactChannel. The helpers of this file start with ch; conversation_test.go uses
// them too.

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// chAllTypes are the channel types of API.md.
var chAllTypes = []string{"FACEBOOK", "INSTAGRAM", "WHATSAPP", "SMS", "EMAIL", "TELEGRAM", "LINE", "VIBER", "WEBCHAT"}

// chPageID is the Facebook page id the tests give their FACEBOOK channels.
const chPageID = "104729385123"

// chChannel is a channel as the API returns it.
type chChannel struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Name      string  `json:"name"`
	PageID    *string `json:"pageId"`
	CreatedAt string  `json:"createdAt"`
}

const chChannelFields = `id type name pageId createdAt`

const chCreateChannelMutation = `mutation($in: CreateChannelInput!) { createChannel(input: $in) { channel { ` + chChannelFields + ` } } }`

// chCreateChannel adds a channel of the type (FACEBOOK ones get chPageID) and returns its id.
func chCreateChannel(tb testing.TB, env *testenv.Env, token, typ, name string) string {
	tb.Helper()
	in := map[string]any{"type": typ, "name": name}
	if typ == "FACEBOOK" {
		in["pageId"] = chPageID
	}
	var data struct{ CreateChannel struct{ Channel chChannel } }
	env.MustDo(tb, token, chCreateChannelMutation, map[string]any{"in": in}, &data)
	if data.CreateChannel.Channel.ID == "" {
		tb.Fatalf("createChannel %s: no id", typ)
	}
	return data.CreateChannel.Channel.ID
}

// chChannelsByType creates one channel of each of the types, in that order, named after the
// type, and returns their ids by type.
func chChannelsByType(tb testing.TB, env *testenv.Env, token string, types ...string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, typ := range types {
		out[typ] = chCreateChannel(tb, env, token, typ, "My "+strings.ToLower(typ))
	}
	return out
}

// chContactChannel is one entry of Contact.channels.
type chContactChannel struct {
	Channel struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"channel"`
	Status            string  `json:"status"`
	Identifier        *string `json:"identifier"`
	ConnectedAt       *string `json:"connectedAt"`
	LastInteractionAt *string `json:"lastInteractionAt"`
	ConversationURL   *string `json:"conversationUrl"`
	CanConnect        bool    `json:"canConnect"`
}

const chContactChannelFields = `channel { id type name } status identifier connectedAt lastInteractionAt conversationUrl canConnect`

// chContactChannels returns a contact's channels as contact(id) lists them.
func chContactChannels(tb testing.TB, env *testenv.Env, token, contactID string) []chContactChannel {
	tb.Helper()
	var data struct {
		Contact *struct{ Channels []chContactChannel }
	}
	env.MustDo(tb, token, `query($id: ID!) { contact(id: $id) { channels { `+chContactChannelFields+` } } }`,
		map[string]any{"id": contactID}, &data)
	if data.Contact == nil {
		tb.Fatalf("contact(%s): got null, want the contact", contactID)
	}
	return data.Contact.Channels
}

// chOn returns the entry of a channel in a contact's channels.
func chOn(tb testing.TB, ccs []chContactChannel, channelID string) chContactChannel {
	tb.Helper()
	for _, cc := range ccs {
		if cc.Channel.ID == channelID {
			return cc
		}
	}
	tb.Fatalf("channel %s: not among the contact's channels %+v", channelID, ccs)
	return chContactChannel{}
}

// chCounts are the rows a workspace holds, to prove that a refused request stored nothing.
type chCounts struct {
	Contacts, Links, Conversations, Messages, Channels int
}

// chCountsOf counts a workspace's rows (workspaceID is the local id of testenv.Workspace).
func chCountsOf(tb testing.TB, env *testenv.Env, workspaceID string) chCounts {
	tb.Helper()
	var c chCounts
	const q = `SELECT (SELECT count(*) FROM contacts WHERE workspace_id = $1),
		(SELECT count(*) FROM contact_channels WHERE workspace_id = $1),
		(SELECT count(*) FROM conversations WHERE workspace_id = $1),
		(SELECT count(*) FROM messages WHERE workspace_id = $1),
		(SELECT count(*) FROM channels WHERE workspace_id = $1)`
	if err := env.DB.QueryRowContext(context.Background(), q, workspaceID).Scan(
		&c.Contacts, &c.Links, &c.Conversations, &c.Messages, &c.Channels); err != nil {
		tb.Fatal(err)
	}
	return c
}

// chWantCounts fails unless the workspace holds what it held before.
func chWantCounts(tb testing.TB, env *testenv.Env, workspaceID string, want chCounts) {
	tb.Helper()
	if got := chCountsOf(tb, env, workspaceID); got != want {
		tb.Errorf("rows: got %+v, want %+v", got, want)
	}
}

// chTime parses a DateTime of the API.
func chTime(tb testing.TB, s *string) time.Time {
	tb.Helper()
	if s == nil {
		tb.Fatal("time: got null, want a DateTime")
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		tb.Fatalf("time %q: %v", *s, err)
	}
	return t
}

// chWantTime checks a DateTime against a time.
func chWantTime(tb testing.TB, name string, got *string, want time.Time) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: got null, want %s", name, want.Format(time.RFC3339Nano))
		return
	}
	if g := chTime(tb, got); !g.Equal(want) {
		tb.Errorf("%s: got %s, want %s", name, *got, want.Format(time.RFC3339Nano))
	}
}

func TestCreateChannel(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Channels")

	create := func(t *testing.T, token string, in map[string]any) (*testenv.Response, chChannel) {
		t.Helper()
		r := env.Do(t, token, chCreateChannelMutation, map[string]any{"in": in})
		var data struct{ CreateChannel *struct{ Channel chChannel } }
		if len(r.Errors) == 0 {
			r.Decode(t, &data)
			return r, data.CreateChannel.Channel
		}
		return r, chChannel{}
	}

	for _, typ := range chAllTypes {
		t.Run("OK"+typ, func(t *testing.T) {
			in := map[string]any{"type": typ, "name": "  Support " + typ + "  "}
			if typ == "FACEBOOK" {
				in["pageId"] = " " + chPageID + " "
			}
			before := time.Now().Add(-time.Minute)
			r, ch := create(t, ws.Manager(), in)
			if len(r.Errors) > 0 {
				t.Fatalf("errors: got %+v, want none", r.Errors)
			}
			if ch.ID == "" {
				t.Error("id: got empty, want an id")
			}
			if ch.Type != typ {
				t.Errorf("type: got %q, want %q", ch.Type, typ)
			}
			if want := "Support " + typ; ch.Name != want {
				t.Errorf("name: got %q, want %q (trimmed)", ch.Name, want)
			}
			var wantPage *string
			if typ == "FACEBOOK" {
				wantPage = ctPtr(chPageID)
			}
			ctWantString(t, "pageId", ch.PageID, wantPage)
			if c := chTime(t, &ch.CreatedAt); c.Before(before) {
				t.Errorf("createdAt: got %s, want about now", ch.CreatedAt)
			}
		})
	}

	bad := []struct {
		name, code, field string
		token             func() string
		in                map[string]any
	}{
		{"ErrFacebookWithoutPageID", "BAD_USER_INPUT", "pageId", ws.Owner, map[string]any{"type": "FACEBOOK", "name": "Page"}},
		{"ErrFacebookBlankPageID", "BAD_USER_INPUT", "pageId", ws.Owner, map[string]any{"type": "FACEBOOK", "name": "Page", "pageId": "   "}},
		{"ErrFacebookPageIDNotNumeric", "BAD_USER_INPUT", "pageId", ws.Owner, map[string]any{"type": "FACEBOOK", "name": "Page", "pageId": "my-shop"}},
		{"ErrFacebookPageIDNegative", "BAD_USER_INPUT", "pageId", ws.Owner, map[string]any{"type": "FACEBOOK", "name": "Page", "pageId": "-12"}},
		{"ErrPageIDOnWhatsApp", "BAD_USER_INPUT", "pageId", ws.Owner, map[string]any{"type": "WHATSAPP", "name": "WA", "pageId": "123"}},
		{"ErrPageIDOnInstagram", "BAD_USER_INPUT", "pageId", ws.Owner, map[string]any{"type": "INSTAGRAM", "name": "IG", "pageId": "123"}},
		{"ErrEmptyName", "BAD_USER_INPUT", "name", ws.Owner, map[string]any{"type": "SMS", "name": "  "}},
		{"ErrNameTooLong", "BAD_USER_INPUT", "name", ws.Owner, map[string]any{"type": "SMS", "name": strings.Repeat("n", 256)}},
		{"ErrAgent", "FORBIDDEN", "-", ws.Agent, map[string]any{"type": "WHATSAPP", "name": "Agent's"}},
		{"ErrAgentFacebook", "FORBIDDEN", "-", ws.Agent, map[string]any{"type": "FACEBOOK", "name": "Agent's", "pageId": "42"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			before := chCountsOf(t, env, ws.ID)
			r, _ := create(t, c.token(), c.in)
			fxWantError(t, r, c.code, c.field)
			chWantCounts(t, env, ws.ID, before)
		})
	}

	t.Run("ErrUnknownType", func(t *testing.T) {
		r, _ := create(t, ws.Owner(), map[string]any{"type": "PIGEON", "name": "Coop"})
		fxWantError(t, r, "BAD_USER_INPUT", "-")
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		r, _ := create(t, "", map[string]any{"type": "SMS", "name": "Anon"})
		fxWantError(t, r, "UNAUTHENTICATED", "-")
	})
}

func TestChannels(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Channel list")
	other := env.Workspace(t, "Channel list other")
	chCreateChannel(t, env, other.Owner(), "SMS", "Their SMS")

	// Created in an order that is neither alphabetical by name nor by type.
	order := []struct{ typ, name string }{
		{"WEBCHAT", "Zeta site"}, {"EMAIL", "Alpha mailbox"}, {"FACEBOOK", "Middle page"}, {"SMS", "Beta SMS"},
	}
	var ids []string
	for _, o := range order {
		ids = append(ids, chCreateChannel(t, env, ws.Owner(), o.typ, o.name))
	}

	const q = `{ channels { ` + chChannelFields + ` } }`
	for role, token := range map[string]string{"OWNER": ws.Owner(), "MANAGER": ws.Manager(), "AGENT": ws.Agent()} {
		t.Run("OldestFirst"+role, func(t *testing.T) {
			var data struct{ Channels []chChannel }
			env.MustDo(t, token, q, nil, &data)
			var got []string
			for _, ch := range data.Channels {
				got = append(got, ch.ID)
			}
			if !slices.Equal(got, ids) {
				t.Errorf("channels: got %+v, want the 4 channels of the workspace in the order they were created %v", data.Channels, ids)
			}
			for i, ch := range data.Channels {
				if i < len(order) && (ch.Type != order[i].typ || ch.Name != order[i].name) {
					t.Errorf("channel %d: got %s %q, want %s %q", i, ch.Type, ch.Name, order[i].typ, order[i].name)
				}
			}
		})
	}

	t.Run("Node", func(t *testing.T) {
		var data struct{ Node *chChannel }
		env.MustDo(t, ws.Agent(), `query($id: ID!) { node(id: $id) { ... on Channel { `+chChannelFields+` } } }`,
			map[string]any{"id": ids[2]}, &data)
		if data.Node == nil || data.Node.ID != ids[2] || data.Node.Type != "FACEBOOK" || data.Node.PageID == nil || *data.Node.PageID != chPageID {
			t.Errorf("node: got %+v, want the FACEBOOK channel %s with page %s", data.Node, ids[2], chPageID)
		}
	})

	t.Run("EmptyWorkspace", func(t *testing.T) {
		empty := env.Workspace(t, "No channels")
		var data struct{ Channels []chChannel }
		env.MustDo(t, empty.Owner(), q, nil, &data)
		if data.Channels == nil || len(data.Channels) != 0 {
			t.Errorf("channels: got %+v, want []", data.Channels)
		}
	})
}

// chStatusCase is what a contact's entry on a channel should say.
type chStatusCase struct {
	status     string
	identifier *string
}

// chWantStatus checks an entry's status, identifier and canConnect, and that an entry not
// ACTIVE has no link details.
func chWantStatus(t *testing.T, cc chContactChannel, want chStatusCase) {
	t.Helper()
	if cc.Status != want.status {
		t.Errorf("%s: status: got %s, want %s", cc.Channel.Type, cc.Status, want.status)
	}
	ctWantString(t, cc.Channel.Type+": identifier", cc.Identifier, want.identifier)
	if got, wantConnect := cc.CanConnect, want.status == "INACTIVE"; got != wantConnect {
		t.Errorf("%s: canConnect: got %v, want %v (exactly when INACTIVE)", cc.Channel.Type, got, wantConnect)
	}
	if want.status != "ACTIVE" && (cc.ConnectedAt != nil || cc.LastInteractionAt != nil || cc.ConversationURL != nil) {
		t.Errorf("%s: %s: got connectedAt %s, lastInteractionAt %s, conversationUrl %s; want all null",
			cc.Channel.Type, cc.Status, ctDeref(cc.ConnectedAt), ctDeref(cc.LastInteractionAt), ctDeref(cc.ConversationURL))
	}
}

func TestContactChannelStatus(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Statuses")
	// Created in an order of their own: Contact.channels follows the workspace's channels.
	types := []string{"VIBER", "EMAIL", "FACEBOOK", "SMS", "LINE", "WEBCHAT", "INSTAGRAM", "WHATSAPP", "TELEGRAM"}
	channels := chChannelsByType(t, env, ws.Owner(), types...)

	const phone, email = "+393331234567", "Mario.Rossi@Example.com"
	contacts := []struct {
		name  string
		input map[string]any
	}{
		{"PhoneAndEmail", map[string]any{"firstName": "Both", "phone": phone, "email": email}},
		{"PhoneOnly", map[string]any{"firstName": "Phone", "phone": phone}},
		{"EmailOnly", map[string]any{"firstName": "Email", "email": email}},
		{"Neither", map[string]any{"firstName": "Nothing"}},
	}
	for _, c := range contacts {
		t.Run(c.name, func(t *testing.T) {
			id := fxContacts(t, env, ws.Owner(), 1, func(int) map[string]any { return c.input })[0]
			ccs := chContactChannels(t, env, ws.Agent(), id)
			var got []string
			for _, cc := range ccs {
				got = append(got, cc.Channel.Type)
			}
			if !slices.Equal(got, types) {
				t.Fatalf("channels: got %v, want every channel of the workspace, oldest first: %v", got, types)
			}
			_, hasPhone := c.input["phone"]
			_, hasEmail := c.input["email"]
			for _, cc := range ccs {
				want := chStatusCase{status: "UNAVAILABLE"}
				switch cc.Channel.Type {
				case "WHATSAPP", "SMS":
					if hasPhone {
						want = chStatusCase{"INACTIVE", ctPtr(phone)}
					}
				case "EMAIL":
					if hasEmail {
						want = chStatusCase{"INACTIVE", ctPtr(strings.ToLower(email))}
					}
				}
				chWantStatus(t, cc, want)
			}
		})
	}

	t.Run("FollowsPhoneAndEmail", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Changing")
		set := func(in map[string]any) {
			t.Helper()
			in["id"] = id
			env.MustDo(t, ws.Owner(), `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
				map[string]any{"in": in}, nil)
		}
		set(map[string]any{"phone": "+14155550123"})
		ccs := chContactChannels(t, env, ws.Owner(), id)
		chWantStatus(t, chOn(t, ccs, channels["WHATSAPP"]), chStatusCase{"INACTIVE", ctPtr("+14155550123")})
		chWantStatus(t, chOn(t, ccs, channels["EMAIL"]), chStatusCase{status: "UNAVAILABLE"})
		set(map[string]any{"phone": nil, "email": "x@example.org"})
		ccs = chContactChannels(t, env, ws.Owner(), id)
		chWantStatus(t, chOn(t, ccs, channels["WHATSAPP"]), chStatusCase{status: "UNAVAILABLE"})
		chWantStatus(t, chOn(t, ccs, channels["SMS"]), chStatusCase{status: "UNAVAILABLE"})
		chWantStatus(t, chOn(t, ccs, channels["EMAIL"]), chStatusCase{"INACTIVE", ctPtr("x@example.org")})
	})

	// A message on each channel links it: ACTIVE whatever the contact's phone and email.
	identifiers := map[string]string{
		"FACEBOOK": "6234567890123456", "INSTAGRAM": "17841400000000001", "WHATSAPP": "+393339876543",
		"SMS": "+447400123456", "EMAIL": "writer@example.net", "TELEGRAM": "tg-998877", "LINE": "U4af4980629",
		"VIBER": "01234567890A=", "WEBCHAT": "visitor-5f2c",
	}
	sentAt := time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)
	for _, typ := range types {
		t.Run("Active"+typ, func(t *testing.T) {
			rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels[typ], "identifier": identifiers[typ],
				"text": "Hello", "sentAt": sentAt.Format(time.RFC3339)})
			ccs := chContactChannels(t, env, ws.Agent(), rec.Contact.ID)
			cc := chOn(t, ccs, channels[typ])
			if cc.Status != "ACTIVE" || cc.CanConnect {
				t.Errorf("status: got %s (canConnect %v), want ACTIVE (canConnect false)", cc.Status, cc.CanConnect)
			}
			ctWantString(t, "identifier", cc.Identifier, ctPtr(identifiers[typ]))
			chWantTime(t, "connectedAt", cc.ConnectedAt, sentAt)
			chWantTime(t, "lastInteractionAt", cc.LastInteractionAt, sentAt)
			var wantURL *string
			if typ == "FACEBOOK" {
				wantURL = ctPtr("https://business.facebook.com/latest/inbox/all?asset_id=" + chPageID + "&selected_item_id=" + identifiers[typ])
			}
			ctWantString(t, "conversationUrl", cc.ConversationURL, wantURL)
			// The other channels follow the rules for the phone or email the message gave.
			for _, other := range ccs {
				if other.Channel.ID == cc.Channel.ID {
					continue
				}
				want := chStatusCase{status: "UNAVAILABLE"}
				switch {
				case (typ == "WHATSAPP" || typ == "SMS") && (other.Channel.Type == "WHATSAPP" || other.Channel.Type == "SMS"):
					want = chStatusCase{"INACTIVE", ctPtr(identifiers[typ])}
				}
				chWantStatus(t, other, want)
			}
		})
	}

	t.Run("FacebookConversationURLEscaped", func(t *testing.T) {
		psid := "psid/with space&more=1"
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["FACEBOOK"], "identifier": psid, "text": "Hi"})
		cc := chOn(t, chContactChannels(t, env, ws.Owner(), rec.Contact.ID), channels["FACEBOOK"])
		want := "https://business.facebook.com/latest/inbox/all?asset_id=" + chPageID + "&selected_item_id=psid%2Fwith+space%26more%3D1"
		ctWantString(t, "conversationUrl", cc.ConversationURL, &want)
		if cc.ConversationURL != nil {
			u, err := url.Parse(*cc.ConversationURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Query().Get("selected_item_id"); got != psid {
				t.Errorf("selected_item_id: got %q, want %q", got, psid)
			}
			if got := u.Query().Get("asset_id"); got != chPageID {
				t.Errorf("asset_id: got %q, want %q", got, chPageID)
			}
		}
	})
}

const chRemoveMutation = `mutation($in: RemoveContactChannelInput!) { removeContactChannel(input: $in) {
	contact { id conversationStatus } contactChannel { ` + chContactChannelFields + ` } } }`

// chRemoved is the payload of removeContactChannel.
type chRemoved struct {
	Contact struct {
		ID                 string  `json:"id"`
		ConversationStatus *string `json:"conversationStatus"`
	} `json:"contact"`
	ContactChannel chContactChannel `json:"contactChannel"`
}

func chRemove(t *testing.T, env *testenv.Env, token, contactID, channelID string) (*testenv.Response, chRemoved) {
	t.Helper()
	r := env.Do(t, token, chRemoveMutation, map[string]any{"in": map[string]any{"contactId": contactID, "channelId": channelID}})
	var data struct{ RemoveContactChannel *chRemoved }
	if len(r.Errors) == 0 {
		r.Decode(t, &data)
		return r, *data.RemoveContactChannel
	}
	return r, chRemoved{}
}

// chHistory returns a contact's conversations (newest first) with their messages' texts
// (newest first).
func chHistory(t *testing.T, env *testenv.Env, token, contactID string) (total int, texts [][]string) {
	t.Helper()
	var data struct {
		Contact *struct {
			Conversations struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Messages struct {
							TotalCount int
							Edges      []struct{ Node struct{ Text string } }
						}
					}
				}
			}
		}
	}
	// Pages within the complexity limit: the tests' contacts have far fewer.
	env.MustDo(t, token, `query($id: ID!) { contact(id: $id) { conversations(first: 20) { totalCount edges { node {
		messages(first: 40) { totalCount edges { node { text } } } } } } } }`, map[string]any{"id": contactID}, &data)
	if data.Contact == nil {
		t.Fatalf("contact(%s): got null", contactID)
	}
	for _, e := range data.Contact.Conversations.Edges {
		var ts []string
		for _, m := range e.Node.Messages.Edges {
			ts = append(ts, m.Node.Text)
		}
		if len(ts) != e.Node.Messages.TotalCount {
			t.Errorf("messages: got %d, totalCount %d", len(ts), e.Node.Messages.TotalCount)
		}
		texts = append(texts, ts)
	}
	return data.Contact.Conversations.TotalCount, texts
}

func TestRemoveContactChannel(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Removal")
	channels := chChannelsByType(t, env, ws.Owner(), "WHATSAPP", "FACEBOOK", "EMAIL")
	at := func(min int) string {
		return time.Date(2025, 4, 1, 10, min, 0, 0, time.UTC).Format(time.RFC3339)
	}

	for _, role := range []string{"OWNER", "MANAGER"} {
		t.Run("OK"+role, func(t *testing.T) {
			token := map[string]string{"OWNER": ws.Owner(), "MANAGER": ws.Manager()}[role]
			phone := map[string]string{"OWNER": "+393331111111", "MANAGER": "+393332222222"}[role]
			rec := cvReceive(t, env, ws.Agent(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone,
				"text": "first", "sentAt": at(0)})
			id := rec.Contact.ID
			cvReceive(t, env, ws.Agent(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone, "text": "second", "sentAt": at(1)})
			before := chCountsOf(t, env, ws.ID)

			r, out := chRemove(t, env, token, id, channels["WHATSAPP"])
			if len(r.Errors) > 0 {
				t.Fatalf("errors: got %+v, want none", r.Errors)
			}
			if out.Contact.ID != id {
				t.Errorf("contact: got %s, want %s", out.Contact.ID, id)
			}
			// The contact has the phone the first message gave: WhatsApp falls back to INACTIVE.
			chWantStatus(t, out.ContactChannel, chStatusCase{"INACTIVE", ctPtr(phone)})
			chWantStatus(t, chOn(t, chContactChannels(t, env, ws.Owner(), id), channels["WHATSAPP"]), chStatusCase{"INACTIVE", ctPtr(phone)})
			want := before
			want.Links--
			chWantCounts(t, env, ws.ID, want)

			// The history stays, listed under the contact.
			total, texts := chHistory(t, env, ws.Agent(), id)
			if total != 1 || len(texts) != 1 || !slices.Equal(texts[0], []string{"second", "first"}) {
				t.Errorf("history: got %d conversations %v, want 1 with [second first]", total, texts)
			}
			if out.Contact.ConversationStatus == nil || *out.Contact.ConversationStatus != "OPEN" {
				t.Errorf("conversationStatus: got %s, want OPEN", ctDeref(out.Contact.ConversationStatus))
			}
		})
	}

	t.Run("ErrAgent", func(t *testing.T) {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393333333333", "text": "hi"})
		before := chCountsOf(t, env, ws.ID)
		r, _ := chRemove(t, env, ws.Agent(), rec.Contact.ID, channels["WHATSAPP"])
		fxWantError(t, r, "FORBIDDEN", "-")
		chWantCounts(t, env, ws.ID, before)
		cc := chOn(t, chContactChannels(t, env, ws.Owner(), rec.Contact.ID), channels["WHATSAPP"])
		if cc.Status != "ACTIVE" {
			t.Errorf("status after the agent's attempt: got %s, want ACTIVE (the link stays)", cc.Status)
		}
	})

	t.Run("FacebookFallsBackToUnavailable", func(t *testing.T) {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["FACEBOOK"], "identifier": "7000000000000001",
			"text": "from messenger", "profile": map[string]any{"displayName": "Messenger Person"}})
		r, out := chRemove(t, env, ws.Manager(), rec.Contact.ID, channels["FACEBOOK"])
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		chWantStatus(t, out.ContactChannel, chStatusCase{status: "UNAVAILABLE"})
		total, texts := chHistory(t, env, ws.Owner(), rec.Contact.ID)
		if total != 1 || len(texts) != 1 || !slices.Equal(texts[0], []string{"from messenger"}) {
			t.Errorf("history: got %d conversations %v, want 1 with [from messenger]", total, texts)
		}
		// Sending there is refused now: the contact must write first.
		r = env.Do(t, ws.Owner(), cvSendMutation, map[string]any{"in": map[string]any{
			"contactId": rec.Contact.ID, "channelId": channels["FACEBOOK"], "text": "are you there?"}})
		fxWantError(t, r, "BAD_USER_INPUT", "channelId")
	})

	t.Run("RelinkSameContact", func(t *testing.T) {
		for _, c := range []struct{ typ, identifier string }{
			{"WHATSAPP", "+393334444444"}, {"FACEBOOK", "7000000000000002"}, {"EMAIL", "again@example.com"},
		} {
			t.Run(c.typ, func(t *testing.T) {
				first := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels[c.typ], "identifier": c.identifier,
					"text": "before", "sentAt": at(10), "profile": map[string]any{"firstName": "Relinked"}})
				id := first.Contact.ID
				if r, _ := chRemove(t, env, ws.Owner(), id, channels[c.typ]); len(r.Errors) > 0 {
					t.Fatalf("remove: %+v", r.Errors)
				}
				before := chCountsOf(t, env, ws.ID)
				again := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels[c.typ], "identifier": c.identifier,
					"text": "after", "sentAt": at(20), "profile": map[string]any{"firstName": "Someone else"}})
				if again.Contact.ID != id || again.ContactCreated {
					t.Errorf("contact: got %s (contactCreated %v), want the same contact %s linked again", again.Contact.ID, again.ContactCreated, id)
				}
				if again.Contact.FirstName == nil || *again.Contact.FirstName != "Relinked" {
					t.Errorf("firstName: got %s, want Relinked (the profile of a known contact changes nothing)", ctDeref(again.Contact.FirstName))
				}
				if again.Conversation.ID != first.Conversation.ID {
					t.Errorf("conversation: got %s, want the open one %s", again.Conversation.ID, first.Conversation.ID)
				}
				want := before
				want.Links++
				want.Messages++
				chWantCounts(t, env, ws.ID, want)
				cc := chOn(t, chContactChannels(t, env, ws.Owner(), id), channels[c.typ])
				if cc.Status != "ACTIVE" {
					t.Errorf("status: got %s, want ACTIVE", cc.Status)
				}
				ctWantString(t, "identifier", cc.Identifier, ctPtr(c.identifier))
				chWantTime(t, "connectedAt", cc.ConnectedAt, time.Date(2025, 4, 1, 10, 20, 0, 0, time.UTC))
				chWantTime(t, "lastInteractionAt", cc.LastInteractionAt, time.Date(2025, 4, 1, 10, 20, 0, 0, time.UTC))
				if _, texts := chHistory(t, env, ws.Owner(), id); len(texts) != 1 || !slices.Equal(texts[0], []string{"after", "before"}) {
					t.Errorf("history: got %v, want one conversation [after before]", texts)
				}
			})
		}
	})

	// After a removal a member may connect the channel again by writing first; the identity
	// then belongs to whoever was linked last.
	t.Run("ReconnectBySending", func(t *testing.T) {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393335555555", "text": "hi"})
		if r, _ := chRemove(t, env, ws.Owner(), rec.Contact.ID, channels["WHATSAPP"]); len(r.Errors) > 0 {
			t.Fatalf("remove: %+v", r.Errors)
		}
		sent := cvSend(t, env, ws.Agent(), map[string]any{"contactId": rec.Contact.ID, "channelId": channels["WHATSAPP"], "text": "we are back"})
		if !sent.Connected || sent.ContactChannel.Status != "ACTIVE" {
			t.Errorf("send: got connected %v, status %s; want true, ACTIVE", sent.Connected, sent.ContactChannel.Status)
		}
	})

	t.Run("NotLinkedChangesNothing", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Never linked")
		before := chCountsOf(t, env, ws.ID)
		r, out := chRemove(t, env, ws.Owner(), id, channels["FACEBOOK"])
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		chWantStatus(t, out.ContactChannel, chStatusCase{status: "UNAVAILABLE"})
		chWantCounts(t, env, ws.ID, before)
	})

	t.Run("ErrOtherWorkspace", func(t *testing.T) {
		other := env.Workspace(t, "Removal other")
		theirChannel := chCreateChannel(t, env, other.Owner(), "WHATSAPP", "Theirs")
		theirs := cvReceive(t, env, other.Owner(), map[string]any{"channelId": theirChannel, "identifier": "+393336666666", "text": "hi"})
		mine := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393336666666", "text": "hi"})
		for _, c := range []struct{ name, contact, channel, field string }{
			{"Contact", theirs.Contact.ID, channels["WHATSAPP"], "contactId"},
			{"Channel", mine.Contact.ID, theirChannel, "channelId"},
			{"Both", theirs.Contact.ID, theirChannel, "-"},
		} {
			t.Run(c.name, func(t *testing.T) {
				theirsBefore, mineBefore := chCountsOf(t, env, other.ID), chCountsOf(t, env, ws.ID)
				r, _ := chRemove(t, env, ws.Owner(), c.contact, c.channel)
				fxWantError(t, r, "NOT_FOUND", c.field)
				chWantCounts(t, env, other.ID, theirsBefore)
				chWantCounts(t, env, ws.ID, mineBefore)
			})
		}
	})
}

// chAliases builds one request of n aliased fields: field(i) returns the i-th field with
// its arguments, inputType the type of its $in variable.
func chAliases(n int, inputType string, field func(i int) (string, map[string]any)) (string, map[string]any) {
	var params, fields []string
	vars := map[string]any{}
	for i := range n {
		f, in := field(i)
		params = append(params, fmt.Sprintf("$in%d: %s!", i, inputType))
		fields = append(fields, fmt.Sprintf("a%d: %s", i, strings.Replace(f, "$in", fmt.Sprintf("$in%d", i), 1)))
		vars[fmt.Sprintf("in%d", i)] = in
	}
	return "mutation(" + strings.Join(params, ", ") + ") {\n" + strings.Join(fields, "\n") + "\n}", vars
}

func TestContactsFilterByChannel(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Filter")
	wa := chCreateChannel(t, env, ws.Owner(), "WHATSAPP", "WA")
	mail := chCreateChannel(t, env, ws.Owner(), "EMAIL", "Mail")
	onWA := cvReceive(t, env, ws.Agent(), map[string]any{"channelId": wa, "identifier": "+393331234567", "text": "hi"}).Contact.ID
	onMail := cvReceive(t, env, ws.Agent(), map[string]any{"channelId": mail, "identifier": "ada@example.com", "text": "hi"}).Contact.ID
	fxContact(t, env, ws.Owner(), "Nowhere") // linked on no channel

	ids := func(channels ...string) []string {
		var data struct {
			Contacts struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
		env.MustDo(t, ws.Agent(), `query($ch: [ID!]) { contacts(filter: {channelIds: $ch}, orderBy: {field: CREATED_AT, direction: ASC}) {
			totalCount edges { node { id } } } }`, map[string]any{"ch": channels}, &data)
		var out []string
		for _, e := range data.Contacts.Edges {
			out = append(out, e.Node.ID)
		}
		if data.Contacts.TotalCount != len(out) {
			t.Errorf("totalCount = %d, want %d", data.Contacts.TotalCount, len(out))
		}
		return out
	}
	for name, tc := range map[string]struct {
		channels []string
		want     []string
	}{
		"WhatsApp": {[]string{wa}, []string{onWA}},
		"Email":    {[]string{mail}, []string{onMail}},
		"Either":   {[]string{wa, mail}, []string{onWA, onMail}},
	} {
		if got := ids(tc.channels...); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: contacts = %v, want %v", name, got, tc.want)
		}
	}
	other := env.Workspace(t, "Other")
	foreign := chCreateChannel(t, env, other.Owner(), "WHATSAPP", "Theirs")
	if got := ids(foreign); len(got) != 0 {
		t.Errorf("filter by another workspace's channel = %v, want none", got)
	}
}
