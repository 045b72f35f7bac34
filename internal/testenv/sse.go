package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SSE is one graphql-sse event stream (distinct connections mode) to a test server.
type SSE struct {
	Res    *http.Response
	events chan SSEEvent
	cancel context.CancelFunc
}

// SSEEvent is one event of a stream: its name (next, complete) and its data.
type SSEEvent struct {
	Name string
	Data string
}

// Response decodes a next event's data.
func (e SSEEvent) Response(tb testing.TB) *Response {
	tb.Helper()
	var r Response
	if err := json.Unmarshal([]byte(e.Data), &r); err != nil {
		tb.Fatalf("event %s data %q: %v", e.Name, e.Data, err)
	}
	return &r
}

// OpenSSE POSTs a GraphQL request with Accept: text/event-stream and returns the stream,
// whose events a goroutine reads until the test ends or Close. A response that is not an
// event stream is returned with a nil stream.
func (e *Env) OpenSSE(tb testing.TB, token, query string, vars map[string]any) (*SSE, *http.Response) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.Server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		return nil, res
	}
	s := &SSE{Res: res, events: make(chan SSEEvent, 1024), cancel: cancel}
	go s.read()
	tb.Cleanup(s.Close)
	return s, res
}

func (s *SSE) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.Res.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var ev SSEEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Name != "" || ev.Data != "" {
				s.events <- ev
			}
			ev = SSEEvent{}
		case strings.HasPrefix(line, ":"): // a comment: keep-alive
		case strings.HasPrefix(line, "event:"):
			ev.Name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if ev.Data != "" {
				ev.Data += "\n"
			}
			ev.Data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
}

// Next returns the next event within d; ok is false when none came or the stream ended.
func (s *SSE) Next(d time.Duration) (SSEEvent, bool) {
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(d):
		return SSEEvent{}, false
	}
}

// Ended reports whether the server ends the stream (closes the response) within d.
func (s *SSE) Ended(d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// Close ends the stream from the client's side, as graphql-sse clients end a subscription.
func (s *SSE) Close() {
	s.cancel()
	s.Res.Body.Close()
}
