package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rubrica/graph"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// pageQuery selects every batched field of a contact: tags with their counts (a second
// nested level), custom values with their definitions, and the assignee.
const pageQuery = `query($first: Int) { contacts(first: $first) { edges { node {
	id
	tags { name contactCount }
	customFields { value definition { key } }
	assignee { name }
} } } }`

type pageData struct {
	Contacts struct {
		Edges []struct {
			Node struct {
				ID   string
				Tags []struct {
					Name         string
					ContactCount int
				}
				CustomFields []struct {
					Value      *string
					Definition struct{ Key string }
				}
				Assignee *struct{ Name string }
			}
		}
	}
}

// seedContacts makes a workspace with n contacts, each with three tags (one shared by all,
// one of five groups, one of its own), two custom values and an assignee, and returns it.
func seedContacts(tb testing.TB, env *testenv.Env, name string, n int) *testenv.Workspace {
	tb.Helper()
	ws := env.Workspace(tb, name)
	fxDefinition(tb, env, ws.Owner(), "plan", "LIST", "Free", "Pro")
	fxDefinition(tb, env, ws.Owner(), "score", "NUMBER")
	assignees := []string{fxViewerID(tb, env, ws.Manager()), fxViewerID(tb, env, ws.Agent())}
	ids := fxContacts(tb, env, ws.Owner(), n, func(i int) map[string]any {
		return map[string]any{
			"firstName":  fmt.Sprintf("Contact %03d", i),
			"assigneeId": assignees[i%2],
			"customFields": []map[string]any{
				{"key": "plan", "value": []string{"Free", "Pro"}[i%2]},
				{"key": "score", "value": fmt.Sprint(i)},
			},
		}
	})
	const add = `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { tags { id } } }`
	env.MustDo(tb, ws.Owner(), add, map[string]any{"in": map[string]any{"contactIds": ids, "tagNames": []string{"All"}}}, nil)
	groups := map[int][]string{}
	for i, id := range ids {
		groups[i%5] = append(groups[i%5], id)
	}
	for g, members := range groups {
		env.MustDo(tb, ws.Owner(), add, map[string]any{"in": map[string]any{
			"contactIds": members, "tagNames": []string{fmt.Sprintf("Group %d", g)}}}, nil)
	}
	var params, fields []string
	vars := map[string]any{}
	for i, id := range ids {
		params = append(params, fmt.Sprintf("$in%d: AddTagsToContactsInput!", i))
		fields = append(fields, fmt.Sprintf("t%d: addTagsToContacts(input: $in%d) { tags { id } }", i, i))
		vars[fmt.Sprintf("in%d", i)] = map[string]any{"contactIds": []string{id}, "tagNames": []string{fmt.Sprintf("Own %03d", i)}}
	}
	env.MustDo(tb, ws.Owner(), "mutation("+strings.Join(params, ", ")+") {\n"+strings.Join(fields, "\n")+"\n}", vars, nil)
	return ws
}

// MaxPageStatements is the most SQL statements a page of contacts with tags, tag counts,
// custom values and assignees may take: authentication, the page, the contacts' lists (two
// statements for all of them, graph/prefetch.go) and the tags' counts.
const maxPageStatements = 5

func TestContactsPageStatementCount(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	one := seedContacts(t, env, "One", 1)
	hundred := seedContacts(t, env, "Hundred", 100)

	// run sends the page query and returns the statements it ran; it checks that every
	// contact came with its tags, counts, values and assignee, so that a low count is real.
	run := func(t *testing.T, ws *testenv.Workspace, first, total int) []string {
		t.Helper()
		env.Counter.Reset()
		var data pageData
		env.MustDo(t, ws.Agent(), pageQuery, map[string]any{"first": first}, &data)
		statements := env.Counter.Statements()
		if got, want := len(data.Contacts.Edges), min(first, total); got != want {
			t.Fatalf("contacts: got %d, want %d", got, want)
		}
		for _, e := range data.Contacts.Edges {
			c := e.Node
			if len(c.Tags) != 3 || len(c.CustomFields) != 2 || c.Assignee == nil || c.Assignee.Name == "" {
				t.Fatalf("contact %s: got tags %+v, custom fields %+v, assignee %+v; want 3 tags, 2 values, an assignee",
					c.ID, c.Tags, c.CustomFields, c.Assignee)
			}
			for _, tag := range c.Tags {
				want := 1 // Own ...
				switch {
				case tag.Name == "All":
					want = total
				case strings.HasPrefix(tag.Name, "Group"):
					want = max(total/5, 1)
				}
				if tag.ContactCount != want {
					t.Fatalf("contact %s: tag %s.contactCount: got %d, want %d", c.ID, tag.Name, tag.ContactCount, want)
				}
			}
			if c.CustomFields[0].Definition.Key != "plan" || c.CustomFields[1].Definition.Key != "score" {
				t.Fatalf("contact %s: custom fields %+v, want plan then score", c.ID, c.CustomFields)
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
	if len(base) > maxPageStatements {
		t.Errorf("statements for 1 contact: got %d, want at most %d:%s", len(base), maxPageStatements, dump(base))
	}
	for _, c := range []struct {
		name  string
		first int
	}{
		{"First100", 100},
		{"First50", 50},
		{"First1", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, hundred, c.first, 100)
			if len(got) != len(base) {
				t.Errorf("statements for %d contacts: got %d, want %d as for 1 contact:%s\nfor 1 contact:%s",
					c.first, len(got), len(base), dump(got), dump(base))
			}
			if len(got) > maxPageStatements {
				t.Errorf("statements for %d contacts: got %d, want at most %d:%s", c.first, len(got), maxPageStatements, dump(got))
			}
		})
	}

	t.Run("First50OneContact", func(t *testing.T) {
		if got := run(t, one, 50, 1); len(got) != len(base) {
			t.Errorf("statements: got %d, want %d:%s", len(got), len(base), dump(got))
		}
	})

	// Only the fields a query selects are fetched, however they are selected.
	for _, c := range []struct {
		name, node string
		want       int    // statements: authentication and the page, the lists, the tag counts
		fragments  string // fragment definitions the node selection uses
	}{
		{"NoBatchedFields", `id displayName`, 2, ""},
		{"TagNamesOnly", `tags { name }`, 3, ""},
		{"TagCounts", `tags { contactCount }`, 4, ""},
		{"AssigneeOnly", `assignee { name }`, 3, ""},
		{"CustomFieldsOnly", `customFields { value }`, 3, ""},
		{"Skipped", `tags @skip(if: true) { name } assignee @include(if: false) { name } customFields { value }`, 3, ""},
		{"Fragments", `...C`, 5, `fragment C on Contact { tags { ...T } customFields { value } assignee { name } }
			fragment T on Tag { contactCount }`},
		{"InlineFragment", `... on Contact { tags { name contactCount } assignee { name } customFields { value } }`, 5, ""},
		{"EveryList", `tags { id name } customFields { value definition { key } } assignee { id name }
			channels { status identifier connectedAt channel { id name type } }`, 4, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			env.Counter.Reset()
			var data pageData
			env.MustDo(t, hundred.Agent(), `{ contacts(first: 100) { edges { node { `+c.node+` } } } } `+c.fragments, nil, &data)
			got := env.Counter.Statements()
			if len(data.Contacts.Edges) != 100 {
				t.Fatalf("contacts: got %d, want 100", len(data.Contacts.Edges))
			}
			if len(got) != c.want {
				t.Errorf("statements: got %d, want %d:%s", len(got), c.want, dump(got))
			}
		})
	}
}

// TestLoaderBatchBeyondPageSize checks that a loader whose keys are not bounded by the page
// size runs one batch however many keys a request has: 120 tags of two lists need one count.
// The wait is long, so that every key arrives within it however busy the machine.
func TestLoaderBatchBeyondPageSize(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(cfg *server.Config) {
		cfg.LoaderWait = 200 * time.Millisecond
		cfg.Limits.MaxAliases = 120 // the tags are created in one request
	})
	ws := env.Workspace(t, "Many tags")
	var params, fields []string
	vars := map[string]any{}
	for i := range 120 {
		params = append(params, fmt.Sprintf("$in%d: CreateTagInput!", i))
		fields = append(fields, fmt.Sprintf("t%d: createTag(input: $in%d) { tag { id } }", i, i))
		vars[fmt.Sprintf("in%d", i)] = map[string]any{"name": fmt.Sprintf("%c%03d", "ab"[i%2], i)}
	}
	env.MustDo(t, ws.Owner(), "mutation("+strings.Join(params, ", ")+") {\n"+strings.Join(fields, "\n")+"\n}", vars, nil)

	env.Counter.Reset()
	var data map[string]struct {
		Edges []struct{ Node struct{ ContactCount int } }
	}
	env.MustDo(t, ws.Agent(), `{
		a: tags(search: "a", first: 100) { edges { node { contactCount } } }
		b: tags(search: "b", first: 100) { edges { node { contactCount } } } }`, nil, &data)
	if len(data["a"].Edges)+len(data["b"].Edges) != 120 {
		t.Fatalf("tags: got %d and %d, want 60 and 60", len(data["a"].Edges), len(data["b"].Edges))
	}
	counts := 0
	for _, s := range env.Counter.Statements() {
		if strings.Contains(s, "count(ct.contact_id)") {
			counts++
		}
	}
	if counts != 1 {
		t.Errorf("contact count statements for 120 tags: got %d, want 1:\n%s", counts, strings.Join(env.Counter.Statements(), "\n"))
	}
}

// loaderWaits are the waits the benchmarks compare; 0 is the default.
var loaderWaits = []struct {
	name string
	wait time.Duration
}{
	{"default=" + graph.DefaultLoaderWait.String(), 0},
	{"wait=0.5ms", 500 * time.Microsecond},
	{"wait=2ms", 2 * time.Millisecond},
	{"wait=16ms", 16 * time.Millisecond},
}

// BenchmarkContactsPage measures one request for a page of 100 contacts with their tags, tag
// counts, custom values and assignees, for the default loader wait and for other waits. The
// page is prefetched, so the wait should not show here (see BenchmarkTagsPage).
func BenchmarkContactsPage(b *testing.B) {
	for _, c := range loaderWaits {
		b.Run(c.name, func(b *testing.B) {
			env := testenv.NewWithConfig(b, func(cfg *server.Config) { cfg.LoaderWait = c.wait })
			ws := seedContacts(b, env, "Bench", 100)
			vars := map[string]any{"first": 100}
			var data pageData
			env.MustDo(b, ws.Agent(), pageQuery, vars, &data) // warm the connection pool and caches
			if len(data.Contacts.Edges) != 100 {
				b.Fatalf("contacts: got %d, want 100", len(data.Contacts.Edges))
			}
			env.Counter.Reset()
			n := 0
			for b.Loop() {
				env.MustDo(b, ws.Agent(), pageQuery, vars, nil)
				n++
			}
			b.ReportMetric(float64(len(env.Counter.Statements()))/float64(n), "stmts/op")
		})
	}
}

// BenchmarkTagsPage measures a list whose nested field goes through a timed loader batch:
// 100 tags with their contact counts. It pays the loader wait once.
func BenchmarkTagsPage(b *testing.B) {
	for _, c := range loaderWaits {
		b.Run(c.name, func(b *testing.B) {
			env := testenv.NewWithConfig(b, func(cfg *server.Config) { cfg.LoaderWait = c.wait })
			ws := seedContacts(b, env, "Bench", 100) // 106 tags
			const q = `{ tags(first: 100) { edges { node { name contactCount } } } }`
			env.MustDo(b, ws.Agent(), q, nil, nil)
			env.Counter.Reset()
			n := 0
			for b.Loop() {
				env.MustDo(b, ws.Agent(), q, nil, nil)
				n++
			}
			b.ReportMetric(float64(len(env.Counter.Statements()))/float64(n), "stmts/op")
		})
	}
}
