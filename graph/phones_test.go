package graph_test

import (
	"reflect"
	"testing"

	"rubrica/internal/testenv"
)

// The tests of several phones and emails per contact and of same-line phone forms (API.md,
// "Several phones and emails per contact", "Phone numbers that are the same line").

const phContactFields = `id phone phones email emails country`

type phContact struct {
	ID      string
	Phone   *string
	Phones  []string
	Email   *string
	Emails  []string
	Country *string
}

func phRead(tb testing.TB, env *testenv.Env, token, id string) phContact {
	tb.Helper()
	var data struct{ Contact phContact }
	env.MustDo(tb, token, `query($id: ID!) { contact(id: $id) { `+phContactFields+` } }`, map[string]any{"id": id}, &data)
	return data.Contact
}

func phWant(tb testing.TB, what string, got, want any) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestSeveralPhonesAndEmails(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Phones")
	tok := ws.Owner()
	phones := []string{"+393331234567", "+447911123456", "+5511987654321"}
	emails := []string{"Ada@Example.com", "ada@work.example"}
	id := mgCreate(t, env, tok, map[string]any{"firstName": "Ada", "phones": phones, "emails": emails})

	t.Run("RoundTrip", func(t *testing.T) {
		c := phRead(t, env, tok, id)
		phWant(t, "phones", c.Phones, phones)
		phWant(t, "emails", c.Emails, emails)
		phWant(t, "phone (the primary)", *c.Phone, phones[0])
		phWant(t, "email (the primary)", *c.Email, emails[0])
		phWant(t, "country (follows the primary phone)", *c.Country, "IT")
	})
	t.Run("BadEntryRefusedWithItsIndex", func(t *testing.T) {
		r := env.Do(t, tok, `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"id": id, "firstName": "Changed", "phones": []string{"+393331234567", "+39 333", "+447911123456"}}})
		fxWantError(t, r, "BAD_USER_INPUT", "phones.1")
		r = env.Do(t, tok, `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"id": id, "emails": []string{"a@x.io", "A@X.io"}}})
		fxWantError(t, r, "BAD_USER_INPUT", "emails.1")
		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = "+39333123456" + string(rune('0'+i%10))
		}
		r = env.Do(t, tok, `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"id": id, "phones": eleven}})
		fxWantError(t, r, "BAD_USER_INPUT", "phones")
		c := phRead(t, env, tok, id)
		phWant(t, "phones after refused changes", c.Phones, phones)
		phWant(t, "emails after refused changes", c.Emails, emails)
		var first struct{ Contact struct{ FirstName string } }
		env.MustDo(t, tok, `query($id: ID!) { contact(id: $id) { firstName } }`, map[string]any{"id": id}, &first)
		phWant(t, "firstName after a refused change", first.Contact.FirstName, "Ada")
	})
	t.Run("PrimaryAloneKeepsTheOthers", func(t *testing.T) {
		other := mgCreate(t, env, tok, map[string]any{"phones": []string{"+393331111111", "+393332222222"}})
		mgUpdate(t, env, tok, other, map[string]any{"phone": "+33612345678"})
		c := phRead(t, env, tok, other)
		phWant(t, "phones after a new primary", c.Phones, []string{"+33612345678", "+393332222222"})
		phWant(t, "country follows the primary", *c.Country, "FR")
		mgUpdate(t, env, tok, other, map[string]any{"phone": nil})
		c = phRead(t, env, tok, other)
		phWant(t, "phones after the primary is cleared", c.Phones, []string{"+393332222222"})
		phWant(t, "country follows the next primary", *c.Country, "IT")
	})
	t.Run("SearchFindsEveryValue", func(t *testing.T) {
		for _, term := range []string{"+44 7911 123456", "ada@work"} {
			var data struct {
				Contacts struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			env.MustDo(t, tok, `query($s: String!) { contacts(first: 5, filter: {search: $s}) { edges { node { id } } } }`,
				map[string]any{"s": term}, &data)
			if len(data.Contacts.Edges) != 1 || data.Contacts.Edges[0].Node.ID != id {
				t.Errorf("search %q: got %+v, want the contact", term, data.Contacts.Edges)
			}
		}
	})
}

// TestSecondValueMakesADuplicate: A (p1, p2) and B (primary p2) form a suggestion; the merge
// keeps p1, p2 and B's emails on A, and the undo restores both exactly.
func TestSecondValueMakesADuplicate(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Second")
	tok := ws.Owner()
	a := mgCreate(t, env, tok, map[string]any{"firstName": "Ada", "phones": []string{"+393331000001", "+393331000002"}, "email": "ada@example.com"})
	b := mgCreate(t, env, tok, map[string]any{"firstName": "Bea", "phone": "+393331000002", "emails": []string{"bea@example.com", "b@work.example"}})
	s := mgWantOneSuggestion(t, env, tok, []string{a, b}, "PHONE:+393331000002")
	_ = s
	beforeA, beforeB := mgSnapshot(t, env, tok, a), mgSnapshot(t, env, tok, b)

	m := mgMerge(t, env, tok, a, b)
	c := phRead(t, env, tok, a)
	phWant(t, "merged phones", c.Phones, []string{"+393331000001", "+393331000002"})
	phWant(t, "merged emails", c.Emails, []string{"ada@example.com", "bea@example.com", "b@work.example"})

	mgUnmerge(t, env, tok, m.ID)
	mgSameSnapshot(t, "A after the undo", mgSnapshot(t, env, tok, a), beforeA, "updatedAt")
	mgSameSnapshot(t, "B after the undo", mgSnapshot(t, env, tok, b), beforeB)

	t.Run("SecondaryPrimaryChosen", func(t *testing.T) {
		m := mgMerge(t, env, tok, a, b, mgChoice{"phone", "SECONDARY"}, mgChoice{"email", "SECONDARY"})
		c := phRead(t, env, tok, a)
		phWant(t, "phones, the secondary's chosen", c.Phones, []string{"+393331000002", "+393331000001"})
		phWant(t, "emails, the secondary's chosen", c.Emails, []string{"bea@example.com", "ada@example.com", "b@work.example"})
		// An email added since stays; the values the merge brought go back with B.
		mgUpdate(t, env, tok, a, map[string]any{"emails": []string{"bea@example.com", "ada@example.com", "b@work.example", "new@example.com"}})
		mgUnmerge(t, env, tok, m.ID)
		c = phRead(t, env, tok, a)
		phWant(t, "phones after the undo", c.Phones, []string{"+393331000001", "+393331000002"})
		phWant(t, "emails after the undo, edited since", c.Emails, []string{"ada@example.com", "new@example.com"})
		phWant(t, "B's emails after the undo", phRead(t, env, tok, b).Emails, []string{"bea@example.com", "b@work.example"})
	})
}

// phDuplicateValues returns the values a contact shares, as "FIELD:value".
func phDuplicateValues(tb testing.TB, env *testenv.Env, token, id string) []string {
	tb.Helper()
	var data struct {
		Contact struct {
			DuplicateValues []struct{ Field, Value string }
		}
	}
	env.MustDo(tb, token, `query($id: ID!) { contact(id: $id) { duplicateValues { field value } } }`, map[string]any{"id": id}, &data)
	var out []string
	for _, m := range data.Contact.DuplicateValues {
		out = append(out, m.Field+":"+m.Value)
	}
	return out
}

func TestSameLinePhones(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for _, tc := range []struct {
		name, stored, inbound, key string
		same                       bool
	}{
		{"BrazilNinthDigit", "+5511987654321", "+551187654321", "PHONE:+5511987654321", true},
		{"MexicoOldOne", "+525512345678", "+5215512345678", "PHONE:+525512345678", true},
		{"SaoPauloLandline", "+551132345678", "+5511932345678", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := env.Workspace(t, tc.name)
			tok := ws.Owner()
			wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
			a := mgCreate(t, env, tok, map[string]any{"firstName": "Ada", "phone": tc.stored})
			r := mgReceive(t, env, tok, wa, tc.inbound, "olá")
			if !r.Created {
				t.Fatalf("receiveMessage from %s: got no new contact, want one", tc.inbound)
			}
			if !tc.same {
				if open := mgOpenSuggestions(t, env, tok); len(open) != 0 {
					t.Errorf("suggestions: got %+v, want none", open)
				}
				return
			}
			mgWantOneSuggestion(t, env, tok, []string{a, r.ContactID}, tc.key)
			phWant(t, "duplicateValues (the current form)", phDuplicateValues(t, env, tok, a), []string{tc.key})
			c := phRead(t, env, tok, r.ContactID)
			phWant(t, "the new contact's phone (the current form)", c.Phones, []string{tc.key[len("PHONE:"):]})
			var ch struct {
				Contact struct {
					Channels []struct{ Identifier *string }
				}
			}
			env.MustDo(t, tok, `query($id: ID!) { contact(id: $id) { channels { identifier } } }`, map[string]any{"id": r.ContactID}, &ch)
			phWant(t, "the identity's identifier (as it came)", *ch.Contact.Channels[0].Identifier, tc.inbound)
			// The stored number is never rewritten.
			phWant(t, "A's phone", phRead(t, env, tok, a).Phones, []string{tc.stored})
		})
	}
	t.Run("ArgentinaTwoContacts", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Argentina")
		tok := ws.Owner()
		a := mgCreate(t, env, tok, map[string]any{"phone": "+541123456789"})
		b := mgCreate(t, env, tok, map[string]any{"phone": "+5491123456789"})
		mgWantOneSuggestion(t, env, tok, []string{a, b}, "PHONE:+5491123456789")
		phWant(t, "A's phone", phRead(t, env, tok, a).Phones, []string{"+541123456789"})
	})
	t.Run("CreateRefusesTheOldForm", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Old form")
		r := env.Do(t, ws.Owner(), `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"phones": []string{"+393331234567", "+551187654321"}}})
		fxWantError(t, r, "BAD_USER_INPUT", "phones.1")
	})
}

func TestSendMessageIdentifier(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Send")
	tok := ws.Owner()
	wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
	id := mgCreate(t, env, tok, map[string]any{"phones": []string{"+393331234567", "+393337654321"}})
	send := func(identifier string) *testenv.Response {
		return env.Do(t, tok, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { identifier } } }`,
			map[string]any{"in": map[string]any{"contactId": id, "channelId": wa, "identifier": identifier, "text": "ciao"}})
	}
	fxWantError(t, send("+447911123456"), "BAD_USER_INPUT", "identifier")
	var data struct {
		SendMessage struct{ Message struct{ Identifier string } }
	}
	r := send("+393337654321")
	r.Decode(t, &data)
	if len(r.Errors) > 0 || data.SendMessage.Message.Identifier != "+393337654321" {
		t.Fatalf("sendMessage with the second phone: got %+v, %+v, want it connected", data, r.Errors)
	}
}
