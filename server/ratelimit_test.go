package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// fromAddr is an HTTP client whose connections come from the loopback address ip (all of
// 127.0.0.0/8 is the loopback on Linux), so that a test can be two clients.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

type limitedResponse struct {
	Status     int
	RetryAfter string
	Errors     []struct {
		Message    string
		Extensions struct{ Code, Limit string }
	}
}

// post sends `{ viewer { id } }` with the token (and any extra header) through client.
func post(t *testing.T, client *http.Client, env *testenv.Env, token string, header http.Header) limitedResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": `{ viewer { id } }`})
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := limitedResponse{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response %d %q: %v", res.StatusCode, b, err)
	}
	return out
}

func wantLimited(t *testing.T, r limitedResponse) {
	t.Helper()
	secs, err := strconv.Atoi(r.RetryAfter)
	if r.Status != http.StatusTooManyRequests || err != nil || secs < 1 {
		t.Fatalf("over the limit: got %d with Retry-After %q, want 429 with a number of seconds", r.Status, r.RetryAfter)
	}
	if len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "LIMIT_EXCEEDED" || r.Errors[0].Extensions.Limit != "AUTH_FAILURE_RATE" {
		t.Fatalf("over the limit: got errors %+v, want one LIMIT_EXCEEDED naming AUTH_FAILURE_RATE", r.Errors)
	}
}

// TestAuthFailuresRateLimited fails authentication from one address until its burst is spent:
// the next failure is 429 with Retry-After and LIMIT_EXCEEDED naming AUTH_FAILURE_RATE, even
// with another X-Forwarded-For; a valid token from that address still works; another address
// still gets 401; a websocket from the limited address is refused with 4429 on a bad token
// and accepted with a valid one.
func TestAuthFailuresRateLimited(t *testing.T) {
	t.Parallel()
	const burst = 5
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.AuthFailureBurst = burst })
	ws := env.Workspace(t, "Limited")
	attacker, other := fromAddr("127.0.0.1"), fromAddr("127.0.0.2")
	const bad = "rbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // well-formed, unknown

	for i := range burst {
		if r := post(t, attacker, env, bad, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d of the burst: got %d, want 401", i+1, r.Status)
		}
	}
	wantLimited(t, post(t, attacker, env, bad, nil))
	wantLimited(t, post(t, attacker, env, "not-even-a-token", nil))
	wantLimited(t, post(t, attacker, env, bad, http.Header{"X-Forwarded-For": {"203.0.113.9"}}))

	if r := post(t, attacker, env, ws.Agent(), nil); r.Status != http.StatusOK || len(r.Errors) != 0 {
		t.Fatalf("valid token from the limited address: got %d %+v, want 200", r.Status, r.Errors)
	}
	if r := post(t, other, env, bad, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("bad token from another address: got %d, want 401", r.Status)
	}

	c, _, err := testenv.DialWS(t, env.WSURL(), testenv.TransportWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Init(testenv.InitPayload(bad))
	if code, text, err := c.Closed(testenv.WSWait); err != nil || code != server.CloseAuthLimited {
		t.Fatalf("websocket with a bad token from the limited address: closed %d %q (%v), want 4429", code, text, err)
	}
	testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent()) // acknowledged
	_, res, err := testenv.DialWS(t, env.WSURL(), testenv.LegacyWS, http.Header{"Authorization": {"Bearer " + bad}})
	if err != websocket.ErrBadHandshake || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("bad token in the upgrade header from the limited address: got %v (%v), want a 429 handshake", err, res)
	}
}

// TestWebsocketAuthFailuresCount spends an address's burst with websocket inits alone: then
// HTTP from that address is limited too (one budget per address).
func TestWebsocketAuthFailuresCount(t *testing.T) {
	t.Parallel()
	const burst = 3
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.AuthFailureBurst = burst })
	for range burst {
		c, _, err := testenv.DialWS(t, env.WSURL(), testenv.TransportWS, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Init(testenv.InitPayload("rbk_nope"))
		if code, _, err := c.Closed(testenv.WSWait); err != nil || code != server.CloseForbidden {
			t.Fatalf("websocket with a bad token: closed %d (%v), want 4403", code, err)
		}
	}
	wantLimited(t, post(t, http.DefaultClient, env, "rbk_nope", nil))
}

// TestAuthFailureLimitOff: a negative rate turns the limit off.
func TestAuthFailureLimitOff(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.AuthFailureRate, c.AuthFailureBurst = -1, 1 })
	for i := range 5 {
		if r := post(t, http.DefaultClient, env, "rbk_nope", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d without a limit: got %d, want 401", i+1, r.Status)
		}
	}
}

// TestMalformedTokenNoLookup: a token not of the shape rbk_ + 43 base64url characters is
// refused without any SQL statement; a well-formed one is looked up.
func TestMalformedTokenNoLookup(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for _, token := range []string{"rbk_short", "rbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", "xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"rbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "rbk_" + strings.Repeat(".", 43), "rbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"} {
		env.Counter.Reset()
		if r := env.Do(t, token, `{ viewer { id } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("token %q: got %d, want 401", token, r.Status)
		}
		if s := env.Counter.Statements(); len(s) != 0 {
			t.Fatalf("token %q: ran %q, want no statement", token, s)
		}
	}
	env.Counter.Reset()
	env.Do(t, "rbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", `{ viewer { id } }`, nil)
	if len(env.Counter.Statements()) == 0 {
		t.Fatalf("a well-formed token: no statement, want a lookup (the counter counts)")
	}
}
