// Package reqid gives every request an id: taken from the client's X-Request-Id when it is
// sane, else from the trace id of its W3C traceparent, else generated. The id travels in the
// request's context, comes back in the X-Request-Id response header and is added to every log
// line written with that context (see LogHandler).
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// Header is the request and response header that carries the id.
const Header = "X-Request-Id"

// MaxLength bounds an id taken from a client; a longer one is replaced by a generated id.
const MaxLength = 128

type key struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// FromContext returns the id ctx carries, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// FromRequest is the id of r: its X-Request-Id when valid (see Valid), else the trace id of
// its traceparent, else a new random id.
func FromRequest(r *http.Request) string {
	if id := r.Header.Get(Header); Valid(id) {
		return id
	}
	if id, ok := traceID(r.Header.Get("Traceparent")); ok {
		return id
	}
	return New()
}

// Valid reports whether a client's id may be used as is: 1 to MaxLength characters among
// letters, digits and - _ . : / + = (UUIDs, ULIDs, base64 and trace ids all fit); anything
// else could forge log lines or smuggle markup.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.:/+=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// traceID is the trace id of a W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>", when valid
// and not all zeros.
func traceID(traceparent string) (string, bool) {
	parts := strings.Split(strings.TrimSpace(traceparent), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return "", false
	}
	id := parts[1]
	if _, err := hex.DecodeString(id); err != nil || id != strings.ToLower(id) || strings.Trim(id, "0") == "" {
		return "", false
	}
	return id, true
}

// New returns a random id: 32 lowercase hex digits, the shape of a trace id.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Middleware gives each request its id (FromRequest) in its context and in the X-Request-Id
// response header. A websocket keeps the id of its upgrade request for its whole life.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := FromRequest(r)
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}
