package gorillaws

import (
	"context"
	"sync"
)

// Closer closes one websocket from outside gqlgen's transport, with a close code of the
// caller's choosing (gqlgen itself closes a connection whose context ends with 1000). The
// server puts one in the upgrade request's context (WithCloser); Accept binds it to the
// connection it makes.
type Closer struct {
	mu     sync.Mutex
	conn   *conn
	code   int    // set once Close was called
	reason string // with code
}

type closerKey struct{}

// WithCloser returns ctx carrying a new Closer, for the upgrade request of one websocket.
func WithCloser(ctx context.Context) (context.Context, *Closer) {
	k := &Closer{}
	return context.WithValue(ctx, closerKey{}, k), k
}

// CloserFromContext returns the Closer of the upgrade request's context, or nil.
func CloserFromContext(ctx context.Context) *Closer {
	k, _ := ctx.Value(closerKey{}).(*Closer)
	return k
}

// Close sends a close frame with code and reason and shuts the connection: its reads end, so
// gqlgen stops every subscription of it. Called before the connection was accepted, it closes
// the connection as soon as Accept binds it. Only the first call has an effect; it may block
// for up to the write timeout.
func (k *Closer) Close(code int, reason string) {
	k.mu.Lock()
	if k.code != 0 {
		k.mu.Unlock()
		return
	}
	k.code, k.reason = code, reason
	c := k.conn
	k.mu.Unlock()
	if c != nil {
		c.closeWith(code, reason)
	}
}

// bind attaches the accepted connection.
func (k *Closer) bind(c *conn) {
	k.mu.Lock()
	k.conn = c
	code, reason := k.code, k.reason
	k.mu.Unlock()
	if code != 0 {
		c.closeWith(code, reason)
	}
}

// closeWith sends the close frame, then shuts the connection gracefully.
func (c *conn) closeWith(code int, reason string) {
	_ = c.WriteClose(code, reason)
	_ = c.Close()
}
