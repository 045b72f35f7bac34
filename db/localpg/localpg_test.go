package localpg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperDirEnv makes the test binary, re-run as a subprocess, call Ensure on
// that directory and print the URL (see TestHelperEnsure).
const helperDirEnv = "LOCALPG_TEST_HELPER_DIR"

// TestHelperEnsure is not a real test: the cluster test runs the test binary
// as a subprocess with helperDirEnv set, stdout on a pipe, to check that a
// server started from another process does not hold that pipe open.
func TestHelperEnsure(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u, err := (&Cluster{Dir: dir}).Ensure(ctx, "rubrica_test")
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("URL=" + u + "\n")
}

// newDir returns a fresh directory the server's user can reach, removed at
// the end of the test. (t.TempDir's directories are 0700, which the
// "postgres" user cannot traverse when the test runs as root.)
func newDir(t *testing.T) string {
	t.Helper()
	parent, err := os.MkdirTemp("", "localpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(parent, "data")
}

// skipIfNoPostgres skips the test when err says PostgreSQL is not installed.
func skipIfNoPostgres(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrNoPostgres) {
		t.Skip(err)
	}
}

func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func dialOK(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := newDir(t)
	c := &Cluster{Dir: dir}

	// First call: initdb, start, createdb.
	start := time.Now()
	url1, err := c.Ensure(ctx, "rubrica_test")
	skipIfNoPostgres(t, err)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	t.Logf("first Ensure took %v: %s", time.Since(start), url1)
	port := portOf(t, url1)
	want := "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/rubrica_test?sslmode=disable"
	if url1 != want {
		t.Fatalf("URL = %q, want %q", url1, want)
	}
	if port == 5432 {
		t.Errorf("cluster uses port 5432")
	}
	for _, name := range []string{"pgdata/PG_VERSION", "port", "postgres.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "pgdata")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("pgdata: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "port")); strings.TrimSpace(string(b)) != strconv.Itoa(port) {
		t.Errorf("port file holds %q, want %d", b, port)
	}
	if !dialOK(port) {
		t.Fatalf("port %d does not accept TCP connections", port)
	}

	// Second call: reuses the running cluster.
	start = time.Now()
	url2, err := c.Ensure(ctx, "rubrica_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second Ensure took %v", time.Since(start))
	if url2 != url1 {
		t.Errorf("second Ensure = %q, want %q", url2, url1)
	}

	// Concurrent calls, some creating a new database at the same time.
	var wg sync.WaitGroup
	urls := make([]string, 8)
	errs := make([]error, 8)
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "rubrica_test"
			if i%2 == 1 {
				name = "rubrica_other"
			}
			urls[i], errs[i] = (&Cluster{Dir: dir}).Ensure(ctx, name)
		}()
	}
	wg.Wait()
	for i := range urls {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		want := url1
		if i%2 == 1 {
			want = strings.Replace(url1, "/rubrica_test?", "/rubrica_other?", 1)
		}
		if urls[i] != want {
			t.Errorf("concurrent Ensure #%d = %q, want %q", i, urls[i], want)
		}
	}

	// Stop, then restart from another process whose stdout is a pipe: the
	// server must not keep that pipe open.
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if dialOK(port) {
		t.Fatalf("port %d still accepts connections after Stop", port)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop of a stopped cluster: %v", err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperEnsure$", "-test.v")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	// Also hand the helper a pipe as an extra inherited descriptor (fd 3),
	// as a shell, make or CI runner may do: the server must not keep it
	// open either.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}
	start = time.Now()
	out, err := cmd.Output()
	pw.Close()
	if errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("the server started by a subprocess kept its stdout/stderr open")
	}
	if err != nil {
		t.Fatalf("helper: %v\n%s%s", err, out, stderr.Bytes())
	}
	pr.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := pr.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the server started by a subprocess kept an inherited pipe open: read = %d, %v", n, err)
	}
	t.Logf("restart in subprocess took %v", time.Since(start))
	var url3 string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "URL="); ok {
			url3 = s
		}
	}
	if url3 != url1 {
		t.Errorf("Ensure after restart = %q, want %q\n%s", url3, url1, out)
	}
	if !dialOK(port) {
		t.Fatalf("port %d does not accept TCP connections after restart", port)
	}
	if url4, err := c.Ensure(ctx, "rubrica_test"); err != nil || url4 != url1 {
		t.Errorf("Ensure = %q, %v; want %q", url4, err, url1)
	}

	// Stop, and let something else take the saved port: Ensure moves to a
	// new port.
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	url5, err := c.Ensure(ctx, "rubrica_test")
	if err != nil {
		t.Fatal(err)
	}
	port5 := portOf(t, url5)
	if port5 == port {
		t.Fatalf("Ensure kept port %d, which is taken", port)
	}
	if !dialOK(port5) {
		t.Fatalf("new port %d does not accept TCP connections", port5)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "port")); strings.TrimSpace(string(b)) != strconv.Itoa(port5) {
		t.Errorf("port file holds %q, want %d", b, port5)
	}
}

func TestEnsureInvalidName(t *testing.T) {
	c := &Cluster{Dir: filepath.Join(t.TempDir(), "data")}
	for _, name := range []string{"", "Rubrica", "1db", "a-b", "a b", "a;drop", strings.Repeat("a", 64)} {
		if _, err := c.Ensure(context.Background(), name); err == nil || !strings.Contains(err.Error(), "invalid database name") {
			t.Errorf("Ensure(%q) = %v, want invalid database name", name, err)
		}
	}
}

func TestUntraversableParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs PostgreSQL as another user")
	}
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: filepath.Join(parent, "data")}
	t.Cleanup(func() { c.Stop(context.Background()) })
	url, err := c.Ensure(context.Background(), "x")
	skipIfNoPostgres(t, err)
	if err != nil {
		t.Fatalf("Ensure under a 0700 directory: %v, want the cluster kept elsewhere", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "data", "pgdata")); !os.IsNotExist(err) {
		t.Errorf("pgdata under the unreachable directory: stat err = %v, want not exist", err)
	}
	url2, err := c.Ensure(context.Background(), "x")
	if err != nil || url2 != url {
		t.Errorf("second Ensure = %q, %v; want %q, nil", url2, err, url)
	}
}

func TestFindVersionedBin(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "10", "15", "16", "notaversion"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		progs := []string{"initdb", "pg_ctl"}
		if v == "16" {
			progs = progs[:1] // incomplete installation: skipped
		}
		for _, p := range progs {
			if err := os.WriteFile(filepath.Join(bin, p), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := findVersionedBin(root), filepath.Join(root, "15", "bin"); got != want {
		t.Errorf("findVersionedBin = %q, want %q", got, want)
	}
	if got := findVersionedBin(filepath.Join(root, "missing")); got != "" {
		t.Errorf("findVersionedBin(missing) = %q, want \"\"", got)
	}
}

func TestParseVersion(t *testing.T) {
	a, _ := parseVersion("9.6")
	b, _ := parseVersion("10")
	if !lessVersion(a, b) || lessVersion(b, a) {
		t.Errorf("lessVersion(9.6, 10) wrong")
	}
	if v, ok := parseVersion("15"); !ok || !reflect.DeepEqual(v, []int{15}) {
		t.Errorf("parseVersion(15) = %v, %v", v, ok)
	}
	if _, ok := parseVersion("15beta"); ok {
		t.Errorf("parseVersion(15beta) ok")
	}
}

func TestNoPostgres(t *testing.T) {
	if strings.Contains(ErrNoPostgres.Error(), "\n") {
		t.Errorf("ErrNoPostgres has several lines")
	}
	t.Setenv("PATH", t.TempDir())
	old := pgLibDir
	pgLibDir = t.TempDir()
	t.Cleanup(func() { pgLibDir = old })
	dir := filepath.Join(t.TempDir(), "data")
	_, err := (&Cluster{Dir: dir}).Ensure(context.Background(), "rubrica_test")
	if !errors.Is(err, ErrNoPostgres) {
		t.Fatalf("Ensure without PostgreSQL = %v, want ErrNoPostgres", err)
	}
	t.Log(err)
	if err := (&Cluster{Dir: dir}).Stop(context.Background()); err != nil {
		t.Errorf("Stop without a cluster = %v, want nil", err)
	}
}
