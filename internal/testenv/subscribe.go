package testenv

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Subscription is one GraphQL subscription over a websocket (graphql-transport-ws).
type Subscription struct {
	conn  *websocket.Conn
	msgs  chan wsMessage
	ended bool
}

type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Subscribe opens a websocket to the server, authenticates with the token in connection_init
// and starts the subscription. It is closed when the test ends.
func (e *Env) Subscribe(tb testing.TB, token, query string, vars map[string]any) *Subscription {
	tb.Helper()
	url := "ws" + strings.TrimPrefix(e.Server.URL, "http") + "/graphql"
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(url, http.Header{"Origin": {e.Server.URL}})
	if err != nil {
		tb.Fatalf("websocket: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	write := func(m any) {
		if err := conn.WriteJSON(m); err != nil {
			tb.Fatalf("websocket write: %v", err)
		}
	}
	write(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ack wsMessage
	if err := conn.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		tb.Fatalf("connection_init: got %+v, %v, want connection_ack", ack, err)
	}
	conn.SetReadDeadline(time.Time{})
	write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query, "variables": vars}})
	s := &Subscription{conn: conn, msgs: make(chan wsMessage, 1024)}
	go func() {
		defer close(s.msgs)
		for {
			var m wsMessage
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			if m.Type == "ping" {
				conn.WriteJSON(map[string]any{"type": "pong"})
				continue
			}
			s.msgs <- m
		}
	}()
	return s
}

// Next waits up to timeout for the subscription's next payload. It returns the response and
// true, or false when the subscription completed, the connection closed or time ran out.
func (s *Subscription) Next(tb testing.TB, timeout time.Duration) (*Response, bool) {
	tb.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			s.ended = true
			return nil, false
		}
		switch m.Type {
		case "next":
			r := &Response{Status: http.StatusOK}
			if err := json.Unmarshal(m.Payload, r); err != nil {
				tb.Fatalf("subscription payload %s: %v", m.Payload, err)
			}
			return r, true
		case "error":
			var errs []Error
			json.Unmarshal(m.Payload, &errs)
			return &Response{Status: http.StatusOK, Errors: errs}, true
		}
		s.ended = true // complete
		return nil, false
	case <-time.After(timeout):
		return nil, false
	}
}

// Ended reports whether Next has seen the subscription complete (or its connection close),
// as opposed to running out of time.
func (s *Subscription) Ended() bool { return s.ended }
