package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// TestHTTPStatuses: /graphql answers with the statuses and bodies of the GraphQL-over-HTTP
// spec and RFC 9110: request errors are 200 under application/json and 400 under
// application/graphql-response+json, without a data entry in both; a mutation over GET is
// 405 with Allow: POST; other methods 405 with Allow; other media types 415; a POSTed
// subscription without Accept: text/event-stream is refused at once.
func TestHTTPStatuses(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Statuses")
	const (
		jsonType = "application/json"
		gqlType  = "application/graphql-response+json"
	)
	q := url.QueryEscape
	for _, c := range []struct {
		name, method, target, contentType, accept, body string
		status                                          int
		allow                                           string // the Allow header wanted ("": none)
	}{
		{"ParseErrorJSON", "POST", "", jsonType, jsonType, `{"query": "{"}`, 200, ""},
		{"ParseErrorGraphQLResponse", "POST", "", jsonType, gqlType, `{"query": "{"}`, 400, ""},
		{"ValidationErrorJSON", "POST", "", jsonType, "", `{"query": "{ nope }"}`, 200, ""},
		{"ValidationErrorGraphQLResponse", "POST", "", jsonType, gqlType, `{"query": "{ nope }"}`, 400, ""},
		{"CoercionErrorJSON", "POST", "", jsonType, jsonType, `{"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": []}}`, 200, ""},
		{"CoercionErrorGraphQLResponse", "POST", "", jsonType, gqlType, `{"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": []}}`, 400, ""},
		{"NoQuery", "POST", "", jsonType, jsonType, `{"variables": {}}`, 400, ""},
		{"BadJSON", "POST", "", jsonType, gqlType, `{"query": `, 400, ""},
		{"GETMutation", "GET", "?query=" + q(`mutation { createTag(input: {name: "x"}) { tag { id } } }`), "", jsonType, "", 405, "POST"},
		{"GETSubscription", "GET", "?query=" + q(`subscription { contactEvents { type } }`), "", gqlType, "", 405, "POST"},
		{"PUT", "PUT", "", jsonType, "", `{"query": "{ __typename }"}`, 405, "OPTIONS, GET, HEAD, POST"},
		{"DELETE", "DELETE", "", "", "", "", 405, "OPTIONS, GET, HEAD, POST"},
		{"HEADQuery", "HEAD", "?query=" + q(`{ __typename }`), "", "", "", 200, ""},
		{"HEADMutation", "HEAD", "?query=" + q(`mutation { createTag(input: {name: "y"}) { tag { id } } }`), "", "", "", 405, "POST"},
		{"PlainText", "POST", "", "text/plain", "", `{ __typename }`, 415, ""},
		{"NoContentType", "POST", "", "", "", `{"query": "{ __typename }"}`, 415, ""},
		{"FormURLEncoded", "POST", "", "application/x-www-form-urlencoded", "", `query=%7B__typename%7D`, 415, ""},
		{"PostedSubscription", "POST", "", jsonType, jsonType, `{"query": "subscription { contactEvents { type } }"}`, 406, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, env.Server.URL+"/graphql"+c.target, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+ws.Owner())
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			start := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("answered after %v, want at once", elapsed)
			}
			if res.StatusCode != c.status {
				t.Errorf("status: got %d, want %d (%s)", res.StatusCode, c.status, body)
			}
			if got := res.Header.Get("Allow"); got != c.allow {
				t.Errorf("Allow: got %q, want %q", got, c.allow)
			}
			if c.method == http.MethodHead {
				return
			}
			wantType := jsonType
			if c.accept == gqlType {
				wantType = gqlType
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, wantType) {
				t.Errorf("Content-Type: got %q, want %s", got, wantType)
			}
			var out map[string]json.RawMessage
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if _, ok := out["data"]; ok {
				t.Errorf("body %s: has a data entry, want none for a request error", body)
			}
			var errs []testenv.Error
			if json.Unmarshal(out["errors"], &errs); len(errs) == 0 || errs[0].Extensions.Code != "BAD_USER_INPUT" || errs[0].Message == "" {
				t.Errorf("errors: got %s, want a BAD_USER_INPUT error", out["errors"])
			}
			if c.name == "PostedSubscription" && !strings.Contains(errs[0].Message, "text/event-stream") {
				t.Errorf("message %q does not say how to subscribe", errs[0].Message)
			}
		})
	}

	t.Run("OptionsWithoutCORS", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, env.Server.URL+"/graphql", nil)
		res := send(t, req)
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Allow") != "OPTIONS, GET, HEAD, POST" {
			t.Errorf("OPTIONS: got %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
		}
	})
	t.Run("ExecutionErrorKeepsData", func(t *testing.T) {
		// An error while the operation runs is no request error: 200 with data, both types.
		for _, accept := range []string{jsonType, gqlType} {
			req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", strings.NewReader(`{"query": "{ viewer { id } }"}`))
			req.Header.Set("Content-Type", jsonType)
			req.Header.Set("Accept", accept)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]json.RawMessage
			json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if _, ok := out["data"]; res.StatusCode != 200 || !ok || out["errors"] == nil {
				t.Errorf("%s: got %d %v, want 200 with data and errors", accept, res.StatusCode, out)
			}
		}
	})
}
