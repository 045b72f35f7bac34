package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
)

// Server-sent events: the graphql-sse protocol's distinct connections mode, for dashboards
// behind proxies that break websockets. A POST to /graphql with Accept: text/event-stream
// and a JSON GraphQL request gets a text/event-stream answer: one `next` event per result
// (one for a query or mutation, one per event for a subscription; request errors too, as the
// protocol wants), then `complete`. The client ends a subscription by closing the connection.
//
// A stream gets what a websocket gets: the Authorization header's token (a stream without one
// is refused with 401 before it starts), the same subscription machinery (the event bus, its
// per-subscriber buffer and slow-consumer drop, fresh loaders per event, the response
// limits), at most MaxSubscriptions streams per member at once, and the end of the stream,
// with an UNAUTHENTICATED error event, when its token is revoked or expires or its member is
// removed. Subscriptions are not cut by REQUEST_TIMEOUT (queries and mutations are); a client
// that stops reading for sseWriteTimeout loses its stream, as a websocket does.

const (
	// sseWriteTimeout bounds a write to a stream's client.
	sseWriteTimeout = 10 * time.Second
	// sseKeepAlive is how often an idle stream sends a comment, so that proxies keep it.
	sseKeepAlive = 15 * time.Second
)

// LimitMaxSubscriptions names, in `extensions.limit`, the cap of subscriptions per websocket
// and of event streams per member (Config.MaxSubscriptions, MAX_SUBSCRIPTIONS).
const LimitMaxSubscriptions = "MAX_SUBSCRIPTIONS"

// isEventStream reports whether r asks /graphql for a graphql-sse event stream.
func isEventStream(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if r.Method != http.MethodPost || r.URL.Path != "/graphql" || !strings.Contains(accept, "text/event-stream") {
		return false // every request asks: no parsing for the others
	}
	for part := range strings.SplitSeq(accept, ",") {
		if mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mediaType == "text/event-stream" {
			mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			return err == nil && mediaType == "application/json"
		}
	}
	return false
}

// sseTransport is gqlgen's SSE transport behind the checks above.
type sseTransport struct {
	sse            transport.SSE
	guard          *authGuard
	streams        *streamLimiter
	requestTimeout time.Duration // for queries and mutations
}

func newSSETransport(g *authGuard, maxStreams int, requestTimeout time.Duration) sseTransport {
	return sseTransport{
		sse:     transport.SSE{KeepAlivePingInterval: sseKeepAlive},
		guard:   g,
		streams: &streamLimiter{max: maxStreams, open: map[string]int{}}, requestTimeout: requestTimeout,
	}
}

func (t sseTransport) Supports(r *http.Request) bool { return isEventStream(r) }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	errs := t.guard.errs
	actor, ok := rubrica.ActorFromContext(r.Context())
	if !ok {
		errs.write(w, r, http.StatusUnauthorized, rubrica.Errorf(rubrica.EUNAUTHENTICATED,
			"Authentication required: send Authorization: Bearer <token> with the event stream request."))
		return
	}
	body, status, err := readBody(r)
	if err != nil {
		errs.refuseBody(w, r, status, err)
		return
	}
	if _, msg := decodeRequest(body); msg != "" { // gqlgen's transport would quote the body
		errs.write(w, r, http.StatusBadRequest, rubrica.Errorf(rubrica.EINVALID, "%s", msg))
		return
	}
	release, ok := t.streams.acquire(actor.MemberID)
	if !ok {
		errs.write(w, r, http.StatusTooManyRequests, exceeded(LimitMaxSubscriptions,
			"A member may hold at most %d event streams at once.", t.streams.max))
		return
	}
	defer release()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sw := &sseWriter{ResponseWriter: w, rc: http.NewResponseController(w), failed: cancel}
	t.guard.conns.registerStream(ctx, actor, func(reason string) {
		sw.event(&graphql.Response{Errors: gqlerror.List{{Message: reason, Extensions: map[string]any{"code": rubrica.EUNAUTHENTICATED}}}})
		cancel()
	})
	r = r.WithContext(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.sse.Do(sw, r, timedExecutor{GraphExecutor: exec, timeout: t.requestTimeout})
}

// sseWriter is a stream's response writer: each write is bounded by sseWriteTimeout and
// serialised with the others, so that an event written from outside gqlgen's transport (the
// end of a revoked stream) never interleaves with one of its own (each is one Write). A write
// that fails (the client stopped reading, or left) ends the stream: failed cancels its context.
type sseWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	failed context.CancelFunc
	mu     sync.Mutex
}

func (w *sseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		w.failed()
	}
	return n, err
}

func (w *sseWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if err := w.rc.Flush(); err != nil {
		w.failed()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *sseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// event writes one `next` event and flushes it.
func (w *sseWriter) event(resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("server: marshal an event: %w", err))
	}
	_, _ = fmt.Fprintf(w, "event: next\ndata: %s\n\n", b)
	w.Flush()
}

// streamLimiter counts the open event streams of each member.
type streamLimiter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

// acquire takes one of the member's streams, and returns its release; false when the member
// holds max streams already.
func (l *streamLimiter) acquire(member string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[member] >= l.max {
		return nil, false
	}
	l.open[member]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.open[member]--; l.open[member] <= 0 {
			delete(l.open, member)
		}
	}, true
}

// timedExecutor runs queries and mutations under the request timeout, which limitRequests
// leaves to this transport for event streams, and subscriptions without it.
type timedExecutor struct {
	graphql.GraphExecutor
	timeout time.Duration
}

func (e timedExecutor) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		return e.GraphExecutor.DispatchOperation(ctx, rc)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.timeout, errRequestTimeout)
	next, ctx := e.GraphExecutor.DispatchOperation(ctx, rc)
	return func(ctx context.Context) *graphql.Response {
		resp := next(ctx)
		if resp == nil {
			cancel()
		}
		return resp
	}, ctx
}
