package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loggedEnv is a test server whose log lines the test reads.
func loggedEnv(t *testing.T) (*testenv.Env, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	env := testenv.NewWithConfig(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return env, logs
}

type errorBody struct {
	Data   *json.RawMessage `json:"data"`
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

// TestAuthInternalErrorIsLogged: a database failure while a token is looked up answers 500
// with "Internal error." only, and is logged with the request's path; the same writer answers
// the export's errors.
func TestAuthInternalErrorIsLogged(t *testing.T) {
	t.Parallel()
	env, logs := loggedEnv(t)
	ws := env.Workspace(t, "Broken")
	if _, err := env.DB.ExecContext(context.Background(), `ALTER TABLE api_tokens RENAME TO api_tokens_gone`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/graphql", "/export/contacts.csv"} {
		req, _ := http.NewRequest(http.MethodGet, env.Server.URL+path+"?query=%7B__typename%7D", nil)
		req.Header.Set("Authorization", "Bearer "+ws.Agent())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body errorBody
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusInternalServerError || len(body.Errors) != 1 ||
			body.Errors[0].Message != "Internal error." || body.Errors[0].Extensions["code"] != "INTERNAL" || body.Data != nil {
			t.Fatalf("%s: got %d %+v, want 500 with one INTERNAL error and no data", path, res.StatusCode, body)
		}
		if !strings.Contains(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: Content-Type %q", path, res.Header.Get("Content-Type"))
		}
		if got := logs.String(); !strings.Contains(got, "level=ERROR msg=\"internal error\"") || !strings.Contains(got, "path="+path) || !strings.Contains(got, "api_tokens") {
			t.Errorf("%s: the internal error was not logged with its cause and path:\n%s", path, got)
		}
	}
	// A websocket whose token cannot be checked is refused (4403) and the cause logged.
	c, _, err := testenv.DialWS(t, env.WSURL(), testenv.TransportWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Init(testenv.InitPayload(ws.Agent()))
	wantClosedForbidden(t, c, testenv.WSWait)
	if got := logs.String(); !strings.Contains(got, "during=\"websocket authentication\"") {
		t.Errorf("websocket: the internal error was not logged:\n%s", got)
	}
}
