package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// lockedBuffer collects a server's log lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logLines is a JSON log line per element, decoded.
func (l *lockedBuffer) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// newLoggedEnv is a test server whose JSON logs (debug and up) are collected.
func newLoggedEnv(t *testing.T) (*testenv.Env, *lockedBuffer) {
	logs := &lockedBuffer{}
	env := testenv.NewWithConfig(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	return env, logs
}

func postWithHeaders(t *testing.T, env *testenv.Env, token, query string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: a request's id is the client's sane X-Request-Id, else its traceparent's
// trace id, else generated; it comes back in X-Request-Id and is on the request's log line.
func TestRequestID(t *testing.T) {
	t.Parallel()
	env, logs := newLoggedEnv(t)
	ws := env.Workspace(t, "Request ids")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for name, tc := range map[string]struct {
		header map[string]string
		want   string // "" : a generated id
	}{
		"Client":           {map[string]string{"X-Request-Id": "req-42.a_b:c"}, "req-42.a_b:c"},
		"Traceparent":      {map[string]string{"Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}, traceID},
		"ClientOverTrace":  {map[string]string{"X-Request-Id": "mine", "Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}, "mine"},
		"None":             {nil, ""},
		"TooLong":          {map[string]string{"X-Request-Id": strings.Repeat("a", 129)}, ""},
		"BadCharset":       {map[string]string{"X-Request-Id": "a b\"<script>"}, ""},
		"ZeroTrace":        {map[string]string{"Traceparent": "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"}, ""},
		"MalformedTrace":   {map[string]string{"Traceparent": "00-xyz-00f067aa0ba902b7-01"}, ""},
		"BadClientGoodTop": {map[string]string{"X-Request-Id": "bad id", "Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}, traceID},
	} {
		t.Run(name, func(t *testing.T) {
			res, body := postWithHeaders(t, env, ws.Owner(), `{ viewer { name } }`, tc.header)
			got := res.Header.Get("X-Request-Id")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if tc.want != "" && got != tc.want || tc.want == "" && !generatedID.MatchString(got) {
				t.Fatalf("X-Request-Id: got %q, want %q (\"\": 32 hex digits)", got, tc.want)
			}
			found := false
			for _, line := range logs.logLines(t) {
				if line["msg"] == "request" && line["request_id"] == got {
					found = true
				}
			}
			if !found {
				t.Errorf("no request log line with request_id %q in:\n%s", got, logs.String())
			}
		})
	}
}

// TestRequestIDInInternalErrors: an INTERNAL error carries the request id in its extensions,
// and the logged cause carries it too, over HTTP and over a websocket (the id of its upgrade
// request).
func TestRequestIDInInternalErrors(t *testing.T) {
	t.Parallel()
	env, logs := newLoggedEnv(t)
	ws := env.Workspace(t, "Internal ids")
	var created struct {
		CreateContact struct{ Contact struct{ ID string } }
	}
	env.MustDo(t, ws.Owner(), `mutation { createContact(input: {firstName: "Ada"}) { contact { id } } }`, nil, &created)
	if _, err := env.DB.ExecContext(context.Background(), `ALTER TABLE contacts RENAME TO contacts_gone`); err != nil {
		t.Fatal(err)
	}
	loggedWith := func(id string) bool {
		for _, line := range logs.logLines(t) {
			if line["msg"] == "internal error" && line["request_id"] == id && line["level"] == "ERROR" {
				return true
			}
		}
		return false
	}

	t.Run("HTTP", func(t *testing.T) {
		_, body := postWithHeaders(t, env, ws.Owner(), `{ contacts { totalCount } }`, map[string]string{"X-Request-Id": "http-internal-1"})
		var r struct {
			Errors []struct {
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Errors) == 0 {
			t.Fatalf("body %s: %v, want an INTERNAL error", body, err)
		}
		if ext := r.Errors[0].Extensions; ext["code"] != "INTERNAL" || ext["requestId"] != "http-internal-1" {
			t.Errorf("extensions: got %v, want code INTERNAL and requestId http-internal-1", ext)
		}
		if !loggedWith("http-internal-1") {
			t.Errorf("no internal error logged with the request id:\n%s", logs.String())
		}
	})

	t.Run("Websocket", func(t *testing.T) {
		c, res, err := testenv.DialWS(t, env.WSURL(), testenv.TransportWS, http.Header{"X-Request-Id": {"ws-upgrade-7"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Header.Get("X-Request-Id"); got != "ws-upgrade-7" {
			t.Errorf("101 response X-Request-Id: got %q, want ws-upgrade-7", got)
		}
		c.Init(testenv.InitPayload(ws.Owner()))
		if err := c.WaitAck(); err != nil {
			t.Fatal(err)
		}
		c.Subscribe("s", contactEventsQuery, map[string]any{"id": created.CreateContact.Contact.ID})
		m, err := c.Message("s", testenv.WSWait)
		if err != nil {
			t.Fatal(err)
		}
		var errs []struct {
			Extensions map[string]any `json:"extensions"`
		}
		if err := json.Unmarshal(m.Payload, &errs); err != nil {
			var next struct {
				Errors []struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &next); err != nil {
				t.Fatalf("message %+v: %v", m, err)
			}
			errs = next.Errors
		}
		if len(errs) == 0 || errs[0].Extensions["code"] != "INTERNAL" || errs[0].Extensions["requestId"] != "ws-upgrade-7" {
			t.Errorf("subscription error: got %s, want INTERNAL with requestId ws-upgrade-7", m.Payload)
		}
		if !loggedWith("ws-upgrade-7") {
			t.Errorf("no internal error logged with the upgrade request's id:\n%s", logs.String())
		}
	})
}
