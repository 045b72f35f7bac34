package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// The tests here run real JavaScript clients (../clients: graphql-http's audits, Apollo
// Client 4) against the real server. They need Node.js 20 or later and npm; without them they
// fail, never skip: CI (.ci/run) installs them.

var (
	clientsOnce sync.Once
	clientsDir  string
	clientsErr  error
)

// nodeClients returns the directory of the JavaScript clients with their packages installed
// (npm ci, once per test binary, when node_modules is older than the lockfile).
func nodeClients(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the client tests need Node.js 20+ and npm (apt-get install nodejs npm)", tool)
		}
	}
	clientsOnce.Do(func() {
		clientsDir, clientsErr = filepath.Abs("../clients")
		if clientsErr != nil {
			return
		}
		lock, err := os.Stat(filepath.Join(clientsDir, "package-lock.json"))
		if err != nil {
			clientsErr = err
			return
		}
		if installed, err := os.Stat(filepath.Join(clientsDir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = clientsDir
		if out, err := cmd.CombinedOutput(); err != nil {
			clientsErr = &npmError{err: err, out: string(out)}
		}
	})
	if clientsErr != nil {
		t.Fatalf("installing the JavaScript clients: %v", clientsErr)
	}
	return clientsDir
}

type npmError struct {
	err error
	out string
}

func (e *npmError) Error() string { return "npm ci: " + e.err.Error() + "\n" + e.out }

// runNode runs a script of the clients directory with args and returns its output; a
// non-zero exit fails the test with that output.
func runNode(t *testing.T, env []string, script string, args ...string) string {
	t.Helper()
	dir := nodeClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	return string(out)
}

// TestGraphQLOverHTTPAudits: graphql-http's server audits (the GraphQL-over-HTTP spec's
// conformance checks) all pass, every MUST and every SHOULD.
func TestGraphQLOverHTTPAudits(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	out := runNode(t, nil, "audit.mjs", env.Server.URL+"/graphql")
	t.Log(out)
}

// TestApolloClient: Apollo Client 4, as a page on another origin (listed in ALLOWED_ORIGINS)
// uses it through the CORS protocol, preflights included, refetches contacts with
// nodes(ids:) into its cache, reads a deferred fragment over multipart/mixed and receives a
// subscription's events over server-sent events (clients/apollo.mjs).
func TestApolloClient(t *testing.T) {
	t.Parallel()
	env := corsEnv(t)
	ws := env.Workspace(t, "Apollo")
	other := env.Workspace(t, "Apollo other")
	ada := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
	grace := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Grace"})
	theirs := createContact(t, env, other.Owner(), map[string]any{"firstName": "Theirs"})
	ids, _ := json.Marshal([]string{grace, "bogus", ada, theirs})
	out := runNode(t, []string{
		"RUBRICA_URL=" + env.Server.URL + "/graphql",
		"RUBRICA_ORIGIN=" + appOrigin,
		"RUBRICA_TOKEN=" + ws.Agent(),
		"RUBRICA_IDS=" + string(ids),
		`RUBRICA_NAMES=["Grace", null, "Ada", null]`,
	}, "apollo.mjs")
	t.Log(out)
}
