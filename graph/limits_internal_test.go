package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"rubrica/graph/generated"
	"rubrica/internal/hostile"
)

// graphiqlIntrospection is the introspection query of the explorer's GraphiQL
// (graphql-js getIntrospectionQuery with every option on), as in server/explorer/assets.
const graphiqlIntrospection = `query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

// GraphiQLIntrospection exports graphiqlIntrospection to the package's external tests.
var GraphiQLIntrospection = graphiqlIntrospection

// repeated is a selection set of n copies of field.
func repeated(field string, n int) string {
	return "{ " + strings.Repeat(field+" ", n) + "}"
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		query string
		want  shape
	}{
		{"Flat", `{ viewer { id name } }`, shape{depth: 2, fields: 3}},
		{"DepthThroughFragments", `{ a { ...F } } fragment F on X { b { ... on Y { c { d } } } }`, shape{depth: 4, fields: 4, spreads: 1}},
		{"SpreadsExpanded", `{ ...A ...A } fragment A on Q { x ...B ...B } fragment B on Q { y }`,
			shape{depth: 1, fields: 2 * (1 + 2), spreads: 2 * (1 + 2)}},
		{"AliasesExpanded", `{ ...A ...A ...A } fragment A on Q { a: x b: y z: z }`, shape{depth: 1, fields: 9, spreads: 3, aliases: 6}},
		{"Doubling", hostile.FragmentBomb(3), shape{depth: 1, fields: 8, spreads: 1 + 2 + 4 + 8}},
		{"Saturates", hostile.FragmentBomb(80), shape{depth: 1, fields: saturated, spreads: saturated}},
		{"TwoOperations", `query A { a } query B { b { c } }`, shape{depth: 2, fields: 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: c.query})
			if err != nil {
				t.Fatal(err)
			}
			_, got, gqlErr := measure(doc)
			if gqlErr != nil {
				t.Fatalf("measure: %v", gqlErr)
			}
			if got != c.want {
				t.Errorf("shape: got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCheckDocument(t *testing.T) {
	t.Parallel()
	def := Limits{}.withDefaults()
	with := func(f func(*Limits)) Limits { l := def; f(&l); return l }
	for _, c := range []struct {
		name   string
		query  string
		limits Limits
		code   string // "" for none
		limit  string
	}{
		{"Introspection", graphiqlIntrospection, def, "", ""},
		{"DepthAtLimit", `{ a { ...F } } fragment F on X { b { c } }`, with(func(l *Limits) { l.MaxQueryDepth = 3 }), "", ""},
		{"DepthThroughFragments", `{ a { ...F } } fragment F on X { b { c } }`, with(func(l *Limits) { l.MaxQueryDepth = 2 }), "LIMIT_EXCEEDED", LimitQueryDepth},
		{"Cycle", `{ ...A } fragment A on Query { a ...B } fragment B on Query { b ...A }`, def, "GRAPHQL_VALIDATION_FAILED", ""},
		{"SelfCycle", `{ ...A } fragment A on Query { a { ...A } }`, def, "GRAPHQL_VALIDATION_FAILED", ""},
		{"UnusedFragment", `{ a } fragment A on Query { ...B ...B } fragment B on Query { a }`, def, "GRAPHQL_VALIDATION_FAILED", ""},
		{"DuplicateFragment", `{ ...A } fragment A on Query { a } fragment A on Query { b }`, def, "GRAPHQL_VALIDATION_FAILED", ""},
		{"ParseError", `{ viewer { id `, def, "GRAPHQL_PARSE_FAILED", ""},
		{"SpreadsAtLimit", hostile.FragmentBomb(5), with(func(l *Limits) { l.MaxFragmentSpreads, l.MaxRepeatedFields = 63, 32 }), "", ""},
		{"SpreadsExpanded", hostile.FragmentBomb(5), with(func(l *Limits) { l.MaxFragmentSpreads, l.MaxRepeatedFields = 62, 32 }), "LIMIT_EXCEEDED", LimitFragmentSpreads},
		{"FragmentBomb", hostile.FragmentBomb(24), def, "LIMIT_EXCEEDED", LimitFragmentSpreads},
		{"FieldsExpanded", `{ ...A ...A } fragment A on Q { a b c }`, with(func(l *Limits) { l.MaxQueryFields = 5 }), "LIMIT_EXCEEDED", LimitQueryFields},
		{"AliasesExpanded", `{ ...A ...A } fragment A on Q { x: a y: b }`, with(func(l *Limits) { l.MaxAliases = 3 }), "LIMIT_EXCEEDED", LimitAliases},
		{"NotAnAlias", `{ a: a b: b c: x }`, with(func(l *Limits) { l.MaxAliases = 1 }), "", ""},
		{"Repeated", repeated("__typename", 3), with(func(l *Limits) { l.MaxRepeatedFields = 2 }), "LIMIT_EXCEEDED", LimitRepeatedFields},
		{"RepeatedThroughInlineFragments", `{ x: a ... on Q { x: b ... on Q { x: c } } }`, with(func(l *Limits) { l.MaxRepeatedFields = 2 }), "LIMIT_EXCEEDED", LimitRepeatedFields},
		{"RepeatedThroughSpreads", `{ a ...F ...G } fragment F on Q { a } fragment G on Q { a }`, with(func(l *Limits) { l.MaxRepeatedFields = 2 }), "LIMIT_EXCEEDED", LimitRepeatedFields},
		{"RepeatedMergedBelow", `{ c { a a } c { a a } }`, with(func(l *Limits) { l.MaxRepeatedFields = 3 }), "LIMIT_EXCEEDED", LimitRepeatedFields},
		{"RepeatedApart", `{ c { a } d { a } e { a } }`, with(func(l *Limits) { l.MaxRepeatedFields = 1 }), "", ""},
		{"TypenameFlood", repeated("__typename", 900), def, "LIMIT_EXCEEDED", LimitRepeatedFields},
		{"TooManyFields", repeated("a", 2100), def, "LIMIT_EXCEEDED", LimitQueryFields},
		{"Tokens", repeated("a", 6000), def, "LIMIT_EXCEEDED", LimitQueryTokens},
		{"Bytes", repeated("__typename", 10000), def, "LIMIT_EXCEEDED", LimitDocumentBytes},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkDocument(c.query, c.limits)
			if c.code == "" {
				if err != nil {
					t.Fatalf("check: got %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check: got no error, want %s", c.code)
			}
			if got := err.Extensions["code"]; got != c.code {
				t.Errorf("code: got %v, want %s (%s)", got, c.code, err.Message)
			}
			if got, _ := err.Extensions["limit"].(string); got != c.limit {
				t.Errorf("limit: got %q, want %q (%s)", got, c.limit, err.Message)
			}
			if c.limit != "" && !strings.Contains(err.Message, c.limit) {
				t.Errorf("message: got %q, want the limit named", err.Message)
			}
		})
	}
}

// TestEveryListHasASize checks that the cost model knows every list and connection of the
// schema: a list field has a size in listSizes (connections' edges take their page size), a
// connection field takes page arguments, and every totalCount has a cost.
func TestEveryListHasASize(t *testing.T) {
	t.Parallel()
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	for name, def := range schema.Types {
		if def.Kind != ast.Object || strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range def.Fields {
			key := name + "." + f.Name
			switch {
			case strings.HasPrefix(f.Name, "__"):
			case f.Type.Elem != nil && !(f.Name == "edges" && strings.HasSuffix(name, "Connection")):
				if listSizes[key] <= 0 {
					t.Errorf("%s: a list without a size in listSizes", key)
				}
			case strings.HasSuffix(f.Type.Name(), "Connection"):
				if f.Arguments.ForName("first") == nil {
					t.Errorf("%s: a connection without a first argument", key)
				}
			case f.Name == "totalCount":
				if counts[key] <= 0 {
					t.Errorf("%s: a count without a cost in counts", key)
				}
			}
		}
	}
}

// costOf validates a query against the schema and returns its cost.
func costOf(t testing.TB, query string, vars map[string]any) int {
	t.Helper()
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	if errs := validator.ValidateWithRules(schema, doc, nil); len(errs) > 0 {
		t.Fatalf("validate %s: %v", query, errs)
	}
	return operationCost(doc.Operations[0], vars)
}

func TestOperationCost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"Scalar", `{ viewer { id } }`, nil, 1 + rootFieldCost + 1},
		{"DefaultPage", `{ contacts { edges { node { id } } } }`, nil, 1 + rootFieldCost + 1 + 20*(1+1)},
		{"First", `{ contacts(first: 5) { edges { node { id } } } }`, nil, 1 + rootFieldCost + 1 + 5*(1+1)},
		{"FirstVariable", `query($n: Int) { contacts(first: $n) { edges { node { id } } } }`, map[string]any{"n": int64(7)}, 1 + rootFieldCost + 1 + 7*(1+1)},
		{"Last", `{ contacts(last: 3) { edges { node { id } } } }`, nil, 1 + rootFieldCost + 1 + 3*(1+1)},
		{"PageCapped", `{ contacts(first: 1000) { edges { cursor } } }`, nil, 1 + rootFieldCost + 1 + 100*1},
		{"TotalCountNotMultiplied", `{ contacts(first: 100) { totalCount } }`, nil, 1 + rootFieldCost + 1 + countCost},
		{"Search", `{ contacts(first: 1, filter: {search: "a"}) { totalCount } }`, nil, 1 + rootFieldCost + searchCost + 1 + countCost},
		{"EmptySearch", `{ contacts(first: 1, filter: {search: ""}) { totalCount } }`, nil, 1 + rootFieldCost + 1 + countCost},
		{"TagSearch", `{ tags(search: "a") { totalCount } }`, nil, 1 + rootFieldCost + searchCost + 1 + countCost},
		{"ListOfObjects", `{ contact(id: "x") { tags { name } } }`, nil, 1 + rootFieldCost + 1 + 5*1},
		{"ListOfScalars", `{ workspace { contactFieldOrder } }`, nil, 1 + rootFieldCost + 1 + 30},
		{"SuggestionContacts", `{ contact(id: "x") { mergeSuggestions { contacts { id } } } }`, nil,
			1 + rootFieldCost + 1 + 1*(1+20*1)},
		{"NestedConnection", `{ contacts(first: 10) { edges { node { conversations(first: 5) { totalCount edges { node { id } } } } } } }`, nil,
			1 + rootFieldCost + 1 + 10*(1+(1+(1+batchedCountCost)+(1+5*(1+1))))},
		{"Fragment", `{ ...F } fragment F on Query { viewer { id } }`, nil, 1 + rootFieldCost + 1},
		{"Introspection", `{ __schema { types { name } } }`, nil, introspectionCost},
		{"Typename", `{ __typename }`, nil, 1},
		{"NodesPerID", `{ nodes(ids: ["a", "b", "c"]) { id } }`, nil, 1 + rootFieldCost + 3*1},
		{"NodesVariable", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []any{"a", "b"}}, 1 + rootFieldCost + 2*1},
		{"NodesCapped", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": make([]any, 500)}, 1 + rootFieldCost + MaxNodeIDs*1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := costOf(t, c.query, c.vars); got != c.want {
				t.Errorf("cost: got %d, want %d", got, c.want)
			}
		})
	}
}

func BenchmarkCheckDocument(b *testing.B) {
	l := Limits{}.withDefaults()
	for name, q := range map[string]string{
		"FragmentBomb24":  hostile.FragmentBomb(24),
		"Typename10000":   repeated("__typename", 10000),
		"Typename2900":    repeated("__typename", 2900),
		"Introspection":   graphiqlIntrospection,
		"AliasedSearches": aliasedSearches(300),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				checkDocument(q, l)
			}
		})
	}
}

// aliasedSearches is n aliased counts of a search.
func aliasedSearches(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, "a%d: contacts(first: 1, filter: {search: \"a\"}) { totalCount }\n", i)
	}
	return b.String() + "}"
}
