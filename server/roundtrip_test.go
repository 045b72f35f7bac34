package server_test

import (
	"strings"
	"testing"
)

// TestOneRoundTripPerStatementPerRequest: the reads of the requests the benchmark measures
// (a page of contacts with every batched field, one contact with its tags, a search with
// its total) wait for the database once per statement once the connections have prepared
// them (the first run of a statement on a connection prepares it: see db/stmtcache.go), and
// a token seen a moment ago not at all.
func TestOneRoundTripPerStatementPerRequest(t *testing.T) {
	t.Parallel()
	env := cachingEnv(t)
	ws := env.Workspace(t, "Trips")
	var ids []string
	for _, name := range []string{"Ada", "Grace", "Alan"} {
		ids = append(ids, createContact(t, env, ws.Owner(), map[string]any{"firstName": name}))
	}
	env.MustDo(t, ws.Owner(), `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { tags { id } } }`,
		map[string]any{"in": map[string]any{"contactIds": ids, "tagNames": []string{"VIP", "Lead"}}}, nil)
	for _, q := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"page", `{ contacts(first: 50) { edges { node { id assignee { name } tags { name contactCount } customFields { value } channels { status } } } } }`, nil},
		{"contact", `query($id: ID!) { contact(id: $id) { id tags { name } } }`, map[string]any{"id": ids[0]}},
		{"search", `{ contacts(first: 20, filter: {search: "a"}) { totalCount edges { node { id } } } }`, nil},
	} {
		env.MustDo(t, ws.Agent(), q.query, q.vars, nil) // the token is seen
		// The page runs two statements at once, on whichever two connections are free:
		// warm until every connection it uses has prepared what it runs there (twenty
		// requests leave a chance of 2^-20 that one has not), then every request waits once
		// per statement.
		for range 20 {
			env.MustDo(t, ws.Agent(), q.query, q.vars, nil)
		}
		var statements []string
		for range 3 {
			env.Counter.Reset()
			env.MustDo(t, ws.Agent(), q.query, q.vars, nil)
			statements = env.Counter.Statements()
			if trips := env.Counter.RoundTrips(); len(statements) == 0 || trips != len(statements) {
				t.Errorf("%s: %d round trips for %d statements %q, want one each", q.name, trips, len(statements), statements)
			}
		}
		for _, s := range statements {
			if strings.Contains(s, "api_tokens") {
				t.Errorf("%s: the token was looked up again: %s", q.name, s)
			}
		}
	}
}
