package listexec

import (
	"bytes"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestObjectMarshalsAsFieldSet: an Object writes what graphql.FieldSet writes for the same
// fields and values: every alias once (the first of a repeated one), in order, and {} for
// none.
func TestObjectMarshalsAsFieldSet(t *testing.T) {
	field := func(alias string) graphql.CollectedField {
		return graphql.CollectedField{Field: &ast.Field{Alias: alias, Name: alias}}
	}
	for _, c := range []struct {
		name   string
		fields []graphql.CollectedField
		values []graphql.Marshaler
		want   string
	}{
		{"none", nil, nil, `{}`},
		{"one", []graphql.CollectedField{field("id")}, []graphql.Marshaler{graphql.MarshalString("x")}, `{"id":"x"}`},
		{"several", []graphql.CollectedField{field("id"), field("n"), field("_a1")},
			[]graphql.Marshaler{graphql.MarshalString(`q"`), graphql.MarshalInt(2), graphql.Null}, `{"id":"q\"","n":2,"_a1":null}`},
		{"a repeated alias", []graphql.CollectedField{field("a"), field("b"), field("a")},
			[]graphql.Marshaler{graphql.MarshalInt(1), graphql.MarshalInt(2), graphql.MarshalInt(3)}, `{"a":1,"b":2}`},
	} {
		out := graphql.NewFieldSet(c.fields)
		copy(out.Values, c.values)
		var got, want bytes.Buffer
		NewObject(c.fields, out).MarshalGQL(&got)
		out.MarshalGQL(&want)
		if got.String() != c.want || want.String() != c.want {
			t.Errorf("%s: Object wrote %s, FieldSet %s; want %s", c.name, got.String(), want.String(), c.want)
		}
	}
}
