package graph_test

// Tests of hostile ids and search texts: never INTERNAL, never a message or field that grows
// with the input, and the server answers normally next.

import (
	"encoding/base64"
	"strings"
	"testing"

	"rubrica/internal/testenv"
)

func TestHostileIDsAndSearch(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Hostile ids")
	contact := fxContact(t, env, ws.Owner(), "Ada")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	ids := map[string]string{
		"Raw40000":        strings.Repeat("A", 40_000),
		"Contact40000":    b64("Contact:" + strings.Repeat("x", 40_000)),
		"LongType":        b64(strings.Repeat("Contact", 30) + ":0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b"),
		"NULInID":         b64("Contact:0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b\x00"),
		"NotUTF8":         b64("Contact:\xff\xfe"),
		"NotAUUID":        b64("Contact:not-a-uuid"),
		"Garbage":         "!!!",
		"Empty":           "",
		"OtherTypesColon": b64("Tag:Contact:0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b"),
	}
	answering := func(t *testing.T) {
		t.Helper()
		var data struct{ Contact *struct{ ID string } }
		env.MustDo(t, ws.Owner(), `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": contact}, &data)
		if data.Contact == nil || data.Contact.ID != contact {
			t.Fatalf("the server no longer finds the contact: %+v", data.Contact)
		}
	}
	wantBounded := func(t *testing.T, name string, r *testenv.Response) {
		t.Helper()
		for _, e := range r.Errors {
			if e.Extensions.Code == "INTERNAL" {
				t.Errorf("%s: INTERNAL (%s)", name, e.Message)
			}
			if len(e.Message) > 200 || len(e.Extensions.Field) > 100 {
				t.Errorf("%s: message of %d bytes, field of %d: they grow with the input", name, len(e.Message), len(e.Extensions.Field))
			}
		}
	}
	for _, q := range []struct{ name, query, field string }{
		{"Node", `query($id: ID!) { node(id: $id) { id } }`, "id"},
		{"Contact", `query($id: ID!) { contact(id: $id) { id } }`, "-"},
		{"UpdateContact", `mutation($id: ID!) { updateContact(input: {id: $id, firstName: "X"}) { contact { id } } }`, "id"},
		{"FilterTagIDs", `query($id: ID!) { contacts(filter: {tagIds: [$id]}) { totalCount } }`, "-"},
		{"FilterAssignee", `query($id: ID!) { contacts(filter: {assigneeId: $id}) { totalCount } }`, "-"},
	} {
		t.Run(q.name, func(t *testing.T) {
			for name, id := range ids {
				r := env.Do(t, ws.Owner(), q.query, map[string]any{"id": id})
				wantBounded(t, name, r)
				if q.field != "-" {
					fxWantError(t, r, "NOT_FOUND", q.field)
				}
				answering(t)
			}
		})
	}
	t.Run("Search", func(t *testing.T) {
		long := strings.Repeat("a", 201)
		fxWantError(t, env.Do(t, ws.Owner(), `query($s: String) { contacts(filter: {search: $s}) { totalCount } }`,
			map[string]any{"s": long}), "BAD_USER_INPUT", "filter.search")
		fxWantError(t, env.Do(t, ws.Owner(), `query($s: String) { tags(search: $s) { totalCount } }`,
			map[string]any{"s": long}), "BAD_USER_INPUT", "search")
		fxWantError(t, env.Do(t, ws.Owner(), `query($s: String) { tags(search: $s) { totalCount } }`,
			map[string]any{"s": "a\x00"}), "BAD_USER_INPUT", "search")
		var data struct{ Contacts struct{ TotalCount int } }
		env.MustDo(t, ws.Owner(), `query($s: String) { contacts(filter: {search: $s}) { totalCount } }`,
			map[string]any{"s": strings.Repeat("a", 200)}, &data)
		answering(t)
	})
}
