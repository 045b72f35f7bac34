package gorillaws

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// fuzzHost is the Host of the requests FuzzOriginChecker checks.
const fuzzHost = "api.rubrica.test"

// sameOriginAs reports whether origin names the request's own host, which OriginChecker
// allows whatever the list.
func sameOriginAs(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// sameSite is the fuzz test's own reading of "origin is the listed origin": both parse as a
// bare scheme://host[:port] and name the same scheme, host and port, ignoring case and a
// default port.
func sameSite(listed, origin string) bool {
	parse := func(s string) (scheme, host, port string, ok bool) {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			(u.Path != "" && u.Path != "/") {
			return "", "", "", false
		}
		scheme, port = strings.ToLower(u.Scheme), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[scheme]
		}
		return scheme, strings.ToLower(u.Hostname()), port, true
	}
	s1, h1, p1, ok1 := parse(listed)
	s2, h2, p2, ok2 := parse(origin)
	return ok1 && ok2 && s1 == s2 && h1 == h2 && p1 == p2
}

// FuzzOriginChecker: the checker never panics and never allows an origin other than the
// request's own host or the listed one; normalisation is idempotent; the normal form of a
// listed origin is allowed.
func FuzzOriginChecker(f *testing.F) {
	for _, seed := range [][2]string{
		{"https://app.example.com", "https://app.example.com"},
		{"https://app.example.com/", "HTTPS://APP.example.com:443"},
		{"HTTP://[::1]:8080", "http://[::1]:8080"},
		{"http://plain.example.com:80", "http://plain.example.com"},
		{"https://app.example.com", "https://app.example.com.evil.com"},
		{"https://app.example.com", "https://app.example.com@evil.com"},
		{"https://x.example.com/path", "https://x.example.com"},
		{"app.example.org", "https://app.example.org"},
		{"https://app.example.com", "null"},
		{"http://[fe80::1%25eth0]:80", "http://[fe80::1%25ETH0]"},
		{"https://ex%61mple.com", "https://example.com"},
		{"*", "https://anything.example.net"},
		{"", "http://" + fuzzHost},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, listed, origin string) {
		check := OriginChecker([]string{listed})
		r, err := http.NewRequest(http.MethodGet, "http://"+fuzzHost+"/graphql", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Origin", origin)
		allowed := check(r)
		if allowed && strings.TrimSpace(listed) != "*" && !sameOriginAs(origin, fuzzHost) && !sameSite(listed, origin) {
			t.Fatalf("listed %q: origin %q allowed, but it is neither %s nor the listed origin", listed, origin, fuzzHost)
		}
		if n, ok := normalizeOrigin(origin); ok {
			if n2, ok2 := normalizeOrigin(n); !ok2 || n2 != n {
				t.Fatalf("normalizeOrigin(%q) = %q, which normalises to %q, %v", origin, n, n2, ok2)
			}
		}
		if n, ok := normalizeOrigin(strings.TrimSpace(listed)); ok {
			r.Header.Set("Origin", n)
			if !check(r) {
				t.Fatalf("listed %q: its normal form %q is refused", listed, n)
			}
		}
	})
}
