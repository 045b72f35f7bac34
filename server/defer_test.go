package server_test

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"rubrica/internal/testenv"
)

const deferQuery = `{ contacts(first: 5) { edges { node { id ... on Contact @defer(label: "tags") { tags { name } } } } } }`

func postGraphQL(t *testing.T, env *testenv.Env, token, accept, query string) *http.Response {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDeferIncremental: @defer is really incremental where the response can carry parts
// (multipart/mixed as Apollo Client asks for it; server-sent events), and refused before it
// runs where it cannot (a single JSON response), instead of answered with `hasNext: true` and
// the deferred fields dropped.
func TestDeferIncremental(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Defer")
	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
	env.MustDo(t, ws.Owner(), `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { tags { id } } }`,
		map[string]any{"in": map[string]any{"contactIds": []string{id}, "tagNames": []string{"VIP"}}}, nil)

	t.Run("Multipart", func(t *testing.T) {
		res := postGraphQL(t, env, ws.Agent(), "multipart/mixed;deferSpec=20220824, application/graphql-response+json, application/json", deferQuery)
		defer res.Body.Close()
		mediaType, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if res.StatusCode != 200 || err != nil || mediaType != "multipart/mixed" || params["deferspec"] != "20220824" {
			t.Fatalf("got %d %q, want 200 multipart/mixed with deferSpec=20220824", res.StatusCode, res.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(res.Body, params["boundary"])
		var parts []map[string]json.RawMessage
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			var part map[string]json.RawMessage
			if err := json.NewDecoder(p).Decode(&part); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, part)
		}
		if len(parts) != 2 {
			t.Fatalf("parts: got %d %v, want the initial result and one incremental", len(parts), parts)
		}
		if string(parts[0]["hasNext"]) != "true" || !strings.Contains(string(parts[0]["data"]), id) {
			t.Errorf("initial part: %v", parts[0])
		}
		var inc struct {
			Incremental []struct {
				Data  struct{ Tags []struct{ Name string } }
				Path  []any
				Label string
			}
			HasNext bool
		}
		b, _ := json.Marshal(parts[1])
		json.Unmarshal(b, &inc)
		if inc.HasNext || len(inc.Incremental) != 1 || inc.Incremental[0].Label != "tags" || len(inc.Incremental[0].Path) != 4 ||
			len(inc.Incremental[0].Data.Tags) != 1 || inc.Incremental[0].Data.Tags[0].Name != "VIP" {
			t.Errorf("incremental part: %s", b)
		}
	})

	t.Run("EventStream", func(t *testing.T) {
		s, _ := env.OpenSSE(t, ws.Agent(), deferQuery, nil)
		first, second := nextEvent(t, s, testenv.WSWait), nextEvent(t, s, testenv.WSWait)
		if !strings.Contains(string(first.Data), id) || !strings.Contains(string(second.Data), "VIP") {
			t.Errorf("events: %s then %s, want the contact then its deferred tags", first.Data, second.Data)
		}
		wantComplete(t, s)
	})

	t.Run("Websocket", func(t *testing.T) {
		c := testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent())
		c.Subscribe("q", deferQuery, nil)
		first, second := c.Next("q"), c.Next("q")
		if !strings.Contains(string(first.Data), id) || !strings.Contains(string(second.Data), "VIP") {
			t.Errorf("messages: %s then %s, want the contact then its deferred tags", first.Data, second.Data)
		}
		c.ExpectComplete("q")
	})

	t.Run("SingleResponseRefused", func(t *testing.T) {
		mutation := `mutation { createTag(input: {name: "Deferred"}) { ... @defer { tag { id } } } }`
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			res := postGraphQL(t, env, ws.Owner(), accept, mutation)
			var body map[string]json.RawMessage
			json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			want := 200
			if accept != "application/json" {
				want = 400
			}
			if _, hasData := body["data"]; res.StatusCode != want || hasData || !strings.Contains(string(body["errors"]), "multipart/mixed") {
				t.Errorf("%s: got %d %v, want %d with a request error naming multipart/mixed", accept, res.StatusCode, body, want)
			}
		}
		var tags struct {
			Tags struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		env.MustDo(t, ws.Owner(), `{ tags(first: 10) { edges { node { name } } } }`, nil, &tags)
		for _, e := range tags.Tags.Edges {
			if e.Node.Name == "Deferred" {
				t.Error("the refused mutation ran")
			}
		}
	})

	t.Run("DeferOff", func(t *testing.T) {
		res := postGraphQL(t, env, ws.Agent(), "application/json", strings.Replace(deferQuery, `@defer(label: "tags")`, `@defer(if: false)`, 1))
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "VIP") || strings.Contains(string(b), "hasNext") {
			t.Errorf("@defer(if: false): got %d %s, want the whole result at once", res.StatusCode, b)
		}
	})
}
