package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestWriteResponseAsJSONMarshal checks that writeResponse writes every response exactly as
// json.Marshal (which transport.POST uses) writes it, the data-only ones it writes itself
// included.
func TestWriteResponseAsJSONMarshal(t *testing.T) {
	yes := true
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"contacts":{"edges":[{"node":{"id":"x","name":"A \"b\""}}]}}`)},
		{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{}},
		{},
		{Data: json.RawMessage(`{"a":null}`), Errors: gqlerror.List{{Message: "no"}}},
		{Errors: gqlerror.List{{Message: "no", Extensions: map[string]any{"code": "BAD_USER_INPUT"}}}},
		{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"cost": 3}},
		{Data: json.RawMessage(`{"a":1}`), Label: "l", HasNext: &yes},
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		writeResponse(&got, resp)
		if got.String() != string(want) {
			t.Errorf("writeResponse wrote %s, json.Marshal %s", got.String(), want)
		}
	}
}

func TestResponseContentType(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                  "application/json",
		"*/*":                               "application/json",
		"application/json":                  "application/json",
		"application/graphql-response+json": graphqlResponseJSON,
		"application/graphql-response+json, application/json;q=0.9": graphqlResponseJSON,
		"text/html, application/*":                                  "application/json",
		"text/html":                                                 graphqlResponseJSON,
	} {
		if got := responseContentType(accept); got != want {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
}
