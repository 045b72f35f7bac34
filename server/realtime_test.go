package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"rubrica/db"
	"rubrica/graph"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// quiet is how long a test waits to be sure that a message does not come. Events arrive in a
// few milliseconds; what must not arrive is checked after something that must, so a short
// wait suffices.
const quiet = 300 * time.Millisecond

const contactEventsQuery = `subscription($id: ID) {
  contactEvents(contactId: $id) { type contactId contact { id firstName lastName phone country } }
}`

const channelEventsQuery = `subscription($id: ID) {
  contactChannelEvents(contactId: $id) {
    type
    contact { id phone }
    contactChannel { channel { id type } status identifier canConnect }
  }
}`

type contactEvent struct {
	Type      string
	ContactID string
	Contact   *struct{ ID, FirstName, LastName, Phone, Country string }
}

type channelEvent struct {
	Type    string
	Contact struct{ ID, Phone string }
	Channel struct {
		Channel    struct{ ID, Type string }
		Status     string
		Identifier string
		CanConnect bool
	}
}

// nextContactEvent reads the next contactEvents result of operation id.
func nextContactEvent(t *testing.T, c *testenv.WS, id string) contactEvent {
	t.Helper()
	var data struct{ ContactEvents contactEvent }
	c.NextData(id, &data)
	return data.ContactEvents
}

// nextChannelEvent reads the next contactChannelEvents result of operation id.
func nextChannelEvent(t *testing.T, c *testenv.WS, id string) channelEvent {
	t.Helper()
	var data struct {
		ContactChannelEvents struct {
			Type           string
			Contact        struct{ ID, Phone string }
			ContactChannel struct {
				Channel    struct{ ID, Type string }
				Status     string
				Identifier string
				CanConnect bool
			}
		}
	}
	c.NextData(id, &data)
	e := data.ContactChannelEvents
	out := channelEvent{Type: e.Type, Contact: e.Contact}
	out.Channel.Channel, out.Channel.Status, out.Channel.Identifier, out.Channel.CanConnect =
		e.ContactChannel.Channel, e.ContactChannel.Status, e.ContactChannel.Identifier, e.ContactChannel.CanConnect
	return out
}

// wantContactEvent fails unless e is of type typ about contact id with the first name.
func wantContactEvent(t *testing.T, e contactEvent, typ, id, firstName string) {
	t.Helper()
	if e.Type != typ || e.ContactID != id {
		t.Fatalf("contact event: got %s of %s, want %s of %s", e.Type, e.ContactID, typ, id)
	}
	if e.Contact == nil || e.Contact.ID != id || e.Contact.FirstName != firstName {
		t.Fatalf("contact event %s of %s: contact %+v, want id %s and firstName %q", e.Type, id, e.Contact, id, firstName)
	}
}

func createContact(t *testing.T, env *testenv.Env, token string, input map[string]any) string {
	t.Helper()
	var data struct {
		CreateContact struct{ Contact struct{ ID string } }
	}
	env.MustDo(t, token, `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
		map[string]any{"in": input}, &data)
	return data.CreateContact.Contact.ID
}

func updateContact(t *testing.T, env *testenv.Env, token string, input map[string]any) *testenv.Response {
	t.Helper()
	return env.Do(t, token, `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
		map[string]any{"in": input})
}

func mustUpdateContact(t *testing.T, env *testenv.Env, token string, input map[string]any) {
	t.Helper()
	if r := updateContact(t, env, token, input); len(r.Errors) > 0 {
		t.Fatalf("updateContact %v: %+v", input, r.Errors)
	}
}

func createChannel(t *testing.T, env *testenv.Env, token, typ, name string) string {
	t.Helper()
	var data struct {
		CreateChannel struct{ Channel struct{ ID string } }
	}
	env.MustDo(t, token, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { channel { id } } }`,
		map[string]any{"in": map[string]any{"type": typ, "name": name}}, &data)
	return data.CreateChannel.Channel.ID
}

// receiveMessage records an inbound message and returns the contact's id.
func receiveMessage(t *testing.T, env *testenv.Env, token, channelID, identifier string) string {
	t.Helper()
	var data struct {
		ReceiveMessage struct{ Contact struct{ ID string } }
	}
	env.MustDo(t, token, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { contact { id } } }`,
		map[string]any{"in": map[string]any{"channelId": channelID, "identifier": identifier, "text": "Hello"}}, &data)
	return data.ReceiveMessage.Contact.ID
}

// wantNoData fails if operation id receives a result within quiet; a complete is allowed
// (gqlgen confirms an unsubscribe with one).
func wantNoData(t *testing.T, c *testenv.WS, id string) {
	t.Helper()
	deadline := time.Now().Add(quiet)
	for {
		m, err := c.Message(id, time.Until(deadline))
		if err != nil {
			if errors.Is(err, testenv.ErrClosed) {
				t.Fatalf("operation %q: %v, want the connection open", id, err)
			}
			return // timed out: nothing came
		}
		if m.Type != "complete" {
			t.Fatalf("operation %q: got %s %s, want nothing", id, m.Type, m.Payload)
		}
	}
}

// wantError fails unless the next message of operation id carries a GraphQL error with code
// (as an error message, or a result with errors) and ends.
func wantError(t *testing.T, c *testenv.WS, id, code string) {
	t.Helper()
	m, err := c.Message(id, testenv.WSWait)
	if err != nil {
		t.Fatalf("operation %q: %v, want a %s error", id, err, code)
	}
	if m.Type != "error" && !m.IsData() {
		t.Fatalf("operation %q: got %s %s, want a %s error", id, m.Type, m.Payload, code)
	}
	errs := m.Errors(t)
	if len(errs) == 0 || errs[0].Extensions.Code != code {
		t.Fatalf("operation %q: got %s %s, want a %s error", id, m.Type, m.Payload, code)
	}
	if m.IsData() && string(m.Response(t).Data) != "null" && len(m.Response(t).Data) > 0 {
		t.Fatalf("operation %q: got data %s with the error, want none", id, m.Response(t).Data)
	}
	if m.IsData() { // an error message ends the operation; a result with errors is followed by complete
		c.ExpectComplete(id)
	}
}

// TestContactEvents subscribes to contactEvents over each protocol: CREATED and UPDATED
// events arrive with the contact as it is after each change (fresh loaders for every event),
// contactId filters, and unsubscribing stops delivery.
func TestContactEvents(t *testing.T) {
	t.Parallel()
	for _, proto := range testenv.Protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			ws := env.Workspace(t, "Acme")
			c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			c.Subscribe("all", contactEventsQuery, nil)
			env.WaitSubscribers(t, 1)

			ada := createContact(t, env, ws.Manager(), map[string]any{"firstName": "Ada", "lastName": "Lovelace", "phone": "+393331234567"})
			e := nextContactEvent(t, c, "all")
			wantContactEvent(t, e, "CREATED", ada, "Ada")
			if e.Contact.LastName != "Lovelace" || e.Contact.Phone != "+393331234567" || e.Contact.Country != "IT" {
				t.Fatalf("CREATED contact: got %+v, want Lovelace, +393331234567, IT", e.Contact)
			}

			c.Subscribe("ada", contactEventsQuery, map[string]any{"id": ada})
			env.WaitSubscribers(t, 2)
			grace := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Grace"})
			wantContactEvent(t, nextContactEvent(t, c, "all"), "CREATED", grace, "Grace")
			// Each event is read after the change before it was delivered: a loader kept
			// for the whole websocket would repeat the first name.
			for _, name := range []string{"Augusta", "Ada"} {
				mustUpdateContact(t, env, ws.Manager(), map[string]any{"id": grace, "lastName": "Hopper " + name})
				mustUpdateContact(t, env, ws.Manager(), map[string]any{"id": ada, "firstName": name})
				wantContactEvent(t, nextContactEvent(t, c, "all"), "UPDATED", grace, "Grace")
				wantContactEvent(t, nextContactEvent(t, c, "all"), "UPDATED", ada, name)
				// The filtered subscription skips Grace's events.
				wantContactEvent(t, nextContactEvent(t, c, "ada"), "UPDATED", ada, name)
			}

			c.Unsubscribe("all")
			env.WaitSubscribers(t, 1)
			mustUpdateContact(t, env, ws.Manager(), map[string]any{"id": ada, "lastName": "King"})
			wantContactEvent(t, nextContactEvent(t, c, "ada"), "UPDATED", ada, "Ada")
			wantNoData(t, c, "all")
			c.Unsubscribe("ada")
			env.WaitSubscribers(t, 0)
			mustUpdateContact(t, env, ws.Manager(), map[string]any{"id": ada, "lastName": "Byron"})
			wantNoData(t, c, "ada")
		})
	}
}

// TestContactChannelEvents: LINKED on a first inbound message, UNLINKED when the channel is
// removed, STATUS_CHANGED when a phone makes WhatsApp connectable; contactId filters.
func TestContactChannelEvents(t *testing.T) {
	t.Parallel()
	for _, proto := range testenv.Protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			ws := env.Workspace(t, "Acme")
			wa := createChannel(t, env, ws.Owner(), "WHATSAPP", "WhatsApp")
			c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			c.Subscribe("all", channelEventsQuery, nil)
			env.WaitSubscribers(t, 1)

			linked := receiveMessage(t, env, ws.Agent(), wa, "+393331234567")
			e := nextChannelEvent(t, c, "all")
			if e.Type != "LINKED" || e.Contact.ID != linked || e.Channel.Channel.ID != wa || e.Channel.Channel.Type != "WHATSAPP" ||
				e.Channel.Status != "ACTIVE" || e.Channel.Identifier != "+393331234567" || e.Channel.CanConnect {
				t.Fatalf("first message: got %+v, want LINKED of %s on %s, ACTIVE with the identifier", e, linked, wa)
			}

			env.MustDo(t, ws.Manager(), `mutation($in: RemoveContactChannelInput!) { removeContactChannel(input: $in) { contact { id } } }`,
				map[string]any{"in": map[string]any{"contactId": linked, "channelId": wa}}, nil)
			e = nextChannelEvent(t, c, "all")
			if e.Type != "UNLINKED" || e.Contact.ID != linked || e.Channel.Channel.ID != wa || e.Channel.Status != "INACTIVE" || !e.Channel.CanConnect {
				t.Fatalf("removeContactChannel: got %+v, want UNLINKED of %s, INACTIVE (it has a phone)", e, linked)
			}

			// A contact without a phone cannot be reached on WhatsApp until it gets one.
			bare := createContact(t, env, ws.Agent(), map[string]any{"firstName": "Bare"})
			var data struct {
				Contact struct{ Channels []struct{ Status string } }
			}
			env.MustDo(t, ws.Agent(), `query($id: ID!) { contact(id: $id) { channels { status } } }`, map[string]any{"id": bare}, &data)
			if len(data.Contact.Channels) != 1 || data.Contact.Channels[0].Status != "UNAVAILABLE" {
				t.Fatalf("channels without a phone: got %+v, want one UNAVAILABLE", data.Contact.Channels)
			}
			c.Subscribe("bare", channelEventsQuery, map[string]any{"id": bare})
			env.WaitSubscribers(t, 2)
			mustUpdateContact(t, env, ws.Agent(), map[string]any{"id": bare, "phone": "+14155550123"})
			for _, id := range []string{"all", "bare"} {
				// For "all", the first event after UNLINKED: creating Bare linked nothing.
				e = nextChannelEvent(t, c, id)
				if e.Type != "STATUS_CHANGED" || e.Contact.ID != bare || e.Contact.Phone != "+14155550123" ||
					e.Channel.Channel.ID != wa || e.Channel.Status != "INACTIVE" || !e.Channel.CanConnect {
					t.Fatalf("operation %s, phone added: got %+v, want STATUS_CHANGED of %s to INACTIVE", id, e, bare)
				}
			}

			// Another contact's link reaches "all" only.
			other := receiveMessage(t, env, ws.Agent(), wa, "+393339999999")
			if e = nextChannelEvent(t, c, "all"); e.Type != "LINKED" || e.Contact.ID != other {
				t.Fatalf("second first message: got %+v, want LINKED of %s", e, other)
			}
			wantNoData(t, c, "bare")

			c.Unsubscribe("all")
			env.WaitSubscribers(t, 1)
			receiveMessage(t, env, ws.Agent(), wa, "+393338888888")
			mustUpdateContact(t, env, ws.Agent(), map[string]any{"id": bare, "phone": nil})
			if e = nextChannelEvent(t, c, "bare"); e.Type != "STATUS_CHANGED" || e.Channel.Status != "UNAVAILABLE" {
				t.Fatalf("phone removed: got %+v, want STATUS_CHANGED to UNAVAILABLE", e)
			}
			wantNoData(t, c, "all")
		})
	}
}

// refused fails unless the server refuses the connection after connection_init: 4403 in
// graphql-transport-ws, connection_error and a close in the legacy protocol. A subscribe
// sent right behind the refused init never starts.
func refused(t *testing.T, env *testenv.Env, c *testenv.WS) {
	t.Helper()
	if c.Protocol == testenv.LegacyWS {
		m, err := c.Message("", testenv.WSWait)
		if err != nil || m.Type != "connection_error" {
			t.Fatalf("refused init: got %+v (%v), want connection_error", m, err)
		}
	}
	code, text, err := c.Closed(testenv.WSWait)
	if err != nil {
		t.Fatal(err)
	}
	if code != 4403 {
		t.Fatalf("refused init: closed with %d %q, want 4403", code, text)
	}
	if m, err := c.Message("", 0); err == nil {
		t.Fatalf("refused init: got %s %s, want no connection_ack", m.Type, m.Payload)
	}
	if m, err := c.Message("s", 0); err == nil {
		t.Fatalf("refused init: operation got %s %s, want nothing", m.Type, m.Payload)
	}
	if n := env.App.Subscribers(); n != 0 {
		t.Fatalf("refused init: %d subscriptions started, want 0", n)
	}
}

// TestWebsocketAuth: connection_init with a bad, malformed or no token is refused; the token
// may come in the payload (any case of the key) or in the upgrade request's header.
func TestWebsocketAuth(t *testing.T) {
	t.Parallel()
	for _, proto := range testenv.Protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			ws := env.Workspace(t, "Acme")
			for name, payload := range map[string]map[string]any{
				"BadToken":      testenv.InitPayload("rbk_not_a_token"),
				"NoToken":       testenv.InitPayload(""),
				"NotBearer":     {"Authorization": "Basic " + ws.Owner()},
				"EmptyBearer":   {"Authorization": "Bearer "},
				"NotAString":    {"Authorization": 42},
				"OtherKeysOnly": {"token": ws.Owner()},
			} {
				t.Run(name, func(t *testing.T) {
					c, _, err := testenv.DialWS(t, env.WSURL(), proto, nil)
					if err != nil {
						t.Fatal(err)
					}
					c.Init(payload)
					_ = c.TrySubscribe("s", contactEventsQuery, nil) // the server may have closed already
					refused(t, env, c)
				})
			}
			// A bad token in the upgrade request is refused before the upgrade.
			_, res, err := testenv.DialWS(t, env.WSURL(), proto, http.Header{"Authorization": {"Bearer rbk_not_a_token"}})
			if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("bad token in the upgrade header: got %v (%v), want a 401 handshake", err, res)
			}

			t.Run("PayloadKeyAnyCase", func(t *testing.T) {
				c, _, err := testenv.DialWS(t, env.WSURL(), proto, nil)
				if err != nil {
					t.Fatal(err)
				}
				c.Init(map[string]any{"authorization": "bearer " + ws.Agent()})
				if err := c.WaitAck(); err != nil {
					t.Fatal(err)
				}
				c.Subscribe("s", contactEventsQuery, nil)
				env.WaitSubscribers(t, 1)
				id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Lower"})
				wantContactEvent(t, nextContactEvent(t, c, "s"), "CREATED", id, "Lower")
				c.Close()
				env.WaitSubscribers(t, 0)
			})
			t.Run("HeaderToken", func(t *testing.T) {
				c, _, err := testenv.DialWS(t, env.WSURL(), proto, http.Header{"Authorization": {"Bearer " + ws.Agent()}})
				if err != nil {
					t.Fatal(err)
				}
				c.Init(nil)
				if err := c.WaitAck(); err != nil {
					t.Fatal(err)
				}
				c.Subscribe("s", contactEventsQuery, nil)
				env.WaitSubscribers(t, 1)
				id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Header"})
				wantContactEvent(t, nextContactEvent(t, c, "s"), "CREATED", id, "Header")
				c.Close()
				env.WaitSubscribers(t, 0)
			})
		})
	}
}

// TestWebsocketOrigin: a foreign Origin is refused with 403 at the handshake; the server's
// own origin, no Origin (not a browser) and the origins of AllowedOrigins are accepted.
func TestWebsocketOrigin(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(c *server.Config) {
		c.AllowedOrigins = []string{"https://app.example.com", "http://localhost:5173"}
	})
	ws := env.Workspace(t, "Acme")
	for _, proto := range testenv.Protocols {
		for _, origin := range []string{"https://evil.example.com", "http://app.example.com", "https://app.example.com.evil.net", "null"} {
			_, res, err := testenv.DialWS(t, env.WSURL(), proto, http.Header{"Origin": {origin}})
			if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("%s, Origin %s: got %v (response %v), want a 403 handshake", proto, origin, err, res)
			}
		}
		for _, origin := range []string{"", env.Server.URL, "https://app.example.com", "HTTPS://APP.EXAMPLE.COM:443", "http://localhost:5173"} {
			h := http.Header{}
			if origin != "" {
				h.Set("Origin", origin)
			}
			c, res, err := testenv.DialWS(t, env.WSURL(), proto, h)
			if err != nil {
				t.Errorf("%s, Origin %q: got %v (response %v), want an upgrade", proto, origin, err, res)
				continue
			}
			c.Init(testenv.InitPayload(ws.Agent()))
			if err := c.WaitAck(); err != nil {
				t.Errorf("%s, Origin %q: %v", proto, origin, err)
			}
			c.Close()
		}
	}
	// Without AllowedOrigins, only the server's own origin.
	plain := testenv.New(t)
	_, res, err := testenv.DialWS(t, plain.WSURL(), testenv.TransportWS, http.Header{"Origin": {"https://app.example.com"}})
	if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("no AllowedOrigins, foreign Origin: got %v (response %v), want a 403 handshake", err, res)
	}
}

// TestSubscriptionTenancy: a subscriber never sees another workspace's events, and cannot
// subscribe to another workspace's contact.
func TestSubscriptionTenancy(t *testing.T) {
	t.Parallel()
	for _, proto := range testenv.Protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			a, b := env.Workspace(t, "Alpha"), env.Workspace(t, "Beta")
			ca := testenv.Dial(t, env.WSURL(), proto, a.Agent())
			cb := testenv.Dial(t, env.WSURL(), proto, b.Owner())
			for _, c := range []*testenv.WS{ca, cb} {
				c.Subscribe("contacts", contactEventsQuery, nil)
				c.Subscribe("channels", channelEventsQuery, nil)
			}
			env.WaitSubscribers(t, 4)

			// Workspace A changes things; A's subscriber sees them, so the bus has delivered them.
			waA := createChannel(t, env, a.Owner(), "WHATSAPP", "WhatsApp")
			ada := createContact(t, env, a.Owner(), map[string]any{"firstName": "Ada"})
			mustUpdateContact(t, env, a.Owner(), map[string]any{"id": ada, "phone": "+393331234567"})
			linked := receiveMessage(t, env, a.Owner(), waA, "+393330000001")
			wantContactEvent(t, nextContactEvent(t, ca, "contacts"), "CREATED", ada, "Ada")
			wantContactEvent(t, nextContactEvent(t, ca, "contacts"), "UPDATED", ada, "Ada")
			if e := nextContactEvent(t, ca, "contacts"); e.Type != "CREATED" || e.ContactID != linked {
				t.Fatalf("A: got %+v, want CREATED of %s", e, linked)
			}
			if e := nextChannelEvent(t, ca, "channels"); e.Type != "STATUS_CHANGED" || e.Contact.ID != ada {
				t.Fatalf("A: got %+v, want STATUS_CHANGED of %s", e, ada)
			}
			if e := nextChannelEvent(t, ca, "channels"); e.Type != "LINKED" || e.Contact.ID != linked {
				t.Fatalf("A: got %+v, want LINKED of %s", e, linked)
			}
			cb.ExpectNothing("contacts", quiet)
			cb.ExpectNothing("channels", 0)

			// B's own change is the first thing B receives: nothing of A was queued for it.
			waB := createChannel(t, env, b.Owner(), "WHATSAPP", "WhatsApp")
			bob := receiveMessage(t, env, b.Owner(), waB, "+393330000001") // the same number as in A
			if e := nextContactEvent(t, cb, "contacts"); e.Type != "CREATED" || e.ContactID != bob {
				t.Fatalf("B: got %+v, want CREATED of its own %s", e, bob)
			}
			if e := nextChannelEvent(t, cb, "channels"); e.Type != "LINKED" || e.Contact.ID != bob || e.Channel.Channel.ID != waB {
				t.Fatalf("B: got %+v, want LINKED of its own %s", e, bob)
			}
			ca.ExpectNothing("contacts", quiet)
			ca.ExpectNothing("channels", 0)

			// Another workspace's contact is NOT_FOUND, as if it did not exist.
			cb.Subscribe("foreign", contactEventsQuery, map[string]any{"id": ada})
			wantError(t, cb, "foreign", "NOT_FOUND")
			cb.Subscribe("foreign-channels", channelEventsQuery, map[string]any{"id": ada})
			wantError(t, cb, "foreign-channels", "NOT_FOUND")
			cb.Subscribe("not-an-id", contactEventsQuery, map[string]any{"id": "nope"})
			wantError(t, cb, "not-an-id", "NOT_FOUND")
			if n := env.App.Subscribers(); n != 4 {
				t.Fatalf("subscriptions after the refused ones: got %d, want 4", n)
			}
			// The connection lives on.
			mustUpdateContact(t, env, b.Owner(), map[string]any{"id": bob, "firstName": "Bob"})
			wantContactEvent(t, nextContactEvent(t, cb, "contacts"), "UPDATED", bob, "Bob")
		})
	}
}

// TestRolledBackMutationAnnouncesNothing: a mutation that fails announces nothing.
func TestRolledBackMutationAnnouncesNothing(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Acme")
	wa := createChannel(t, env, ws.Owner(), "WHATSAPP", "WhatsApp")
	c := testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent())
	c.Subscribe("contacts", contactEventsQuery, nil)
	c.Subscribe("channels", channelEventsQuery, nil)
	env.WaitSubscribers(t, 2)
	// Created after subscribing: a subscription may also get events that committed just
	// before it started, while the bus had not read them yet.
	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
	wantContactEvent(t, nextContactEvent(t, c, "contacts"), "CREATED", id, "Ada")

	for _, in := range []map[string]any{
		{"id": id, "firstName": "Never", "phone": "333 123"},                         // not E.164
		{"id": id, "firstName": "Never", "email": "not an email"},                    // not an email
		{"id": id, "firstName": "Never", "phone": "+393331234567", "country": "ZZZ"}, // would change the WhatsApp status
	} {
		if r := updateContact(t, env, ws.Owner(), in); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("updateContact %v: got %+v, want BAD_USER_INPUT", in, r.Errors)
		}
	}
	if r := env.Do(t, ws.Owner(), `mutation { createContact(input: {firstName: "Never", phone: "12"}) { contact { id } } }`, nil); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("createContact: got %+v, want BAD_USER_INPUT", r.Errors)
	}
	if r := env.Do(t, ws.Agent(), `mutation($in: RemoveContactChannelInput!) { removeContactChannel(input: $in) { contact { id } } }`,
		map[string]any{"in": map[string]any{"contactId": id, "channelId": wa}}); r.Code() != "FORBIDDEN" {
		t.Fatalf("removeContactChannel by an agent: got %+v, want FORBIDDEN", r.Errors)
	}

	mustUpdateContact(t, env, ws.Owner(), map[string]any{"id": id, "firstName": "After", "phone": "+393331234567"})
	wantContactEvent(t, nextContactEvent(t, c, "contacts"), "UPDATED", id, "After")
	if e := nextChannelEvent(t, c, "channels"); e.Type != "STATUS_CHANGED" || e.Contact.ID != id {
		t.Fatalf("got %+v, want the STATUS_CHANGED of the committed update", e)
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	if n != 3 { // CREATED, then UPDATED and STATUS_CHANGED
		t.Fatalf("events in the outbox: got %d, want 3", n)
	}
	c.ExpectNothing("contacts", quiet)
}

// TestSubscriptionCap: one websocket runs at most MaxSubscriptions subscriptions; the next is
// refused with LIMIT_EXCEEDED, and a slot frees when a subscription ends.
func TestSubscriptionCap(t *testing.T) {
	t.Parallel()
	for _, proto := range testenv.Protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := testenv.NewWithConfig(t, func(c *server.Config) { c.MaxSubscriptions = 2 })
			ws := env.Workspace(t, "Acme")
			c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			c.Subscribe("1", contactEventsQuery, nil)
			c.Subscribe("2", channelEventsQuery, nil)
			env.WaitSubscribers(t, 2)
			c.Subscribe("3", contactEventsQuery, nil)
			wantError(t, c, "3", "LIMIT_EXCEEDED")

			// Another websocket has its own allowance.
			other := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			other.Subscribe("1", contactEventsQuery, nil)
			other.Subscribe("2", contactEventsQuery, nil)
			env.WaitSubscribers(t, 4)

			c.Unsubscribe("1")
			env.WaitSubscribers(t, 3)
			// The slot frees when the operation has ended, just after the bus let go of it.
			for i := 0; ; i++ {
				id := fmt.Sprint("retry", i)
				c.Subscribe(id, contactEventsQuery, nil)
				m, err := c.Message(id, 200*time.Millisecond)
				if err != nil { // no refusal: it runs
					env.WaitSubscribers(t, 4)
					created := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Slot"})
					wantContactEvent(t, nextContactEvent(t, c, id), "CREATED", created, "Slot")
					break
				}
				if errs := m.Errors(t); len(errs) == 0 || errs[0].Extensions.Code != "LIMIT_EXCEEDED" || i == 20 {
					t.Fatalf("subscription after an unsubscribe: got %s %s, want it to run", m.Type, m.Payload)
				}
				c.ExpectComplete(id)
			}
		})
	}
}

// heavyQuery is a contactEvents subscription whose every event is tens of kilobytes, as many
// aliases as graph.DefaultMaxAliases allows.
func heavyQuery() string {
	var b strings.Builder
	b.WriteString("subscription { contactEvents { type ")
	for i := range graph.DefaultMaxAliases {
		fmt.Fprintf(&b, "c%d: contact { id displayName firstName lastName email phone country language createdAt updatedAt } ", i)
	}
	b.WriteString("} }")
	return b.String()
}

// TestSlowSubscriberDropped: a client that stops reading is dropped once its buffer fills,
// while a healthy subscriber receives every event and mutations stay fast; /metrics counts it.
func TestSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithOptions(t, testenv.Options{Bus: db.BusConfig{Buffer: 16}})
	ws := env.Workspace(t, "Acme")
	healthy := testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent())
	healthy.Subscribe("h", `subscription { contactEvents { type contactId } }`, nil)
	slow, _, err := testenv.DialWSWith(t, testenv.TinyReadBuffer(), env.WSURL(), testenv.LegacyWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow.Init(testenv.InitPayload(ws.Agent()))
	if err := slow.WaitAck(); err != nil {
		t.Fatal(err)
	}
	slow.StopReading()
	slow.Subscribe("s", heavyQuery(), nil)
	env.WaitSubscribers(t, 2)

	var ids []string
	var slowest time.Duration
	start := time.Now()
	create := func(name string) {
		t0 := time.Now()
		id := createContact(t, env, ws.Owner(), map[string]any{"firstName": name})
		slowest = max(slowest, time.Since(t0))
		ids = append(ids, id)
		// In step with the healthy subscriber, so that only the other one falls behind.
		var data struct {
			ContactEvents struct{ Type, ContactID string }
		}
		healthy.NextData("h", &data)
		if data.ContactEvents.Type != "CREATED" || data.ContactEvents.ContactID != id {
			t.Fatalf("healthy subscriber, event %d: got %+v, want CREATED of %s", len(ids)-1, data.ContactEvents, id)
		}
	}
	for i := 0; env.App.Subscribers() == 2; i++ {
		if i == 2000 {
			t.Fatalf("the subscriber that stopped reading was not dropped after %d events", i)
		}
		create(fmt.Sprint("C", i))
	}
	dropped := len(ids)
	for i := range 5 {
		create(fmt.Sprint("After", i))
	}
	t.Logf("dropped at event %d; %d mutations in %v, the slowest %v", dropped, len(ids), time.Since(start), slowest)
	if slowest > 2*time.Second {
		t.Errorf("slowest mutation: %v, want the publisher never held up by a subscriber", slowest)
	}
	healthy.ExpectNothing("h", quiet)

	// The client that stopped reading finds, when it reads again, the events it had room
	// for, then the error that ended its subscription.
	slow.ResumeReading()
	for i := 0; ; i++ {
		m, err := slow.Message("s", testenv.WSWait)
		if err != nil {
			t.Fatalf("slow subscriber, message %d: %v, want events then LIMIT_EXCEEDED", i, err)
		}
		if !m.IsData() {
			t.Fatalf("slow subscriber, message %d: got %s %s, want events then LIMIT_EXCEEDED", i, m.Type, m.Payload)
		}
		r := m.Response(t)
		if len(r.Errors) == 0 {
			var data struct {
				ContactEvents struct{ C0 struct{ ID string } }
			}
			r.Decode(t, &data)
			if i >= len(ids) || data.ContactEvents.C0.ID != ids[i] {
				t.Fatalf("slow subscriber, message %d: got %s, want the contact %d", i, data.ContactEvents.C0.ID, i)
			}
			continue
		}
		t.Logf("slow subscriber: %d events, then %s", i, m.Payload[:min(len(m.Payload), 300)])
		if r.Code() != "LIMIT_EXCEEDED" {
			t.Fatalf("slow subscriber: got errors %+v, want LIMIT_EXCEEDED", r.Errors)
		}
		break
	}
	slow.ExpectComplete("s")
	// /metrics counts the dropped subscriber once.
	waitMetrics(t, env, map[string]float64{`rubrica_subscription_slow_consumers_dropped_total{field="contactEvents"}`: 1})
}

// TestWebsocketMessageSizeCap: a client message over 64 KiB closes the connection with 1009
// (message too big); one under it is served.
func TestWebsocketMessageSizeCap(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Acme")
	for _, proto := range testenv.Protocols {
		c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
		// The padding is an unused variable: a document this long is over MAX_DOCUMENT_BYTES.
		c.Subscribe("fits", contactEventsQuery, map[string]any{"pad": strings.Repeat("x", 60<<10)})
		env.WaitSubscribers(t, 1)
		_ = c.TrySubscribe("big", "# "+strings.Repeat("x", 70<<10)+"\n"+contactEventsQuery, nil)
		code, text, err := c.Closed(testenv.WSWait)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if code != websocket.CloseMessageTooBig {
			t.Fatalf("%s: a 70 KiB message closed the connection with %d %q, want 1009", proto, code, text)
		}
		env.WaitSubscribers(t, 0)
	}
}
