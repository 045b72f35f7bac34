package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"rubrica"
	"rubrica/db"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// nextEvent fails unless the stream's next event, within d, is a `next` event; it returns
// its response.
func nextEvent(t *testing.T, s *testenv.SSE, d time.Duration) *testenv.Response {
	t.Helper()
	ev, ok := s.Next(d)
	if !ok || ev.Name != "next" {
		t.Fatalf("event: got %+v (%v), want a next event within %v", ev, ok, d)
	}
	return ev.Response(t)
}

func wantComplete(t *testing.T, s *testenv.SSE) {
	t.Helper()
	if ev, ok := s.Next(testenv.WSWait); !ok || ev.Name != "complete" {
		t.Fatalf("event: got %+v (%v), want complete", ev, ok)
	}
}

// TestSSESubscription: a subscription over server-sent events (graphql-sse, distinct
// connections mode) delivers every event of the bus in commit order, outlives
// REQUEST_TIMEOUT, and ends when the client closes it.
func TestSSESubscription(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.RequestTimeout = 500 * time.Millisecond })
	ws := env.Workspace(t, "Stream")
	s, res := env.OpenSSE(t, ws.Agent(), contactEventsQuery, nil)
	if s == nil {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("got %d %s %s, want an event stream", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	env.WaitSubscribers(t, 1)
	time.Sleep(700 * time.Millisecond) // past REQUEST_TIMEOUT: a subscription is not cut by it
	const n = 40
	var ids []string
	for i := range n {
		ids = append(ids, createContact(t, env, ws.Owner(), map[string]any{"firstName": fmt.Sprint("C", i)}))
	}
	for i := range n {
		var data struct{ ContactEvents contactEvent }
		r := nextEvent(t, s, testenv.WSWait)
		if len(r.Errors) > 0 {
			t.Fatalf("event %d: %+v", i, r.Errors)
		}
		r.Decode(t, &data)
		wantContactEvent(t, data.ContactEvents, "CREATED", ids[i], fmt.Sprint("C", i))
	}
	s.Close()
	env.WaitSubscribers(t, 0)

	// A query over a stream is one next event, then complete; so is a request error, as the
	// protocol wants (validation errors through the accepted stream).
	q, _ := env.OpenSSE(t, ws.Agent(), `{ viewer { role } }`, nil)
	if r := nextEvent(t, q, testenv.WSWait); len(r.Errors) > 0 || string(r.Data) != `{"viewer":{"role":"AGENT"}}` {
		t.Errorf("query over a stream: got %s %+v", r.Data, r.Errors)
	}
	wantComplete(t, q)
	bad, _ := env.OpenSSE(t, ws.Agent(), `subscription { nope }`, nil)
	if r := nextEvent(t, bad, testenv.WSWait); r.Code() != "BAD_USER_INPUT" {
		t.Errorf("invalid subscription over a stream: got %+v, want BAD_USER_INPUT", r.Errors)
	}
	wantComplete(t, bad)
}

// TestSSERefusals: an event stream without a token is refused with 401 at once, one beyond
// MaxSubscriptions streams of a member with 429 LIMIT_EXCEEDED naming the limit; a revoked
// token ends its streams with an UNAUTHENTICATED event, and only its own.
func TestSSERefusals(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.MaxSubscriptions = 2 })
	ws := env.Workspace(t, "Refusals")

	s, res := env.OpenSSE(t, "", contactEventsQuery, nil)
	if s != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without a token: got %d %s, want 401", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res.Body.Close()

	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", strings.NewReader(`{"query": "subscription { secret`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+ws.Agent())
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	badBody, _ := io.ReadAll(bad.Body)
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest || !strings.Contains(string(badBody), "BAD_USER_INPUT") || strings.Contains(string(badBody), "secret") {
		t.Errorf("undecodable stream request: got %d %s, want 400 BAD_USER_INPUT that does not quote the body", bad.StatusCode, badBody)
	}

	token, tokenID := memberToken(t, env, ws, "reader@refusals.test", rubrica.RoleAgent, nil)
	a, _ := env.OpenSSE(t, token, contactEventsQuery, nil)
	b, _ := env.OpenSSE(t, token, contactEventsQuery, nil)
	if a == nil || b == nil {
		t.Fatal("the first two streams were refused")
	}
	other, _ := env.OpenSSE(t, ws.Agent(), contactEventsQuery, nil)
	env.WaitSubscribers(t, 3)
	s, res = env.OpenSSE(t, token, contactEventsQuery, nil)
	if s != nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third stream of a member: got %d, want 429", res.StatusCode)
	}
	var body struct {
		Errors []struct {
			Extensions struct{ Code, Limit string }
		}
	}
	json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "LIMIT_EXCEEDED" || body.Errors[0].Extensions.Limit != server.LimitMaxSubscriptions {
		t.Errorf("third stream: got %+v, want LIMIT_EXCEEDED naming %s", body.Errors, server.LimitMaxSubscriptions)
	}

	env.MustDo(t, ws.Owner(), revokeTokenMutation, map[string]any{"id": tokenID}, nil)
	for _, s := range []*testenv.SSE{a, b} {
		r := nextEvent(t, s, revocationDeadline)
		if r.Code() != "UNAUTHENTICATED" || len(r.Errors) != 1 || r.Errors[0].Message != "The token was revoked." {
			t.Errorf("revoked stream: got %+v, want UNAUTHENTICATED \"The token was revoked.\"", r.Errors)
		}
		if !s.Ended(testenv.WSWait) {
			t.Error("revoked stream: not ended")
		}
	}
	env.WaitSubscribers(t, 1)
	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Still"})
	var data struct{ ContactEvents contactEvent }
	nextEvent(t, other, testenv.WSWait).Decode(t, &data)
	wantContactEvent(t, data.ContactEvents, "CREATED", id, "Still")
}

// TestSSESlowConsumerDropped: a stream whose client stops reading is dropped by the event bus
// once its buffer fills, as a websocket's is, while a healthy stream receives every event and
// mutations stay fast.
func TestSSESlowConsumerDropped(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithOptions(t, testenv.Options{Bus: db.BusConfig{Buffer: 16}})
	ws := env.Workspace(t, "Slow")
	healthy, _ := env.OpenSSE(t, ws.Agent(), `subscription { contactEvents { type contactId } }`, nil)

	// A client with a tiny receive buffer that sends its request and never reads.
	conn, err := testenv.TinyReadBuffer().NetDialContext(context.Background(), "tcp", env.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body, _ := json.Marshal(map[string]any{"query": heavyQuery()})
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
		env.Server.Listener.Addr(), ws.Agent(), len(body), body)
	env.WaitSubscribers(t, 2)

	var slowest time.Duration
	for i := 0; env.App.Subscribers() == 2; i++ {
		if i == 2000 {
			t.Fatalf("the stream that stopped reading was not dropped after %d events", i)
		}
		t0 := time.Now()
		id := createContact(t, env, ws.Owner(), map[string]any{"firstName": fmt.Sprint("C", i)})
		slowest = max(slowest, time.Since(t0))
		var data struct {
			ContactEvents struct{ Type, ContactID string }
		}
		nextEvent(t, healthy, testenv.WSWait).Decode(t, &data)
		if data.ContactEvents.ContactID != id {
			t.Fatalf("healthy stream, event %d: got %+v, want CREATED of %s", i, data.ContactEvents, id)
		}
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest mutation: %v, want the publisher never held up by a stream", slowest)
	}
}
