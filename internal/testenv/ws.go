package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The two GraphQL websocket protocols the server speaks.
const (
	// TransportWS is graphql-transport-ws, the protocol of the graphql-ws npm client:
	// connection_init/connection_ack, subscribe/next/error/complete, ping/pong.
	TransportWS = "graphql-transport-ws"
	// LegacyWS is the legacy graphql-ws of subscriptions-transport-ws:
	// connection_init/connection_ack/connection_error/ka, start/data/error/stop/complete.
	LegacyWS = "graphql-ws"
)

// Protocols lists both protocols, for table tests.
var Protocols = []string{TransportWS, LegacyWS}

// WSWait bounds every wait of a WS for a message it expects.
const WSWait = 15 * time.Second

// WSMessage is one message of either protocol.
type WSMessage struct {
	Type     string          `json:"type"`
	ID       string          `json:"id,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Received time.Time       `json:"-"` // when the client read it
}

// IsData reports whether m carries a result (graphql-transport-ws "next", legacy "data").
func (m WSMessage) IsData() bool { return m.Type == "next" || m.Type == "data" }

// Response decodes the payload of a next/data message.
func (m WSMessage) Response(tb testing.TB) *Response {
	tb.Helper()
	r := &Response{Status: http.StatusOK}
	if err := json.Unmarshal(m.Payload, r); err != nil {
		tb.Fatalf("ws %s message payload %s: %v", m.Type, m.Payload, err)
	}
	return r
}

// Errors decodes the GraphQL errors of a message: those of a next/data payload, or the list
// (or single error) of an error or connection_error message.
func (m WSMessage) Errors(tb testing.TB) []Error {
	tb.Helper()
	if m.IsData() {
		return m.Response(tb).Errors
	}
	var list []Error
	if err := json.Unmarshal(m.Payload, &list); err == nil {
		return list
	}
	var one Error
	if err := json.Unmarshal(m.Payload, &one); err != nil {
		tb.Fatalf("ws %s message payload %s: %v", m.Type, m.Payload, err)
	}
	return []Error{one}
}

// WS is a GraphQL websocket client for tests, speaking either protocol over a real
// gorilla/websocket connection. A reader goroutine answers pings and queues the messages of
// each operation id, so a test reads each subscription at its own pace.
type WS struct {
	tb       testing.TB
	Conn     *websocket.Conn
	Protocol string

	wmu sync.Mutex // one writer at a time

	mu      sync.Mutex
	queues  map[string][]WSMessage // by operation id; "" for connection messages
	signal  chan struct{}          // closed and replaced whenever a message arrives
	done    chan struct{}          // closed when the reader stops
	readErr error                  // why the reader stopped

	pmu       sync.Mutex
	paused    chan struct{} // while reading is stopped: closed by ResumeReading
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
}

// WSURL returns the websocket URL of the env's GraphQL endpoint.
func (e *Env) WSURL() string { return WSURL(e.Server.URL) }

// WSURL turns a server's http:// base URL into the ws:// URL of its /graphql.
func WSURL(base string) string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http") + "/graphql"
}

// DialWS opens a websocket to url offering protocol (none when empty), with the upgrade
// request's header (Origin, Authorization, ...), and sends nothing yet. On a refused
// handshake it returns websocket.ErrBadHandshake with the HTTP response.
func DialWS(tb testing.TB, url, protocol string, header http.Header) (*WS, *http.Response, error) {
	tb.Helper()
	return DialWSWith(tb, &websocket.Dialer{HandshakeTimeout: WSWait}, url, protocol, header)
}

// DialWSWith is DialWS with a dialer of the caller's.
func DialWSWith(tb testing.TB, d *websocket.Dialer, url, protocol string, header http.Header) (*WS, *http.Response, error) {
	tb.Helper()
	d2 := *d
	if protocol != "" {
		d2.Subprotocols = []string{protocol}
	}
	conn, res, err := d2.Dial(url, header)
	if err != nil {
		return nil, res, err
	}
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	c := &WS{
		tb: tb, Conn: conn, Protocol: protocol,
		queues: map[string][]WSMessage{}, signal: make(chan struct{}), done: make(chan struct{}),
		closing: make(chan struct{}),
	}
	if c.Protocol == "" {
		c.Protocol = LegacyWS // what the server speaks when no subprotocol is negotiated
	}
	tb.Cleanup(c.Close)
	go c.read()
	return c, res, nil
}

// Dial opens a websocket with protocol, authenticates with token in the connection_init
// payload (none when token is empty) and waits for connection_ack; it fails the test
// otherwise.
func Dial(tb testing.TB, url, protocol, token string) *WS {
	tb.Helper()
	c, res, err := DialWS(tb, url, protocol, nil)
	if err != nil {
		tb.Fatalf("dial %s (%s): %v (response %v)", url, protocol, err, statusOf(res))
	}
	c.Init(InitPayload(token))
	if err := c.WaitAck(); err != nil {
		tb.Fatal(err)
	}
	return c
}

func statusOf(res *http.Response) any {
	if res == nil {
		return "none"
	}
	return res.Status
}

// InitPayload is the connection_init payload carrying token ({} when empty).
func InitPayload(token string) map[string]any {
	if token == "" {
		return map[string]any{}
	}
	return map[string]any{"Authorization": "Bearer " + token}
}

func (c *WS) read() {
	defer close(c.done)
	for {
		c.pmu.Lock()
		paused := c.paused
		c.pmu.Unlock()
		if paused != nil {
			select {
			case <-paused:
			case <-c.closing:
				c.mu.Lock()
				c.readErr = errors.New("closed while the client had stopped reading")
				c.mu.Unlock()
				return
			}
		}
		_, b, err := c.Conn.ReadMessage()
		now := time.Now()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		m := WSMessage{Received: now}
		if err := json.Unmarshal(b, &m); err != nil {
			c.mu.Lock()
			c.readErr = fmt.Errorf("undecodable message %q: %w", b, err)
			c.mu.Unlock()
			return
		}
		switch m.Type {
		case "ka", "pong":
			continue
		case "ping":
			_ = c.write(WSMessage{Type: "pong"})
			continue
		}
		c.mu.Lock()
		c.queues[m.ID] = append(c.queues[m.ID], m)
		close(c.signal)
		c.signal = make(chan struct{})
		c.mu.Unlock()
	}
}

func (c *WS) write(m WSMessage) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(WSWait))
	return c.Conn.WriteJSON(m)
}

// Send writes a message of the protocol, failing the test if it cannot.
func (c *WS) Send(typ, id string, payload any) {
	c.tb.Helper()
	if err := c.TrySend(typ, id, payload); err != nil {
		c.tb.Fatalf("ws write %s: %v", typ, err)
	}
}

// TrySend writes a message of the protocol and returns the write's error (the server may
// have closed the connection already).
func (c *WS) TrySend(typ, id string, payload any) error {
	m := WSMessage{Type: typ, ID: id}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		m.Payload = b
	}
	return c.write(m)
}

// Init sends connection_init with payload.
func (c *WS) Init(payload map[string]any) { c.tb.Helper(); c.Send("connection_init", "", payload) }

// WaitAck waits for connection_ack; a connection_error or a close instead is the error.
func (c *WS) WaitAck() error {
	m, err := c.Message("", WSWait)
	if err != nil {
		return fmt.Errorf("connection_init (%s): no connection_ack: %w", c.Protocol, err)
	}
	if m.Type != "connection_ack" {
		return fmt.Errorf("connection_init (%s): got %s %s, want connection_ack", c.Protocol, m.Type, m.Payload)
	}
	return nil
}

// Subscribe starts the operation id: a "subscribe" (graphql-transport-ws) or "start" (legacy).
func (c *WS) Subscribe(id, query string, vars map[string]any) {
	c.tb.Helper()
	if err := c.TrySubscribe(id, query, vars); err != nil {
		c.tb.Fatalf("ws subscribe %s: %v", id, err)
	}
}

// TrySubscribe is Subscribe that returns the write's error.
func (c *WS) TrySubscribe(id, query string, vars map[string]any) error {
	typ := "subscribe"
	if c.Protocol == LegacyWS {
		typ = "start"
	}
	return c.TrySend(typ, id, map[string]any{"query": query, "variables": vars})
}

// Unsubscribe stops the operation id: a "complete" (graphql-transport-ws) or "stop" (legacy).
func (c *WS) Unsubscribe(id string) {
	c.tb.Helper()
	typ := "complete"
	if c.Protocol == LegacyWS {
		typ = "stop"
	}
	c.Send(typ, id, nil)
}

// ErrClosed is what Message returns once the connection is closed and every message has been
// read; Closed tells how it closed.
var ErrClosed = errors.New("websocket closed")

// errTimeout is what Message returns when nothing came in time.
var errTimeout = errors.New("timed out")

// Message returns the next message of operation id ("": connection messages such as
// connection_ack and connection_error) within timeout.
func (c *WS) Message(id string, timeout time.Duration) (WSMessage, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if q := c.queues[id]; len(q) > 0 {
			m := q[0]
			c.queues[id] = q[1:]
			c.mu.Unlock()
			return m, nil
		}
		signal := c.signal
		c.mu.Unlock()
		select {
		case <-signal:
		case <-c.done:
			c.mu.Lock()
			n := len(c.queues[id])
			c.mu.Unlock()
			if n == 0 {
				return WSMessage{}, fmt.Errorf("%w: %v", ErrClosed, c.closeErr())
			}
		case <-deadline.C:
			return WSMessage{}, fmt.Errorf("%w after %v", errTimeout, timeout)
		}
	}
}

func (c *WS) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// Next returns the next result of operation id, failing the test on anything else (an error
// or complete message, a close, nothing within WSWait).
func (c *WS) Next(id string) *Response {
	c.tb.Helper()
	m, err := c.Message(id, WSWait)
	if err != nil {
		c.tb.Fatalf("ws %s operation %q: no result: %v", c.Protocol, id, err)
	}
	if !m.IsData() {
		c.tb.Fatalf("ws %s operation %q: got %s %s, want a result", c.Protocol, id, m.Type, m.Payload)
	}
	return m.Response(c.tb)
}

// NextData is Next that fails on GraphQL errors too and decodes the data into v.
func (c *WS) NextData(id string, v any) {
	c.tb.Helper()
	r := c.Next(id)
	if len(r.Errors) > 0 {
		c.tb.Fatalf("ws %s operation %q: errors %+v (data %s)", c.Protocol, id, r.Errors, r.Data)
	}
	r.Decode(c.tb, v)
}

// ExpectNothing fails the test if operation id receives any message within d.
func (c *WS) ExpectNothing(id string, d time.Duration) {
	c.tb.Helper()
	m, err := c.Message(id, d)
	if err == nil {
		c.tb.Fatalf("ws %s operation %q: got %s %s, want nothing", c.Protocol, id, m.Type, m.Payload)
	}
	if !errors.Is(err, errTimeout) {
		c.tb.Fatalf("ws %s operation %q: %v, want the connection to stay open", c.Protocol, id, err)
	}
}

// ExpectComplete fails the test unless the next message of operation id is complete.
func (c *WS) ExpectComplete(id string) {
	c.tb.Helper()
	m, err := c.Message(id, WSWait)
	if err != nil {
		c.tb.Fatalf("ws %s operation %q: no complete: %v", c.Protocol, id, err)
	}
	if m.Type != "complete" {
		c.tb.Fatalf("ws %s operation %q: got %s %s, want complete", c.Protocol, id, m.Type, m.Payload)
	}
}

// Closed waits up to timeout for the server to close the connection and returns the close
// frame's code and text (code 1006, websocket.CloseAbnormalClosure, when the connection
// dropped without one).
func (c *WS) Closed(timeout time.Duration) (int, string, error) {
	select {
	case <-c.done:
	case <-time.After(timeout):
		return 0, "", fmt.Errorf("the connection is still open after %v", timeout)
	}
	var ce *websocket.CloseError
	if errors.As(c.closeErr(), &ce) {
		return ce.Code, ce.Text, nil
	}
	return websocket.CloseAbnormalClosure, "", nil
}

// StopReading makes the client stop reading from the socket (after the message being read,
// if any), like a client that hangs: what the server sends piles up in the socket buffers.
func (c *WS) StopReading() {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.paused == nil {
		c.paused = make(chan struct{})
	}
}

// ResumeReading undoes StopReading.
func (c *WS) ResumeReading() {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.paused != nil {
		close(c.paused)
		c.paused = nil
	}
}

// Close closes the connection (it may be called more than once).
func (c *WS) Close() {
	c.closeOnce.Do(func() { close(c.closing) })
	c.wmu.Lock()
	_ = c.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.Conn.Close()
	<-c.done
}

// WaitSubscribers waits until the env's server holds n subscriptions established: a
// subscription is only registered some time after the client's subscribe message, which has
// no acknowledgement in either protocol. Identical subscriptions share one of the event bus's
// (graph.SharedSubscriptions), so the bus may serve fewer.
func (e *Env) WaitSubscribers(tb testing.TB, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WSWait)
	defer cancel()
	for e.App.Subscribers() != n {
		select {
		case <-ctx.Done():
			tb.Fatalf("subscriptions: got %d, want %d", e.App.Subscribers(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TinyReadBuffer is a dialer whose connections have a very small kernel receive buffer, so
// that a client that stops reading pushes back on the server after a few kilobytes.
func TinyReadBuffer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: WSWait,
		NetDialContext:   (&net.Dialer{Control: setTinyReadBuffer}).DialContext,
	}
}
