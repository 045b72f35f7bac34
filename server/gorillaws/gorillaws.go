// Package gorillaws adapts github.com/gorilla/websocket to gqlgen's websocket transport: an
// *Upgrader is a transport.WebsocketImplementation, set as transport.Websocket.Implementation,
// and serves both GraphQL websocket protocols (graphql-transport-ws and the legacy graphql-ws).
//
// Without it gqlgen falls back to its own coder/websocket adapter, whose default Origin check
// and limits are not ours.
package gorillaws

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

const (
	// DefaultReadLimit is the largest message a client may send when Upgrader.ReadLimit is 0.
	DefaultReadLimit = 64 << 10
	// DefaultWriteTimeout bounds each write when Upgrader.WriteTimeout is 0.
	DefaultWriteTimeout = 10 * time.Second
	// CloseInitTimeout is the close code graphql-transport-ws assigns to a connection that sent
	// no connection_init in time ("4408: Connection initialisation timeout").
	CloseInitTimeout = 4408

	// maxCloseReason is the longest close reason a close frame carries (125 bytes of control
	// frame payload less the 2-byte code).
	maxCloseReason = 123
	// closeGrace is how long a closed connection keeps draining what the peer still sends
	// (its close frame, pipelined messages) before the socket is closed, so that unread data
	// does not turn the close into a TCP reset that could lose our close frame.
	closeGrace = 2 * time.Second
)

var (
	// ErrInitTimeout is returned by a connection's NextReader after Upgrader.InitTimeout
	// passed without any message from the client; the connection was closed with 4408.
	ErrInitTimeout = errors.New("gorillaws: no connection_init within the init timeout")
	// ErrPeerUnresponsive is returned by a connection's NextReader after the client sent
	// nothing, not even a pong, for two Upgrader.PingInterval; the connection was dropped.
	ErrPeerUnresponsive = errors.New("gorillaws: peer did not answer websocket pings")
)

// Upgrader accepts websocket connections for gqlgen's transport.Websocket with gorilla/websocket.
//
// The zero value is ready to use. An Upgrader must not be changed once in use.
type Upgrader struct {
	// CheckOrigin reports whether a request's Origin may open a websocket; nil means same origin only (Origin host == request Host) or no Origin header.
	// A refused request gets HTTP 403 and is not upgraded. See OriginChecker.
	CheckOrigin func(r *http.Request) bool
	// ReadLimit is the largest message, in bytes, a client may send (0: DefaultReadLimit,
	// 64 KiB). A larger message closes the connection with 1009 (message too big).
	// transport.Websocket.PayloadReadLimit can lower this limit but never raise it.
	ReadLimit int64
	// WriteTimeout bounds each write: a message, a ping, a close frame (0: DefaultWriteTimeout,
	// 10s). A write that fails or times out drops the connection, since gorilla leaves it
	// unusable and gqlgen only reports write errors.
	WriteTimeout time.Duration
	// InitTimeout, if positive, closes a connection with CloseInitTimeout (4408) when the
	// client sends no message within that time of the upgrade. gqlgen's own
	// transport.Websocket.InitTimeout closes with 1002 instead; leave that one 0.
	InitTimeout time.Duration
	// PingInterval, if positive, sends a websocket ping control frame at that interval and
	// drops a connection from which nothing (no pong, no message) arrived for two intervals.
	// Browsers and websocket libraries answer these pings themselves. This finds half-open
	// connections on both protocols; gqlgen's KeepAlivePingInterval ("ka") only writes, and its
	// PingPongInterval serves graphql-transport-ws only.
	PingInterval time.Duration
}

var _ transport.WebsocketImplementation = (*Upgrader)(nil)

// withRequestID adds the X-Request-Id set on the response writer (gorilla writes the 101
// response from its own header argument only) to header.
func withRequestID(header, written http.Header) http.Header {
	id := written.Get("X-Request-Id")
	if id == "" {
		return header
	}
	header = header.Clone()
	if header == nil {
		header = http.Header{}
	}
	header.Set("X-Request-Id", id)
	return header
}

// Accept upgrades the request to a websocket (it implements transport.WebsocketImplementation).
// The subprotocol is the first one the client offers among opts.Subprotocols, so that a
// client offering both GraphQL protocols gets the one it prefers; no match negotiates none,
// which gqlgen serves as legacy graphql-ws. opts.ResponseHeader goes with the 101 response.
// On failure (a refused Origin: 403, a bad handshake: 400) the HTTP error has been written.
// A Closer in the request's context (WithCloser) is bound to the connection.
func (u *Upgrader) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	checkOrigin := u.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = sameOrigin
	}
	up := websocket.Upgrader{
		HandshakeTimeout: u.writeTimeout(),
		CheckOrigin:      checkOrigin,
		Subprotocols:     selectSubprotocol(r, opts.Subprotocols),
	}
	ws, err := up.Upgrade(w, r, withRequestID(opts.ResponseHeader, w.Header()))
	if err != nil {
		return nil, err
	}
	c := u.newConn(ws)
	if k := CloserFromContext(r.Context()); k != nil {
		k.bind(c)
	}
	return c, nil
}

// selectSubprotocol returns, as gorilla's server preference list, the first subprotocol the
// client offers that gqlgen supports: none when there is no match.
func selectSubprotocol(r *http.Request, supported []string) []string {
	for _, p := range websocket.Subprotocols(r) {
		if slices.Contains(supported, p) {
			return []string{p}
		}
	}
	return []string{}
}

func (u *Upgrader) readLimit() int64 {
	if u.ReadLimit > 0 {
		return u.ReadLimit
	}
	return DefaultReadLimit
}

func (u *Upgrader) writeTimeout() time.Duration {
	if u.WriteTimeout > 0 {
		return u.WriteTimeout
	}
	return DefaultWriteTimeout
}

// init states of a conn
const (
	initWaiting  int32 = iota // no message yet, the init timer may fire
	initReceived              // a message arrived in time
	initExpired               // the init timer fired first
)

// conn is a transport.WebsocketConn (with WebsocketReadLimiter and WebsocketReadDeadliner)
// on a gorilla connection. gqlgen reads from one goroutine at a time and writes from several.
type conn struct {
	ws           *websocket.Conn
	maxRead      int64
	writeTimeout time.Duration

	wmu       sync.Mutex // serialises WriteJSON and WriteClose: gorilla allows one writer
	closeSent bool       // guarded by wmu

	smu       sync.Mutex // guards closing, cause and initTimer
	closing   bool       // Close or a drop has begun; the socket is being shut
	cause     error      // why the adapter itself shut the connection, if it did
	initTimer *time.Timer

	initState atomic.Int32
	lastSeen  atomic.Int64   // unix nanoseconds of the last frame received
	proto     *protocolState // graphql-transport-ws only: the state its close codes need
	done      chan struct{}
	shutOnce  sync.Once
}

var (
	_ transport.WebsocketConn          = (*conn)(nil)
	_ transport.WebsocketReadLimiter   = (*conn)(nil)
	_ transport.WebsocketReadDeadliner = (*conn)(nil)
)

func (u *Upgrader) newConn(ws *websocket.Conn) *conn {
	c := &conn{
		ws:           ws,
		maxRead:      u.readLimit(),
		writeTimeout: u.writeTimeout(),
		done:         make(chan struct{}),
	}
	if ws.Subprotocol() == transportWSSubprotocol {
		c.proto = newProtocolState()
	}
	c.touch()
	ws.SetReadLimit(c.maxRead)
	ws.SetPongHandler(func(string) error { c.touch(); return nil })
	answerPing := ws.PingHandler()
	ws.SetPingHandler(func(data string) error { c.touch(); return answerPing(data) })

	if u.InitTimeout > 0 {
		c.smu.Lock()
		c.initTimer = time.AfterFunc(u.InitTimeout, c.initTimedOut)
		c.smu.Unlock()
	} else {
		c.initState.Store(initReceived)
	}
	if u.PingInterval > 0 {
		go c.pingLoop(u.PingInterval)
	}
	return c
}

func (c *conn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

// Subprotocol returns the negotiated subprotocol, "" if none.
func (c *conn) Subprotocol() string { return c.ws.Subprotocol() }

// NextReader returns the next data message. A close by the peer with 1000, 1001 or no status,
// and any read failure after Close began, is transport.ErrWebsocketClosed. On
// graphql-transport-ws, a message that breaks a rule of the protocol closes the connection
// with the protocol's code (4401, 4409, 4429) and returns ErrProtocolViolation.
func (c *conn) NextReader() (int, io.Reader, error) {
	mt, r, err := c.ws.NextReader()
	if err != nil {
		c.smu.Lock()
		closing, cause := c.closing, c.cause
		c.smu.Unlock()
		switch {
		case cause != nil:
			return mt, nil, cause
		case closing,
			websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
			return mt, nil, transport.ErrWebsocketClosed
		}
		return mt, nil, err
	}
	c.touch()
	if c.initState.Load() != initReceived && !c.initState.CompareAndSwap(initWaiting, initReceived) {
		return mt, nil, ErrInitTimeout // the init timer won the race
	}
	if c.proto == nil {
		return mt, r, nil
	}
	// graphql-transport-ws: the message is read whole (at most the read limit) to follow the
	// protocol; a read error reaches gqlgen as it would have.
	data, err := io.ReadAll(r)
	if err != nil {
		return mt, io.MultiReader(bytes.NewReader(data), errReader{err}), nil
	}
	if code, reason := c.proto.received(data); code != 0 {
		return mt, nil, c.violation(code, reason)
	}
	return mt, bytes.NewReader(data), nil
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// WriteJSON writes v as one text message, bounded by the write timeout. A failed write drops
// the connection.
func (c *conn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if c.proto != nil {
		c.proto.sent(data)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return websocket.ErrCloseSent
	}
	if c.isClosing() {
		return net.ErrClosed
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	err = c.ws.WriteMessage(websocket.TextMessage, data)
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		c.shutdown(err, false)
	}
	return err
}

// WriteClose sends a close frame with code and reason (cut to 123 bytes of valid UTF-8). A
// code that may not be sent on the wire becomes 1011 (internal error). Only the first call
// writes a frame; Close must still be called.
func (c *conn) WriteClose(code int, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	c.closeSent = true
	err := c.ws.WriteControl(websocket.CloseMessage, closePayload(code, reason), time.Now().Add(c.writeTimeout))
	if errors.Is(err, websocket.ErrCloseSent) { // gorilla sent one itself (read limit, peer's close)
		return nil
	}
	return err
}

// Close shuts the connection: it sends a TCP FIN, keeps reading and discarding what the peer
// still sends for a short grace period, then closes the socket. It does not block and may be
// called more than once.
func (c *conn) Close() error {
	c.shutdown(nil, true)
	return nil
}

// SetReadLimit sets the largest message the peer may send; it never exceeds the Upgrader's
// ReadLimit.
func (c *conn) SetReadLimit(limit int64) {
	if limit <= 0 || limit > c.maxRead {
		limit = c.maxRead
	}
	c.ws.SetReadLimit(limit)
}

// SetReadDeadline sets the read deadline; the zero time clears it. It is ignored once Close
// has begun.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.closing {
		return nil
	}
	return c.ws.SetReadDeadline(t)
}

func (c *conn) isClosing() bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.closing
}

// shutdown begins closing the connection once: with linger, gracefully (see Close); without,
// at once, for a peer that is gone or not reading. cause, if set, is what NextReader returns.
func (c *conn) shutdown(cause error, linger bool) {
	c.shutOnce.Do(func() {
		c.smu.Lock()
		c.closing = true
		c.cause = cause
		timer := c.initTimer
		c.smu.Unlock()
		if timer != nil {
			timer.Stop()
		}
		close(c.done)
		if !linger {
			_ = c.ws.Close()
			return
		}
		go c.lingerClose()
	})
}

// lingerClose half-closes the socket and drains it until the peer closes its side or
// closeGrace passes. Closing a socket with unread data makes the kernel send a reset, which
// can destroy the close frame we just sent before the peer reads it.
func (c *conn) lingerClose() {
	nc := c.ws.NetConn()
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
	_, _ = io.Copy(io.Discard, nc)
	_ = nc.Close()
}

// initTimedOut closes a connection that sent nothing within the init timeout with 4408.
func (c *conn) initTimedOut() {
	if !c.initState.CompareAndSwap(initWaiting, initExpired) {
		return
	}
	_ = c.WriteClose(CloseInitTimeout, "Connection initialisation timeout")
	c.shutdown(ErrInitTimeout, true)
}

// pingLoop sends a ping control frame every interval and drops the connection when nothing
// was received for two intervals.
func (c *conn) pingLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.lastSeen.Load())) > 2*interval {
				c.shutdown(ErrPeerUnresponsive, false)
				return
			}
			// WriteControl may run concurrently with WriteJSON: gorilla serialises frames.
			err := c.ws.WriteControl(websocket.PingMessage, nil, now.Add(c.writeTimeout))
			if errors.Is(err, websocket.ErrCloseSent) {
				return
			}
			if err != nil {
				c.shutdown(err, false)
				return
			}
		}
	}
}

// closePayload formats a close frame payload.
func closePayload(code int, reason string) []byte {
	if code == websocket.CloseNoStatusReceived {
		return []byte{} // "no status" is sent as an empty close frame
	}
	if !sendableCloseCode(code) {
		code = websocket.CloseInternalServerErr
	}
	return websocket.FormatCloseMessage(code, truncateReason(reason))
}

// sendableCloseCode reports whether RFC 6455 lets an endpoint send code in a close frame.
func sendableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// truncateReason makes reason valid UTF-8 of at most maxCloseReason bytes, cut at a rune
// boundary.
func truncateReason(reason string) string {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) <= maxCloseReason {
		return reason
	}
	n := maxCloseReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}
