package graph

import (
	"testing"

	"github.com/vektah/gqlparser/v2"

	"rubrica/graph/generated"
)

// TestAsksForViewer: a document that selects, at any depth and through fragments, a field
// whose value depends on the member who asks makes its subscribers' group per member.
func TestAsksForViewer(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	for _, c := range []struct {
		query string
		want  bool
	}{
		{`subscription { contactEvents { type contact { id firstName tags { name } } } }`, false},
		{`{ viewer { id } }`, true},
		{`{ merges { edges { node { id } } } }`, false},
		{`{ merges { edges { node { canUndo } } } }`, true},
		{`query { merges { edges { node { ...M } } } } fragment M on Merge { undoBlockedReason }`, true},
		{`query { merges { edges { node { ... on Merge { id } } } } }`, false},
	} {
		doc, errs := gqlparser.LoadQuery(schema, c.query)
		if errs != nil {
			t.Fatalf("%s: %v", c.query, errs)
		}
		if got := asksForViewer(doc, doc.Operations[0].SelectionSet); got != c.want {
			t.Errorf("%s: got %v, want %v", c.query, got, c.want)
		}
	}
}
