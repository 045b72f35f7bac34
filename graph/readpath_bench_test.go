package graph_test

import (
	"context"
	"testing"

	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
)

// readListQuery is the list request of issue 10: a page of contacts with every field a
// contact list shows.
const readListQuery = `query($first: Int) { contacts(first: $first) { edges { node {
	id firstName lastName email phone country language
	assignee { id name }
	tags { id name }
	customFields { definition { key } value }
	channels { status identifier connectedAt channel { id name type } }
} } } }`

// readOneQuery is the single-contact request of issue 10.
const readOneQuery = `query($id: ID!) { contact(id: $id) { id firstName lastName email tags { id name } } }`

// readSeed inserts, with set-based statements, n contacts with an email, a phone and an
// assignee, three tags, three custom values and links on three of six channels each, and
// returns the global id of one contact.
func readSeed(tb testing.TB, env *testenv.Env, ws *testenv.Workspace, n int) string {
	tb.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO contacts (workspace_id, first_name, last_name, email, phone, country, language, assignee_id)
			SELECT $1, 'Read ' || i, 'Path', 'r' || i || '@read.test', '+4155501' || lpad(i::text, 4, '0'), 'US', 'en',
				(SELECT id FROM members WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 1)
			FROM generate_series(1, $2) AS i`,
		`INSERT INTO tags (workspace_id, name) SELECT $1, 'Read tag ' || i FROM generate_series(1, 3) AS i WHERE $2 > 0`,
		`INSERT INTO contact_tags (contact_id, tag_id) SELECT c.id, t.id FROM contacts c JOIN tags t ON t.workspace_id = c.workspace_id
			WHERE c.workspace_id = $1 AND $2 > 0`,
		`INSERT INTO custom_field_definitions (workspace_id, key, label, type)
			SELECT $1, 'read' || i, 'Read ' || i, 'TEXT' FROM generate_series(1, 3) AS i WHERE $2 > 0`,
		`INSERT INTO contact_custom_values (contact_id, definition_id, value)
			SELECT c.id, d.id, 'value ' || d.key FROM contacts c JOIN custom_field_definitions d ON d.workspace_id = c.workspace_id
			WHERE c.workspace_id = $1 AND $2 > 0`,
		`INSERT INTO channels (workspace_id, type, name)
			SELECT $1, t, 'Read ' || t FROM unnest(ARRAY['WHATSAPP', 'SMS', 'EMAIL', 'TELEGRAM', 'FACEBOOK', 'WEBCHAT']) AS t WHERE $2 > 0`,
		`INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
			SELECT $1, c.id, ch.id, c.id::text || '@' || ch.type, now(), now() FROM contacts c JOIN channels ch ON ch.workspace_id = c.workspace_id
			WHERE c.workspace_id = $1 AND ch.type IN ('TELEGRAM', 'FACEBOOK', 'WEBCHAT') AND $2 > 0`,
	} {
		if _, err := env.DB.ExecContext(ctx, q, ws.ID, n); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	var id string
	if err := env.DB.GetContext(ctx, &id, `SELECT id FROM contacts WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 1`, ws.ID); err != nil {
		tb.Fatal(err)
	}
	return globalid.Encode("Contact", id)
}

type readListData struct {
	Contacts struct {
		Edges []struct {
			Node struct {
				Tags         []struct{ ID string }
				CustomFields []struct{ Value string }
				Channels     []struct{ Status string }
			}
		}
	}
}

// BenchmarkReadPath measures, one request at a time through the real handler, the list
// request over 50 contacts (3 tags, 3 custom values, 6 channels with 3 links each) and
// contact(id) with its tags, and reports the statements each runs.
func BenchmarkReadPath(b *testing.B) {
	env := testenv.New(b)
	ws := env.Workspace(b, "Read")
	one := readSeed(b, env, ws, 50)
	list := map[string]any{"first": 50}
	var data readListData
	env.MustDo(b, ws.Agent(), readListQuery, list, &data)
	if n := len(data.Contacts.Edges); n != 50 {
		b.Fatalf("contacts: got %d, want 50", n)
	}
	for _, e := range data.Contacts.Edges {
		if len(e.Node.Tags) != 3 || len(e.Node.CustomFields) != 3 || len(e.Node.Channels) != 6 {
			b.Fatalf("contact: got %d tags, %d values, %d channels; want 3, 3, 6",
				len(e.Node.Tags), len(e.Node.CustomFields), len(e.Node.Channels))
		}
	}
	for _, c := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"contacts50", readListQuery, list},
		{"contact", readOneQuery, map[string]any{"id": one}},
	} {
		b.Run(c.name, func(b *testing.B) {
			env.MustDo(b, ws.Agent(), c.query, c.vars, nil)
			env.Counter.Reset()
			n := 0
			for b.Loop() {
				env.MustDo(b, ws.Agent(), c.query, c.vars, nil)
				n++
			}
			b.ReportMetric(float64(len(env.Counter.Statements()))/float64(n), "stmts/op")
		})
	}
}
