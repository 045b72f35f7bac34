// Package gorillaws holds the Origin rules of Rubrica's websockets (gorilla/websocket's
// Upgrader.CheckOrigin) and of its CORS: the server's own origin plus ALLOWED_ORIGINS.
package gorillaws

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// OriginChecker returns a CheckOrigin that allows same-origin requests, requests without an Origin header, and the listed origins (exact scheme://host[:port], case-insensitive; "*" allows all).
//
// Same origin means the Origin's host[:port] equals the request's Host, as gorilla's default
// check does; behind a proxy that rewrites Host, list the public origin. A default port (80
// for http, 443 for https) may be written or left out. Empty entries, and entries that are not
// a bare scheme://host[:port] (with a path, a query, or no scheme), match nothing. An Origin
// of "null" (sandboxed frames, file: pages) is refused unless "*" is listed.
func OriginChecker(allowed []string) func(*http.Request) bool {
	listed := ListedOrigins(allowed)
	return func(r *http.Request) bool {
		origins := r.Header.Values("Origin")
		if len(origins) == 0 {
			return true
		}
		origin := origins[0]
		if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
			return true
		}
		return listed(origin)
	}
}

// ListedOrigins returns a check of whether an Origin header value is one of the allowed
// origins, compared as OriginChecker compares them ("*" lists every origin). It knows nothing
// of the request's own origin: CORS (which a same-origin request does not need) uses it.
func ListedOrigins(allowed []string) func(origin string) bool {
	all := false
	set := make(map[string]bool, len(allowed))
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "*" {
			all = true
			continue
		}
		if o, ok := normalizeOrigin(a); ok {
			set[o] = true
		}
	}
	return func(origin string) bool {
		if all {
			return true
		}
		o, ok := normalizeOrigin(origin)
		return ok && set[o]
	}
}

// normalizeOrigin returns an origin as lower-case scheme://host[:port] without a default port,
// and whether s is an origin at all.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.Contains(host, "%") || (strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "[")) {
		return "", false // no host (":80"), an IPv6 zone (no browser sends one), or a bare "::1"
	}
	port := u.Port()
	switch {
	case port == "",
		port == "80" && (scheme == "http" || scheme == "ws"),
		port == "443" && (scheme == "https" || scheme == "wss"):
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // IPv6
		}
		return scheme + "://" + host, true
	}
	return scheme + "://" + net.JoinHostPort(host, port), true
}
