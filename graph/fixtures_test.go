package graph_test

// Fixtures shared by tag_test.go, workspace_test.go and loaders_test.go. Their names start
// with fx so they do not collide with the helpers of other test files of the package.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"rubrica/graph"
	"rubrica/internal/testenv"
)

// fxCodes are the extensions.code values of API.md.
var fxCodes = []string{"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "LIMIT_EXCEEDED", "INTERNAL"}

// fxWantError fails unless the response's first error has the code and (when field is not
// "-") the extensions.field, and every error carries a code of API.md.
func fxWantError(tb testing.TB, r *testenv.Response, code, field string) {
	tb.Helper()
	if len(r.Errors) == 0 {
		tb.Fatalf("errors: got none (data %s), want %s", r.Data, code)
	}
	if got := r.Code(); got != code {
		tb.Errorf("extensions.code: got %q, want %q (errors %+v)", got, code, r.Errors)
	}
	if field != "-" {
		if got := r.Field(); got != field {
			tb.Errorf("extensions.field: got %q, want %q (errors %+v)", got, field, r.Errors)
		}
	}
	for _, e := range r.Errors {
		if !slices.Contains(fxCodes, e.Extensions.Code) {
			tb.Errorf("error %q: extensions.code %q is not a code of API.md", e.Message, e.Extensions.Code)
		}
	}
}

// fxContacts creates n contacts and returns their ids in order, in requests of at most
// graph.DefaultMaxAliases aliased createContact each. input(i) gives the i-th
// CreateContactInput; nil input means a name only.
func fxContacts(tb testing.TB, env *testenv.Env, token string, n int, input func(i int) map[string]any) []string {
	tb.Helper()
	if input == nil {
		input = func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Contact %03d", i)} }
	}
	var ids []string
	for start := 0; start < n; start += graph.DefaultMaxAliases {
		ids = append(ids, fxContactBatch(tb, env, token, start, min(n, start+graph.DefaultMaxAliases), input)...)
	}
	return ids
}

// fxContactBatch creates contacts from to to-1 in one request.
func fxContactBatch(tb testing.TB, env *testenv.Env, token string, from, to int, input func(i int) map[string]any) []string {
	tb.Helper()
	var params, fields []string
	vars := map[string]any{}
	for i := from; i < to; i++ {
		params = append(params, fmt.Sprintf("$in%d: CreateContactInput!", i))
		fields = append(fields, fmt.Sprintf("c%d: createContact(input: $in%d) { contact { id } }", i, i))
		vars[fmt.Sprintf("in%d", i)] = input(i)
	}
	q := "mutation(" + strings.Join(params, ", ") + ") {\n" + strings.Join(fields, "\n") + "\n}"
	var data map[string]struct{ Contact struct{ ID string } }
	env.MustDo(tb, token, q, vars, &data)
	ids := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		id := data[fmt.Sprintf("c%d", i)].Contact.ID
		if id == "" {
			tb.Fatalf("contact %d: no id in %v", i, data)
		}
		ids = append(ids, id)
	}
	return ids
}

// fxContact creates one contact with a first name and returns its id.
func fxContact(tb testing.TB, env *testenv.Env, token, firstName string) string {
	tb.Helper()
	return fxContacts(tb, env, token, 1, func(int) map[string]any { return map[string]any{"firstName": firstName} })[0]
}

// fxTag creates a tag and returns its id.
func fxTag(tb testing.TB, env *testenv.Env, token, name string) string {
	tb.Helper()
	var data struct {
		CreateTag struct{ Tag struct{ ID string } }
	}
	env.MustDo(tb, token, `mutation($in: CreateTagInput!) { createTag(input: $in) { tag { id } } }`,
		map[string]any{"in": map[string]any{"name": name}}, &data)
	return data.CreateTag.Tag.ID
}

// fxDefinition creates a custom field definition and returns its id.
func fxDefinition(tb testing.TB, env *testenv.Env, token, key, typ string, options ...string) string {
	tb.Helper()
	in := map[string]any{"key": key, "label": "Label of " + key, "type": typ}
	if options != nil {
		in["options"] = options
	}
	var data struct {
		CreateCustomFieldDefinition struct{ CustomFieldDefinition struct{ ID string } }
	}
	env.MustDo(tb, token, `mutation($in: CreateCustomFieldDefinitionInput!) {
		createCustomFieldDefinition(input: $in) { customFieldDefinition { id } } }`, map[string]any{"in": in}, &data)
	return data.CreateCustomFieldDefinition.CustomFieldDefinition.ID
}

// fxViewerID returns the global id of the token's member.
func fxViewerID(tb testing.TB, env *testenv.Env, token string) string {
	tb.Helper()
	var data struct{ Viewer struct{ ID string } }
	env.MustDo(tb, token, `{ viewer { id } }`, nil, &data)
	return data.Viewer.ID
}

// fxTagData is a tag as the tests read it.
type fxTagData struct {
	ID           string
	Name         string
	Color        *string
	ContactCount int
}

// fxContactTags returns the names of a contact's tags, in the order the API gives them.
func fxContactTags(tb testing.TB, env *testenv.Env, token, contactID string) []string {
	tb.Helper()
	var data struct{ Contact *struct{ Tags []fxTagData } }
	env.MustDo(tb, token, `query($id: ID!) { contact(id: $id) { tags { id name } } }`, map[string]any{"id": contactID}, &data)
	if data.Contact == nil {
		tb.Fatalf("contact %s: got null", contactID)
	}
	names := make([]string, 0, len(data.Contact.Tags))
	for _, t := range data.Contact.Tags {
		names = append(names, t.Name)
	}
	return names
}

// fxAllTags returns every tag of the workspace (at most 100), by name.
func fxAllTags(tb testing.TB, env *testenv.Env, token string) []fxTagData {
	tb.Helper()
	var data struct {
		Tags struct {
			Edges []struct{ Node fxTagData }
		}
	}
	env.MustDo(tb, token, `{ tags(first: 100) { edges { node { id name color contactCount } } } }`, nil, &data)
	out := make([]fxTagData, len(data.Tags.Edges))
	for i, e := range data.Tags.Edges {
		out[i] = e.Node
	}
	return out
}

// fxTagNames returns the names of fxAllTags.
func fxTagNames(tb testing.TB, env *testenv.Env, token string) []string {
	tb.Helper()
	var names []string
	for _, t := range fxAllTags(tb, env, token) {
		names = append(names, t.Name)
	}
	return names
}

// fxContactCount returns a tag's contactCount, read through node(id:).
func fxContactCount(tb testing.TB, env *testenv.Env, token, tagID string) int {
	tb.Helper()
	var data struct{ Node *fxTagData }
	env.MustDo(tb, token, `query($id: ID!) { node(id: $id) { ... on Tag { contactCount } } }`, map[string]any{"id": tagID}, &data)
	if data.Node == nil {
		tb.Fatalf("tag %s: got null", tagID)
	}
	return data.Node.ContactCount
}
