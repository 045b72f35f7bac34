package graph_test

import (
	"fmt"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// The tests of automatic merges are prefixed am.

// amSet changes the workspace's automatic merges and returns the settings it answers.
func amSet(tb testing.TB, env *testenv.Env, token string, in map[string]any) *testenv.Response {
	tb.Helper()
	return env.Do(tb, token, `mutation($in: SetAutoMergeInput!) { setAutoMerge(input: $in) {
		workspace { autoMerge { verifiedPhone verifiedEmail } } } }`, map[string]any{"in": in})
}

// amSettings reads the workspace's automatic merges.
func amSettings(tb testing.TB, env *testenv.Env, token string) (phone, email bool) {
	tb.Helper()
	var data struct {
		Workspace struct {
			AutoMerge struct{ VerifiedPhone, VerifiedEmail bool }
		}
	}
	env.MustDo(tb, token, `{ workspace { autoMerge { verifiedPhone verifiedEmail } } }`, nil, &data)
	return data.Workspace.AutoMerge.VerifiedPhone, data.Workspace.AutoMerge.VerifiedEmail
}

// amMerges returns the workspace's merges, newest first.
func amMerges(tb testing.TB, env *testenv.Env, token string) []gmMergeData {
	tb.Helper()
	var data struct {
		Merges struct{ Edges []struct{ Node gmMergeData } }
	}
	env.MustDo(tb, token, `{ merges(first: 100) { edges { node { `+gmMergeFields+` } } } }`, nil, &data)
	out := make([]gmMergeData, len(data.Merges.Edges))
	for i, e := range data.Merges.Edges {
		out[i] = e.Node
	}
	return out
}

// amWorld is a workspace with a WhatsApp, an SMS and an email channel.
type amWorld struct {
	ws                   *testenv.Workspace
	token                string
	whatsapp, sms, email string
}

func amSetup(t *testing.T, env *testenv.Env, name string, settings map[string]any) *amWorld {
	t.Helper()
	ws := env.Workspace(t, name)
	w := &amWorld{ws: ws, token: ws.Owner()}
	w.whatsapp = mgChannel(t, env, w.token, "WHATSAPP", "WhatsApp")
	w.sms = mgChannel(t, env, w.token, "SMS", "SMS")
	w.email = mgChannel(t, env, w.token, "EMAIL", "Mailbox")
	if settings != nil {
		if r := amSet(t, env, ws.Manager(), settings); len(r.Errors) > 0 {
			t.Fatalf("setAutoMerge: %+v", r.Errors)
		}
	}
	return w
}

// amWantMergedInto checks that a first message was merged at once into the holder: the
// answer names the holder, not a new contact; the newest merge is automatic, by no member,
// into the holder; no suggestion is open and one is MERGED; the events say so.
func amWantMergedInto(t *testing.T, env *testenv.Env, w *amWorld, r mgReceived, holder string, after int64) gmMergeData {
	t.Helper()
	mgWant(t, "contact of the first message", r.ContactID, holder)
	mgWant(t, "contactCreated", r.Created, false)
	merges := amMerges(t, env, w.token)
	if len(merges) == 0 {
		t.Fatalf("merges: none, want the automatic one")
	}
	m := merges[0]
	mgWant(t, "automatic", m.Automatic, true)
	if m.MergedBy != nil {
		t.Errorf("mergedBy: got %+v, want null", m.MergedBy)
	}
	mgWant(t, "primary", m.PrimaryContact.ID, holder)
	mgWant(t, "merged contacts", len(m.MergedContactIDs), 1)
	if mgSnapshot(t, env, w.token, m.MergedContactID) != nil {
		t.Errorf("the new contact %s: still there", m.MergedContactID)
	}
	mgWant(t, "open suggestions", len(mgOpenSuggestions(t, env, w.token)), 0)
	mgWant(t, "MERGED suggestions", len(mgSuggestions(t, env, w.token, "MERGED")), 1)
	// The message reached the holder's open conversation.
	if n := mgCount(t, env, `SELECT count(*) FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
		WHERE m.id = $1 AND cv.contact_id = $2 AND cv.status = 'OPEN'`, mgLocal(t, r.MessageID), mgLocal(t, holder)); n != 1 {
		t.Errorf("the first message: not in the holder's open conversation")
	}
	events, _ := mgEvents(t, env, w.ws.ID, after)
	for _, id := range []string{holder, m.MergedContactID} {
		if !mgHasEvent(events, "contact", "MERGED", mgLocal(t, id), "") {
			t.Errorf("events: no MERGED for %s in %+v", id, events)
		}
	}
	for _, typ := range []string{"CREATED", "RESOLVED"} {
		if !mgHasEvent(events, "mergeSuggestion", typ, "", "") {
			t.Errorf("events: no suggestion %s in %+v", typ, events)
		}
	}
	if mgHasEvent(events, "contact", "CREATED", "", "") {
		t.Errorf("events: a CREATED contact in %+v, want none", events)
	}
	return m
}

func TestAutoMerge(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("Settings", func(t *testing.T) {
		ws := env.Workspace(t, "Settings")
		if p, e := amSettings(t, env, ws.Agent()); p || e {
			t.Fatalf("defaults: got phone %v email %v, want both off", p, e)
		}
		fxWantError(t, amSet(t, env, ws.Agent(), map[string]any{"verifiedPhone": true}), "FORBIDDEN", "-")
		if p, _ := amSettings(t, env, ws.Owner()); p {
			t.Fatalf("verifiedPhone: on after an agent's refused change")
		}
		var data struct {
			SetAutoMerge struct {
				Workspace struct {
					AutoMerge struct{ VerifiedPhone, VerifiedEmail bool }
				}
			}
		}
		amSet(t, env, ws.Manager(), map[string]any{"verifiedPhone": true}).Decode(t, &data)
		if s := data.SetAutoMerge.Workspace.AutoMerge; !s.VerifiedPhone || s.VerifiedEmail {
			t.Errorf("after the manager's change: got %+v, want phone only", s)
		}
		amSet(t, env, ws.Owner(), map[string]any{"verifiedEmail": true})
		if p, e := amSettings(t, env, ws.Agent()); !p || !e {
			t.Errorf("after the owner's change: got phone %v email %v, want both (a setting left out stays)", p, e)
		}
		amSet(t, env, ws.Owner(), map[string]any{"verifiedPhone": false, "verifiedEmail": false})
		if p, e := amSettings(t, env, ws.Agent()); p || e {
			t.Errorf("after turning both off: got phone %v email %v", p, e)
		}
	})

	t.Run("WhatsApp", func(t *testing.T) {
		w := amSetup(t, env, "WhatsApp", map[string]any{"verifiedPhone": true})
		holder := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "phone": "+393331234567"})
		before := mgSnapshot(t, env, w.token, holder)
		last := mgLastSeq(t, env, w.ws.ID)
		r := mgReceive(t, env, w.token, w.whatsapp, "+393331234567", "ciao")
		m := amWantMergedInto(t, env, w, r, holder, last)
		after := mgSnapshot(t, env, w.token, holder)
		mgWant(t, "WhatsApp status", mgChannelOf(t, after, w.whatsapp)["status"], any("ACTIVE"))
		mgWantSlice(t, "messages", mgMessageIDs(after), append(mgMessageIDs(before), r.MessageID))
		// A second message goes to the holder as to any linked contact; no new merge.
		r2 := mgReceive(t, env, w.token, w.whatsapp, "+393331234567", "again")
		mgWant(t, "contact of the second message", r2.ContactID, holder)
		mgWant(t, "merges", len(amMerges(t, env, w.token)), 1)

		// Agents cannot undo it; managers can, at any time.
		fxWantError(t, mgTryUnmerge(t, env, w.ws.Agent(), m.ID), "FORBIDDEN", "mergeId")
		restored := gmUnmerge(t, env, w.ws.Manager(), m.ID)
		mgWantSlice(t, "restored", restored, []string{m.MergedContactID})
		mgSameSnapshot(t, "holder after the undo", mgSnapshot(t, env, w.token, holder), before, "updatedAt")
		back := mgSnapshot(t, env, w.token, m.MergedContactID)
		mgWant(t, "restored phone", mgStr(back, "phone"), "+393331234567")
		mgWant(t, "restored WhatsApp status", mgChannelOf(t, back, w.whatsapp)["status"], any("ACTIVE"))
		// Both messages came through the restored contact's identity: they follow it.
		mgWantSlice(t, "restored messages", mgMessageIDs(back), mgSorted(r.MessageID, r2.MessageID))
		// The pair is remembered as a dismissal: no suggestion of the two again.
		mgWant(t, "open suggestions after the undo", len(mgOpenSuggestions(t, env, w.token)), 0)

		// A member deletes the restored contact; the number writes again, for the first time
		// now: a new contact, not merged automatically into the holder a second time.
		env.MustDo(t, w.token, `mutation($ids: [ID!]!) { deleteContacts(input: {contactIds: $ids, expectedCount: 1}) { deletedContactIds } }`,
			map[string]any{"ids": []string{m.MergedContactID}}, nil)
		r3 := mgReceive(t, env, w.token, w.whatsapp, "+393331234567", "me again")
		mgWant(t, "contactCreated after the undo", r3.Created, true)
		if r3.ContactID == holder {
			t.Errorf("third first message: merged into the holder again")
		}
		mgWant(t, "merges after the undo", len(amMerges(t, env, w.token)), 1)
		mgWantOneSuggestion(t, env, w.token, []string{holder, r3.ContactID}, "PHONE:+393331234567")
	})

	t.Run("SMS", func(t *testing.T) {
		w := amSetup(t, env, "SMS", map[string]any{"verifiedPhone": true})
		holder := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "phones": []string{"+447911123456", "+393331234567"}})
		last := mgLastSeq(t, env, w.ws.ID)
		amWantMergedInto(t, env, w, mgReceive(t, env, w.token, w.sms, "+393331234567", "hi"), holder, last)
	})

	t.Run("Email", func(t *testing.T) {
		w := amSetup(t, env, "Email", map[string]any{"verifiedEmail": true})
		holder := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "email": "Ada@Example.com"})
		// The phone setting is off: a WhatsApp number another contact holds is suggested.
		phoneHolder := mgCreate(t, env, w.token, map[string]any{"firstName": "Bea", "phone": "+393330000001"})
		wa := mgReceive(t, env, w.token, w.whatsapp, "+393330000001", "hi")
		mgWant(t, "contactCreated on WhatsApp", wa.Created, true)
		mgWantOneSuggestion(t, env, w.token, []string{phoneHolder, wa.ContactID}, "PHONE:+393330000001")
		mgDismiss(t, env, w.token, mgOpenSuggestions(t, env, w.token)[0].ID)
		last := mgLastSeq(t, env, w.ws.ID)
		m := amWantMergedInto(t, env, w, mgReceive(t, env, w.token, w.email, "ada@example.com", "hello"), holder, last)
		mgWant(t, "emails", mgStr(mgSnapshot(t, env, w.token, holder), "email"), "Ada@Example.com")
		gmUnmerge(t, env, w.token, m.ID)
		mgWant(t, "open suggestions after the undo", len(mgOpenSuggestions(t, env, w.token)), 0)
	})

	t.Run("NotWithTwoHolders", func(t *testing.T) {
		w := amSetup(t, env, "Two", map[string]any{"verifiedPhone": true, "verifiedEmail": true})
		a := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "phone": "+393331234567"})
		b := mgCreate(t, env, w.token, map[string]any{"firstName": "Bea", "phone": "+393331234567"})
		r := mgReceive(t, env, w.token, w.whatsapp, "+393331234567", "ciao")
		mgWant(t, "contactCreated", r.Created, true)
		mgWant(t, "merges", len(amMerges(t, env, w.token)), 0)
		mgWantOneSuggestion(t, env, w.token, []string{a, b, r.ContactID}, "PHONE:+393331234567")
	})

	t.Run("NotWithABlockedHolder", func(t *testing.T) {
		w := amSetup(t, env, "Blocked", map[string]any{"verifiedPhone": true})
		a := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "phone": "+393331234567"})
		env.MustDo(t, w.token, `mutation($id: ID!) { blockContact(input: {contactId: $id}) { contact { id } } }`, map[string]any{"id": a}, nil)
		r := mgReceive(t, env, w.token, w.whatsapp, "+393331234567", "ciao")
		mgWant(t, "contactCreated", r.Created, true)
		mgWant(t, "merges", len(amMerges(t, env, w.token)), 0)
		mgWant(t, "blocked holder still there", mgSnapshot(t, env, w.token, a)["blocked"], any(true))
	})

	t.Run("NotWhenOff", func(t *testing.T) {
		w := amSetup(t, env, "Off", nil)
		a := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "phone": "+393331234567", "email": "ada@example.com"})
		r := mgReceive(t, env, w.token, w.whatsapp, "+393331234567", "ciao")
		mgWant(t, "contactCreated", r.Created, true)
		e := mgReceive(t, env, w.token, w.email, "ada@example.com", "hello")
		mgWant(t, "contactCreated on email", e.Created, true)
		mgWant(t, "merges", len(amMerges(t, env, w.token)), 0)
		mgWantOneSuggestion(t, env, w.token, []string{a, r.ContactID, e.ContactID}, "EMAIL:ada@example.com", "PHONE:+393331234567")
		// Turned off after being on: off again.
		amSet(t, env, w.ws.Owner(), map[string]any{"verifiedPhone": true})
		amSet(t, env, w.ws.Owner(), map[string]any{"verifiedPhone": false})
		b := mgCreate(t, env, w.token, map[string]any{"firstName": "Bea", "phone": "+393330000002"})
		r2 := mgReceive(t, env, w.token, w.sms, "+393330000002", "hi")
		mgWant(t, "contactCreated after off", r2.Created, true)
		mgWant(t, "merges after off", len(amMerges(t, env, w.token)), 0)
		_ = b
	})
}

// TestAutoMergeRacingSend: a member's first message to the holder on WhatsApp (which
// connects the number) races the number's own first message. Whichever commits first, both
// succeed, and every message ends up with the holder: the holder is locked before the
// message's link is written, as the send locks it, so neither waits for the other in a cycle.
func TestAutoMergeRacingSend(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	w := amSetup(t, env, "RacingSend", map[string]any{"verifiedPhone": true, "verifiedEmail": true})
	for round := range 8 {
		number := fmt.Sprintf("+39333555%04d", round)
		holder := mgCreate(t, env, w.token, map[string]any{"firstName": "Ada", "phone": number})
		var received mgReceived
		var sendErr, receiveErr []testenv.Error
		ccRun(t, 2, 30*time.Second, func(g int) {
			if g == 0 {
				r := env.Do(t, w.token, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { contact { id } message { id } } }`,
					map[string]any{"in": map[string]any{"channelId": w.whatsapp, "identifier": number, "text": "hi"}})
				receiveErr = r.Errors
				var data struct {
					ReceiveMessage struct {
						Contact struct{ ID string }
						Message struct{ ID string }
					}
				}
				if len(r.Errors) == 0 {
					r.Decode(t, &data)
					received = mgReceived{ContactID: data.ReceiveMessage.Contact.ID, MessageID: data.ReceiveMessage.Message.ID}
				}
				return
			}
			r := env.Do(t, w.token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }`,
				map[string]any{"in": map[string]any{"contactId": holder, "channelId": w.whatsapp, "text": "hello"}})
			sendErr = r.Errors
		})
		if len(receiveErr) > 0 || len(sendErr) > 0 {
			t.Fatalf("round %d: receive errors %+v, send errors %+v, want both to succeed", round, receiveErr, sendErr)
		}
		mgWant(t, fmt.Sprintf("round %d: contact of the first message", round), received.ContactID, holder)
		mgWant(t, fmt.Sprintf("round %d: messages of the holder", round), len(mgMessageIDs(mgSnapshot(t, env, w.token, holder))), 2)
	}
}
