package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"rubrica/internal/testenv"
	"rubrica/server"
)

const appOrigin = "https://app.example.com"

func corsEnv(t *testing.T) *testenv.Env {
	t.Helper()
	return testenv.NewWithConfig(t, func(c *server.Config) { c.AllowedOrigins = []string{appOrigin} })
}

func send(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func preflight(t *testing.T, url, origin, method, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", headers)
	return send(t, req)
}

// hasToken reports whether a comma-separated header lists token (case-insensitively).
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), token) {
				return true
			}
		}
	}
	return false
}

// TestCORSPreflight: a browser on a listed origin gets its preflights of /graphql and the CSV
// export answered with the methods and headers clients send (Authorization, Content-Type,
// X-Request-Id, apollo-require-preflight), and its requests answered with
// Access-Control-Allow-Origin, errors included; another origin gets no CORS header at all;
// every answer varies by Origin.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	env := corsEnv(t)
	ws := env.Workspace(t, "Cors")
	headers := "authorization, content-type, x-request-id, apollo-require-preflight"

	for _, route := range []struct{ path, method string }{{"/graphql", "POST"}, {"/graphql", "GET"}, {"/export/contacts.csv", "GET"}} {
		res := preflight(t, env.Server.URL+route.path, appOrigin, route.method, headers)
		h := res.Header
		if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != appOrigin {
			t.Fatalf("preflight %s %s: got %d, Allow-Origin %q", route.method, route.path, res.StatusCode, h.Get("Access-Control-Allow-Origin"))
		}
		if !hasToken(h, "Access-Control-Allow-Methods", route.method) {
			t.Errorf("preflight %s %s: Allow-Methods %q", route.method, route.path, h.Get("Access-Control-Allow-Methods"))
		}
		for _, want := range strings.Split(headers, ", ") {
			if !hasToken(h, "Access-Control-Allow-Headers", want) {
				t.Errorf("preflight %s: Allow-Headers %q lacks %s", route.path, h.Get("Access-Control-Allow-Headers"), want)
			}
		}
		if !hasToken(h, "Vary", "Origin") || h.Get("Access-Control-Max-Age") == "" || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s: Vary %q, Max-Age %q, Allow-Credentials %q", route.path, h.Values("Vary"), h.Get("Access-Control-Max-Age"), h.Get("Access-Control-Allow-Credentials"))
		}

		other := preflight(t, env.Server.URL+route.path, "https://evil.example", route.method, headers)
		for k := range other.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("preflight %s from another origin: header %s: %q", route.path, k, other.Header.Get(k))
			}
		}
		if !hasToken(other.Header, "Vary", "Origin") {
			t.Errorf("preflight %s from another origin: Vary %q", route.path, other.Header.Values("Vary"))
		}
	}

	// The actual requests, as a browser sends them after the preflight.
	post := func(origin, token string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { name } }"}`))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("apollo-require-preflight", "true")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return send(t, req)
	}
	if res := post(appOrigin, ws.Agent()); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
		!hasToken(res.Header, "Access-Control-Expose-Headers", "X-Request-Id") || !hasToken(res.Header, "Vary", "Origin") {
		t.Errorf("POST from %s: got %d, headers %v", appOrigin, res.StatusCode, res.Header)
	}
	if res := post(appOrigin, "rbk_not-a-token"); res.StatusCode != 401 || res.Header.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Errorf("refused POST from %s: got %d, Allow-Origin %q, want 401 a script can read", appOrigin, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res := post("https://evil.example", ws.Agent()); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST from another origin: Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
	req, _ := http.NewRequest(http.MethodGet, env.Server.URL+"/export/contacts.csv", nil)
	req.Header.Set("Origin", appOrigin)
	req.Header.Set("Authorization", "Bearer "+ws.Agent())
	if res := send(t, req); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != appOrigin ||
		!hasToken(res.Header, "Access-Control-Expose-Headers", "Content-Disposition") {
		t.Errorf("export from %s: got %d, headers %v", appOrigin, res.StatusCode, res.Header)
	}
	// Other routes have no CORS.
	if res := preflight(t, env.Server.URL+"/metrics", appOrigin, "GET", ""); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight /metrics: Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
}
