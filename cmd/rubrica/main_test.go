package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"rubrica/db/dbtest"
)

// buildBinary builds the real rubrica binary once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rubrica")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runJSON(t *testing.T, bin string, env []string, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rubrica %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("rubrica %s printed %q: %v", strings.Join(args, " "), out, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBinaryEndToEnd builds the binary, creates a workspace and tokens with its subcommands,
// serves on a free port, answers a query over HTTP and stops gracefully on SIGTERM.
func TestBinaryEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	env := []string{"DATABASE_URL=" + dbtest.NewDatabase(t), "LOG_LEVEL=warn"}

	var ws struct{ WorkspaceID, Token string }
	runJSON(t, bin, env, &ws, "workspace", "create", "--name", "E2E", "--owner-email", "owner@e2e.test")
	if ws.WorkspaceID == "" || !strings.HasPrefix(ws.Token, "rbk_") {
		t.Fatalf("workspace create = %+v, want an id and a token", ws)
	}
	var agent struct{ Token string }
	runJSON(t, bin, env, &agent, "token", "create", "--workspace", ws.WorkspaceID, "--email", "agent@e2e.test", "--role", "AGENT")

	s := startServer(t, bin, env)
	base := s.base

	query := func(token, q string) map[string]any {
		body, _ := json.Marshal(map[string]any{"query": q})
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := query(ws.Token, `mutation { createContact(input: {firstName: "Ada", phone: "+393331234567"}) { contact { displayName country } } }`)
	if got := fmt.Sprint(out["data"]); !strings.Contains(got, "country:IT") || !strings.Contains(got, "displayName:Ada") {
		t.Fatalf("createContact over HTTP = %v, want Ada from IT", out)
	}
	out = query(agent.Token, `{ viewer { role } workspace { id } contacts { totalCount } }`)
	want := fmt.Sprintf("map[contacts:map[totalCount:1] viewer:map[role:AGENT] workspace:map[id:%s]]", ws.WorkspaceID)
	if got := fmt.Sprint(out["data"]); got != want {
		t.Fatalf("agent query = %v, want data %s", out, want)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "rubrica_graphql_operations_total", "/": "Rubrica explorer"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d, want 200 containing %q", path, res.StatusCode, want)
		}
	}

	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v, want a clean exit\n%s", err, s.logs.String())
		}
		s.done <- nil
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop within 20s of SIGTERM\n%s", s.logs.String())
	}
}

// TestSeedDemo runs `rubrica seed --demo` and checks its JSON.
func TestSeedDemo(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	env := []string{"DATABASE_URL=" + dbtest.NewDatabase(t), "LOG_LEVEL=warn"}
	var res struct {
		WorkspaceID string            `json:"workspaceId"`
		Tokens      map[string]string `json:"tokens"`
	}
	runJSON(t, bin, env, &res, "seed", "--demo")
	if res.WorkspaceID == "" {
		t.Errorf("seed --demo printed no workspaceId")
	}
	for _, role := range []string{"OWNER", "MANAGER", "AGENT"} {
		if !strings.HasPrefix(res.Tokens[role], "rbk_") {
			t.Errorf("seed --demo token for %s = %q, want a token", role, res.Tokens[role])
		}
	}
}

// TestSuggestionsRebuild runs 'rubrica suggestions rebuild' on the demo workspace (which has
// duplicates) after its suggestions were lost: it makes them again, the same groups.
func TestSuggestionsRebuild(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dsn := dbtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dsn, "LOG_LEVEL=warn"}
	var res struct {
		WorkspaceID string `json:"workspaceId"`
	}
	runJSON(t, bin, env, &res, "seed", "--demo")
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	groups := func() []string {
		t.Helper()
		rows, err := db.Query(`SELECT array_to_string(contact_ids, ',') || ' ' || array_to_string(keys, ',') FROM merge_suggestions
			WHERE status = 'OPEN' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				t.Fatal(err)
			}
			out = append(out, g)
		}
		return out
	}
	before := groups()
	if len(before) == 0 {
		t.Fatalf("open suggestions of the demo: got none, want its duplicates")
	}
	if _, err := db.Exec(`DELETE FROM merge_suggestions`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "suggestions", "rebuild", "--workspace", res.WorkspaceID)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rubrica suggestions rebuild: %v\n%s", err, out)
	}
	if after := groups(); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("open suggestions after the rebuild: got %v, want %v", after, before)
	}
}

func waitReady(t *testing.T, url string, done chan error, logs fmt.Stringer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited before it was ready: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("serve not ready within 30s\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
}
