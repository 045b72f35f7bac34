package graph_test

// Tests of the request limits, through the real server: each attack of issue 9 gets a
// LIMIT_EXCEEDED naming its limit, without a token where none is needed, and the requests of
// real clients still pass.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"rubrica/graph"
	"rubrica/internal/hostile"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// lmError is a GraphQL error with the extensions the limits set.
type lmError struct {
	Message    string
	Extensions struct{ Code, Limit, Field string }
}

// lmResponse is a response as the limit tests read it.
type lmResponse struct {
	Status int             `json:"-"`
	Size   int             `json:"-"` // of the body
	Data   json.RawMessage `json:"data"`
	Errors []lmError       `json:"errors"`
}

// lmPost POSTs a GraphQL request body and decodes the response.
func lmPost(tb testing.TB, env *testenv.Env, token string, body map[string]any) *lmResponse {
	tb.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := env.Server.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &lmResponse{Status: res.StatusCode, Size: len(raw)}
	if err := json.Unmarshal(raw, out); err != nil {
		tb.Fatalf("response %d %.300q: %v", res.StatusCode, raw, err)
	}
	return out
}

// lmDo sends a query with variables.
func lmDo(tb testing.TB, env *testenv.Env, token, query string, vars map[string]any) *lmResponse {
	tb.Helper()
	return lmPost(tb, env, token, map[string]any{"query": query, "variables": vars})
}

// lmWantLimit fails unless the response is only the refusal of the named limit.
func lmWantLimit(tb testing.TB, r *lmResponse, limit string) {
	tb.Helper()
	if len(r.Errors) != 1 {
		tb.Fatalf("errors: got %d %.500v, want one LIMIT_EXCEEDED about %s", len(r.Errors), r.Errors, limit)
	}
	e := r.Errors[0]
	if e.Extensions.Code != "LIMIT_EXCEEDED" || e.Extensions.Limit != limit {
		tb.Errorf("error: got %s %q (%s), want LIMIT_EXCEEDED %q", e.Extensions.Code, e.Extensions.Limit, e.Message, limit)
	}
	if !strings.Contains(e.Message, limit) {
		tb.Errorf("message: got %q, want the limit %s named", e.Message, limit)
	}
	if len(r.Data) != 0 && string(r.Data) != "null" {
		tb.Errorf("data: got %.200s, want none", r.Data)
	}
}

// TestAttacksRefused sends each attack of issue 9 to a server with the default limits.
func TestAttacksRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Attacks")
	contact := fxContact(t, env, ws.Agent(), "Ada")
	for _, c := range []struct {
		name, token, query string
		limit              string
	}{
		{"FragmentBomb", "", hostile.FragmentBomb(24), graph.LimitFragmentSpreads},
		{"Typename10000", "", hostile.Typenames(10000), graph.LimitDocumentBytes},
		{"Typename2000", "", hostile.Typenames(2000), graph.LimitRepeatedFields},
		{"FieldCopies400", "", hostile.FieldCopies(400), graph.LimitRepeatedFields},
		{"FieldCopies1000", "", hostile.FieldCopies(1000), graph.LimitQueryTokens},
		{"NestedLists20", ws.Agent(), hostile.NestedSuggestions(20), graph.LimitQueryDepth},
		{"NestedLists40", ws.Agent(), hostile.NestedSuggestions(40), graph.LimitQueryDepth},
		{"SearchAliases2400", "", hostile.SearchAliases(2400), graph.LimitDocumentBytes},
		{"SearchAliases250", "", hostile.SearchAliases(250), graph.LimitAliases},
		{"Tokens", "", "{ " + strings.Repeat("a ", 6000) + "}", graph.LimitQueryTokens},
		{"Fields", "", "{ " + strings.Repeat("viewer { id name email role } ", 500) + "}", graph.LimitQueryFields},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := lmDo(t, env, c.token, c.query, map[string]any{"id": contact})
			lmWantLimit(t, r, c.limit)
			if r.Status != http.StatusOK {
				t.Errorf("status: got %d, want 200 like any request error under application/json", r.Status)
			}
		})
	}

	t.Run("ParseErrorStaysBadUserInput", func(t *testing.T) {
		r := lmDo(t, env, "", `{ viewer { id `, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "BAD_USER_INPUT" || r.Errors[0].Extensions.Limit != "" {
			t.Errorf("errors: got %+v, want one BAD_USER_INPUT", r.Errors)
		}
	})
	t.Run("FragmentCycle", func(t *testing.T) {
		r := lmDo(t, env, "", `{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "BAD_USER_INPUT" {
			t.Errorf("errors: got %+v, want one BAD_USER_INPUT", r.Errors)
		}
	})

	t.Run("PersistedQuery", func(t *testing.T) {
		// The check runs on the query a hash-only request names, after APQ filled it in.
		bomb := hostile.FragmentBomb(24)
		sum := sha256.Sum256([]byte(bomb))
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		lmWantLimit(t, lmPost(t, env, "", map[string]any{"query": bomb, "extensions": ext}), graph.LimitFragmentSpreads)
		lmWantLimit(t, lmPost(t, env, "", map[string]any{"extensions": ext}), graph.LimitFragmentSpreads)
	})

	t.Run("ServerStillAnswers", func(t *testing.T) {
		var data struct{ Viewer struct{ Name string } }
		env.MustDo(t, ws.Agent(), `{ viewer { name } }`, nil, &data)
		if data.Viewer.Name == "" {
			t.Error("viewer: got no name")
		}
	})
}

// lmNoDocumentLimits lifts every document limit, so that the complexity is what refuses.
func lmNoDocumentLimits(cfg *server.Config) {
	const huge = 1 << 24
	cfg.Limits = graph.Limits{MaxDocumentBytes: huge, MaxQueryTokens: huge, MaxQueryDepth: huge, MaxAliases: huge,
		MaxRepeatedFields: huge, MaxFragmentSpreads: huge, MaxQueryFields: huge}
}

// TestComplexityRefusesAlone checks the complexity limit on its own, the document limits
// lifted: the nested lists and the aliased searches still cost too much.
func TestComplexityRefusesAlone(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, lmNoDocumentLimits)
	ws := env.Workspace(t, "Complexity")
	contact := fxContact(t, env, ws.Agent(), "Ada")
	for _, c := range []struct {
		name, query string
	}{
		{"NestedLists20", hostile.NestedSuggestions(20)},
		{"NestedLists40", hostile.NestedSuggestions(40)},
		{"SearchAliases2400", hostile.SearchAliases(2400)},
		{"SearchAliases50", hostile.SearchAliases(50)},
		{"CountAliases100", strings.ReplaceAll(hostile.SearchAliases(100), `filter: {search: "ada"}`, "")},
		{"PageOfPages", `{ contacts(first: 100) { edges { node { conversations(first: 100) { edges { node { id } } } } } } }`},
	} {
		t.Run(c.name, func(t *testing.T) {
			lmWantLimit(t, lmDo(t, env, ws.Agent(), c.query, map[string]any{"id": contact}), graph.LimitComplexity)
		})
	}
	t.Run("NestedListsWithinLimit", func(t *testing.T) {
		var data map[string]any
		env.MustDo(t, ws.Agent(), hostile.NestedSuggestions(4), map[string]any{"id": contact}, &data)
	})
}

// TestErrorsCapped checks that no response carries more than MAX_ERRORS errors, whatever
// path they come by.
func TestErrorsCapped(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, lmNoDocumentLimits)
	ws := env.Workspace(t, "Errors")
	wantCapped := func(t *testing.T, errs []lmError, code string) {
		t.Helper()
		if len(errs) != graph.DefaultMaxErrors+1 {
			t.Fatalf("errors: got %d, want %d and one saying the rest were left out", len(errs), graph.DefaultMaxErrors+1)
		}
		for _, e := range errs[:graph.DefaultMaxErrors] {
			if e.Extensions.Code != code {
				t.Fatalf("error: got %s (%s), want %s", e.Extensions.Code, e.Message, code)
			}
		}
		last := errs[graph.DefaultMaxErrors]
		if last.Extensions.Code != "LIMIT_EXCEEDED" || last.Extensions.Limit != graph.LimitErrors {
			t.Errorf("last error: got %s %q (%s), want LIMIT_EXCEEDED %s", last.Extensions.Code, last.Extensions.Limit, last.Message, graph.LimitErrors)
		}
	}

	t.Run("Validation", func(t *testing.T) {
		// 400 copies of a field with different arguments: tens of thousands of conflicts.
		r := lmDo(t, env, "", hostile.FieldCopies(400), nil)
		wantCapped(t, r.Errors, "BAD_USER_INPUT")
		if r.Size > 100<<10 {
			t.Errorf("response: got %d bytes, want a short list of errors", r.Size)
		}
	})
	t.Run("UnknownFields", func(t *testing.T) {
		var b strings.Builder
		for i := range 150 {
			fmt.Fprintf(&b, "f%d ", i)
		}
		wantCapped(t, lmDo(t, env, "", "{ "+b.String()+"}", nil).Errors, "BAD_USER_INPUT")
	})
	t.Run("Execution", func(t *testing.T) {
		var b strings.Builder
		for i := range 150 {
			fmt.Fprintf(&b, "n%d: node(id: \"garbage-%d\") { id } ", i, i)
		}
		wantCapped(t, lmDo(t, env, ws.Agent(), "{ "+b.String()+"}", nil).Errors, "NOT_FOUND")
	})
	t.Run("Websocket", func(t *testing.T) {
		var b strings.Builder
		for i := range 150 {
			fmt.Fprintf(&b, "f%d ", i)
		}
		for _, proto := range testenv.Protocols {
			c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			c.Subscribe("bad", "subscription { contactEvents { "+b.String()+"} }", nil)
			m, err := c.Message("bad", testenv.WSWait)
			if err != nil {
				t.Fatalf("%s: %v", proto, err)
			}
			errs := m.Errors(t)
			if m.Type != "error" {
				t.Errorf("%s: got a %s message, want an error (the document is refused)", proto, m.Type)
			}
			if len(errs) != graph.DefaultMaxErrors+1 || errs[graph.DefaultMaxErrors].Extensions.Code != "LIMIT_EXCEEDED" {
				t.Errorf("%s: got %d errors (the last %+v), want %d, the last LIMIT_EXCEEDED", proto, len(errs), errs[len(errs)-1], graph.DefaultMaxErrors+1)
			}
			c.Close()
		}
	})
}

func TestResponseSizeCapped(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(cfg *server.Config) { cfg.Limits.MaxResponseBytes = 2000 })
	r := lmDo(t, env, "", `{ __schema { types { name description } } }`, nil)
	lmWantLimit(t, r, graph.LimitResponseBytes)
	var data struct {
		Typename string `json:"__typename"`
	}
	env.MustDo(t, "", `{ __typename }`, nil, &data)
	if data.Typename != "Query" {
		t.Errorf("__typename: got %q, want Query", data.Typename)
	}
}

// TestRealClientsPass sends what real clients send to a server with the default limits.
func TestRealClientsPass(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Clients")
	fxDefinition(t, env, ws.Owner(), "plan", "TEXT")
	tag := fxTag(t, env, ws.Owner(), "vip")
	ids := fxContacts(t, env, ws.Owner(), 30, func(i int) map[string]any {
		return map[string]any{"firstName": fmt.Sprintf("C%02d", i), "phone": fmt.Sprintf("+3933312%05d", i/2),
			"customFields": []map[string]any{{"key": "plan", "value": "gold"}}}
	})
	env.MustDo(t, ws.Owner(), `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { tags { id } } }`,
		map[string]any{"in": map[string]any{"contactIds": ids, "tagIds": []string{tag}}}, nil)

	t.Run("ExplorerIntrospection", func(t *testing.T) {
		var data struct {
			Schema struct{ Types []struct{ Name string } } `json:"__schema"`
		}
		env.MustDo(t, "", graph.GraphiQLIntrospection, nil, &data)
		if len(data.Schema.Types) < 20 {
			t.Errorf("types: got %d, want the schema's", len(data.Schema.Types))
		}
	})
	type page struct {
		Contacts struct {
			Edges []struct {
				Node struct{ Tags []struct{ Name string } }
			}
		}
	}
	t.Run("ContactsListOf100", func(t *testing.T) {
		var data page
		env.MustDo(t, ws.Agent(), `{ contacts(first: 100) { totalCount pageInfo { hasNextPage endCursor }
			edges { cursor node { id displayName profilePictureUrl firstName lastName country language email phone
				blocked blockedAt createdAt updatedAt conversationStatus assignee { id name }
				tags { id name color } customFields { definition { key } value } } } } }`, nil, &data)
		if len(data.Contacts.Edges) != 30 || len(data.Contacts.Edges[0].Node.Tags) != 1 {
			t.Errorf("contacts: got %d, want 30 with their tag", len(data.Contacts.Edges))
		}
	})
	t.Run("ContactsPageWithAllFields", func(t *testing.T) {
		var data page
		env.MustDo(t, ws.Agent(), `{ contacts(first: 30) { totalCount pageInfo { hasNextPage endCursor }
			edges { cursor node { id displayName profilePictureUrl firstName lastName country language email phone
				blocked blockedAt createdAt updatedAt conversationStatus assignee { id name }
				tags { id name color } customFields { definition { key label type } value }
				channels { channel { id type name } status identifier canConnect }
				mergeSuggestions { id contacts { id displayName } }
				duplicateValues { field value contactIds } } } } }`, nil, &data)
		if len(data.Contacts.Edges) != 30 || len(data.Contacts.Edges[0].Node.Tags) != 1 {
			t.Errorf("contacts: got %d, want 30 with their tag", len(data.Contacts.Edges))
		}
	})
	t.Run("Dashboard", func(t *testing.T) {
		var data map[string]any
		env.MustDo(t, ws.Agent(), `{ viewer { name role } workspace { name contactFieldOrder }
			all: contacts { totalCount } blocked: contacts(filter: {blocked: true}) { totalCount }
			vip: contacts(filter: {tagIds: ["`+tag+`"]}) { totalCount }
			found: contacts(first: 5, filter: {search: "C0"}) { totalCount edges { node { id displayName } } }
			open: mergeSuggestions { totalCount edges { node { id contacts { id displayName } matches { field value } } } }
			tags(first: 100) { edges { node { name color contactCount } } } channels { id name } }`, nil, &data)
	})
	t.Run("BulkMutation", func(t *testing.T) {
		if got := fxContacts(t, env, ws.Owner(), graph.DefaultMaxAliases, nil); len(got) != graph.DefaultMaxAliases {
			t.Errorf("contacts: got %d", len(got))
		}
	})
}

// BenchmarkAttacks runs each attack of issue 9 through the executor and its POST transport,
// in-process on the real services: what one refusal costs the server (-benchmem gives its
// allocations). ComplexityOnly and ErrorCapOnly lift the document limits, to measure the
// refusals behind them.
func BenchmarkAttacks(b *testing.B) {
	env := testenv.New(b)
	lifted := graph.Limits{MaxDocumentBytes: 1 << 24, MaxQueryTokens: 1 << 24, MaxQueryDepth: 1 << 24, MaxAliases: 1 << 24,
		MaxRepeatedFields: 1 << 24, MaxFragmentSpreads: 1 << 24, MaxQueryFields: 1 << 24}
	nested := strings.ReplaceAll(hostile.NestedSuggestions(20), "$id", `"x"`)
	nested = strings.Replace(nested, `query("x": ID!)`, "query", 1)
	for _, c := range []struct {
		name   string
		limits graph.Limits
		query  string
	}{
		{"FragmentBomb24", graph.Limits{}, hostile.FragmentBomb(24)},
		{"Typename10000", graph.Limits{}, hostile.Typenames(10000)},
		{"Typename2000", graph.Limits{}, hostile.Typenames(2000)},
		{"FieldCopies400", graph.Limits{}, hostile.FieldCopies(400)},
		{"FieldCopies1000", graph.Limits{}, hostile.FieldCopies(1000)},
		{"NestedLists20", graph.Limits{}, nested},
		{"SearchAliases2400", graph.Limits{}, hostile.SearchAliases(2400)},
		{"SearchAliases250", graph.Limits{}, hostile.SearchAliases(250)},
		{"ComplexityOnly/NestedLists20", lifted, nested},
		{"ComplexityOnly/SearchAliases2400", lifted, hostile.SearchAliases(2400)},
		{"ErrorCapOnly/FieldCopies400", lifted, hostile.FieldCopies(400)},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := graph.NewHandler(graph.Config{Services: env.DB.Services(), Introspection: true, Limits: c.limits})
			h.AddTransport(transport.POST{})
			body, _ := json.Marshal(map[string]any{"query": c.query})
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if !bytes.Contains(rec.Body.Bytes(), []byte("LIMIT_EXCEEDED")) {
					b.Fatalf("response: got %.300s, want LIMIT_EXCEEDED", rec.Body.Bytes())
				}
			}
		})
	}
}
