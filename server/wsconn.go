package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica/graph"
)

// Our own websocket transport, for both GraphQL protocols: graphql-transport-ws and the
// legacy graphql-ws (Apollo's subscriptions-transport-ws), on gorilla/websocket. gqlgen's
// transport.Websocket ran about six goroutines per subscription (its read loop, its ping
// loops, a goroutine per operation waiting for the next response, the adapter's ping loop)
// and their stacks were most of the ~57 KB an idle subscription cost at 10,000 subscribers.
// Here a connection has one goroutine, which reads; keep-alive is a
// timer; a writer goroutine exists only while a slow client has frames queued (wsframe.go);
// and a subscription shared by a group (graph.SharedSubscriptions) has no goroutine at all:
// its group pushes each response (graph.Push), which is written from the fan-out with the
// same frame bytes for every subscriber of the same operation id.
//
// Behaviour kept from gqlgen and the earlier adapter: connection_init first (the legacy
// protocol answers it with connection_ack and "ka"), then operations run by gqlgen's
// GraphExecutor with the operation middlewares; a client's complete/stop ends its operation,
// which the server answers with complete; graphql-transport-ws closes 4401 (subscribe before
// connection_ack), 4409 (an active id again), 4429 (a second connection_init), 4408 (no
// connection_init in time); a refused init closes with the refusal's code (4403, 4429), after a
// connection_error in the legacy protocol.
//
// Keep-alive, every WebsocketKeepAlive: "ka" and a websocket ping control frame (legacy), or a
// "ping" message (graphql-transport-ws); a connection from which nothing arrived (no pong, no
// message) for two intervals is dropped, which frees half-open connections.
//
// Not supported (nothing in Rubrica uses them): gqlgen's transport.AddSubscriptionError and
// transport.GetInitPayload, which only gqlgen's own transport serves.

const (
	// DefaultWebsocketKeepAlive is the keep-alive interval when Config.WebsocketKeepAlive is 0.
	DefaultWebsocketKeepAlive = 15 * time.Second
	// wsInitTimeout is how long a connection may wait before connection_init (then 4408).
	wsInitTimeout = 10 * time.Second
	// wsWriteTimeout bounds a write to a client that does not read; it is then dropped.
	wsWriteTimeout = 10 * time.Second
	// closeGrace is how long a closing connection reads on, for the peer's close frame, and
	// writes on, for what is queued, before its socket is closed.
	closeGrace = 2 * time.Second
	// wsReadBuffer is the read buffer of a connection: clients send little.
	wsReadBuffer = 512
)

const (
	protoTransportWS = "graphql-transport-ws"
	protoLegacyWS    = "graphql-ws"
)

// errPeerUnresponsive: the client sent nothing, not even a pong, for two keep-alive intervals.
var errPeerUnresponsive = errors.New("websocket: peer did not answer pings")

// wsTransport is the websocket transport of a server (see above).
type wsTransport struct {
	init      wsInitFunc
	checkOrig func(*http.Request) bool
	logger    *slog.Logger
	open      prometheus.Gauge
	keepAlive time.Duration
	frames    *frameCache
	writePool sync.Pool // gorilla's write buffers: it writes only the handshake's answer
}

// wsInitFunc authenticates a connection_init payload; the error of a refusal is a *wsRefusal.
type wsInitFunc func(ctx context.Context, payload map[string]any) (context.Context, error)

// wsRefusal is a refused connection_init: its close code and reason, and the message of the
// legacy protocol's connection_error.
type wsRefusal struct {
	code   int
	reason string
	msg    string
}

func (e *wsRefusal) Error() string { return e.msg }

var _ graphql.Transport = (*wsTransport)(nil)

// Supports takes every upgrade request, as gqlgen's transport does.
func (t *wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do upgrades the request and serves the connection until it closes.
func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	up := websocket.Upgrader{
		HandshakeTimeout: wsWriteTimeout,
		ReadBufferSize:   wsReadBuffer,
		WriteBufferPool:  &t.writePool,
		CheckOrigin:      t.checkOrig,
		Subprotocols:     selectSubprotocol(r),
	}
	header := http.Header{}
	if id := w.Header().Get("X-Request-Id"); id != "" {
		header.Set("X-Request-Id", id) // gorilla writes the 101 from its own header argument
	}
	ws, err := up.Upgrade(w, r, header)
	if err != nil {
		return // gorilla answered with the HTTP error
	}
	t.open.Inc()
	c := newWSConn(t, ws, r, exec)
	// The connection is served on a goroutine of its own, and Do returns: net/http then lets
	// go of what it held for the request (its 4 KB read and write buffers, the request), which
	// its serving goroutine would keep for the life of the connection.
	go func() {
		defer t.open.Dec()
		c.serve()
	}()
}

// selectSubprotocol returns, as gorilla's preference list, the first subprotocol the client
// offers that is served: none when there is no match, which is served as the legacy protocol.
func selectSubprotocol(r *http.Request) []string {
	for _, p := range websocket.Subprotocols(r) {
		if p == protoTransportWS || p == protoLegacyWS {
			return []string{p}
		}
	}
	return []string{}
}

// wsConn is one connection. Its goroutine reads (serve); the fan-out, timers and operation
// goroutines write through w.
type wsConn struct {
	t       *wsTransport
	ws      *websocket.Conn
	w       *wsWriter
	legacy  bool
	exec    graphql.GraphExecutor
	headers http.Header
	reqCtx  context.Context // the upgrade request's, with the client's address and the conn
	reqEnd  context.CancelFunc

	mu        sync.Mutex
	ctx       context.Context // set by connection_init: the authenticated connection's
	cancel    context.CancelFunc
	ops       map[string]*wsOp
	inited    bool
	closing   bool
	initTimer *time.Timer
	keepAlive *time.Timer

	lastSeen atomic.Int64 // unix nanoseconds of the last frame received
}

type wsConnKey struct{}

// wsConnFromContext returns the connection whose upgrade request ctx is, or nil.
func wsConnFromContext(ctx context.Context) *wsConn {
	c, _ := ctx.Value(wsConnKey{}).(*wsConn)
	return c
}

func newWSConn(t *wsTransport, ws *websocket.Conn, r *http.Request, exec graphql.GraphExecutor) *wsConn {
	c := &wsConn{t: t, ws: ws, exec: exec, headers: r.Header, legacy: ws.Subprotocol() != protoTransportWS,
		ops: map[string]*wsOp{}}
	// The request's values (request id, an actor authenticated from its header), not its end:
	// net/http cancels it once Do returns.
	// It ends with the connection (finish), which unregisters it from the revocation registry.
	ctx := context.WithoutCancel(r.Context())
	c.reqCtx, c.reqEnd = context.WithCancel(context.WithValue(withClientAddr(ctx, clientAddr(r)), wsConnKey{}, c))
	c.w = newWSWriter(ws.NetConn(), wsWriteTimeout, c.writeFailed)
	return c
}

func (c *wsConn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

// serve reads the connection's messages until it closes.
func (c *wsConn) serve() {
	defer c.finish()
	c.touch()
	c.ws.SetReadLimit(wsReadLimit)
	c.ws.SetPingHandler(func(data string) error {
		c.touch()
		c.w.write(appendFrame(nil, opPong, []byte(data)), false)
		return nil
	})
	c.ws.SetPongHandler(func(string) error { c.touch(); return nil })
	c.ws.SetCloseHandler(func(code int, _ string) error {
		c.w.writeClose(closeFrame(code, "")) // the peer's code, echoed
		return nil
	})
	c.mu.Lock()
	c.initTimer = time.AfterFunc(wsInitTimeout, c.initTimedOut)
	c.mu.Unlock()
	for {
		start := graphql.Now()
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.touch()
		data, err := io.ReadAll(r)
		if err != nil { // over the read limit: gorilla sent 1009
			c.readFailed(err)
			return
		}
		if !c.handle(start, data) {
			return
		}
	}
}

// wsMessage is a client message of either protocol.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// handle serves one client message; false ends the connection.
func (c *wsConn) handle(start time.Time, data []byte) bool {
	var m wsMessage
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
		c.connectionError("invalid json")
		c.closeWith(c.invalidCode(), "Invalid message")
		return false
	}
	c.mu.Lock()
	inited := c.inited
	c.mu.Unlock()
	switch {
	case m.Type == "connection_init" && !inited:
		return c.initialise(m.Payload)
	case m.Type == "connection_init" && !c.legacy:
		c.closeWith(CloseTooManyInitialisationRequests, "Too many initialisation requests")
		return false
	case m.Type == "connection_terminate" && c.legacy:
		c.closeWith(websocket.CloseNormalClosure, "terminated")
		return false
	case m.Type == "ping" && !c.legacy:
		c.w.write(messageFrame("", "pong", m.Payload), false)
		return true
	case m.Type == "pong" && !c.legacy:
		return true
	case m.Type == "subscribe" && !c.legacy, m.Type == "start" && c.legacy:
		if !inited {
			if c.legacy {
				break
			}
			c.closeWith(CloseUnauthorized, "Unauthorized")
			return false
		}
		return c.subscribe(start, m.ID, m.Payload)
	case (m.Type == "complete" && !c.legacy || m.Type == "stop" && c.legacy) && inited:
		c.stop(m.ID)
		return true
	}
	c.connectionError("unexpected message " + m.Type)
	c.closeWith(c.invalidCode(), "Invalid message")
	return false
}

// invalidCode is the close code of a message that breaks the protocol: 4400 in
// graphql-transport-ws, 1002 in the legacy one.
func (c *wsConn) invalidCode() int {
	if c.legacy {
		return websocket.CloseProtocolError
	}
	return 4400
}

// initialise serves connection_init.
func (c *wsConn) initialise(payload json.RawMessage) bool {
	p := map[string]any{}
	if len(payload) > 0 && !bytes.Equal(payload, []byte("null")) {
		if err := json.Unmarshal(payload, &p); err != nil {
			c.connectionError("invalid json")
			c.closeWith(c.invalidCode(), "Invalid connection_init payload")
			return false
		}
	}
	c.mu.Lock()
	c.inited = true
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.mu.Unlock()
	ctx, err := c.t.init(c.reqCtx, p)
	if err != nil {
		code, reason := CloseForbidden, "Forbidden"
		var ref *wsRefusal
		if errors.As(err, &ref) {
			code, reason = ref.code, ref.reason
		}
		c.connectionError(err.Error())
		c.closeWith(code, reason)
		return false
	}
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.closing { // revoked while it authenticated
		c.mu.Unlock()
		cancel()
		return false
	}
	c.ctx, c.cancel = ctx, cancel
	// The first keep-alive comes after a random part of the interval, so that connections
	// opened together do not all send theirs at the same moment ever after.
	c.keepAlive = time.AfterFunc(c.t.keepAlive/2+rand.N(c.t.keepAlive/2), c.tick)
	c.mu.Unlock()
	// A connection whose context ends (a revocation) closes.
	context.AfterFunc(ctx, func() { c.closeWith(websocket.CloseNormalClosure, "terminated") })
	c.w.write(ackFrame, false)
	if c.legacy {
		c.w.write(kaFrame, false)
	}
	return true
}

// Frames every connection sends alike. A keep-alive is one write: in the legacy protocol,
// whose "ka" has no answer, "ka" and a ping control frame, which clients answer; in
// graphql-transport-ws, its ping message, which clients answer with pong.
var (
	ackFrame  = messageFrame("", "connection_ack", nil)
	kaFrame   = messageFrame("", "ka", nil)
	pingFrame = messageFrame("", "ping", nil)
	kaAndPing = appendFrame(slices.Clone(kaFrame), opPing, nil)
)

// connectionError sends the legacy protocol's connection_error (graphql-transport-ws has none).
func (c *wsConn) connectionError(msg string) {
	if !c.legacy {
		return
	}
	b, _ := json.Marshal(&gqlerror.Error{Message: msg})
	c.w.write(messageFrame("", "connection_error", b), false)
}

// tick is the keep-alive timer (see above).
func (c *wsConn) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if time.Since(time.Unix(0, c.lastSeen.Load())) > 2*c.t.keepAlive {
		go c.drop(errPeerUnresponsive)
		return
	}
	if c.legacy {
		c.w.write(kaAndPing, false)
	} else {
		c.w.write(pingFrame, false)
	}
	c.keepAlive.Reset(c.t.keepAlive)
}

// initTimedOut closes a connection that sent no connection_init in time with 4408.
func (c *wsConn) initTimedOut() {
	c.mu.Lock()
	inited := c.inited
	c.mu.Unlock()
	if !inited {
		c.closeWith(CloseInitTimeout, "Connection initialisation timeout")
	}
}

// Close sends a close frame with code and reason and ends the connection's operations; the
// socket closes once the peer answered or closeGrace passed. It does not block, and only the
// first close frame is sent. (The revocation registry closes websockets with it.)
func (c *wsConn) Close(code int, reason string) { c.closeWith(code, reason) }

func (c *wsConn) closeWith(code int, reason string) {
	c.w.writeClose(closeFrame(code, reason))
	c.mu.Lock()
	first := !c.closing
	c.closing = true
	cancel := c.cancel
	c.mu.Unlock()
	if !first {
		return
	}
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
	if cancel != nil {
		cancel()
	}
}

// drop closes the socket at once: the peer is gone or does not read.
func (c *wsConn) drop(err error) {
	c.t.logger.DebugContext(c.reqCtx, "websocket dropped", "err", err)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	_ = c.ws.NetConn().Close()
}

// writeFailed drops a connection whose write failed or timed out.
func (c *wsConn) writeFailed(err error) { c.drop(fmt.Errorf("websocket write: %w", err)) }

// readFailed reports a read error that is not the end of the connection.
func (c *wsConn) readFailed(err error) {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing || errors.Is(err, net.ErrClosed) ||
		websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return
	}
	c.t.logger.DebugContext(c.reqCtx, "websocket", "err", err)
}

// finish ends the connection once its reads ended: its operations end, and its socket closes
// once what is queued is written (within closeGrace).
func (c *wsConn) finish() {
	c.mu.Lock()
	c.closing = true
	cancel := c.cancel
	for _, t := range []*time.Timer{c.initTimer, c.keepAlive} {
		if t != nil {
			t.Stop()
		}
	}
	ops := c.ops
	c.ops = nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, op := range ops {
		op.cancel()
	}
	c.reqEnd()
	c.w.shut(closeGrace)
}

// closeFrame is a close frame with code and reason (see closePayload).
func closeFrame(code int, reason string) []byte {
	return appendFrame(nil, opClose, closePayload(code, reason))
}

// dataType is the message type of a result: "next" or, in the legacy protocol, "data".
func (c *wsConn) dataType() string {
	if c.legacy {
		return "data"
	}
	return "next"
}

// subscribe starts an operation (subscribe, or start in the legacy protocol); false ends the
// connection.
func (c *wsConn) subscribe(start time.Time, id string, payload json.RawMessage) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if _, dup := c.ops[id]; dup && !c.legacy {
		c.mu.Unlock()
		c.closeWith(CloseSubscriberAlreadyExists, "Subscriber for "+id+" already exists")
		return false
	}
	connCtx := c.ctx
	c.mu.Unlock()

	ctx := graphql.StartOperationTrace(connCtx)
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		c.sendErrors(id, &gqlerror.Error{Message: "invalid json"})
		c.w.write(messageFrame(id, "complete", nil), false)
		return true
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = c.headers
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.sendErrors(id, resp.Errors...)
		} else {
			c.sendResult(id, &graphql.Response{Errors: errs})
		}
		c.w.write(messageFrame(id, "complete", nil), false)
		return true
	}
	ctx, cancel := context.WithCancel(graphql.WithOperationContext(ctx, rc))
	op := &wsOp{c: c, id: id, rc: rc, cancel: cancel}
	ctx, op.push = graph.WithPush(ctx, op.wake)
	c.mu.Lock()
	if old := c.ops[id]; old != nil { // the legacy protocol: a start of an active id replaces it
		old.replaced.Store(true) // its end is not the new one's: no complete
		old.cancel()
	}
	c.ops[id] = op
	c.mu.Unlock()

	op.mu.Lock() // a wake waits until the operation's handler is known
	defer op.mu.Unlock()
	op.responses, op.ctx = c.exec.DispatchOperation(ctx, rc)
	if op.push.Joined() {
		op.drainLocked()
	} else {
		go op.pull()
	}
	return true
}

// stop ends the operation id at the client's request.
func (c *wsConn) stop(id string) {
	c.mu.Lock()
	op := c.ops[id]
	delete(c.ops, id) // the id may be used again at once
	c.mu.Unlock()
	if op != nil {
		op.cancel()
	}
}

// sendResult sends one result of operation id, encoded for this connection alone.
func (c *wsConn) sendResult(id string, r *graphql.Response) bool {
	b, err := json.Marshal(r)
	if err != nil {
		c.t.logger.ErrorContext(c.reqCtx, "websocket: encoding a response", "err", err)
		return true
	}
	return c.w.write(messageFrame(id, c.dataType(), b), true)
}

// sendErrors sends an error message for operation id.
func (c *wsConn) sendErrors(id string, errs ...*gqlerror.Error) {
	b, err := json.Marshal(errs)
	if err != nil {
		c.t.logger.ErrorContext(c.reqCtx, "websocket: encoding errors", "err", err)
		return
	}
	c.w.write(messageFrame(id, "error", b), false)
}

// wsOp is one operation of a connection. A shared subscription's is driven by its group's
// wakes (push); any other operation runs on a goroutine of its own (pull) until it ends.
type wsOp struct {
	c      *wsConn
	id     string
	rc     *graphql.OperationContext
	cancel context.CancelFunc
	push   *graph.Push

	mu        sync.Mutex // held while a response is taken and written: responses go out in order
	responses graphql.ResponseHandler
	ctx       context.Context
	finished  bool
	dropped   bool // its client fell behind: what is left (the error, complete) is queued regardless
	replaced  atomic.Bool
}

// wake is the group's push: it takes and writes what waits.
func (o *wsOp) wake() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drainLocked()
}

func (o *wsOp) drainLocked() {
	for !o.finished && o.push.Pending() {
		r := o.next()
		if r == nil {
			o.finishLocked()
			return
		}
		frame, err := o.c.t.frames.frame(r, o.id, o.c.dataType())
		if err != nil {
			o.c.t.logger.ErrorContext(o.c.reqCtx, "websocket: encoding a response", "err", err)
			continue
		}
		if !o.c.w.write(frame, !o.dropped) {
			o.dropped = true
			o.push.Drop() // its client does not keep up: the error, then the end
		}
	}
}

// pull runs an operation that is not pushed.
func (o *wsOp) pull() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		r := o.next()
		if r == nil {
			o.finishLocked()
			return
		}
		if !o.c.sendResult(o.id, r) {
			o.cancel() // its client does not keep up
		}
	}
}

// next returns the operation's next response; a panic is sent as its error and ends it.
func (o *wsOp) next() (r *graphql.Response) {
	defer func() {
		if p := recover(); p != nil {
			err := o.rc.Recover(o.ctx, p)
			var gqlerr *gqlerror.Error
			if !errors.As(err, &gqlerr) {
				gqlerr = &gqlerror.Error{Message: fmt.Sprint(err)}
			}
			o.c.sendErrors(o.id, gqlerr)
			r = nil
		}
	}()
	return o.responses(o.ctx)
}

// finishLocked ends the operation: complete, unless its connection is closing.
func (o *wsOp) finishLocked() {
	o.finished = true
	o.cancel()
	c := o.c
	c.mu.Lock()
	if c.ops[o.id] == o {
		delete(c.ops, o.id)
	}
	closing := c.closing
	c.mu.Unlock()
	if !closing && !o.replaced.Load() {
		c.w.write(messageFrame(o.id, "complete", nil), false)
	}
}
