package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"

	"rubrica"
)

// HTTP limits: what one request may cost before the GraphQL limits apply.
const (
	// DefaultMaxRequestBytes is the largest request body accepted (1 MiB); a larger one gets 413.
	DefaultMaxRequestBytes = 1 << 20
	// DefaultBodyReadTimeout is how long a client may take to send a request body.
	DefaultBodyReadTimeout = 10 * time.Second
	// DefaultReadHeaderTimeout is how long a client may take to send a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultRequestTimeout is how long a request other than a websocket may run.
	DefaultRequestTimeout = 30 * time.Second
)

// The names of the HTTP limits, as `extensions.limit` reports them: their settings.
const (
	LimitMaxRequestBytes = "MAX_REQUEST_BYTES"
	LimitBodyReadTimeout = "BODY_READ_TIMEOUT"
	LimitRequestTimeout  = "REQUEST_TIMEOUT"
)

// limitError is a LIMIT_EXCEEDED error that names its limit.
type limitError struct {
	err        *rubrica.Error
	limit      string
	retryAfter int // seconds after which the client may retry (Retry-After); 0: none
}

func (e *limitError) Error() string { return e.err.Error() + " limit=" + e.limit }
func (e *limitError) Unwrap() error { return e.err }

// exceeded returns the LIMIT_EXCEEDED error of a limit.
func exceeded(limit, format string, args ...any) error {
	return &limitError{err: rubrica.Errorf(rubrica.ELIMIT, format, args...), limit: limit}
}

// errorLimit returns the name of the limit err is about, "" if none.
func errorLimit(err error) string {
	var e *limitError
	if errors.As(err, &e) {
		return e.limit
	}
	return ""
}

// errorRetryAfter returns the seconds after which the client may retry what err refused, 0
// when err says nothing about it.
func errorRetryAfter(err error) int {
	var e *limitError
	if errors.As(err, &e) {
		return e.retryAfter
	}
	return 0
}

// httpLimits are the limits limitRequests enforces; zero fields take their defaults.
type httpLimits struct {
	maxBytes       int64
	bodyTimeout    time.Duration
	requestTimeout time.Duration
}

func (l httpLimits) withDefaults() httpLimits {
	if l.maxBytes <= 0 {
		l.maxBytes = DefaultMaxRequestBytes
	}
	if l.bodyTimeout <= 0 {
		l.bodyTimeout = DefaultBodyReadTimeout
	}
	if l.requestTimeout <= 0 {
		l.requestTimeout = DefaultRequestTimeout
	}
	return l
}

func (l httpLimits) tooLarge() error {
	return exceeded(LimitMaxRequestBytes, "The request body is larger than %d bytes.", l.maxBytes)
}

// errRequestTimeout is the cause of a request context that ran out of time.
var errRequestTimeout = errors.New("server: request timeout")

// limitRequests bounds every request: a body larger than maxBytes is refused with 413 (up
// front from Content-Length, or when a chunked body grows past it), a body must arrive within
// bodyTimeout, and a request other than a websocket upgrade or an event stream runs for at most
// requestTimeout.
// The request's context is the connection's, so it is also cancelled when the client leaves.
func limitRequests(l httpLimits, errs httpErrors, next http.Handler) http.Handler {
	l = l.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			// The deadline also bounds what net/http reads of an unread body after the handler.
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(l.bodyTimeout)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
			r.Body = http.MaxBytesReader(w, r.Body, l.maxBytes)
		}
		if r.ContentLength > l.maxBytes {
			errs.refuseBody(w, r, http.StatusRequestEntityTooLarge, l.tooLarge())
			return
		}
		if !websocket.IsWebSocketUpgrade(r) && !isEventStream(r) { // a stream times its queries itself (sseTransport)
			ctx, cancel := context.WithTimeoutCause(r.Context(), l.requestTimeout, errRequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline once the body has been read whole, so
// that the deadline, meant for the body, does not cut the connection while the handler runs
// (net/http then reads on to notice a client that leaves). A body that timed out keeps its
// expired deadline: nothing more is read from that connection.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// readBody reads a request body whole within the limits limitRequests set, and says why it
// could not: too large (413), too slow (408) or cut off (400), as a response status and error.
func readBody(r *http.Request) ([]byte, int, error) {
	if r.Body == nil {
		return nil, 0, nil
	}
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	var timeout interface{ Timeout() bool }
	switch {
	case err == nil:
		return body, 0, nil
	case errors.As(err, &tooLarge):
		return nil, http.StatusRequestEntityTooLarge,
			exceeded(LimitMaxRequestBytes, "The request body is larger than %d bytes.", tooLarge.Limit)
	case errors.As(err, &timeout) && timeout.Timeout():
		return nil, http.StatusRequestTimeout, exceeded(LimitBodyReadTimeout, "The request body did not arrive in time.")
	}
	return nil, http.StatusBadRequest, rubrica.Errorf(rubrica.EINVALID, "The request body could not be read.")
}

// refuseBody answers a request whose body was refused and closes its connection: what is
// left of the body is never read.
func (h httpErrors) refuseBody(w http.ResponseWriter, r *http.Request, status int, err error) {
	w.Header().Set("Connection", "close")
	h.write(w, r, status, err)
}

// timedOut returns the REQUEST_TIMEOUT error when ctx ran out of time, and err otherwise.
func timedOut(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errRequestTimeout) {
		return exceeded(LimitRequestTimeout, "The request took too long.")
	}
	return err
}

// reportTimeouts makes the INTERNAL errors of an operation whose request ran out of time the
// LIMIT_EXCEEDED error of REQUEST_TIMEOUT: they are the statements the deadline cancelled.
func reportTimeouts(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || !errors.Is(context.Cause(ctx), errRequestTimeout) {
		return resp
	}
	for _, e := range resp.Errors {
		if code, _ := e.Extensions["code"].(string); code == rubrica.EINTERNAL {
			e.Message = "The request took too long."
			e.Extensions = map[string]any{"code": rubrica.ELIMIT, "limit": LimitRequestTimeout}
		}
	}
	return resp
}
