package gorillaws_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"rubrica/server/gorillaws"
)

// wait bounds every read and every wait for a server-side event in these tests.
const wait = 5 * time.Second

type actorKey struct{}

// initFunc authenticates a websocket like the server should: the connection_init payload
// carries {"Authorization": "Bearer <token>"}, key matched case-insensitively. A refusal sets
// the close code 4403 (graphql-transport-ws "Forbidden") on the context it returns: gqlgen
// closes with the code found in that context, 1000 if none.
func initFunc(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	var token string
	for k, v := range p {
		if strings.EqualFold(k, "Authorization") {
			token, _ = v.(string)
		}
	}
	if token != "Bearer good" {
		ctx = transport.WithWebsocketCloseCode(ctx, 4403)
		ctx = transport.AppendCloseReason(ctx, "Forbidden")
		return ctx, nil, errors.New("invalid or missing token")
	}
	return context.WithValue(ctx, actorKey{}, "alice"), nil, nil
}

// harness is a real gqlgen server (testserver: a `name` subscription fed by
// SendNextSubscriptionMessage) on a real HTTP server, with the websocket transport on an Upgrader.
type harness struct {
	srv     *testserver.TestServer
	url     string // ws://...
	httpURL string
	closes  chan int    // CloseFunc codes
	errs    chan error  // ErrorFunc errors
	ops     chan string // the actor in each operation's context
}

func start(t *testing.T, up *gorillaws.Upgrader, tune func(*transport.Websocket)) *harness {
	t.Helper()
	h := &harness{closes: make(chan int, 16), errs: make(chan error, 16), ops: make(chan string, 16)}
	h.srv = testserver.New()
	ws := transport.Websocket{
		Implementation:        up,
		InitFunc:              initFunc,
		KeepAlivePingInterval: 50 * time.Millisecond,
		CloseFunc:             func(_ context.Context, code int) { h.closes <- code },
		ErrorFunc:             func(_ context.Context, err error) { h.errs <- err },
	}
	if tune != nil {
		tune(&ws)
	}
	h.srv.AddTransport(ws)
	h.srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		actor, _ := ctx.Value(actorKey{}).(string)
		h.ops <- actor
		return next(ctx)
	})
	ts := httptest.NewServer(h.srv)
	t.Cleanup(ts.Close)
	h.httpURL = ts.URL
	h.url = "ws" + strings.TrimPrefix(ts.URL, "http")
	return h
}

func (h *harness) waitClose(t *testing.T) int {
	t.Helper()
	select {
	case code := <-h.closes:
		return code
	case <-time.After(wait):
		t.Fatal("CloseFunc was not called")
		return 0
	}
}

func (h *harness) waitErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.errs:
		return err
	case <-time.After(wait):
		t.Fatal("ErrorFunc was not called")
		return nil
	}
}

func (h *harness) waitOp(t *testing.T, wantActor string) {
	t.Helper()
	select {
	case actor := <-h.ops:
		if actor != wantActor {
			t.Fatalf("operation ran as %q, want %q", actor, wantActor)
		}
	case <-time.After(wait):
		t.Fatal("no operation started")
	}
}

// protocol is what differs between the two GraphQL websocket protocols.
type protocol struct {
	name      string // subprotocol
	subscribe string // client: start an operation
	stop      string // client: stop it
	next      string // server: a result
}

var protocols = []protocol{
	{name: "graphql-transport-ws", subscribe: "subscribe", stop: "complete", next: "next"},
	{name: "graphql-ws", subscribe: "start", stop: "stop", next: "data"},
}

type msg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(url string, header http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: wait}
	return d.Dial(url, header)
}

func (h *harness) dial(t *testing.T, subprotocol string, header http.Header) *client {
	t.Helper()
	ws, _, err := dial(h.url, header, subprotocol)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	if got := ws.Subprotocol(); got != subprotocol {
		t.Fatalf("negotiated subprotocol %q, want %q", got, subprotocol)
	}
	return &client{t: t, ws: ws}
}

func (c *client) send(typ, id string, payload any) {
	c.t.Helper()
	m := map[string]any{"type": typ}
	if id != "" {
		m["id"] = id
	}
	if payload != nil {
		m["payload"] = payload
	}
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("send %s: %v", typ, err)
	}
}

// read returns the next message, "ka" (legacy keep-alive) included.
func (c *client) read() (msg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(wait))
	var m msg
	_, data, err := c.ws.ReadMessage()
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	return m, err
}

// next returns the next message that is not a "ka".
func (c *client) next() msg {
	c.t.Helper()
	for {
		m, err := c.read()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if m.Type != "ka" {
			return m
		}
	}
}

func (c *client) expect(typ, id string) msg {
	c.t.Helper()
	m := c.next()
	if m.Type != typ || m.ID != id {
		c.t.Fatalf("got %s id %q (%s), want %s id %q", m.Type, m.ID, m.Payload, typ, id)
	}
	return m
}

// expectClose reads until the connection ends; it must end with a close frame with code.
func (c *client) expectClose(code int) *websocket.CloseError {
	c.t.Helper()
	for {
		m, err := c.read()
		if err == nil {
			if m.Type != "ka" {
				c.t.Fatalf("got %s (%s), want a close %d", m.Type, m.Payload, code)
			}
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			c.t.Fatalf("connection ended with %v, want a close %d", err, code)
		}
		return ce
	}
}

func (c *client) init(key string) {
	c.t.Helper()
	c.send("connection_init", "", map[string]string{key: "Bearer good"})
	c.expect("connection_ack", "")
}

var nameQuery = map[string]string{"query": "subscription { name }"}

func TestSubscribe(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{}, nil)
			c := h.dial(t, p.name, nil)
			c.init("aUtHoRiZaTiOn")

			c.send(p.subscribe, "1", nameQuery)
			h.waitOp(t, "alice") // the actor InitFunc put in the context reaches the operation
			for range 2 {
				h.srv.SendNextSubscriptionMessage()
				m := c.expect(p.next, "1")
				if string(m.Payload) != `{"data":{"name":"test"}}` {
					t.Fatalf("payload %s", m.Payload)
				}
			}

			// gqlgen answers a client's stop with complete, in both protocols.
			c.send(p.stop, "1", nil)
			c.expect("complete", "1")

			// The connection is still usable; a stream that ends on the server completes.
			c.send(p.subscribe, "2", nameQuery)
			h.waitOp(t, "alice")
			h.srv.SendNextSubscriptionMessage()
			c.expect(p.next, "2")
			h.srv.SendCompleteSubscriptionMessage()
			c.expect("complete", "2")

			if p.name == "graphql-ws" {
				c.send("connection_terminate", "", nil)
				if ce := c.expectClose(websocket.CloseNormalClosure); ce.Text != "terminated" {
					t.Fatalf("close reason %q", ce.Text)
				}
			} else {
				// A normal close by the client: the server echoes it, and NextReader's
				// ErrWebsocketClosed keeps it out of ErrorFunc.
				if err := c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
					t.Fatal(err)
				}
				c.expectClose(websocket.CloseNormalClosure)
			}
			if code := h.waitClose(t); code != websocket.CloseNormalClosure {
				t.Fatalf("CloseFunc code %d", code)
			}
			select {
			case err := <-h.errs:
				t.Fatalf("ErrorFunc called on a normal close: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// A refused connection_init closes the connection with 4403 and never starts an operation,
// even one the client sent right behind its connection_init (subscriptions-transport-ws does).
// graphql-transport-ws has no connection_error message: the close frame is all the client
// gets. Legacy graphql-ws first gets connection_error {"message": <InitFunc's error>}.
func TestBadTokenRefused(t *testing.T) {
	payloads := map[string]any{
		"bad token":     map[string]string{"Authorization": "Bearer bad"},
		"no token":      map[string]string{},
		"no payload":    nil,
		"not a string":  map[string]int{"authorization": 1},
		"scheme only":   map[string]string{"Authorization": "Bearer"},
		"wrong scheme ": map[string]string{"Authorization": "Basic good"},
	}
	for _, p := range protocols {
		for name, payload := range payloads {
			t.Run(p.name+"/"+name, func(t *testing.T) {
				h := start(t, &gorillaws.Upgrader{}, nil)
				c := h.dial(t, p.name, nil)
				c.send("connection_init", "", payload)
				c.send(p.subscribe, "1", nameQuery)
				if p.name == "graphql-ws" {
					m := c.expect("connection_error", "")
					if string(m.Payload) != `{"message":"invalid or missing token"}` {
						t.Fatalf("connection_error payload %s", m.Payload)
					}
				}
				if ce := c.expectClose(4403); ce.Text != "Forbidden" {
					t.Fatalf("close reason %q", ce.Text)
				}
				if code := h.waitClose(t); code != 4403 {
					t.Fatalf("CloseFunc code %d", code)
				}
				if len(h.ops) != 0 {
					t.Fatal("an operation started on a refused connection")
				}
			})
		}
	}
}

func TestOrigin(t *testing.T) {
	allowList := &gorillaws.Upgrader{CheckOrigin: gorillaws.OriginChecker([]string{"https://app.example.com", " http://localhost:5173 "})}
	defaults := &gorillaws.Upgrader{} // nil CheckOrigin: same origin only
	for _, tc := range []struct {
		name   string
		up     *gorillaws.Upgrader
		origin string // "" sends none; "SAME" the server's own
		ok     bool
	}{
		{"allow-list/no origin", allowList, "", true},
		{"allow-list/same origin", allowList, "SAME", true},
		{"allow-list/listed", allowList, "https://app.example.com", true},
		{"allow-list/listed, other case, default port", allowList, "HTTPS://App.Example.COM:443", true},
		{"allow-list/listed with port", allowList, "http://localhost:5173", true},
		{"allow-list/foreign", allowList, "https://evil.example.com", false},
		{"allow-list/listed host, other scheme", allowList, "http://app.example.com", false},
		{"allow-list/listed host, other port", allowList, "https://app.example.com:8443", false},
		{"allow-list/null", allowList, "null", false},
		{"default/no origin", defaults, "", true},
		{"default/same origin", defaults, "SAME", true},
		{"default/foreign", defaults, "https://app.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, tc.up, nil)
			header := http.Header{}
			switch tc.origin {
			case "":
			case "SAME":
				header.Set("Origin", h.httpURL)
			default:
				header.Set("Origin", tc.origin)
			}
			ws, resp, err := dial(h.url, header, "graphql-transport-ws")
			if !tc.ok {
				if err == nil {
					ws.Close()
					t.Fatal("foreign origin was upgraded")
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("handshake answered %v (%v), want 403", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer ws.Close()
			c := &client{t: t, ws: ws}
			c.init("Authorization")
		})
	}
}

func TestOriginChecker(t *testing.T) {
	check := gorillaws.OriginChecker([]string{"https://app.example.com/", "HTTP://[::1]:8080", "", "app.example.org", "https://x.example.com/path", "http://plain.example.com:80"})
	all := gorillaws.OriginChecker([]string{"https://a.example.com", "*"})
	for _, tc := range []struct {
		check  func(*http.Request) bool
		host   string
		origin string // "-" sends none
		want   bool
	}{
		{check, "api.example.com", "-", true},
		{check, "api.example.com", "https://api.example.com", true},
		{check, "api.example.com:8080", "http://API.example.com:8080", true},
		{check, "api.example.com", "https://api.example.com:8080", false},
		{check, "api.example.com", "https://app.example.com", true},
		{check, "api.example.com", "http://[::1]:8080", true},
		{check, "api.example.com", "http://plain.example.com", true},
		{check, "api.example.com", "https://app.example.org", false}, // listed without a scheme: ignored
		{check, "api.example.com", "https://x.example.com", false},   // listed with a path: ignored
		{check, "api.example.com", "", false},
		{check, "api.example.com", "null", false},
		{check, "api.example.com", "https://app.example.com.evil.com", false},
		{all, "api.example.com", "https://anything.example.net", true},
		{all, "api.example.com", "null", true},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+"/graphql", nil)
		if tc.origin != "-" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := tc.check(r); got != tc.want {
			t.Errorf("Host %s, Origin %q: allowed %v, want %v", tc.host, tc.origin, got, tc.want)
		}
	}
}

// A message over the Upgrader's ReadLimit closes the connection with 1009; gqlgen's
// PayloadReadLimit (1 MB when nil) can lower the limit but not raise it.
func TestReadLimit(t *testing.T) {
	padded := func(n int) map[string]string { // a subscription of about n bytes on the wire
		return map[string]string{"query": "subscription { name } #" + strings.Repeat("x", n)}
	}
	lower := int64(512)
	for _, tc := range []struct {
		name string
		up   *gorillaws.Upgrader
		tune func(*transport.Websocket)
		fits int // a message of this size goes through
		over int // a message of this size closes the connection
	}{
		{"upgrader limit", &gorillaws.Upgrader{ReadLimit: 1024}, nil, 900, 2000},
		{"payload limit lowers it", &gorillaws.Upgrader{}, func(ws *transport.Websocket) { ws.PayloadReadLimit = &lower }, 400, 600},
		{"default 64 KiB", &gorillaws.Upgrader{}, nil, 60 << 10, 70 << 10},
	} {
		for _, p := range protocols {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				h := start(t, tc.up, tc.tune)
				c := h.dial(t, p.name, nil)
				c.init("Authorization")
				c.send(p.subscribe, "1", padded(tc.fits))
				h.waitOp(t, "alice")
				h.srv.SendNextSubscriptionMessage()
				c.expect(p.next, "1")
				c.send(p.subscribe, "2", padded(tc.over))
				c.expectClose(websocket.CloseMessageTooBig)
				// gqlgen reports the read error and closes "normally": CloseFunc sees 1000,
				// although the client was sent 1009. The error is ErrReadLimit when the first
				// frame is already too long, but gqlgen's "invalid message received" when the
				// limit is hit inside a fragmented message (gorilla clients send 4 KiB frames).
				if err := h.waitErr(t); !errors.Is(err, websocket.ErrReadLimit) && !strings.Contains(err.Error(), "invalid message") {
					t.Fatalf("ErrorFunc got %v", err)
				}
				if code := h.waitClose(t); code != websocket.CloseNormalClosure {
					t.Fatalf("CloseFunc code %d", code)
				}
			})
		}
	}
}

// KeepAlivePingInterval sends "ka" on legacy graphql-ws only; graphql-transport-ws gets nothing.
func TestKeepAlive(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{}, func(ws *transport.Websocket) { ws.KeepAlivePingInterval = 30 * time.Millisecond })
			c := h.dial(t, p.name, nil)
			c.init("Authorization")
			kas := 0
			deadline := time.Now().Add(400 * time.Millisecond)
			for {
				_ = c.ws.SetReadDeadline(deadline)
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						t.Fatalf("read: %v", err)
					}
					break
				}
				var m msg
				if err := json.Unmarshal(data, &m); err != nil || m.Type != "ka" {
					t.Fatalf("unexpected message %s", data)
				}
				kas++
			}
			if p.name == "graphql-ws" && kas < 5 {
				t.Fatalf("%d ka messages in 400ms at a 30ms interval", kas)
			}
			if p.name == "graphql-transport-ws" && kas != 0 {
				t.Fatalf("%d ka messages on graphql-transport-ws", kas)
			}
		})
	}
}

// PingPongInterval (graphql-transport-ws only) sends {"type":"ping"} every interval and, via
// SetReadDeadline, ends a connection whose client sends no pong within 2 intervals.
func TestPingPong(t *testing.T) {
	const interval = 100 * time.Millisecond
	tune := func(ws *transport.Websocket) { ws.PingPongInterval = interval }

	t.Run("answering client stays", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, tune)
		c := h.dial(t, "graphql-transport-ws", nil)
		c.init("Authorization")
		for range 8 { // 800ms, four times the pong deadline
			c.expect("ping", "")
			c.send("pong", "", nil)
		}
		c.send("subscribe", "1", nameQuery)
		h.waitOp(t, "alice")
		h.srv.SendNextSubscriptionMessage()
		for {
			if m := c.next(); m.Type != "ping" {
				if m.Type != "next" || m.ID != "1" {
					t.Fatalf("got %s %s", m.Type, m.Payload)
				}
				break
			}
			c.send("pong", "", nil)
		}
	})

	t.Run("silent client is dropped", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, tune)
		c := h.dial(t, "graphql-transport-ws", nil)
		c.init("Authorization")
		acked := time.Now()
		pings := 0
		for {
			m, err := c.read()
			if err != nil {
				// gqlgen closes "normally" once the read deadline passes.
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
					t.Fatalf("connection ended with %v", err)
				}
				break
			}
			if m.Type != "ping" {
				t.Fatalf("got %s", m.Type)
			}
			pings++
		}
		if elapsed := time.Since(acked); elapsed < interval || elapsed > 10*interval {
			t.Fatalf("dropped after %v, want about 2×%v", elapsed, interval)
		}
		if pings == 0 {
			t.Fatal("no ping before the drop")
		}
		var ne net.Error
		if err := h.waitErr(t); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("ErrorFunc got %v, want a read timeout", err)
		}
		if code := h.waitClose(t); code != websocket.CloseNormalClosure {
			t.Fatalf("CloseFunc code %d", code)
		}
	})

	t.Run("legacy protocol gets no ping", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, tune)
		c := h.dial(t, "graphql-ws", nil)
		c.init("Authorization")
		_ = c.ws.SetReadDeadline(time.Now().Add(4 * interval))
		for {
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("read: %v", err) // not dropped either
				}
				break
			}
			if !strings.Contains(string(data), `"ka"`) {
				t.Fatalf("unexpected message %s", data)
			}
		}
	})
}

// The Upgrader's PingInterval uses websocket control frames, which clients answer themselves,
// and so finds dead peers on both protocols.
func TestUpgraderPingInterval(t *testing.T) {
	const interval = 50 * time.Millisecond
	for _, p := range protocols {
		t.Run(p.name+"/answering client stays", func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{PingInterval: interval}, nil)
			c := h.dial(t, p.name, nil)
			pings := 0
			c.ws.SetPingHandler(func(data string) error {
				pings++
				return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			})
			c.init("Authorization")
			_ = c.ws.SetReadDeadline(time.Now().Add(10 * interval))
			for {
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						t.Fatalf("dropped: %v", err)
					}
					break
				}
				if !strings.Contains(string(data), `"ka"`) {
					t.Fatalf("unexpected message %s", data)
				}
			}
			if pings < 5 {
				t.Fatalf("%d pings in %v", pings, 10*interval)
			}
		})
		t.Run(p.name+"/mute client is dropped", func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{PingInterval: interval}, nil)
			c := h.dial(t, p.name, nil)
			c.ws.SetPingHandler(func(string) error { return nil }) // never pong
			c.init("Authorization")
			acked := time.Now()
			for {
				if _, err := c.read(); err != nil {
					break // the socket was closed without a close frame: the peer is presumed gone
				}
			}
			if elapsed := time.Since(acked); elapsed > 10*interval {
				t.Fatalf("dropped after %v", elapsed)
			}
			// A keep-alive write racing the drop may be reported first.
			for err := h.waitErr(t); !errors.Is(err, gorillaws.ErrPeerUnresponsive); err = h.waitErr(t) {
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("ErrorFunc got %v", err)
				}
			}
		})
	}
}

// gqlgen's InitTimeout closes with 1002; the Upgrader's closes with 4408 as graphql-transport-ws
// asks (legacy graphql-ws defines no code; it gets the same).
func TestInitTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, p := range protocols {
		t.Run(p.name+"/upgrader", func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{InitTimeout: timeout}, nil)
			c := h.dial(t, p.name, nil)
			began := time.Now()
			if ce := c.expectClose(gorillaws.CloseInitTimeout); ce.Text != "Connection initialisation timeout" {
				t.Fatalf("close reason %q", ce.Text)
			}
			if elapsed := time.Since(began); elapsed < timeout/2 || elapsed > 10*timeout {
				t.Fatalf("closed after %v", elapsed)
			}
			// gqlgen sees a failed read during init and reports its own close code.
			if code := h.waitClose(t); code != websocket.CloseProtocolError {
				t.Fatalf("CloseFunc code %d", code)
			}
		})
		t.Run(p.name+"/upgrader, init in time", func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{InitTimeout: timeout}, nil)
			c := h.dial(t, p.name, nil)
			c.init("Authorization")
			time.Sleep(3 * timeout)
			c.send(p.subscribe, "1", nameQuery)
			h.waitOp(t, "alice")
			h.srv.SendNextSubscriptionMessage()
			c.expect(p.next, "1")
		})
		t.Run(p.name+"/gqlgen", func(t *testing.T) {
			h := start(t, &gorillaws.Upgrader{}, func(ws *transport.Websocket) { ws.InitTimeout = timeout })
			c := h.dial(t, p.name, nil)
			if ce := c.expectClose(websocket.CloseProtocolError); ce.Text != "connection initialisation timeout" {
				t.Fatalf("close reason %q", ce.Text)
			}
		})
	}
}

// serveAccept runs serve on every connection up accepts, outside gqlgen.
func serveAccept(t *testing.T, up *gorillaws.Upgrader, opts transport.WebsocketAcceptOptions, serve func(transport.WebsocketConn)) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Accept(w, r, opts)
		if err != nil {
			return
		}
		serve(c)
	}))
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

func gqlgenOptions() transport.WebsocketAcceptOptions {
	return transport.WebsocketAcceptOptions{
		ResponseHeader: http.Header{"X-Rubrica": {"yes"}},
		Subprotocols:   []string{"graphql-ws", "graphql-transport-ws"}, // gqlgen's order
	}
}

func TestSubprotocolAndHeader(t *testing.T) {
	url := serveAccept(t, &gorillaws.Upgrader{}, gqlgenOptions(), func(c transport.WebsocketConn) { c.Close() })
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"graphql-transport-ws"}, "graphql-transport-ws"},
		{[]string{"graphql-ws"}, "graphql-ws"},
		{[]string{"graphql-transport-ws", "graphql-ws"}, "graphql-transport-ws"}, // the client's preference
		{[]string{"graphql-ws", "graphql-transport-ws"}, "graphql-ws"},
		{[]string{"mqtt", "graphql-transport-ws"}, "graphql-transport-ws"},
		{[]string{"mqtt"}, ""},
		{nil, ""},
	} {
		ws, resp, err := dial(url, nil, tc.offer...)
		if err != nil {
			t.Fatalf("%v: %v", tc.offer, err)
		}
		ws.Close()
		if got := ws.Subprotocol(); got != tc.want {
			t.Errorf("offered %v: negotiated %q, want %q", tc.offer, got, tc.want)
		}
		if got := resp.Header.Get("X-Rubrica"); got != "yes" {
			t.Errorf("ResponseHeader not passed: %q", got)
		}
	}
}

// NextReader returns transport.ErrWebsocketClosed for a normal close by the peer.
func TestNextReaderClose(t *testing.T) {
	errs := make(chan error, 1)
	url := serveAccept(t, &gorillaws.Upgrader{}, gqlgenOptions(), func(c transport.WebsocketConn) {
		defer c.Close()
		for {
			if _, _, err := c.NextReader(); err != nil {
				errs <- err
				return
			}
		}
	})
	for _, tc := range []struct {
		name   string
		close  func(*websocket.Conn)
		normal bool
	}{
		{"1000", closeWith(websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")), true},
		{"1001", closeWith(websocket.FormatCloseMessage(websocket.CloseGoingAway, "")), true},
		{"no status", closeWith([]byte{}), true},
		{"4000", closeWith(websocket.FormatCloseMessage(4000, "")), false},
		{"1011", closeWith(websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "")), false},
		{"dropped socket", func(ws *websocket.Conn) { ws.NetConn().Close() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, _, err := dial(url, nil, "graphql-transport-ws")
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			if err := ws.WriteMessage(websocket.TextMessage, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			tc.close(ws)
			select {
			case err := <-errs:
				if got := errors.Is(err, transport.ErrWebsocketClosed); got != tc.normal {
					t.Fatalf("NextReader returned %v", err)
				}
			case <-time.After(wait):
				t.Fatal("NextReader did not return")
			}
		})
	}
}

func closeWith(payload []byte) func(*websocket.Conn) {
	return func(ws *websocket.Conn) {
		_ = ws.WriteControl(websocket.CloseMessage, payload, time.Now().Add(time.Second))
	}
}

// WriteClose cuts the reason to 123 bytes of valid UTF-8 and never sends a reserved code.
func TestWriteClose(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes; byte 123 is inside a rune
	for _, tc := range []struct {
		code, wantCode int
		reason         string
		wantText       string
	}{
		{4403, 4403, "Forbidden", "Forbidden"},
		{4403, 4403, long, strings.Repeat("é", 61)},
		{4400, 4400, strings.Repeat("a", 200), strings.Repeat("a", 123)},
		{websocket.CloseAbnormalClosure, websocket.CloseInternalServerErr, "x", "x"}, // 1006 may not be sent
		{websocket.CloseNoStatusReceived, websocket.CloseNoStatusReceived, "ignored", ""},
	} {
		url := serveAccept(t, &gorillaws.Upgrader{}, gqlgenOptions(), func(c transport.WebsocketConn) {
			_ = c.WriteClose(tc.code, tc.reason)
			_ = c.WriteClose(4000, "only the first close is sent")
			c.Close()
		})
		ws, _, err := dial(url, nil, "graphql-transport-ws")
		if err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		_, _, err = ws.ReadMessage()
		ws.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v", err)
		}
		if ce.Code != tc.wantCode || ce.Text != tc.wantText || !utf8.ValidString(ce.Text) {
			t.Errorf("close %d %q: got %d %q, want %d %q", tc.code, tc.reason, ce.Code, ce.Text, tc.wantCode, tc.wantText)
		}
	}
}

// Writes from many goroutines are serialised (run with -race) and arrive whole.
func TestConcurrentWrites(t *testing.T) {
	const writers, each = 8, 200
	url := serveAccept(t, &gorillaws.Upgrader{}, gqlgenOptions(), func(c transport.WebsocketConn) {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if err := c.WriteJSON(map[string]int{"w": w, "i": i}); err != nil {
						t.Errorf("WriteJSON: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		_ = c.WriteClose(websocket.CloseNormalClosure, "done")
		c.Close()
	})
	ws, _, err := dial(url, nil, "graphql-transport-ws")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	next := make([]int, writers)
	for {
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		var m struct{ W, I int }
		if err := ws.ReadJSON(&m); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("read: %v", err)
			}
			break
		}
		if m.I != next[m.W] {
			t.Fatalf("writer %d: message %d after %d", m.W, m.I, next[m.W]-1)
		}
		next[m.W]++
	}
	for w, n := range next {
		if n != each {
			t.Errorf("writer %d: %d messages", w, n)
		}
	}
}

// A client that stops reading makes a write time out; the connection is then dropped, so that
// the reader (and with it gqlgen's subscriptions) ends too.
func TestWriteTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	type result struct {
		writeErr, readErr error
		blocked           time.Duration // the longest write
	}
	results := make(chan result, 1)
	url := serveAccept(t, &gorillaws.Upgrader{WriteTimeout: timeout}, gqlgenOptions(), func(c transport.WebsocketConn) {
		defer c.Close()
		var res result
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 10000 && res.writeErr == nil; i++ { // at most 640 MB
			began := time.Now()
			res.writeErr = c.WriteJSON(chunk)
			res.blocked = max(res.blocked, time.Since(began))
		}
		readErr := make(chan error, 1)
		go func() { _, _, err := c.NextReader(); readErr <- err }()
		select {
		case res.readErr = <-readErr:
		case <-time.After(wait):
		}
		results <- res
	})
	ws, _, err := dial(url, nil, "graphql-transport-ws")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close() // never read
	select {
	case res := <-results:
		var ne net.Error
		if !errors.As(res.writeErr, &ne) || !ne.Timeout() {
			t.Fatalf("write error %v, want a timeout", res.writeErr)
		}
		if res.blocked > timeout+time.Second {
			t.Fatalf("a write blocked %v", res.blocked)
		}
		if res.readErr == nil {
			t.Fatal("the connection was not dropped after the write timeout")
		}
	case <-time.After(2 * wait):
		t.Fatal("writes to a client that does not read never failed")
	}
}
