package gorillaws_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"rubrica/server/gorillaws"
)

func TestOriginChecker(t *testing.T) {
	check := gorillaws.OriginChecker([]string{"https://app.example.com/", "HTTP://[::1]:8080", "", "app.example.org", "https://x.example.com/path", "http://plain.example.com:80"})
	all := gorillaws.OriginChecker([]string{"https://a.example.com", "*"})
	for _, tc := range []struct {
		check  func(*http.Request) bool
		host   string
		origin string // "-" sends none
		want   bool
	}{
		{check, "api.example.com", "-", true},
		{check, "api.example.com", "https://api.example.com", true},
		{check, "api.example.com:8080", "http://API.example.com:8080", true},
		{check, "api.example.com", "https://api.example.com:8080", false},
		{check, "api.example.com", "https://app.example.com", true},
		{check, "api.example.com", "http://[::1]:8080", true},
		{check, "api.example.com", "http://plain.example.com", true},
		{check, "api.example.com", "https://app.example.org", false}, // listed without a scheme: ignored
		{check, "api.example.com", "https://x.example.com", false},   // listed with a path: ignored
		{check, "api.example.com", "", false},
		{check, "api.example.com", "null", false},
		{check, "api.example.com", "https://app.example.com.evil.com", false},
		{all, "api.example.com", "https://anything.example.net", true},
		{all, "api.example.com", "null", true},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://"+tc.host+"/graphql", nil)
		if tc.origin != "-" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := tc.check(r); got != tc.want {
			t.Errorf("Host %s, Origin %q: allowed %v, want %v", tc.host, tc.origin, got, tc.want)
		}
	}
}
