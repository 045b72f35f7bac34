package server

import (
	"net/http"
	"strconv"
	"time"
)

// CORS lets browsers on the origins in ALLOWED_ORIGINS call the API (a rich frontend served
// from app.example.com); requests from other origins get no CORS headers at all, so browsers
// keep them from reading the answers. Tokens travel in the Authorization header, never in
// cookies, so no credentials are allowed (Access-Control-Allow-Credentials stays unset).

// corsRoute is what CORS allows on one path.
type corsRoute struct {
	methods string // Access-Control-Allow-Methods
	allow   string // the Allow header of a preflight's answer
}

// corsRoutes are the paths a browser on another origin may call.
var corsRoutes = map[string]corsRoute{
	"/graphql":             {methods: "GET, POST", allow: allowedMethods},
	"/export/contacts.csv": {methods: "GET", allow: "OPTIONS, GET, HEAD"},
}

// The request headers clients send: the token, the body's media type, a request id, Apollo's
// CSRF header (apollo-require-preflight), the W3C trace context of instrumented frontends.
const corsAllowHeaders = "Authorization, Content-Type, Accept, X-Request-Id, apollo-require-preflight, traceparent, tracestate"

// The response headers a browser script may read besides the safelisted ones.
const corsExposeHeaders = "Content-Disposition, Retry-After, WWW-Authenticate, X-Request-Id"

// corsMaxAge is how long a browser may cache a preflight's answer.
const corsMaxAge = 10 * time.Minute

// withCORS answers the preflights of the corsRoutes from listed origins (204) and adds the
// CORS headers to their other responses, errors included (401, 413, ...: a client reads them).
// Every response of those routes carries Vary: Origin, since it depends on the Origin. A
// preflight from another origin goes on to the route, which answers it without CORS headers.
func withCORS(listed func(origin string) bool, next http.Handler) http.Handler {
	maxAge := strconv.Itoa(int(corsMaxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := corsRoutes[r.URL.Path]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !listed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", route.methods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
			h.Set("Allow", route.allow)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}
