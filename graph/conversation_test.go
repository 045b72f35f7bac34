package graph_test

// Tests of receiveMessage, sendMessage, closeConversation and the conversation and message
// lists. The helpers of this file start with cv; those of channel_test.go with ch.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// cvContact is a contact as the message payloads return it.
type cvContact struct {
	ID                 string  `json:"id"`
	DisplayName        string  `json:"displayName"`
	FirstName          *string `json:"firstName"`
	LastName           *string `json:"lastName"`
	Email              *string `json:"email"`
	Phone              *string `json:"phone"`
	Country            *string `json:"country"`
	Language           *string `json:"language"`
	ProfilePictureURL  *string `json:"profilePictureUrl"`
	ConversationStatus *string `json:"conversationStatus"`
}

const cvContactFields = `id displayName firstName lastName email phone country language profilePictureUrl conversationStatus`

// cvConversation is a conversation as the API returns it.
type cvConversation struct {
	ID        string  `json:"id"`
	Status    string  `json:"status"`
	CreatedAt string  `json:"createdAt"`
	ClosedAt  *string `json:"closedAt"`
	Channel   *struct {
		ID string `json:"id"`
	} `json:"channel"`
	Contact struct {
		ID string `json:"id"`
	} `json:"contact"`
}

const cvConversationFields = `id status createdAt closedAt channel { id } contact { id }`

// cvMessage is a message as the API returns it.
type cvMessage struct {
	ID         string `json:"id"`
	Direction  string `json:"direction"`
	Text       string `json:"text"`
	SentAt     string `json:"sentAt"`
	Identifier string `json:"identifier"`
	Channel    struct {
		ID string `json:"id"`
	} `json:"channel"`
}

const cvMessageFields = `id direction text sentAt identifier channel { id }`

// cvReceived is the payload of receiveMessage.
type cvReceived struct {
	Contact        cvContact      `json:"contact"`
	Conversation   cvConversation `json:"conversation"`
	Message        cvMessage      `json:"message"`
	ContactCreated bool           `json:"contactCreated"`
	Duplicate      bool           `json:"duplicate"`
}

const cvReceiveMutation = `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) {
	contact { ` + cvContactFields + ` } conversation { ` + cvConversationFields + ` }
	message { ` + cvMessageFields + ` } contactCreated duplicate } }`

// cvReceive sends receiveMessage and fails the test on any error.
func cvReceive(tb testing.TB, env *testenv.Env, token string, in map[string]any) cvReceived {
	tb.Helper()
	var data struct{ ReceiveMessage cvReceived }
	env.MustDo(tb, token, cvReceiveMutation, map[string]any{"in": in}, &data)
	return data.ReceiveMessage
}

// cvSent is the payload of sendMessage.
type cvSent struct {
	Contact        cvContact        `json:"contact"`
	Conversation   cvConversation   `json:"conversation"`
	Message        cvMessage        `json:"message"`
	ContactChannel chContactChannel `json:"contactChannel"`
	Connected      bool             `json:"connected"`
}

const cvSendMutation = `mutation($in: SendMessageInput!) { sendMessage(input: $in) {
	contact { ` + cvContactFields + ` } conversation { ` + cvConversationFields + ` }
	message { ` + cvMessageFields + ` } contactChannel { ` + chContactChannelFields + ` } connected } }`

// cvSend sends sendMessage and fails the test on any error.
func cvSend(tb testing.TB, env *testenv.Env, token string, in map[string]any) cvSent {
	tb.Helper()
	var data struct{ SendMessage cvSent }
	env.MustDo(tb, token, cvSendMutation, map[string]any{"in": in}, &data)
	return data.SendMessage
}

const cvCloseMutation = `mutation($in: CloseConversationInput!) { closeConversation(input: $in) { conversation { ` + cvConversationFields + ` } } }`

// cvClose closes a conversation and fails the test on any error.
func cvClose(tb testing.TB, env *testenv.Env, token, conversationID string) cvConversation {
	tb.Helper()
	var data struct {
		CloseConversation struct{ Conversation cvConversation }
	}
	env.MustDo(tb, token, cvCloseMutation, map[string]any{"in": map[string]any{"conversationId": conversationID}}, &data)
	return data.CloseConversation.Conversation
}

// cvPost is testenv.Env.Do for goroutines other than the test's: it reports errors instead
// of failing the test.
func cvPost(env *testenv.Env, token, query string, vars map[string]any) (*testenv.Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := env.Server.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &testenv.Response{Status: res.StatusCode}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("response %d %q: %w", res.StatusCode, b, err)
	}
	return out, nil
}

// cvAt is a fixed time of the tests: minute m after 9:00 on 10 March 2025, UTC.
func cvAt(m int) time.Time {
	return time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute)
}

func cvAtString(m int) string { return cvAt(m).Format(time.RFC3339) }

func TestReceiveMessage(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Inbox")
	channels := chChannelsByType(t, env, ws.Owner(), chAllTypes...)

	// A first message creates the contact from the profile and the identifier.
	first := []struct {
		name, typ, identifier string
		profile               map[string]any
		want                  cvContact // ID and ConversationStatus are not compared
		wantIdentifier        string
	}{
		{
			name: "WhatsAppFullProfile", typ: "WHATSAPP", identifier: " +393331234567 ",
			profile: map[string]any{"firstName": " Giulia ", "lastName": "Bianchi", "displayName": "Giuly 🌸",
				"pictureUrl": "https://cdn.example.com/giulia.jpg", "language": "it"},
			want: cvContact{DisplayName: "Giuly 🌸", FirstName: ctPtr("Giulia"), LastName: ctPtr("Bianchi"),
				Phone: ctPtr("+393331234567"), Country: ctPtr("IT"), Language: ctPtr("it"),
				ProfilePictureURL: ctPtr("https://cdn.example.com/giulia.jpg")},
			wantIdentifier: "+393331234567",
		},
		{
			name: "SMSNoProfile", typ: "SMS", identifier: "+447400123456",
			want:           cvContact{DisplayName: "+447400123456", Phone: ctPtr("+447400123456"), Country: ctPtr("GB")},
			wantIdentifier: "+447400123456",
		},
		{
			name: "EmailNames", typ: "EMAIL", identifier: "Ana.Lopez@Example.ES",
			profile: map[string]any{"firstName": "Ana", "lastName": "López"},
			want: cvContact{DisplayName: "Ana López", FirstName: ctPtr("Ana"), LastName: ctPtr("López"),
				Email: ctPtr("ana.lopez@example.es")},
			wantIdentifier: "ana.lopez@example.es",
		},
		{
			name: "EmailNoProfile", typ: "EMAIL", identifier: "nobody@example.org",
			want:           cvContact{DisplayName: "nobody@example.org", Email: ctPtr("nobody@example.org")},
			wantIdentifier: "nobody@example.org",
		},
		{
			name: "FacebookProfile", typ: "FACEBOOK", identifier: "6234567890123456",
			profile: map[string]any{"firstName": "João", "lastName": "Silva", "pictureUrl": "https://graph.example.com/pic",
				"language": "pt-BR"},
			want: cvContact{DisplayName: "João Silva", FirstName: ctPtr("João"), LastName: ctPtr("Silva"),
				Language: ctPtr("pt-BR"), ProfilePictureURL: ctPtr("https://graph.example.com/pic")},
			wantIdentifier: "6234567890123456",
		},
		{
			name: "InstagramDisplayNameOnly", typ: "INSTAGRAM", identifier: "17841400000000001",
			profile:        map[string]any{"displayName": "@shop.lover", "acceptLanguage": "de-DE"},
			want:           cvContact{DisplayName: "@shop.lover"}, // Accept-Language is for WEBCHAT only
			wantIdentifier: "17841400000000001",
		},
		{
			name: "WebchatAcceptLanguage", typ: "WEBCHAT", identifier: "visitor-1",
			profile:        map[string]any{"acceptLanguage": "it-IT,it;q=0.9,en;q=0.8"},
			want:           cvContact{DisplayName: "Unknown contact", Language: ctPtr("it-IT")},
			wantIdentifier: "visitor-1",
		},
		{
			name: "WebchatProfileLanguageWins", typ: "WEBCHAT", identifier: "visitor-2",
			profile:        map[string]any{"firstName": "Claire", "language": "fr", "acceptLanguage": "it-IT,it;q=0.9"},
			want:           cvContact{DisplayName: "Claire", FirstName: ctPtr("Claire"), Language: ctPtr("fr")},
			wantIdentifier: "visitor-2",
		},
		{
			name: "WebchatWildcardAcceptLanguage", typ: "WEBCHAT", identifier: "visitor-3",
			profile:        map[string]any{"acceptLanguage": "*"},
			want:           cvContact{DisplayName: "Unknown contact"},
			wantIdentifier: "visitor-3",
		},
		{name: "Telegram", typ: "TELEGRAM", identifier: "tg-1", profile: map[string]any{"firstName": "Ivan"},
			want: cvContact{DisplayName: "Ivan", FirstName: ctPtr("Ivan")}, wantIdentifier: "tg-1"},
		{name: "Line", typ: "LINE", identifier: "U4af4980629", profile: map[string]any{"displayName": "さくら"},
			want: cvContact{DisplayName: "さくら"}, wantIdentifier: "U4af4980629"},
		{name: "Viber", typ: "VIBER", identifier: " 01234567890A= ", want: cvContact{DisplayName: "Unknown contact"},
			wantIdentifier: "01234567890A="},
	}
	for i, c := range first {
		t.Run("FirstMessage"+c.name, func(t *testing.T) {
			sentAt := cvAt(i)
			in := map[string]any{"channelId": channels[c.typ], "identifier": c.identifier, "text": "Hello from " + c.name,
				"sentAt": sentAt.Format(time.RFC3339)}
			if c.profile != nil {
				in["profile"] = c.profile
			}
			before := chCountsOf(t, env, ws.ID)
			rec := cvReceive(t, env, ws.Agent(), in)
			if !rec.ContactCreated || rec.Duplicate {
				t.Errorf("contactCreated, duplicate: got %v, %v; want true, false", rec.ContactCreated, rec.Duplicate)
			}
			got := rec.Contact
			if got.DisplayName != c.want.DisplayName {
				t.Errorf("displayName: got %q, want %q", got.DisplayName, c.want.DisplayName)
			}
			ctWantString(t, "firstName", got.FirstName, c.want.FirstName)
			ctWantString(t, "lastName", got.LastName, c.want.LastName)
			ctWantString(t, "email", got.Email, c.want.Email)
			ctWantString(t, "phone", got.Phone, c.want.Phone)
			ctWantString(t, "country", got.Country, c.want.Country)
			ctWantString(t, "language", got.Language, c.want.Language)
			ctWantString(t, "profilePictureUrl", got.ProfilePictureURL, c.want.ProfilePictureURL)
			ctWantString(t, "conversationStatus", got.ConversationStatus, ctPtr("OPEN"))

			m := rec.Message
			if m.Direction != "INBOUND" || m.Text != "Hello from "+c.name || m.Identifier != c.wantIdentifier || m.Channel.ID != channels[c.typ] {
				t.Errorf("message: got %+v, want INBOUND %q from %s on %s", m, "Hello from "+c.name, c.wantIdentifier, channels[c.typ])
			}
			chWantTime(t, "message.sentAt", &m.SentAt, sentAt)
			cv := rec.Conversation
			if cv.Status != "OPEN" || cv.ClosedAt != nil || cv.Contact.ID != got.ID || cv.Channel == nil || cv.Channel.ID != channels[c.typ] {
				t.Errorf("conversation: got %+v, want OPEN for contact %s on channel %s", cv, got.ID, channels[c.typ])
			}

			cc := chOn(t, chContactChannels(t, env, ws.Owner(), got.ID), channels[c.typ])
			if cc.Status != "ACTIVE" || cc.CanConnect {
				t.Errorf("link: got %s (canConnect %v), want ACTIVE", cc.Status, cc.CanConnect)
			}
			ctWantString(t, "link identifier", cc.Identifier, ctPtr(c.wantIdentifier))
			chWantTime(t, "connectedAt", cc.ConnectedAt, sentAt)
			chWantTime(t, "lastInteractionAt", cc.LastInteractionAt, sentAt)

			want := before
			want.Contacts++
			want.Links++
			want.Conversations++
			want.Messages++
			chWantCounts(t, env, ws.ID, want)
		})
	}

	t.Run("SecondMessageReusesContact", func(t *testing.T) {
		const phone = "+393401112223"
		one := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone,
			"text": "one", "sentAt": cvAtString(100), "profile": map[string]any{"firstName": "Paolo"}})
		before := chCountsOf(t, env, ws.ID)
		two := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone,
			"text": "two", "sentAt": cvAtString(105), "profile": map[string]any{"firstName": "Impostor", "language": "en"}})
		if two.ContactCreated || two.Duplicate {
			t.Errorf("contactCreated, duplicate: got %v, %v; want false, false", two.ContactCreated, two.Duplicate)
		}
		if two.Contact.ID != one.Contact.ID {
			t.Errorf("contact: got %s, want %s", two.Contact.ID, one.Contact.ID)
		}
		ctWantString(t, "firstName", two.Contact.FirstName, ctPtr("Paolo"))
		ctWantString(t, "language", two.Contact.Language, nil)
		if two.Conversation.ID != one.Conversation.ID {
			t.Errorf("conversation: got %s, want the open one %s", two.Conversation.ID, one.Conversation.ID)
		}
		if two.Message.ID == one.Message.ID {
			t.Errorf("message: got the first message's id again, want a new message")
		}
		want := before
		want.Messages++
		chWantCounts(t, env, ws.ID, want)
		cc := chOn(t, chContactChannels(t, env, ws.Owner(), one.Contact.ID), channels["WHATSAPP"])
		chWantTime(t, "connectedAt", cc.ConnectedAt, cvAt(100))
		chWantTime(t, "lastInteractionAt", cc.LastInteractionAt, cvAt(105))

		// A late delivery of an older message does not move lastInteractionAt back.
		cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone, "text": "late", "sentAt": cvAtString(101)})
		cc = chOn(t, chContactChannels(t, env, ws.Owner(), one.Contact.ID), channels["WHATSAPP"])
		chWantTime(t, "lastInteractionAt after a late message", cc.LastInteractionAt, cvAt(105))
		if _, texts := chHistory(t, env, ws.Owner(), one.Contact.ID); len(texts) != 1 || !slices.Equal(texts[0], []string{"two", "late", "one"}) {
			t.Errorf("messages: got %v, want one conversation [two late one] (newest sentAt first)", texts)
		}
	})

	t.Run("RetriedExternalID", func(t *testing.T) {
		const phone = "+393402223334"
		in := map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone, "text": "original",
			"sentAt": cvAtString(200), "externalId": "wamid.HBgLMzkzNDAyMjIzMzM0FQIAEhgg"}
		one := cvReceive(t, env, ws.Owner(), in)
		if !one.ContactCreated || one.Duplicate {
			t.Fatalf("first delivery: got contactCreated %v, duplicate %v; want true, false", one.ContactCreated, one.Duplicate)
		}
		before := chCountsOf(t, env, ws.ID)
		// The retry may differ in anything but the external id: it changes nothing.
		retry := map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone, "text": "changed",
			"sentAt": cvAtString(290), "externalId": " wamid.HBgLMzkzNDAyMjIzMzM0FQIAEhgg ", "profile": map[string]any{"firstName": "X"}}
		for i := range 2 {
			two := cvReceive(t, env, ws.Manager(), retry)
			if !two.Duplicate || two.ContactCreated {
				t.Errorf("retry %d: duplicate, contactCreated: got %v, %v; want true, false", i, two.Duplicate, two.ContactCreated)
			}
			if two.Message.ID != one.Message.ID || two.Message.Text != "original" {
				t.Errorf("retry %d: message: got %s %q, want %s %q", i, two.Message.ID, two.Message.Text, one.Message.ID, "original")
			}
			if two.Contact.ID != one.Contact.ID || two.Conversation.ID != one.Conversation.ID {
				t.Errorf("retry %d: got contact %s, conversation %s; want %s, %s", i, two.Contact.ID, two.Conversation.ID, one.Contact.ID, one.Conversation.ID)
			}
			ctWantString(t, "firstName", two.Contact.FirstName, nil)
		}
		chWantCounts(t, env, ws.ID, before)
		cc := chOn(t, chContactChannels(t, env, ws.Owner(), one.Contact.ID), channels["WHATSAPP"])
		chWantTime(t, "lastInteractionAt", cc.LastInteractionAt, cvAt(200))

		t.Run("OtherChannelIsAnotherMessage", func(t *testing.T) {
			other := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["SMS"], "identifier": phone,
				"text": "on sms", "sentAt": cvAtString(201), "externalId": "wamid.HBgLMzkzNDAyMjIzMzM0FQIAEhgg"})
			if other.Duplicate || other.Message.ID == one.Message.ID || other.Message.Text != "on sms" {
				t.Errorf("got duplicate %v, message %s %q; want a new message %q", other.Duplicate, other.Message.ID, other.Message.Text, "on sms")
			}
		})
		t.Run("OtherExternalIDSameContact", func(t *testing.T) {
			next := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": phone,
				"text": "next", "sentAt": cvAtString(202), "externalId": "wamid.other"})
			if next.Duplicate || next.ContactCreated || next.Contact.ID != one.Contact.ID {
				t.Errorf("got duplicate %v, contactCreated %v, contact %s; want a new message of %s", next.Duplicate, next.ContactCreated, next.Contact.ID, one.Contact.ID)
			}
		})
	})

	t.Run("ClosedConversationOpensNew", func(t *testing.T) {
		const psid = "7100000000000001"
		one := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["FACEBOOK"], "identifier": psid, "text": "one", "sentAt": cvAtString(300)})
		closed := cvClose(t, env, ws.Agent(), one.Conversation.ID)
		if closed.Status != "CLOSED" {
			t.Fatalf("close: got %s, want CLOSED", closed.Status)
		}
		two := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["FACEBOOK"], "identifier": psid, "text": "two", "sentAt": cvAtString(310)})
		if two.Contact.ID != one.Contact.ID || two.ContactCreated {
			t.Errorf("contact: got %s (created %v), want %s", two.Contact.ID, two.ContactCreated, one.Contact.ID)
		}
		if two.Conversation.ID == one.Conversation.ID || two.Conversation.Status != "OPEN" {
			t.Errorf("conversation: got %s %s, want a new OPEN one", two.Conversation.ID, two.Conversation.Status)
		}
		ctWantString(t, "conversationStatus", two.Contact.ConversationStatus, ctPtr("OPEN"))
		var data struct {
			Contact struct {
				ConversationStatus *string
				Conversations      struct {
					TotalCount int
					Edges      []struct{ Node cvConversation }
				}
			}
		}
		env.MustDo(t, ws.Owner(), `query($id: ID!) { contact(id: $id) { conversationStatus conversations { totalCount edges { node { `+cvConversationFields+` } } } } }`,
			map[string]any{"id": one.Contact.ID}, &data)
		ctWantString(t, "conversationStatus", data.Contact.ConversationStatus, ctPtr("OPEN"))
		cs := data.Contact.Conversations
		if cs.TotalCount != 2 || len(cs.Edges) != 2 {
			t.Fatalf("conversations: got %d (totalCount %d), want 2", len(cs.Edges), cs.TotalCount)
		}
		if cs.Edges[0].Node.ID != two.Conversation.ID || cs.Edges[0].Node.Status != "OPEN" ||
			cs.Edges[1].Node.ID != one.Conversation.ID || cs.Edges[1].Node.Status != "CLOSED" {
			t.Errorf("conversations: got %+v, want the new OPEN one, then the CLOSED one", cs.Edges)
		}
	})

	t.Run("DefaultSentAtIsNow", func(t *testing.T) {
		before := time.Now().Add(-time.Minute)
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["TELEGRAM"], "identifier": "tg-now", "text": "now"})
		if got := chTime(t, &rec.Message.SentAt); got.Before(before) || got.After(time.Now().Add(time.Minute)) {
			t.Errorf("sentAt: got %s, want about now", rec.Message.SentAt)
		}
	})

	t.Run("SharedPhoneIsNotMerged", func(t *testing.T) {
		// A contact made by hand with the phone; a WhatsApp message from it still creates
		// another contact (a merge suggestion, not an automatic merge).
		byHand := fxContacts(t, env, ws.Owner(), 1, func(int) map[string]any {
			return map[string]any{"firstName": "By hand", "phone": "+393405556667"}
		})[0]
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393405556667", "text": "hi"})
		if !rec.ContactCreated || rec.Contact.ID == byHand {
			t.Errorf("got contact %s (created %v), want a new contact besides %s", rec.Contact.ID, rec.ContactCreated, byHand)
		}
	})
}

func TestReceiveMessageConcurrent(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Concurrent")
	channel := chCreateChannel(t, env, ws.Owner(), "WHATSAPP", "WhatsApp")
	const n = 12

	// run sends n receiveMessage at once, the i-th with input in(i), and returns the payloads.
	run := func(t *testing.T, in func(i int) map[string]any) []cvReceived {
		t.Helper()
		var wg sync.WaitGroup
		start := make(chan struct{})
		out := make([]cvReceived, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				r, err := cvPost(env, ws.Owner(), cvReceiveMutation, map[string]any{"in": in(i)})
				switch {
				case err != nil:
					errs[i] = err
				case len(r.Errors) > 0:
					errs[i] = fmt.Errorf("errors %+v", r.Errors)
				default:
					var data struct{ ReceiveMessage cvReceived }
					if errs[i] = json.Unmarshal(r.Data, &data); errs[i] == nil {
						out[i] = data.ReceiveMessage
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		return out
	}

	t.Run("FirstMessagesCreateOneContact", func(t *testing.T) {
		before := chCountsOf(t, env, ws.ID)
		got := run(t, func(i int) map[string]any {
			return map[string]any{"channelId": channel, "identifier": "+393407778889", "text": fmt.Sprintf("message %d", i),
				"profile": map[string]any{"firstName": "Racer"}}
		})
		created := 0
		for i, r := range got {
			if r.ContactCreated {
				created++
			}
			if r.Contact.ID != got[0].Contact.ID || r.Conversation.ID != got[0].Conversation.ID {
				t.Errorf("request %d: got contact %s, conversation %s; want %s, %s", i, r.Contact.ID, r.Conversation.ID, got[0].Contact.ID, got[0].Conversation.ID)
			}
		}
		if created != 1 {
			t.Errorf("contactCreated: got %d times, want once", created)
		}
		want := before
		want.Contacts++
		want.Links++
		want.Conversations++
		want.Messages += n
		chWantCounts(t, env, ws.ID, want)
	})

	t.Run("RetriesRecordOneMessage", func(t *testing.T) {
		before := chCountsOf(t, env, ws.ID)
		got := run(t, func(i int) map[string]any {
			return map[string]any{"channelId": channel, "identifier": "+393408889990", "text": "same", "externalId": "wamid.same"}
		})
		duplicates := 0
		for i, r := range got {
			if r.Duplicate {
				duplicates++
			}
			if r.Message.ID != got[0].Message.ID || r.Contact.ID != got[0].Contact.ID {
				t.Errorf("request %d: got message %s of %s, want %s of %s", i, r.Message.ID, r.Contact.ID, got[0].Message.ID, got[0].Contact.ID)
			}
		}
		if duplicates != n-1 {
			t.Errorf("duplicate: got %d, want %d", duplicates, n-1)
		}
		want := before
		want.Contacts++
		want.Links++
		want.Conversations++
		want.Messages++
		chWantCounts(t, env, ws.ID, want)
	})
}

func TestReceiveMessageBadInput(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Bad input")
	channels := chChannelsByType(t, env, ws.Owner(), "WHATSAPP", "SMS", "EMAIL", "FACEBOOK", "WEBCHAT")
	// An existing contact and conversation, so that "nothing stored" is measured against rows.
	cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393331234567", "text": "hi"})

	cases := []struct {
		name, code, field string
		in                map[string]any
	}{
		{"ShortPhoneOnWhatsApp", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+12"}},
		{"ShortPhoneOnSMS", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["SMS"], "identifier": "+12"}},
		{"PhoneWithoutPlus", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["WHATSAPP"], "identifier": "393331234567"}},
		{"PhoneWithSpaces", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+39 333 123 4567"}},
		{"EmptyOnWhatsApp", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["WHATSAPP"], "identifier": ""}},
		{"NotAnEmail", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["EMAIL"], "identifier": "not-an-email"}},
		{"EmptyOnEmail", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["EMAIL"], "identifier": " "}},
		{"EmptyOnFacebook", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["FACEBOOK"], "identifier": ""}},
		{"BlankOnFacebook", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["FACEBOOK"], "identifier": "  \t "}},
		{"TooLongOnWebchat", "BAD_USER_INPUT", "identifier", map[string]any{"channelId": channels["WEBCHAT"], "identifier": strings.Repeat("v", 256)}},
		{"BadProfileLanguage", "BAD_USER_INPUT", "profile.language", map[string]any{"channelId": channels["FACEBOOK"], "identifier": "8000000000000001",
			"profile": map[string]any{"language": "not a language!"}}},
		{"BadProfilePicture", "BAD_USER_INPUT", "profile.pictureUrl", map[string]any{"channelId": channels["FACEBOOK"], "identifier": "8000000000000002",
			"profile": map[string]any{"pictureUrl": "ftp://example.com/p.png"}}},
		{"TextTooLong", "BAD_USER_INPUT", "text", map[string]any{"channelId": channels["FACEBOOK"], "identifier": "8000000000000003",
			"text": strings.Repeat("x", 65537)}},
		{"ExternalIDTooLong", "BAD_USER_INPUT", "externalId", map[string]any{"channelId": channels["FACEBOOK"], "identifier": "8000000000000004",
			"externalId": strings.Repeat("e", 256)}},
		{"UnknownChannel", "NOT_FOUND", "channelId", map[string]any{"channelId": globalid.Encode("Channel", "00000000-0000-4000-8000-000000000000"), "identifier": "x"}},
		{"ContactIDAsChannel", "NOT_FOUND", "channelId", map[string]any{"channelId": fxContact(t, env, ws.Owner(), "Not a channel"), "identifier": "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := c.in["text"]; !ok {
				c.in["text"] = "hello"
			}
			before := chCountsOf(t, env, ws.ID)
			r := env.Do(t, ws.Owner(), cvReceiveMutation, map[string]any{"in": c.in})
			fxWantError(t, r, c.code, c.field)
			chWantCounts(t, env, ws.ID, before)
		})
	}
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	// One identity on a channel belongs to one contact: each contact that gets connected
	// here has a phone of its own.
	const phone, email = "+393471234567", "Luca.Verdi@Example.com"
	both := map[string]any{"firstName": "Both", "phone": phone, "email": email}
	phoneOnly := map[string]any{"firstName": "Phone", "phone": "+393471234568"}
	emailOnly := map[string]any{"firstName": "Email", "email": "only.email@example.com"}

	// The channels are made in the reverse of the order the default follows.
	ws := env.Workspace(t, "Outbox")
	channels := chChannelsByType(t, env, ws.Owner(), "FACEBOOK", "EMAIL", "SMS", "WHATSAPP")
	noWhatsApp := env.Workspace(t, "Outbox without WhatsApp")
	noWhatsAppChannels := chChannelsByType(t, env, noWhatsApp.Owner(), "EMAIL", "WEBCHAT", "SMS")

	newContact := func(t *testing.T, w *testenv.Workspace, in map[string]any) string {
		t.Helper()
		return fxContacts(t, env, w.Owner(), 1, func(int) map[string]any { return in })[0]
	}

	for _, c := range []struct {
		name           string
		w              *testenv.Workspace
		channels       map[string]string
		in             map[string]any
		wantType       string
		wantIdentifier string
	}{
		{"PhoneAndEmailWhatsAppFirst", ws, channels, both, "WHATSAPP", phone},
		{"PhoneOnlyWhatsApp", ws, channels, phoneOnly, "WHATSAPP", "+393471234568"},
		{"EmailOnly", ws, channels, emailOnly, "EMAIL", "only.email@example.com"},
		{"SMSBeforeEmail", noWhatsApp, noWhatsAppChannels, both, "SMS", phone},
		{"EmailWithoutPhone", noWhatsApp, noWhatsAppChannels, emailOnly, "EMAIL", "only.email@example.com"},
	} {
		t.Run("DefaultNoInteractions"+c.name, func(t *testing.T) {
			id := newContact(t, c.w, c.in)
			before := chCountsOf(t, env, c.w.ID)
			sent := cvSend(t, env, c.w.Agent(), map[string]any{"contactId": id, "text": "Hello, this is Rubrica"})
			if got := sent.ContactChannel.Channel.ID; got != c.channels[c.wantType] {
				t.Errorf("channel: got %s %s, want the %s channel", sent.ContactChannel.Channel.Type, got, c.wantType)
			}
			if !sent.Connected || sent.ContactChannel.Status != "ACTIVE" || sent.ContactChannel.CanConnect {
				t.Errorf("got connected %v, status %s, canConnect %v; want true, ACTIVE, false",
					sent.Connected, sent.ContactChannel.Status, sent.ContactChannel.CanConnect)
			}
			ctWantString(t, "identifier", sent.ContactChannel.Identifier, &c.wantIdentifier)
			if sent.ContactChannel.ConnectedAt == nil || sent.ContactChannel.LastInteractionAt == nil {
				t.Errorf("connectedAt, lastInteractionAt: got %s, %s; want both set",
					ctDeref(sent.ContactChannel.ConnectedAt), ctDeref(sent.ContactChannel.LastInteractionAt))
			}
			m := sent.Message
			if m.Direction != "OUTBOUND" || m.Text != "Hello, this is Rubrica" || m.Identifier != c.wantIdentifier || m.Channel.ID != c.channels[c.wantType] {
				t.Errorf("message: got %+v, want OUTBOUND to %s on the %s channel", m, c.wantIdentifier, c.wantType)
			}
			if sent.Conversation.Status != "OPEN" || sent.Conversation.Contact.ID != id {
				t.Errorf("conversation: got %+v, want OPEN for %s", sent.Conversation, id)
			}
			ctWantString(t, "conversationStatus", sent.Contact.ConversationStatus, ctPtr("OPEN"))
			want := before
			want.Links++
			want.Conversations++
			want.Messages++
			chWantCounts(t, env, c.w.ID, want)
			// The channel is ACTIVE in the contact's channels too.
			cc := chOn(t, chContactChannels(t, env, c.w.Owner(), id), c.channels[c.wantType])
			if cc.Status != "ACTIVE" {
				t.Errorf("status in Contact.channels: got %s, want ACTIVE", cc.Status)
			}
		})
	}

	t.Run("DefaultIsLatestInteraction", func(t *testing.T) {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393479998887",
			"text": "hi on whatsapp", "sentAt": cvAtString(0)})
		id := rec.Contact.ID
		// The contact writes by email later (a member added the address and wrote first).
		env.MustDo(t, ws.Owner(), `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"id": id, "email": "latest@example.com"}}, nil)
		byEmail := cvSend(t, env, ws.Owner(), map[string]any{"contactId": id, "channelId": channels["EMAIL"], "text": "by email"})
		if !byEmail.Connected {
			t.Errorf("email: got connected false, want true (the channel was INACTIVE)")
		}
		next := cvSend(t, env, ws.Owner(), map[string]any{"contactId": id, "text": "default"})
		if next.ContactChannel.Channel.ID != channels["EMAIL"] || next.Connected {
			t.Errorf("default: got %s (connected %v), want the EMAIL channel of the latest interaction", next.ContactChannel.Channel.Type, next.Connected)
		}
		// Now the contact writes on WhatsApp again: that is the latest interaction.
		cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": "+393479998887", "text": "back on whatsapp"})
		last := cvSend(t, env, ws.Owner(), map[string]any{"contactId": id, "text": "default again"})
		if last.ContactChannel.Channel.ID != channels["WHATSAPP"] || last.Connected {
			t.Errorf("default: got %s (connected %v), want the WHATSAPP channel of the latest interaction", last.ContactChannel.Channel.Type, last.Connected)
		}
		if last.Conversation.ID != rec.Conversation.ID {
			t.Errorf("conversation: got %s, want the open one %s", last.Conversation.ID, rec.Conversation.ID)
		}
		// Messages newest first, with their directions.
		var data struct {
			Node struct {
				Messages struct {
					Edges []struct{ Node cvMessage }
				}
			}
		}
		env.MustDo(t, ws.Owner(), `query($id: ID!) { node(id: $id) { ... on Conversation { messages { edges { node { `+cvMessageFields+` } } } } } }`,
			map[string]any{"id": rec.Conversation.ID}, &data)
		var got []string
		for _, e := range data.Node.Messages.Edges {
			got = append(got, e.Node.Direction+" "+e.Node.Text)
		}
		want := []string{"OUTBOUND default again", "INBOUND back on whatsapp", "OUTBOUND default", "OUTBOUND by email", "INBOUND hi on whatsapp"}
		if !slices.Equal(got, want) {
			t.Errorf("messages: got %q, want %q", got, want)
		}
	})

	t.Run("ConnectInactiveExplicitly", func(t *testing.T) {
		id := newContact(t, ws, both)
		before := chCountsOf(t, env, ws.ID)
		sent := cvSend(t, env, ws.Manager(), map[string]any{"contactId": id, "channelId": channels["SMS"], "text": "by sms"})
		if !sent.Connected || sent.ContactChannel.Status != "ACTIVE" || sent.ContactChannel.Channel.ID != channels["SMS"] {
			t.Errorf("got connected %v, status %s on %s; want true, ACTIVE on SMS", sent.Connected, sent.ContactChannel.Status, sent.ContactChannel.Channel.Type)
		}
		again := cvSend(t, env, ws.Manager(), map[string]any{"contactId": id, "channelId": channels["SMS"], "text": "again"})
		if again.Connected || again.ContactChannel.Status != "ACTIVE" {
			t.Errorf("second send: got connected %v, status %s; want false, ACTIVE", again.Connected, again.ContactChannel.Status)
		}
		if again.Conversation.ID != sent.Conversation.ID {
			t.Errorf("second send: conversation %s, want the open one %s", again.Conversation.ID, sent.Conversation.ID)
		}
		if chTime(t, again.ContactChannel.LastInteractionAt).Before(chTime(t, sent.ContactChannel.LastInteractionAt)) {
			t.Errorf("lastInteractionAt: went back from %s to %s", *sent.ContactChannel.LastInteractionAt, *again.ContactChannel.LastInteractionAt)
		}
		chWantTime(t, "connectedAt", again.ContactChannel.ConnectedAt, chTime(t, sent.ContactChannel.ConnectedAt))
		want := before
		want.Links++
		want.Conversations++
		want.Messages += 2
		chWantCounts(t, env, ws.ID, want)
		// The other connectable channels stay INACTIVE.
		ccs := chContactChannels(t, env, ws.Owner(), id)
		chWantStatus(t, chOn(t, ccs, channels["WHATSAPP"]), chStatusCase{"INACTIVE", ctPtr(phone)})
		chWantStatus(t, chOn(t, ccs, channels["EMAIL"]), chStatusCase{"INACTIVE", ctPtr(strings.ToLower(email))})
	})

	// Two contacts share a phone (duplicates not merged yet) and the first is linked on
	// WhatsApp: the phone's WhatsApp identity is taken, so writing there from the second
	// contact is refused with a hint to merge, and nothing is stored.
	t.Run("ErrIdentityLinkedToAnotherContact", func(t *testing.T) {
		const shared = "+393471230000"
		first := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["WHATSAPP"], "identifier": shared, "text": "hi"})
		second := newContact(t, ws, map[string]any{"firstName": "Same phone", "phone": shared})
		before := chCountsOf(t, env, ws.ID)
		for _, in := range []map[string]any{
			{"contactId": second, "channelId": channels["WHATSAPP"], "text": "hello"},
			{"contactId": second, "text": "hello"}, // the default is WhatsApp
		} {
			r := env.Do(t, ws.Owner(), cvSendMutation, map[string]any{"in": in})
			fxWantError(t, r, "CONFLICT", "channelId")
		}
		chWantCounts(t, env, ws.ID, before)
		// SMS is free: the second contact can be reached there.
		sent := cvSend(t, env, ws.Owner(), map[string]any{"contactId": second, "channelId": channels["SMS"], "text": "hello"})
		if !sent.Connected || sent.Contact.ID == first.Contact.ID {
			t.Errorf("sms: got connected %v for %s, want the second contact connected", sent.Connected, sent.Contact.ID)
		}
	})

	t.Run("ReplyJoinsInboundConversation", func(t *testing.T) {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channels["FACEBOOK"], "identifier": "7200000000000001", "text": "question"})
		sent := cvSend(t, env, ws.Agent(), map[string]any{"contactId": rec.Contact.ID, "text": "answer"})
		if sent.ContactChannel.Channel.ID != channels["FACEBOOK"] || sent.Conversation.ID != rec.Conversation.ID || sent.Connected {
			t.Errorf("got channel %s, conversation %s, connected %v; want FACEBOOK, %s, false",
				sent.ContactChannel.Channel.Type, sent.Conversation.ID, sent.Connected, rec.Conversation.ID)
		}
		if sent.Message.Identifier != "7200000000000001" || sent.Message.Direction != "OUTBOUND" {
			t.Errorf("message: got %+v, want OUTBOUND to 7200000000000001", sent.Message)
		}
		if sent.ContactChannel.ConversationURL == nil {
			t.Errorf("conversationUrl: got null, want the Facebook link")
		}
	})

	refused := []struct {
		name  string
		w     *testenv.Workspace
		setup func(t *testing.T) map[string]any // the input
		field string
	}{
		{"ErrUnavailableFacebook", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, ws, both), "channelId": channels["FACEBOOK"], "text": "hi"}
		}, "channelId"},
		{"ErrUnavailableWhatsAppWithoutPhone", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, ws, map[string]any{"email": "no.phone@example.com"}), "channelId": channels["WHATSAPP"], "text": "hi"}
		}, "channelId"},
		{"ErrUnavailableEmailWithoutEmail", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, ws, map[string]any{"phone": "+393471112223"}), "channelId": channels["EMAIL"], "text": "hi"}
		}, "channelId"},
		{"ErrNoChannelReachable", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, ws, map[string]any{"firstName": "Nothing"}), "text": "hi"}
		}, "channelId"},
		{"ErrNoChannelReachableOnlyChat", noWhatsApp, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, noWhatsApp, map[string]any{"firstName": "Nothing"}), "text": "hi"}
		}, "channelId"},
		{"ErrEmptyText", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, ws, both), "text": "  \n "}
		}, "text"},
		{"ErrTextTooLong", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": newContact(t, ws, both), "text": strings.Repeat("y", 65537)}
		}, "text"},
		{"ErrUnknownContact", ws, func(t *testing.T) map[string]any {
			return map[string]any{"contactId": globalid.Encode("Contact", "00000000-0000-4000-8000-000000000000"), "text": "hi"}
		}, "contactId"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			in := c.setup(t)
			before := chCountsOf(t, env, c.w.ID)
			r := env.Do(t, c.w.Owner(), cvSendMutation, map[string]any{"in": in})
			code := "BAD_USER_INPUT"
			if c.field == "contactId" {
				code = "NOT_FOUND"
			}
			fxWantError(t, r, code, c.field)
			chWantCounts(t, env, c.w.ID, before)
		})
	}

	t.Run("ErrNoChannelsAtAll", func(t *testing.T) {
		empty := env.Workspace(t, "Outbox without channels")
		id := newContact(t, empty, both)
		r := env.Do(t, empty.Owner(), cvSendMutation, map[string]any{"in": map[string]any{"contactId": id, "text": "hi"}})
		fxWantError(t, r, "BAD_USER_INPUT", "channelId")
		chWantCounts(t, env, empty.ID, chCounts{Contacts: 1})
	})
}

func TestCloseConversation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Closing")
	channel := chCreateChannel(t, env, ws.Owner(), "WHATSAPP", "WhatsApp")

	t.Run("NoConversationIsNull", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Quiet")
		var data struct {
			Contact struct {
				ConversationStatus *string
				Conversations      struct {
					TotalCount int
					Edges      []any
					PageInfo   struct{ HasNextPage bool }
				}
			}
		}
		env.MustDo(t, ws.Agent(), `query($id: ID!) { contact(id: $id) { conversationStatus conversations { totalCount edges { cursor } pageInfo { hasNextPage } } } }`,
			map[string]any{"id": id}, &data)
		ctWantString(t, "conversationStatus", data.Contact.ConversationStatus, nil)
		if c := data.Contact.Conversations; c.TotalCount != 0 || len(c.Edges) != 0 || c.PageInfo.HasNextPage {
			t.Errorf("conversations: got %+v, want none", c)
		}
	})

	for _, role := range []string{"OWNER", "MANAGER", "AGENT"} {
		t.Run("OK"+role, func(t *testing.T) {
			token := map[string]string{"OWNER": ws.Owner(), "MANAGER": ws.Manager(), "AGENT": ws.Agent()}[role]
			rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channel, "identifier": map[string]string{
				"OWNER": "+393481000001", "MANAGER": "+393481000002", "AGENT": "+393481000003"}[role], "text": "hi"})
			before := time.Now().Add(-time.Minute)
			closed := cvClose(t, env, token, rec.Conversation.ID)
			if closed.ID != rec.Conversation.ID || closed.Status != "CLOSED" {
				t.Errorf("conversation: got %s %s, want %s CLOSED", closed.ID, closed.Status, rec.Conversation.ID)
			}
			if closed.ClosedAt == nil || chTime(t, closed.ClosedAt).Before(before) {
				t.Errorf("closedAt: got %s, want about now", ctDeref(closed.ClosedAt))
			}
			var data struct {
				Contact struct{ ConversationStatus *string }
			}
			env.MustDo(t, token, `query($id: ID!) { contact(id: $id) { conversationStatus } }`, map[string]any{"id": rec.Contact.ID}, &data)
			ctWantString(t, "conversationStatus", data.Contact.ConversationStatus, ctPtr("CLOSED"))

			// Closing again changes nothing.
			again := cvClose(t, env, token, rec.Conversation.ID)
			if again.Status != "CLOSED" || ctDeref(again.ClosedAt) != ctDeref(closed.ClosedAt) {
				t.Errorf("second close: got %s at %s, want CLOSED at %s", again.Status, ctDeref(again.ClosedAt), ctDeref(closed.ClosedAt))
			}
		})
	}

	t.Run("SendAfterCloseOpensNew", func(t *testing.T) {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channel, "identifier": "+393481000009", "text": "hi"})
		cvClose(t, env, ws.Owner(), rec.Conversation.ID)
		sent := cvSend(t, env, ws.Owner(), map[string]any{"contactId": rec.Contact.ID, "text": "follow-up"})
		if sent.Conversation.ID == rec.Conversation.ID || sent.Conversation.Status != "OPEN" {
			t.Errorf("conversation: got %s %s, want a new OPEN one", sent.Conversation.ID, sent.Conversation.Status)
		}
		ctWantString(t, "conversationStatus", sent.Contact.ConversationStatus, ctPtr("OPEN"))
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		for name, id := range map[string]string{
			"UnknownUUID": globalid.Encode("Conversation", "00000000-0000-4000-8000-000000000000"),
			"NotUUID":     globalid.Encode("Conversation", "42"),
			"Garbage":     "!!!",
			"ChannelID":   channel,
		} {
			t.Run(name, func(t *testing.T) {
				r := env.Do(t, ws.Owner(), cvCloseMutation, map[string]any{"in": map[string]any{"conversationId": id}})
				fxWantError(t, r, "NOT_FOUND", "conversationId")
			})
		}
	})
}

func TestConversationPagination(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Pages")
	channel := chCreateChannel(t, env, ws.Owner(), "TELEGRAM", "Telegram")

	// Three conversations: the first two closed; the last holds five messages.
	var conversations []string
	var contactID string
	for i := range 3 {
		rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channel, "identifier": "tg-pages",
			"text": fmt.Sprintf("conversation %d", i), "sentAt": cvAtString(i * 10)})
		conversations = append(conversations, rec.Conversation.ID)
		contactID = rec.Contact.ID
		if i < 2 {
			cvClose(t, env, ws.Owner(), rec.Conversation.ID)
		}
	}
	last := conversations[2]
	for i := 1; i < 5; i++ {
		cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channel, "identifier": "tg-pages",
			"text": fmt.Sprintf("message %d", i), "sentAt": cvAtString(20 + i)})
	}

	type pageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}

	t.Run("Conversations", func(t *testing.T) {
		page := func(t *testing.T, first int, after *string) (ids []string, info pageInfo, total int) {
			t.Helper()
			var data struct {
				Contact struct {
					Conversations struct {
						TotalCount int
						PageInfo   pageInfo
						Edges      []struct {
							Cursor string
							Node   struct{ ID string }
						}
					}
				}
			}
			env.MustDo(t, ws.Agent(), `query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
				conversations(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
				edges { cursor node { id } } } } }`, map[string]any{"id": contactID, "first": first, "after": after}, &data)
			c := data.Contact.Conversations
			for _, e := range c.Edges {
				ids = append(ids, e.Node.ID)
			}
			return ids, c.PageInfo, c.TotalCount
		}
		ids, info, total := page(t, 2, nil)
		if want := []string{conversations[2], conversations[1]}; !slices.Equal(ids, want) {
			t.Errorf("first page: got %v, want %v (newest first)", ids, want)
		}
		if !info.HasNextPage || info.HasPreviousPage || total != 3 {
			t.Errorf("first page: got hasNextPage %v, hasPreviousPage %v, totalCount %d; want true, false, 3", info.HasNextPage, info.HasPreviousPage, total)
		}
		ids, info, total = page(t, 2, info.EndCursor)
		if want := []string{conversations[0]}; !slices.Equal(ids, want) {
			t.Errorf("second page: got %v, want %v", ids, want)
		}
		if info.HasNextPage || !info.HasPreviousPage || total != 3 {
			t.Errorf("second page: got hasNextPage %v, hasPreviousPage %v, totalCount %d; want false, true, 3", info.HasNextPage, info.HasPreviousPage, total)
		}
		if ids, _, _ := page(t, 0, nil); len(ids) != 0 {
			t.Errorf("first 0: got %v, want none", ids)
		}
	})

	t.Run("Messages", func(t *testing.T) {
		page := func(t *testing.T, first int, after *string) (texts []string, info pageInfo, total int) {
			t.Helper()
			var data struct {
				Node struct {
					Messages struct {
						TotalCount int
						PageInfo   pageInfo
						Edges      []struct{ Node cvMessage }
					}
				}
			}
			env.MustDo(t, ws.Agent(), `query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Conversation {
				messages(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
				edges { node { text } } } } } }`, map[string]any{"id": last, "first": first, "after": after}, &data)
			m := data.Node.Messages
			for _, e := range m.Edges {
				texts = append(texts, e.Node.Text)
			}
			return texts, m.PageInfo, m.TotalCount
		}
		var after *string
		var got [][]string
		for range 4 {
			texts, info, total := page(t, 2, after)
			if total != 5 {
				t.Errorf("totalCount: got %d, want 5", total)
			}
			got = append(got, texts)
			if !info.HasNextPage {
				break
			}
			after = info.EndCursor
		}
		want := [][]string{{"message 4", "message 3"}, {"message 2", "message 1"}, {"conversation 2"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pages: got %q, want %q (newest first)", got, want)
		}
	})

	t.Run("ErrBadArguments", func(t *testing.T) {
		for _, c := range []struct {
			name, args, field string
		}{
			{"FirstTooBig", `first: 101`, "first"},
			{"FirstNegative", `first: -1`, "first"},
			{"AfterGarbage", `after: "garbage"`, "after"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := env.Do(t, ws.Owner(), `query($id: ID!) { contact(id: $id) { conversations(`+c.args+`) { totalCount } } }`,
					map[string]any{"id": contactID})
				fxWantError(t, r, "BAD_USER_INPUT", c.field)
				r = env.Do(t, ws.Owner(), `query($id: ID!) { node(id: $id) { ... on Conversation { messages(`+c.args+`) { totalCount } } } }`,
					map[string]any{"id": last})
				fxWantError(t, r, "BAD_USER_INPUT", c.field)
			})
		}
	})
}

func TestConversationCrossWorkspace(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Mine")
	other := env.Workspace(t, "Theirs")

	myChannel := chCreateChannel(t, env, ws.Owner(), "WHATSAPP", "My WhatsApp")
	mine := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": myChannel, "identifier": "+393491000001", "text": "mine"})
	theirChannel := chCreateChannel(t, env, other.Owner(), "WHATSAPP", "Their WhatsApp")
	theirs := cvReceive(t, env, other.Owner(), map[string]any{"channelId": theirChannel, "identifier": "+393491000002", "text": "theirs"})

	// check runs a request as my owner that must fail NOT_FOUND and change nothing anywhere.
	check := func(t *testing.T, query string, vars map[string]any, field string) {
		t.Helper()
		mineBefore, theirsBefore := chCountsOf(t, env, ws.ID), chCountsOf(t, env, other.ID)
		r := env.Do(t, ws.Owner(), query, vars)
		fxWantError(t, r, "NOT_FOUND", field)
		chWantCounts(t, env, ws.ID, mineBefore)
		chWantCounts(t, env, other.ID, theirsBefore)
	}

	t.Run("ReceiveMessageChannel", func(t *testing.T) {
		check(t, cvReceiveMutation, map[string]any{"in": map[string]any{"channelId": theirChannel, "identifier": "+393491000002", "text": "x"}}, "channelId")
	})
	t.Run("SendMessageContact", func(t *testing.T) {
		check(t, cvSendMutation, map[string]any{"in": map[string]any{"contactId": theirs.Contact.ID, "text": "x"}}, "contactId")
		check(t, cvSendMutation, map[string]any{"in": map[string]any{"contactId": theirs.Contact.ID, "channelId": myChannel, "text": "x"}}, "contactId")
	})
	t.Run("SendMessageChannel", func(t *testing.T) {
		check(t, cvSendMutation, map[string]any{"in": map[string]any{"contactId": mine.Contact.ID, "channelId": theirChannel, "text": "x"}}, "channelId")
	})
	t.Run("CloseConversation", func(t *testing.T) {
		check(t, cvCloseMutation, map[string]any{"in": map[string]any{"conversationId": theirs.Conversation.ID}}, "conversationId")
		var data struct{ Node cvConversation }
		env.MustDo(t, other.Owner(), `query($id: ID!) { node(id: $id) { ... on Conversation { status } } }`, map[string]any{"id": theirs.Conversation.ID}, &data)
		if data.Node.Status != "OPEN" {
			t.Errorf("their conversation: got %s, want still OPEN", data.Node.Status)
		}
	})
	t.Run("RemoveContactChannel", func(t *testing.T) {
		check(t, chRemoveMutation, map[string]any{"in": map[string]any{"contactId": theirs.Contact.ID, "channelId": theirChannel}}, "-")
	})

	const nodeQuery = `query($id: ID!) { node(id: $id) { __typename id
		... on Channel { name }
		... on Conversation { status contact { id } messages { totalCount } }
		... on Message { text direction } } }`
	for _, c := range []struct{ typ, mine, theirs, want string }{
		{"Channel", myChannel, theirChannel, "My WhatsApp"},
		{"Conversation", mine.Conversation.ID, theirs.Conversation.ID, "OPEN"},
		{"Message", mine.Message.ID, theirs.Message.ID, "mine"},
	} {
		t.Run("Node"+c.typ, func(t *testing.T) {
			var data struct {
				Node *struct {
					Typename string `json:"__typename"`
					ID       string
					Name     string
					Status   string
					Text     string
					Contact  struct{ ID string }
					Messages struct{ TotalCount int }
				}
			}
			env.MustDo(t, ws.Agent(), nodeQuery, map[string]any{"id": c.mine}, &data)
			if data.Node == nil || data.Node.Typename != c.typ || data.Node.ID != c.mine {
				t.Fatalf("node(mine): got %+v, want the %s %s", data.Node, c.typ, c.mine)
			}
			if got := data.Node.Name + data.Node.Status + data.Node.Text; got != c.want {
				t.Errorf("node(mine): got %q, want %q", got, c.want)
			}
			if c.typ == "Conversation" && (data.Node.Contact.ID != mine.Contact.ID || data.Node.Messages.TotalCount != 1) {
				t.Errorf("conversation: got contact %s with %d messages, want %s with 1", data.Node.Contact.ID, data.Node.Messages.TotalCount, mine.Contact.ID)
			}
			r := env.Do(t, ws.Owner(), nodeQuery, map[string]any{"id": c.theirs})
			fxWantError(t, r, "NOT_FOUND", "-")
			if string(r.Data) != `{"node":null}` && string(r.Data) != "null" {
				t.Errorf("node(theirs): data %s, want node null", r.Data)
			}
		})
	}
}

// cvPageQuery is the page of issue 3's statement-count requirement.
const cvPageQuery = `query($first: Int) { contacts(first: $first) { edges { node {
	id channels { channel { name } status } conversationStatus } } } }`

// cvSeedInbox makes a workspace with four channels and n contacts who wrote first, on
// WhatsApp, Facebook or email in turn; every third one got a reply by SMS (a second link) and
// every fourth one's conversation is closed.
func cvSeedInbox(tb testing.TB, env *testenv.Env, name string, n int) *testenv.Workspace {
	tb.Helper()
	ws := env.Workspace(tb, name)
	channels := chChannelsByType(tb, env, ws.Owner(), "WHATSAPP", "FACEBOOK", "EMAIL", "SMS")
	q, vars := chAliases(n, "ReceiveMessageInput", func(i int) (string, map[string]any) {
		in := map[string]any{"text": fmt.Sprintf("message %d", i), "profile": map[string]any{"firstName": fmt.Sprintf("Writer %03d", i)}}
		switch i % 3 {
		case 0:
			in["channelId"], in["identifier"] = channels["WHATSAPP"], fmt.Sprintf("+3934%08d", 10000000+i)
		case 1:
			in["channelId"], in["identifier"] = channels["FACEBOOK"], fmt.Sprintf("9%015d", i)
		default:
			in["channelId"], in["identifier"] = channels["EMAIL"], fmt.Sprintf("writer%03d@example.com", i)
		}
		return `receiveMessage(input: $in) { contact { id } conversation { id } }`, in
	})
	var data map[string]struct {
		Contact      struct{ ID string }
		Conversation struct{ ID string }
	}
	env.MustDo(tb, ws.Owner(), q, vars, &data)
	var replies, closes []map[string]any
	for i := range n {
		r := data[fmt.Sprintf("a%d", i)]
		if i%3 == 0 {
			replies = append(replies, map[string]any{"contactId": r.Contact.ID, "channelId": channels["SMS"], "text": "reply"})
		}
		if i%4 == 0 {
			closes = append(closes, map[string]any{"conversationId": r.Conversation.ID})
		}
	}
	if len(replies) > 0 {
		q, vars = chAliases(len(replies), "SendMessageInput", func(i int) (string, map[string]any) {
			return `sendMessage(input: $in) { connected }`, replies[i]
		})
		env.MustDo(tb, ws.Owner(), q, vars, nil)
	}
	if len(closes) > 0 {
		q, vars = chAliases(len(closes), "CloseConversationInput", func(i int) (string, map[string]any) {
			return `closeConversation(input: $in) { conversation { id } }`, closes[i]
		})
		env.MustDo(tb, ws.Owner(), q, vars, nil)
	}
	return ws
}

// maxChannelPageStatements bounds the page of cvPageQuery: authentication, the page, the
// workspace's channels, the contacts' links and their latest conversation statuses.
const maxChannelPageStatements = 5

func TestContactsPageChannelsStatementCount(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	one := cvSeedInbox(t, env, "One", 1)
	hundred := cvSeedInbox(t, env, "Hundred", 100)

	run := func(t *testing.T, ws *testenv.Workspace, first, total int) []string {
		t.Helper()
		env.Counter.Reset()
		var data struct {
			Contacts struct {
				Edges []struct {
					Node struct {
						ID       string
						Channels []struct {
							Channel struct{ Name string }
							Status  string
						}
						ConversationStatus *string
					}
				}
			}
		}
		env.MustDo(t, ws.Agent(), cvPageQuery, map[string]any{"first": first}, &data)
		statements := env.Counter.Statements()
		if got, want := len(data.Contacts.Edges), min(first, total); got != want {
			t.Fatalf("contacts: got %d, want %d", got, want)
		}
		active, closed := 0, 0
		for _, e := range data.Contacts.Edges {
			c := e.Node
			if len(c.Channels) != 4 || c.ConversationStatus == nil {
				t.Fatalf("contact %s: got channels %+v, conversationStatus %s; want 4 channels and a status", c.ID, c.Channels, ctDeref(c.ConversationStatus))
			}
			for _, cc := range c.Channels {
				if cc.Channel.Name == "" || cc.Status == "" {
					t.Fatalf("contact %s: channel entry %+v, want a name and a status", c.ID, cc)
				}
				if cc.Status == "ACTIVE" {
					active++
				}
			}
			if *c.ConversationStatus == "CLOSED" {
				closed++
			}
		}
		if first >= total {
			// Every contact wrote once; every third got an SMS reply; every fourth is closed.
			if want := total + (total+2)/3; active != want {
				t.Errorf("ACTIVE entries: got %d, want %d", active, want)
			}
			if want := (total + 3) / 4; closed != want {
				t.Errorf("CLOSED conversations: got %d, want %d", closed, want)
			}
		}
		return statements
	}
	dump := func(statements []string) string {
		var b strings.Builder
		for i, s := range statements {
			fmt.Fprintf(&b, "\n  %d: %s", i+1, strings.Join(strings.Fields(s), " "))
		}
		return b.String()
	}

	base := run(t, one, 100, 1)
	if len(base) > maxChannelPageStatements {
		t.Errorf("statements for 1 contact: got %d, want at most %d:%s", len(base), maxChannelPageStatements, dump(base))
	}
	for _, c := range []struct {
		name  string
		first int
	}{{"First100", 100}, {"First50", 50}, {"First1", 1}} {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, hundred, c.first, 100)
			if len(got) != len(base) {
				t.Errorf("statements for %d contacts: got %d, want %d as for 1 contact:%s\nfor 1 contact:%s",
					c.first, len(got), len(base), dump(got), dump(base))
			}
			if len(got) > maxChannelPageStatements {
				t.Errorf("statements for %d contacts: got %d, want at most %d:%s", c.first, len(got), maxChannelPageStatements, dump(got))
			}
		})
	}
}

// TestConversationListsBatch checks that the nested conversation lists of a page take one
// statement per list and level, however many keys: 100 contacts with two conversations each
// make 200 message lists. The loader wait is long, so every key arrives within it.
func TestConversationListsBatch(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(cfg *server.Config) { cfg.LoaderWait = 200 * time.Millisecond })
	ws := env.Workspace(t, "Nested lists")
	channel := chCreateChannel(t, env, ws.Owner(), "TELEGRAM", "Telegram")
	const n = 100
	for round := range 2 {
		q, vars := chAliases(n, "ReceiveMessageInput", func(i int) (string, map[string]any) {
			return `receiveMessage(input: $in) { conversation { id } }`,
				map[string]any{"channelId": channel, "identifier": fmt.Sprintf("tg-%03d", i), "text": fmt.Sprintf("round %d", round)}
		})
		var data map[string]struct{ Conversation struct{ ID string } }
		env.MustDo(t, ws.Owner(), q, vars, &data)
		if round == 0 {
			q, vars = chAliases(n, "CloseConversationInput", func(i int) (string, map[string]any) {
				return `closeConversation(input: $in) { conversation { id } }`,
					map[string]any{"conversationId": data[fmt.Sprintf("a%d", i)].Conversation.ID}
			})
			env.MustDo(t, ws.Owner(), q, vars, nil)
		}
	}

	env.Counter.Reset()
	var data struct {
		Contacts struct {
			Edges []struct {
				Node struct {
					Conversations struct {
						TotalCount int
						Edges      []struct {
							Node struct {
								Channel  struct{ Name string }
								Contact  struct{ ID string }
								Messages struct {
									TotalCount int
									Edges      []struct {
										Node struct {
											Text    string
											Channel struct{ Name string }
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	// Pages as small as the counts checked below allow, so the request fits the complexity limit.
	env.MustDo(t, ws.Agent(), `{ contacts(first: 100) { edges { node { conversations(first: 2) { totalCount edges { node {
		channel { name } contact { id } messages(first: 2) { totalCount edges { node { text channel { name } } } } } } } } } } }`, nil, &data)
	statements := env.Counter.Statements()
	if len(data.Contacts.Edges) != n {
		t.Fatalf("contacts: got %d, want %d", len(data.Contacts.Edges), n)
	}
	for _, e := range data.Contacts.Edges {
		cs := e.Node.Conversations
		if cs.TotalCount != 2 || len(cs.Edges) != 2 {
			t.Fatalf("conversations: got %d (totalCount %d), want 2", len(cs.Edges), cs.TotalCount)
		}
		for _, cv := range cs.Edges {
			if cv.Node.Channel.Name != "Telegram" || cv.Node.Messages.TotalCount != 1 || len(cv.Node.Messages.Edges) != 1 {
				t.Fatalf("conversation: got %+v, want one message on Telegram", cv.Node)
			}
		}
	}
	counts := map[string]int{}
	for _, s := range statements {
		for _, table := range []string{"FROM conversations", "FROM messages", "FROM channels"} {
			if strings.Contains(s, table) {
				counts[table]++
			}
		}
	}
	// Conversations: one page statement and one count; messages likewise; channels once.
	if want := map[string]int{"FROM conversations": 2, "FROM messages": 2, "FROM channels": 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("statements by table: got %v, want %v:\n%s", counts, want, strings.Join(statements, "\n"))
	}
}
