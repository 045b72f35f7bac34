package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// rawWS is a bare gorilla client of the server, to see what testenv.WS hides: keep-alive
// messages and control frames.
type rawWS struct {
	*websocket.Conn
	pings atomic.Int64 // websocket ping control frames received
	msgs  chan map[string]any
	done  chan error
}

// dialRaw opens a websocket with proto, answering the server's control pings when answer is
// true, and authenticates with token.
func dialRaw(t *testing.T, env *testenv.Env, proto, token string, answer bool) *rawWS {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testenv.WSWait, Subprotocols: []string{proto}}
	conn, res, err := d.Dial(env.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := &rawWS{Conn: conn, msgs: make(chan map[string]any, 100), done: make(chan error, 1)}
	t.Cleanup(func() { conn.Close() })
	conn.SetPingHandler(func(data string) error {
		c.pings.Add(1)
		if !answer {
			return nil
		}
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				c.done <- err
				return
			}
			c.msgs <- m
		}
	}()
	if err := conn.WriteJSON(map[string]any{"type": "connection_init", "payload": testenv.InitPayload(token)}); err != nil {
		t.Fatal(err)
	}
	if m := c.next(t); m["type"] != "connection_ack" {
		t.Fatalf("%s: got %v, want connection_ack", proto, m)
	}
	return c
}

func (c *rawWS) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case err := <-c.done:
		t.Fatalf("connection ended: %v", err)
	case <-time.After(testenv.WSWait):
		t.Fatal("no message")
	}
	return nil
}

// TestWebsocketKeepAlive: every keep-alive interval the server sends "ka" and a ping control
// frame (legacy) or a "ping" message (graphql-transport-ws), answers a client's ping message and ping
// frame, and keeps a client that answers connected.
func TestWebsocketKeepAlive(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	env := testenv.NewWithOptions(t, testenv.Options{Server: func(c *server.Config) { c.WebsocketKeepAlive = interval }})
	ws := env.Workspace(t, "Alive")
	for proto, keepAlive := range map[string]string{testenv.LegacyWS: "ka", testenv.TransportWS: "ping"} {
		c := dialRaw(t, env, proto, ws.Agent(), true)
		pongs := make(chan string, 1)
		c.SetPongHandler(func(data string) error { pongs <- data; return nil })
		if err := c.WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if proto == testenv.TransportWS {
			if err := c.WriteJSON(map[string]any{"type": "ping", "payload": map[string]any{"n": 1}}); err != nil {
				t.Fatal(err)
			}
		}
		seen, pong := 0, false
		deadline := time.After(10 * interval)
	loop:
		for {
			select {
			case m := <-c.msgs:
				switch m["type"] {
				case keepAlive:
					seen++
					if keepAlive == "ping" { // as graphql-transport-ws clients do
						if err := c.WriteJSON(map[string]any{"type": "pong"}); err != nil {
							t.Fatal(err)
						}
					}
				case "pong":
					pong = fmt.Sprint(m["payload"]) == "map[n:1]"
				default:
					t.Fatalf("%s: unexpected %v", proto, m)
				}
			case err := <-c.done:
				t.Fatalf("%s: the connection of a client that answers pings ended: %v", proto, err)
			case <-deadline:
				break loop
			}
		}
		if seen < 3 || proto == testenv.LegacyWS && c.pings.Load() < 3 {
			t.Errorf("%s: in %v, %d %q messages and %d ping frames, want at least 3 (and as many ping frames in the legacy protocol)", proto, 10*interval, seen, keepAlive, c.pings.Load())
		}
		if proto == testenv.TransportWS && !pong {
			t.Errorf("%s: no pong with the ping's payload", proto)
		}
		select {
		case data := <-pongs:
			if data != "hello" {
				t.Errorf("%s: pong frame %q, want hello", proto, data)
			}
		default:
			t.Errorf("%s: no pong frame for the client's ping frame", proto)
		}
	}
}

// TestWebsocketUnresponsiveDropped: a client that answers nothing (a half-open connection,
// say) is dropped after two keep-alive intervals, and its subscription ends.
func TestWebsocketUnresponsiveDropped(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	env := testenv.NewWithOptions(t, testenv.Options{Server: func(c *server.Config) { c.WebsocketKeepAlive = interval }})
	ws := env.Workspace(t, "Silent")
	for _, proto := range testenv.Protocols {
		c := dialRaw(t, env, proto, ws.Agent(), false)
		typ := map[string]string{testenv.LegacyWS: "start", testenv.TransportWS: "subscribe"}[proto]
		start := time.Now() // the last the server hears of it
		if err := c.WriteJSON(map[string]any{"type": typ, "id": "1", "payload": map[string]any{"query": contactEventsQuery}}); err != nil {
			t.Fatal(err)
		}
		env.WaitSubscribers(t, 1)
		for {
			select {
			case <-c.msgs:
				continue
			case err := <-c.done:
				if d := time.Since(start); d < 2*interval {
					t.Errorf("%s: dropped after %v, want at least two intervals", proto, d)
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
					t.Errorf("%s: got close frame %d, want the socket dropped", proto, ce.Code)
				}
			case <-time.After(50 * interval):
				t.Fatalf("%s: a client that answers nothing is still connected after %v", proto, 50*interval)
			}
			break
		}
		env.WaitSubscribers(t, 0)
	}
}

// TestWebsocketInitTimeout: a connection that sends no connection_init within 10 s is closed
// with 4408 on both protocols.
func TestWebsocketInitTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for _, proto := range testenv.Protocols {
		c, _, err := testenv.DialWS(t, env.WSURL(), proto, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			code, text, err := c.Closed(15 * time.Second)
			if err != nil || code != 4408 || text != "Connection initialisation timeout" {
				t.Errorf("%s: closed with %d %q (%v), want 4408", proto, code, text, err)
			}
		}()
	}
}

// TestWebsocketInvalidMessages: a message of no type the protocol has closes the connection:
// 4400 in graphql-transport-ws; connection_error then 1002 in the legacy protocol.
func TestWebsocketInvalidMessages(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Invalid")
	for _, proto := range testenv.Protocols {
		for _, msg := range []string{`{"type":"next","id":"1"}`, `not json`} {
			c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			want := 4400
			if proto == testenv.LegacyWS {
				want = websocket.CloseProtocolError
				if m, err := c.Message("", testenv.WSWait); err != nil || m.Type != "connection_error" {
					t.Fatalf("%s %s: got %+v (%v), want connection_error", proto, msg, m, err)
				}
			}
			if code, text, err := c.Closed(testenv.WSWait); err != nil || code != want {
				t.Fatalf("%s %s: closed with %d %q (%v), want %d", proto, msg, code, text, err, want)
			}
		}
	}
}

// TestWebsocketSharedFrames: subscribers of one group on both protocols, with the same and
// with different operation ids, each get the event under their own id and type; a query over
// the websocket is answered too.
func TestWebsocketSharedFrames(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Frames")
	type sub struct {
		c  *testenv.WS
		id string
	}
	var subs []sub
	for i, proto := range []string{testenv.TransportWS, testenv.TransportWS, testenv.LegacyWS, testenv.LegacyWS} {
		c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
		id := fmt.Sprint("s", i%2)
		c.Subscribe(id, `subscription { contactEvents { type contactId } }`, nil)
		subs = append(subs, sub{c, id})
	}
	env.WaitSubscribers(t, len(subs))
	for n := range 3 {
		id := createContact(t, env, ws.Owner(), map[string]any{"firstName": fmt.Sprint("F", n)})
		for _, s := range subs {
			var data struct {
				ContactEvents struct{ Type, ContactID string }
			}
			s.c.NextData(s.id, &data)
			if data.ContactEvents.Type != "CREATED" || data.ContactEvents.ContactID != id {
				t.Fatalf("%s %s, event %d: got %+v, want CREATED of %s", s.c.Protocol, s.id, n, data.ContactEvents, id)
			}
		}
	}
	q := subs[0].c
	q.Subscribe("q", `{ viewer { name } }`, nil)
	var data struct{ Viewer struct{ Name string } }
	q.NextData("q", &data)
	q.ExpectComplete("q")
	if data.Viewer.Name == "" {
		t.Fatalf("query over the websocket: no viewer")
	}
}

// TestWebsocketRequestID: the 101 answer carries the request id.
func TestWebsocketRequestID(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, res, err := testenv.DialWS(t, env.WSURL(), testenv.TransportWS, http.Header{"X-Request-Id": {"ws-req-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get("X-Request-Id"); got != "ws-req-1" {
		t.Fatalf("X-Request-Id: got %q, want ws-req-1", got)
	}
}

// TestLegacyStartReplaces: in the legacy protocol a start whose id is running replaces that
// operation: one event per event, and no complete for the one replaced.
func TestLegacyStartReplaces(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Replace")
	c := testenv.Dial(t, env.WSURL(), testenv.LegacyWS, ws.Agent())
	c.Subscribe("a", `subscription { contactEvents { type contactId } }`, nil)
	env.WaitSubscribers(t, 1)
	c.Subscribe("a", `subscription { contactEvents { contactId } }`, nil)
	c.Subscribe("q", `{ viewer { name } }`, nil) // answered once the start before it was served
	c.Next("q")
	env.WaitSubscribers(t, 1) // the replaced one gone
	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Once"})
	m, err := c.Message("a", testenv.WSWait)
	if err != nil || !m.IsData() {
		t.Fatalf("got %+v (%v), want the event", m, err)
	}
	var data struct {
		ContactEvents struct{ Type, ContactID string }
	}
	m.Response(t).Decode(t, &data)
	if data.ContactEvents.ContactID != id || data.ContactEvents.Type != "" {
		t.Fatalf("got %+v, want the replacing subscription's event (no type) of %s", data.ContactEvents, id)
	}
	c.ExpectNothing("a", quiet)
}
