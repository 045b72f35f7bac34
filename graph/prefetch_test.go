package graph_test

import (
	"strings"
	"testing"
	"time"

	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// contactFields selects every batched field of a contact that a prefetch serves.
const contactFields = `id tags { name contactCount } customFields { value definition { key } } assignee { name }
	channels { status channel { name } } conversationStatus workflowRuns { id } mergeSuggestions { id }
	duplicateValues { field }`

// TestSingleContactPaysNoLoaderWait sends requests for one contact with every batched field
// to a server whose loaders wait an hour before they run a batch: each answers, because the
// parent (contact, node, a mutation payload) prefetches what its selection needs, or its
// mutation read it in its transaction.
func TestSingleContactPaysNoLoaderWait(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(cfg *server.Config) { cfg.LoaderWait = time.Hour })
	ws := env.Workspace(t, "Wait")
	id := readSeed(t, env, ws, 3) // in SQL: viewer, which the fixtures use, goes through a loader
	var other, tag, channel string
	for q, dst := range map[string]*string{
		`SELECT id FROM contacts WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`: &other,
		`SELECT id FROM tags WHERE workspace_id = $1 ORDER BY name LIMIT 1`:                         &tag,
		`SELECT id FROM channels WHERE workspace_id = $1 AND type = 'TELEGRAM'`:                     &channel,
	} {
		if err := env.DB.GetContext(t.Context(), dst, q, ws.ID); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]any{"id": id, "other": globalid.Encode("Contact", other),
		"tag": globalid.Encode("Tag", tag), "channel": globalid.Encode("Channel", channel)}
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
		{"addTagsToContacts", `mutation($id: ID!) { addTagsToContacts(input: {contactIds: [$id], tagNames: ["Waits"]}) {
			contacts { id tags { name contactCount } customFields { value } assignee { name } channels { status } } } }`,
			map[string]any{"id": id}},
		{"removeTagFromContact", `mutation($id: ID!, $tag: ID!) { removeTagFromContact(input: {contactId: $id, tagId: $tag}) {
			contact { ` + contactFields + ` } } }`, ids},
		{"removeContactChannel", `mutation($id: ID!, $channel: ID!) { removeContactChannel(input: {contactId: $id, channelId: $channel}) {
			contact { ` + contactFields + ` } } }`, ids},
		{"mergeContacts", `mutation($id: ID!, $other: ID!) { mergeContacts(input: {primaryContactId: $id, secondaryContactId: $other}) {
			contact { ` + contactFields + ` } } }`, ids},
		{"unmergeContacts", `mutation { unmergeContacts(input: {mergeId: "MERGE"}) {
			primaryContact { ` + contactFields + ` } restoredContact { ` + contactFields + ` } } }`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "unmergeContacts" {
				var merge string
				if err := env.DB.GetContext(t.Context(), &merge, `SELECT id FROM merges WHERE workspace_id = $1`, ws.ID); err != nil {
					t.Fatal(err)
				}
				c.query = strings.Replace(c.query, "MERGE", globalid.Encode("Merge", merge), 1)
			}
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

// TestSingleContactStatements: contact(id) and node(id) read the contact with the lists its
// selection names in one statement (the token lookup aside); tag counts take one more, and a
// field that is not a list (workflowRuns) its own.
func TestSingleContactStatements(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "One")
	id := readSeed(t, env, ws, 3)
	for _, c := range []struct {
		name, selection string
		want            int
	}{
		{"no lists", `id firstName`, 1},
		{"tags", `id firstName tags { id name }`, 1},
		{"every list", `id tags { name } customFields { value definition { key } } assignee { name } channels { status channel { name } }`, 1},
		{"tag counts", `id tags { name contactCount }`, 2},
		{"a list and a prefetch", `id tags { name } workflowRuns { id }`, 2},
	} {
		for _, q := range []string{
			`query($id: ID!) { contact(id: $id) { ` + c.selection + ` } }`,
			`query($id: ID!) { node(id: $id) { ... on Contact { ` + c.selection + ` } } }`,
		} {
			env.Counter.Reset()
			env.MustDo(t, ws.Agent(), q, map[string]any{"id": id}, nil)
			var got []string
			for _, s := range env.Counter.Statements() {
				if !strings.Contains(s, "api_tokens") {
					got = append(got, s)
				}
			}
			if len(got) != c.want {
				t.Errorf("%s: %d statements, want %d:\n%s", q, len(got), c.want, strings.Join(got, "\n"))
			}
		}
	}
	theirs := readSeed(t, env, env.Workspace(t, "Other"), 1)
	for what, id := range map[string]string{"an unknown contact": globalid.Encode("Contact", "00000000-0000-0000-0000-000000000000"),
		"another workspace's contact": theirs} {
		r := env.Do(t, ws.Agent(), `query($id: ID!) { contact(id: $id) { id tags { name } channels { status } } }`, map[string]any{"id": id})
		if len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "NOT_FOUND" {
			t.Errorf("%s with its lists: got %+v, want NOT_FOUND", what, r.Errors)
		}
	}
}
