package graph_test

// Tests of hostile cursors on every list that takes one: each malformed cursor is
// BAD_USER_INPUT about its argument before any SQL, and the server answers normally next.

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"rubrica/internal/testenv"
)

// cuCursor makes a cursor as the server does: base64url of {"o":order,"k":key,"i":id}.
func cuCursor(order, key, id string) string {
	b, _ := json.Marshal(map[string]string{"o": order, "k": key, "i": id})
	return base64.RawURLEncoding.EncodeToString(b)
}

const cuID = "0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b"

// cuList is one list with cursors: its order name in cursors, its key type, and a query whose
// $c is the cursor given as arg.
type cuList struct {
	name, order string
	textKey     bool
	query       func(arg string) string
	vars        map[string]any
}

func cuLists(contactID, conversationID string) []cuList {
	contacts := func(orderBy string) func(string) string {
		return func(arg string) string {
			size := "first"
			if arg == "before" {
				size = "last"
			}
			return `query($c: String) { contacts(` + size + `: 2, ` + arg + `: $c` + orderBy + `) { totalCount edges { cursor } } }`
		}
	}
	after := func(q string) func(string) string {
		return func(string) string { return q }
	}
	return []cuList{
		{name: "ContactsCreatedAt", order: "CREATED_AT", query: contacts("")},
		{name: "ContactsCreatedAtAsc", order: "CREATED_AT", query: contacts(`, orderBy: {field: CREATED_AT, direction: ASC}`)},
		{name: "ContactsUpdatedAt", order: "UPDATED_AT", query: contacts(`, orderBy: {field: UPDATED_AT, direction: DESC}`)},
		{name: "ContactsName", order: "NAME", textKey: true, query: contacts(`, orderBy: {field: NAME, direction: ASC}`)},
		{name: "ContactsNameDesc", order: "NAME", textKey: true, query: contacts(`, orderBy: {field: NAME, direction: DESC}`)},
		{name: "Tags", order: "TAG", textKey: true, query: after(`query($c: String) { tags(first: 2, after: $c) { totalCount } }`)},
		{name: "Merges", order: "MERGE", query: after(`query($c: String) { merges(first: 2, after: $c) { totalCount } }`)},
		{name: "MergeSuggestions", order: "SUGGESTION", query: after(`query($c: String) { mergeSuggestions(first: 2, after: $c) { totalCount } }`)},
		{name: "Conversations", order: "CONVERSATION", vars: map[string]any{"id": contactID},
			query: after(`query($id: ID!, $c: String) { contact(id: $id) { conversations(first: 2, after: $c) { totalCount } } }`)},
		{name: "Messages", order: "MESSAGE", vars: map[string]any{"id": conversationID},
			query: after(`query($id: ID!, $c: String) { node(id: $id) { ... on Conversation { messages(first: 2, after: $c) { totalCount } } } }`)},
	}
}

func TestHostileCursors(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Cursors")
	channel := chCreateChannel(t, env, ws.Owner(), "TELEGRAM", "Telegram")
	rec := cvReceive(t, env, ws.Owner(), map[string]any{"channelId": channel, "identifier": "tg-cursors", "text": "hello"})
	fxTag(t, env, ws.Owner(), "Cursor tag")
	otherList := cuCursor("NOT_A_LIST", "2026-01-01T00:00:00Z", cuID)

	// wantAnswering fails unless the server answers a normal request.
	wantAnswering := func(t *testing.T) {
		t.Helper()
		var data struct{ Contacts struct{ TotalCount int } }
		env.MustDo(t, ws.Owner(), `{ contacts(first: 1) { totalCount } }`, nil, &data)
		if data.Contacts.TotalCount != 1 {
			t.Errorf("totalCount after the hostile cursor: got %d, want 1", data.Contacts.TotalCount)
		}
	}

	for _, l := range cuLists(rec.Contact.ID, rec.Conversation.ID) {
		args := []string{"after"}
		if strings.HasPrefix(l.name, "Contacts") {
			args = append(args, "before")
		}
		hostile := map[string]string{
			"Key40000":       cuCursor(l.order, strings.Repeat("x", 40_000), cuID),
			"Raw40000":       strings.Repeat("A", 40_000),
			"NULKey":         cuCursor(l.order, "\x00", cuID),
			"NULInKey":       cuCursor(l.order, "2026-01-01T00:00:00Z\x00", cuID),
			"NULInDate":      cuCursor(l.order, "2026-01-01\x00", cuID),
			"WrongOrder":     otherList,
			"GarbageBase64":  "!!not base64!!",
			"NotJSON":        base64.RawURLEncoding.EncodeToString([]byte("not json")),
			"KeyNotAString":  base64.RawURLEncoding.EncodeToString([]byte(`{"o":"` + l.order + `","k":5,"i":"` + cuID + `"}`)),
			"BadID":          cuCursor(l.order, "2026-01-01T00:00:00Z", "not-an-id"),
			"ID40000":        cuCursor(l.order, "2026-01-01T00:00:00Z", strings.Repeat("1", 40_000)),
			"EmptyCursor":    "",
			"KeyLongestText": cuCursor(l.order, strings.Repeat("é", 1025), cuID),
		}
		// Keys that are no timestamp are positions in a list by name: there they are valid.
		valid := map[string]string{
			"Year1":     cuCursor(l.order, "0001-01-01T00:00:00Z", cuID),
			"Year9999":  cuCursor(l.order, "9999-12-31T23:59:59.999999999Z", cuID),
			"OffsetUTC": cuCursor(l.order, "2026-01-01T00:00:00+14:00", cuID),
		}
		timeOnly := map[string]string{
			"NotATime":  cuCursor(l.order, "not-a-time", cuID),
			"EmptyKey":  cuCursor(l.order, "", cuID),
			"YearZero":  cuCursor(l.order, "0001-01-01T00:30:00+01:00", cuID), // year 0 in UTC
			"Year10000": cuCursor(l.order, "10000-01-01T00:00:00Z", cuID),
		}
		for name, c := range timeOnly {
			if l.textKey {
				valid[name] = c
			} else {
				hostile[name] = c
			}
		}
		for _, arg := range args {
			t.Run(l.name+"/"+arg, func(t *testing.T) {
				for name, c := range hostile {
					vars := map[string]any{"c": c}
					for k, v := range l.vars {
						vars[k] = v
					}
					r := env.Do(t, ws.Owner(), l.query(arg), vars)
					if len(r.Errors) == 0 {
						t.Errorf("%s: no error, data %s", name, r.Data)
						continue
					}
					if r.Code() != "BAD_USER_INPUT" || r.Field() != arg {
						t.Errorf("%s: got %s about %q (%s), want BAD_USER_INPUT about %s", name, r.Code(), r.Field(), r.Errors[0].Message, arg)
					}
					if len(r.Errors[0].Message) > 200 {
						t.Errorf("%s: the message grows with the input: %d bytes", name, len(r.Errors[0].Message))
					}
					wantAnswering(t)
				}
				for name, c := range valid {
					vars := map[string]any{"c": c}
					for k, v := range l.vars {
						vars[k] = v
					}
					if r := env.Do(t, ws.Owner(), l.query(arg), vars); len(r.Errors) > 0 {
						t.Errorf("%s: a well-formed cursor: got %s (%s), want a page", name, r.Code(), r.Errors[0].Message)
					}
				}
			})
		}
	}
}
