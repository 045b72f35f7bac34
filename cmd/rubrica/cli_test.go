package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rubrica/db/dbtest"
)

// runBinary runs the binary with env (and no DATABASE_URL unless env has one) and returns
// its stdout, stderr and exit code; it fails the test if it runs for more than 20s.
func runBinary(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("rubrica %s ran for 20s: it was to print and exit", strings.Join(args, " "))
	}
	return out.String(), errOut.String(), code
}

// TestHelpDoesNothing: `--help` (and -h) on every command prints its usage on stdout and
// exits 0, without touching a database or starting the development cluster.
func TestHelpDoesNothing(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dataDir := t.TempDir()
	env := []string{"DATA_DIR=" + dataDir, "PORT=1"}
	for _, args := range [][]string{
		{"serve", "--help"}, {"serve", "--demo", "-h"}, {"migrate", "--help"}, {"devdb", "--help"}, {"devdb", "stop", "--help"},
		{"seed", "--help"}, {"seed", "--demo", "--help"}, {"workspace", "create", "--help"}, {"workspace", "--help"},
		{"token", "--help"}, {"token", "create", "--help"}, {"token", "list", "-help"}, {"member", "remove", "--help"},
		{"suggestions", "rebuild", "--help"}, {"version", "--help"}, {"help", "migrate"}, {"--help"}, {"help"},
	} {
		stdout, stderr, code := runBinary(t, bin, env, args...)
		if code != 0 || !strings.Contains(stdout, "usage: rubrica") {
			t.Errorf("rubrica %s: exit %d, stdout %q, stderr %q; want usage and exit 0", strings.Join(args, " "), code, stdout, stderr)
		}
		if args[0] != "--help" && args[0] != "help" && !strings.Contains(stdout, "usage: rubrica "+args[0]) {
			t.Errorf("rubrica %s: stdout %q, want the usage of %s", strings.Join(args, " "), stdout, args[0])
		}
		if strings.Contains(stderr, "migrat") || strings.Contains(stderr, "cluster") {
			t.Errorf("rubrica %s did something: %s", strings.Join(args, " "), stderr)
		}
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
		t.Errorf("DATA_DIR holds %v after --help: a cluster was started", entries)
	}
	if _, _, code := runBinary(t, bin, env, "frobnicate", "--help"); code == 0 {
		t.Errorf("rubrica frobnicate --help: exit 0, want an unknown command refused")
	}
}

// TestVersion: `rubrica version` and `--version` print the version given at build time with
// -ldflags (as make build does from git describe), or the build info's.
func TestVersion(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "rubrica")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		stdout, stderr, code := runBinary(t, bin, nil, arg)
		if code != 0 || !strings.HasPrefix(stdout, "rubrica v9.8.7-test (") || !strings.Contains(stdout, "go1.") {
			t.Errorf("rubrica %s: exit %d, %q %q; want \"rubrica v9.8.7-test (..., go1...)\"", arg, code, stdout, stderr)
		}
	}
	plain := buildBinary(t)
	if stdout, _, code := runBinary(t, plain, nil, "version"); code != 0 || !strings.HasPrefix(stdout, "rubrica ") || strings.HasPrefix(stdout, "rubrica  ") {
		t.Errorf("rubrica version without -ldflags: exit %d, %q; want the build info's version", code, stdout)
	}
}

// TestServeNeedsDatabaseURL: without DATABASE_URL, serve refuses to start and says how to
// ask for the development cluster, which it leaves unstarted; --dev asks for it.
func TestServeNeedsDatabaseURL(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dataDir := t.TempDir()
	_, stderr, code := runBinary(t, bin, []string{"DATA_DIR=" + dataDir, "PORT=1"}, "serve")
	if code == 0 || !strings.Contains(stderr, "DATABASE_URL is unset") || !strings.Contains(stderr, "--dev") {
		t.Errorf("serve without DATABASE_URL: exit %d, stderr %q; want a refusal naming DATABASE_URL and --dev", code, stderr)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
		t.Errorf("DATA_DIR holds %v: serve started the development cluster", entries)
	}
}

// TestJSONLogs: with LOG_FORMAT=json every line the server writes is a JSON object; the
// startup line holds the whole configuration, and a request's line its request_id.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	s := startServer(t, bin, []string{"DATABASE_URL=" + dbtest.NewDatabase(t), "LOG_FORMAT=json", "LOG_LEVEL=debug"})
	req, _ := http.NewRequest(http.MethodGet, s.base+"/healthz", nil)
	req.Header.Set("X-Request-Id", "json-log-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); got != "json-log-1" {
		t.Errorf("X-Request-Id: got %q, want json-log-1", got)
	}
	var startup, request map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for request == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		startup, request = nil, nil
		for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line %q is not JSON: %v", line, err)
			}
			if m["msg"] == "starting" {
				startup = m
			}
			if m["msg"] == "request" && m["request_id"] == "json-log-1" {
				request = m
			}
		}
	}
	if request == nil {
		t.Errorf("no request line with request_id json-log-1:\n%s", s.logs)
	}
	cfg, _ := startup["config"].(map[string]any)
	if cfg["MAX_COMPLEXITY"] != float64(10000) || cfg["LOG_FORMAT"] != "json" || len(cfg) < 30 {
		t.Errorf("startup config: got %v, want every setting, in force", startup)
	}
}

// TestTracingExportsOverOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set the server exports its
// spans over OTLP/HTTP (to a collector played by the test), named after the service.
func TestTracingExportsOverOTLP(t *testing.T) {
	t.Parallel()
	got := make(chan []byte, 16)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			got <- b
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	bin := buildBinary(t)
	s := startServer(t, bin, []string{"DATABASE_URL=" + dbtest.NewDatabase(t), "LOG_LEVEL=warn",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL, "OTEL_BSP_SCHEDULE_DELAY=50"})
	res, err := http.Get(s.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The protobuf holds the span's and the service's names as plain strings. Batches exported
	// before (the start's readiness polls: GET /readyz) are skipped.
	var seen [][]byte
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b := <-got:
			if bytes.Contains(b, []byte("GET /healthz")) {
				if !bytes.Contains(b, []byte("rubrica")) {
					t.Errorf("exported %q, want the GET /healthz span of service rubrica", b)
				}
				return
			}
			seen = append(seen, b)
		case <-timeout:
			t.Fatalf("no GET /healthz span exported to the collector in 10s (other batches: %q); logs:\n%s", seen, s.logs)
		}
	}
}
