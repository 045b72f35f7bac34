package graph_test

import (
	"testing"
	"time"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// contactFields selects every batched field of a contact that a prefetch serves.
const contactFields = `id tags { name contactCount } customFields { value definition { key } } assignee { name }
	channels { status channel { name } } conversationStatus workflowRuns { id } mergeSuggestions { id }
	duplicateValues { field }`

// TestSingleContactPaysNoLoaderWait sends requests for one contact with every batched field
// to a server whose loaders wait an hour before they run a batch: each answers, because the
// parent (contact, node, a mutation payload) prefetches what its selection needs.
func TestSingleContactPaysNoLoaderWait(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(cfg *server.Config) { cfg.LoaderWait = time.Hour })
	ws := env.Workspace(t, "Wait")
	id := readSeed(t, env, ws, 3) // in SQL: viewer, which the fixtures use, goes through a loader
	for _, c := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"contact", `query($id: ID!) { contact(id: $id) { ` + contactFields + ` } }`, map[string]any{"id": id}},
		{"node", `query($id: ID!) { node(id: $id) { ... on Contact { ` + contactFields + ` } } }`, map[string]any{"id": id}},
		{"contacts", `{ contacts(first: 3) { edges { node { ` + contactFields + ` } } } }`, nil},
		{"createContact", `mutation { createContact(input: {firstName: "Made"}) { contact { ` + contactFields + ` } } }`, nil},
		{"updateContact", `mutation($id: ID!) { updateContact(input: {id: $id, lastName: "Changed"}) { contact { ` + contactFields + ` } } }`,
			map[string]any{"id": id}},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan *testenv.Response, 1)
			go func() { done <- env.Do(t, ws.Owner(), c.query, c.vars) }()
			select {
			case r := <-done:
				if len(r.Errors) > 0 {
					t.Fatalf("errors: %+v", r.Errors)
				}
			case <-time.After(time.Minute):
				t.Fatal("no answer: a field waited for its loader's batch")
			}
		})
	}
}
