// Package localpg runs a private PostgreSQL cluster for development and
// tests, using the PostgreSQL server programs installed on the machine
// (initdb, pg_ctl, postgres, psql, createdb).
//
// The cluster lives in a directory of its own (./.data in this project),
// listens only on 127.0.0.1 on a port of its own (never 5432, which a system
// PostgreSQL may hold), has unix sockets turned off and trusts every local
// connection. It trades durability for speed and must never hold data that
// matters.
//
// Layout inside Cluster.Dir:
//
//	pgdata/        the cluster (mode 0700)
//	port           the TCP port the cluster listens on, as decimal text
//	postgres.log   the server log
//	lock           lock file serialising Ensure and Stop across processes
//
// When the calling process runs as root, the PostgreSQL programs (which
// refuse to run as root) are run as the system user "postgres".
package localpg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoPostgres is returned (wrapped) by Ensure and Stop when the PostgreSQL
// server programs cannot be found.
var ErrNoPostgres = errors.New("PostgreSQL programs (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: install them, e.g. `apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql` (macOS)")

// Cluster is a private PostgreSQL cluster kept in a directory (./.data in this project).
type Cluster struct {
	// Dir is the directory holding the cluster; it is created if missing.
	Dir string
	// Logger receives progress messages; it may be nil.
	Logger *slog.Logger
}

const (
	// superuser is the cluster's superuser, created by initdb -U.
	superuser = "postgres"
	// runAsUser is the system user the server programs run as when the
	// caller is root.
	runAsUser = "postgres"
	// logTailLines is how many lines of postgres.log go into start errors.
	logTailLines = 20
	// dialTimeout bounds how long a running server may take to accept TCP connections.
	dialTimeout = 5 * time.Second
)

// pgLibDir holds Debian/Ubuntu's versioned PostgreSQL installations (a
// variable for tests).
var pgLibDir = "/usr/lib/postgresql"

var dbnameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Ensure initialises the cluster if the directory holds none, starts it if it
// is not running, creates the database dbname if missing, and returns a
// connection URL for it (postgres://postgres@127.0.0.1:PORT/DBNAME?sslmode=disable).
//
// Several goroutines or processes may call Ensure on the same directory at
// once: an exclusive lock on Dir/lock serialises them.
func (c *Cluster) Ensure(ctx context.Context, dbname string) (string, error) {
	if !dbnameRE.MatchString(dbname) || len(dbname) > 63 {
		return "", fmt.Errorf("localpg: invalid database name %q: want ^[a-z_][a-z0-9_]*$, at most 63 characters", dbname)
	}
	e, err := c.setup(true)
	if err != nil {
		return "", err
	}
	unlock, err := e.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()

	if err := e.initIfMissing(ctx); err != nil {
		return "", err
	}
	port, err := e.startIfStopped(ctx)
	if err != nil {
		return "", err
	}
	if err := e.createDB(ctx, port, dbname); err != nil {
		return "", err
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String(), nil
}

// Stop stops the cluster if it runs (pg_ctl stop -m fast). It does nothing
// if the directory holds no cluster.
func (c *Cluster) Stop(ctx context.Context) error {
	if c.Dir == "" {
		return errors.New("localpg: Cluster.Dir is empty")
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	e, err := c.setup(false)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(e.pgdata, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := e.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	running, err := e.status(ctx)
	if err != nil || !running {
		return err
	}
	e.log.Info("localpg: stopping PostgreSQL", "dir", e.dir)
	out, err := e.run(ctx, true, e.pgCtl, "stop", "-D", e.pgdata, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("localpg: pg_ctl stop: %w%s", err, indent(out))
	}
	return nil
}

// env is everything one Ensure or Stop call needs, resolved once.
type env struct {
	dir, pgdata, portFile, logFile string
	bin                            string // directory of the server programs
	initdb, pgCtl                  string
	psql, createdb                 string
	log                            *slog.Logger
	// cred is non-nil when running as root: the server programs then run
	// as that user.
	cred     *syscall.Credential
	userName string
}

// setup finds the programs, makes Dir absolute and, if create, creates it.
func (c *Cluster) setup(create bool) (*env, error) {
	if c.Dir == "" {
		return nil, errors.New("localpg: Cluster.Dir is empty")
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: %w", err)
	}
	e := &env{
		dir:      dir,
		pgdata:   filepath.Join(dir, "pgdata"),
		portFile: filepath.Join(dir, "port"),
		logFile:  filepath.Join(dir, "postgres.log"),
		log:      c.Logger,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if err := e.findPrograms(); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(runAsUser)
		if err != nil {
			return nil, fmt.Errorf("localpg: running as root, and PostgreSQL refuses to run as root, but there is no system user %q to run it as: %w", runAsUser, err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("localpg: user %q: %w", runAsUser, err)
		}
		e.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		e.userName = runAsUser
	}
	if create {
		if err := e.mkdirAll(); err != nil {
			return nil, err
		}
	}
	if e.cred != nil {
		if err := e.checkTraversable(e.dir); err != nil {
			// The server's user cannot reach Dir (a checkout under /root, say): keep the
			// cluster's files in a directory of its own under the system's temporary
			// directory, named after Dir, and the lock and port file in Dir.
			alt := filepath.Join(os.TempDir(), fmt.Sprintf("rubrica-pg-%x", sha256.Sum256([]byte(e.dir)))[:len("rubrica-pg-")+12])
			if err := os.MkdirAll(alt, 0o755); err != nil {
				return nil, fmt.Errorf("localpg: %w", err)
			}
			if err := os.Chmod(alt, 0o755); err != nil {
				return nil, fmt.Errorf("localpg: %w", err)
			}
			if err2 := e.checkTraversable(alt); err2 != nil {
				return nil, err
			}
			e.log.Info("localpg: the server's user cannot reach the data directory; keeping the cluster elsewhere", "dir", e.dir, "cluster", alt)
			e.pgdata = filepath.Join(alt, "pgdata")
			e.logFile = filepath.Join(alt, "postgres.log")
		}
	}
	return e, nil
}

// findPrograms finds initdb and pg_ctl on PATH, else in the highest version
// directory /usr/lib/postgresql/*/bin, and psql and createdb next to them.
func (e *env) findPrograms() error {
	bin := ""
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if pgCtl, err := exec.LookPath("pg_ctl"); err == nil {
			// Resolve symlinks (e.g. /usr/local/bin/pg_ctl ->
			// /usr/lib/postgresql/15/bin/pg_ctl) so that psql and
			// createdb come from the same installation.
			e.initdb, e.pgCtl = initdb, pgCtl
			bin = filepath.Dir(pgCtl)
			if real, err := filepath.EvalSymlinks(pgCtl); err == nil {
				bin = filepath.Dir(real)
			}
		}
	}
	if e.pgCtl == "" {
		bin = findVersionedBin(pgLibDir)
		if bin == "" {
			return fmt.Errorf("localpg: %w", ErrNoPostgres)
		}
		e.initdb, e.pgCtl = filepath.Join(bin, "initdb"), filepath.Join(bin, "pg_ctl")
	}
	// A cluster created by another major version cannot be started by
	// these programs; prefer the matching installation if there is one.
	if v, err := os.ReadFile(filepath.Join(e.pgdata, "PG_VERSION")); err == nil {
		want := strings.TrimSpace(string(v))
		if got := e.programsVersion(); got != "" && got != want {
			alt := filepath.Join(pgLibDir, want, "bin")
			if isExecutable(filepath.Join(alt, "initdb")) && isExecutable(filepath.Join(alt, "pg_ctl")) {
				bin = alt
				e.initdb, e.pgCtl = filepath.Join(alt, "initdb"), filepath.Join(alt, "pg_ctl")
			} else {
				return fmt.Errorf("localpg: the cluster in %s was created by PostgreSQL %s, but the programs found (%s) are PostgreSQL %s: install PostgreSQL %s or remove %s", e.dir, want, e.pgCtl, got, want, e.dir)
			}
		}
	}
	e.bin = bin
	for _, p := range []struct {
		dst  *string
		name string
	}{{&e.psql, "psql"}, {&e.createdb, "createdb"}} {
		if path := filepath.Join(bin, p.name); isExecutable(path) {
			*p.dst = path
		} else if path, err := exec.LookPath(p.name); err == nil {
			*p.dst = path
		} else {
			return fmt.Errorf("localpg: %s not found in %s or on PATH: %w", p.name, bin, ErrNoPostgres)
		}
	}
	return nil
}

// programsVersion returns the major version of e.pgCtl ("15"), or "" if it
// cannot tell.
func (e *env) programsVersion() string {
	out, err := exec.Command(e.pgCtl, "--version").Output()
	if err != nil {
		return ""
	}
	// "pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return ""
	}
	v := f[2]
	if major, _, ok := strings.Cut(v, "."); ok {
		if n, err := strconv.Atoi(major); err == nil && n >= 10 {
			return major
		}
		if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 { // 9.6.x
			return parts[0] + "." + parts[1]
		}
	}
	return v
}

// findVersionedBin returns root/VERSION/bin for the highest VERSION that has
// initdb and pg_ctl, comparing versions numerically ("9.6" < "10" < "15").
func findVersionedBin(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var versions [][]int
	names := map[string]string{}
	for _, ent := range entries {
		v, ok := parseVersion(ent.Name())
		if !ok {
			continue
		}
		bin := filepath.Join(root, ent.Name(), "bin")
		if !isExecutable(filepath.Join(bin, "initdb")) || !isExecutable(filepath.Join(bin, "pg_ctl")) {
			continue
		}
		versions = append(versions, v)
		names[fmt.Sprint(v)] = bin
	}
	if len(versions) == 0 {
		return ""
	}
	sort.Slice(versions, func(i, j int) bool { return lessVersion(versions[i], versions[j]) })
	return names[fmt.Sprint(versions[len(versions)-1])]
}

// parseVersion parses "15" or "9.6" into its numeric parts.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

func lessVersion(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// mkdirAll creates Dir. When running as root, the directories it creates
// are made 0755 whatever the umask, so that the server's user can reach
// Dir.
func (e *env) mkdirAll() error {
	var created []string
	for p := e.dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		created = append(created, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if e.cred != nil {
		for _, p := range created {
			if err := os.Chmod(p, 0o755); err != nil {
				return fmt.Errorf("localpg: %w", err)
			}
		}
	}
	return nil
}

// checkTraversable checks that the server's user can reach Dir: each of its
// ancestors, and Dir itself, must be searchable by that user.
func (e *env) checkTraversable(dir string) error {
	u, err := user.LookupId(strconv.FormatUint(uint64(e.cred.Uid), 10))
	groups := map[uint32]bool{e.cred.Gid: true}
	if err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					groups[uint32(n)] = true
				}
			}
		}
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			mode := fi.Mode().Perm()
			var ok bool
			switch {
			case st.Uid == e.cred.Uid:
				ok = mode&0o100 != 0
			case groups[st.Gid]:
				ok = mode&0o010 != 0
			default:
				ok = mode&0o001 != 0
			}
			if !ok {
				return fmt.Errorf("localpg: running as root, so PostgreSQL runs as user %q, but that user cannot traverse %s (mode %v, lacks o+x) to reach %s: run `chmod o+x %s` or choose a Dir elsewhere", e.userName, p, mode, dir, p)
			}
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}

// lock takes an exclusive flock on Dir/lock, polling so that ctx can cancel
// the wait. The returned function releases it.
func (e *env) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(e.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localpg: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("localpg: lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("localpg: waiting for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// initIfMissing runs initdb unless Dir/pgdata holds a cluster. initdb runs
// into Dir/pgdata.init which is then renamed, so an interrupted initdb never
// leaves a half-made Dir/pgdata behind.
func (e *env) initIfMissing(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(e.pgdata, "PG_VERSION")); err == nil {
		return nil
	}
	if entries, err := os.ReadDir(e.pgdata); err == nil && len(entries) > 0 {
		return fmt.Errorf("localpg: %s is not empty but holds no PostgreSQL cluster (no PG_VERSION): remove it", e.pgdata)
	}
	e.log.Info("localpg: initialising PostgreSQL cluster", "dir", e.pgdata, "initdb", e.initdb)
	tmp := e.pgdata + ".init"
	var firstOut []byte
	for _, locale := range []string{"C.UTF-8", "C"} {
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("localpg: initdb: %w", err)
		}
		if err := os.Mkdir(tmp, 0o700); err != nil {
			return fmt.Errorf("localpg: initdb: %w", err)
		}
		if err := e.chown(tmp); err != nil {
			return fmt.Errorf("localpg: initdb: %w", err)
		}
		out, err := e.run(ctx, true, e.initdb, "-D", tmp, "-U", superuser, "--auth=trust",
			"--encoding=UTF8", "--locale="+locale, "--no-sync")
		if err == nil {
			break
		}
		if ctx.Err() != nil || firstOut != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("localpg: initdb: %w%s%s", err, indent(firstOut), indent(out))
		}
		// C.UTF-8 is missing on some systems (older macOS); fall back to C.
		firstOut = out
		e.log.Warn("localpg: initdb with locale C.UTF-8 failed, retrying with locale C", "output", string(out))
	}
	os.Remove(e.pgdata) // an empty leftover, if any
	if err := os.Rename(tmp, e.pgdata); err != nil {
		return fmt.Errorf("localpg: initdb: %w", err)
	}
	// A fresh cluster gets a fresh port.
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("localpg: initdb: %w", err)
	}
	return e.savePort(port)
}

// startIfStopped starts the cluster unless it runs, and returns its port.
func (e *env) startIfStopped(ctx context.Context) (int, error) {
	running, err := e.status(ctx)
	if err != nil {
		return 0, err
	}
	if running {
		port, err := e.runningPort()
		if err != nil {
			return 0, err
		}
		if err := waitTCP(ctx, port, dialTimeout); err != nil {
			return 0, fmt.Errorf("localpg: pg_ctl status reports the server in %s running, but it does not accept connections: %w (if the server crashed and its PID was reused, remove %s)", e.pgdata, err, filepath.Join(e.pgdata, "postmaster.pid"))
		}
		if saved, err := e.savedPort(); err != nil || saved != port {
			if err := e.savePort(port); err != nil {
				return 0, err
			}
		}
		return port, nil
	}

	port, err := e.savedPort()
	if err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		if !portFree(port) {
			newPort, err := freePort()
			if err != nil {
				return 0, fmt.Errorf("localpg: %w", err)
			}
			e.log.Info("localpg: saved port is taken, switching", "old", port, "new", newPort)
			port = newPort
			if err := e.savePort(port); err != nil {
				return 0, err
			}
		}
		err := e.start(ctx, port)
		if err == nil {
			break
		}
		// Someone may have grabbed the port between the check and the
		// start; try again on another port.
		if attempt >= 3 || ctx.Err() != nil || portFree(port) {
			return 0, err
		}
	}
	if err := waitTCP(ctx, port, dialTimeout); err != nil {
		return 0, fmt.Errorf("localpg: server started but %w%s", err, e.logTail())
	}
	return port, nil
}

// start runs pg_ctl start on the given port.
func (e *env) start(ctx context.Context, port int) error {
	e.log.Info("localpg: starting PostgreSQL", "dir", e.pgdata, "port", port)
	if err := e.ensureLogFile(); err != nil {
		return err
	}
	// Unix sockets are off (-k ''), so the cluster directory's path does not
	// matter. fsync, synchronous_commit and full_page_writes are off: this
	// is a development and test cluster, speed matters more than
	// durability, and a crash may lose or corrupt its data.
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", port)
	cmd := exec.CommandContext(ctx, e.pgCtl, "start", "-D", e.pgdata, "-l", e.logFile, "-w", "-t", "60", "-o", opts)
	// pg_ctl's output goes to a file, not a pipe: the server it starts must
	// not hold the caller's stdout/stderr (or a pipe of ours) open, or a
	// `make test | tee` would wait until the server exits.
	out, err := os.CreateTemp("", "localpg-pg_ctl-*.out")
	if err != nil {
		return fmt.Errorf("localpg: pg_ctl start: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
	setCloseOnExecInherited()
	e.prepare(cmd, true)
	// Its own process group: a Ctrl-C to the caller's terminal must not
	// reach the server.
	cmd.SysProcAttr.Setpgid = true
	runErr := cmd.Run()
	if runErr != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("localpg: pg_ctl start: %w%s%s", runErr, indent(msg), e.logTail())
	}
	return nil
}

// setCloseOnExecInherited marks the descriptors above stderr that this
// process inherited without close-on-exec (a shell's, make's or a CI
// runner's pipes) close-on-exec. Go execs children with every such
// descriptor still open, so the server would otherwise hold them as long as
// it runs, and whoever reads the other end would wait for it. Descriptors Go
// opens are close-on-exec already, and ExtraFiles given to other children
// are unaffected (they are dup'ed into the child).
func setCloseOnExecInherited() {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, ent := range entries {
			if fd, err := strconv.Atoi(ent.Name()); err == nil && fd > 2 {
				syscall.CloseOnExec(fd)
			}
		}
		return
	}
}

// ensureLogFile creates postgres.log so that, when running as root, it
// belongs to the server's user (who may not write to Dir).
func (e *env) ensureLogFile() error {
	f, err := os.OpenFile(e.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	f.Close()
	if err := e.chown(e.logFile); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	return nil
}

// status reports whether pg_ctl status says the server runs (exit code 0).
func (e *env) status(ctx context.Context) (bool, error) {
	out, err := e.run(ctx, true, e.pgCtl, "status", "-D", e.pgdata)
	if err == nil {
		return true, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && ctx.Err() == nil {
		// 3: not running; 4: no accessible data directory.
		if code := exitErr.ExitCode(); code == 3 || code == 4 {
			return false, nil
		}
	}
	return false, fmt.Errorf("localpg: pg_ctl status: %w%s", err, indent(out))
}

// runningPort reads the port of the running server from postmaster.pid
// (its fourth line).
func (e *env) runningPort() (int, error) {
	b, err := os.ReadFile(filepath.Join(e.pgdata, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("localpg: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) >= 4 {
		if port, err := strconv.Atoi(strings.TrimSpace(lines[3])); err == nil && port > 0 {
			return port, nil
		}
	}
	return e.savedPort()
}

// savedPort reads Dir/port, choosing and saving a free port if it is
// missing.
func (e *env) savedPort() (int, error) {
	b, err := os.ReadFile(e.portFile)
	if err == nil {
		port, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && port > 0 && port < 65536 {
			return port, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("localpg: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return 0, fmt.Errorf("localpg: %w", err)
	}
	return port, e.savePort(port)
}

func (e *env) savePort(port int) error {
	tmp := e.portFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return fmt.Errorf("localpg: save port: %w", err)
	}
	if err := os.Rename(tmp, e.portFile); err != nil {
		return fmt.Errorf("localpg: save port: %w", err)
	}
	return nil
}

// createDB creates database dbname unless it exists.
func (e *env) createDB(ctx context.Context, port int, dbname string) error {
	p := strconv.Itoa(port)
	// dbname matched ^[a-z_][a-z0-9_]*$, so it is safe to quote this way.
	out, err := e.run(ctx, false, e.psql, "-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p", p, "-U", superuser, "-d", "postgres",
		"-c", "SELECT 1 FROM pg_database WHERE datname = '"+dbname+"'")
	if err != nil {
		return fmt.Errorf("localpg: psql: checking for database %s: %w%s", dbname, err, indent(out))
	}
	if strings.TrimSpace(string(out)) == "1" {
		return nil
	}
	e.log.Info("localpg: creating database", "name", dbname, "port", port)
	out, err = e.run(ctx, false, e.createdb, "-h", "127.0.0.1", "-p", p, "-U", superuser, dbname)
	if err != nil && !bytes.Contains(out, []byte("already exists")) {
		return fmt.Errorf("localpg: createdb %s: %w%s", dbname, err, indent(out))
	}
	return nil
}

// run runs a program with its combined output captured. asServer says it is
// a server program (initdb, pg_ctl) that must run as the unprivileged user
// when the caller is root; clients (psql, createdb) run as the caller.
func (e *env) run(ctx context.Context, asServer bool, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	e.prepare(cmd, asServer)
	return cmd.CombinedOutput()
}

// prepare sets the working directory, environment and credentials of cmd.
func (e *env) prepare(cmd *exec.Cmd, asServer bool) {
	// A working directory the server's user can enter (the caller's may
	// be /root, which initdb cannot read).
	cmd.Dir = filepath.Dir(e.pgdata)
	// PG* variables of the caller (PGDATA, PGPORT, PGHOST, PGPASSWORD,
	// PGOPTIONS, ...) must not redirect the programs elsewhere.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "PGCONNECT_TIMEOUT=10")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if asServer && e.cred != nil {
		cmd.SysProcAttr.Credential = e.cred
	}
	cmd.WaitDelay = 5 * time.Second
}

// chown gives path to the server's user when running as root.
func (e *env) chown(path string) error {
	if e.cred == nil {
		return nil
	}
	return os.Chown(path, int(e.cred.Uid), int(e.cred.Gid))
}

// logTail returns the last lines of postgres.log, formatted for an error
// message, or "".
func (e *env) logTail() string {
	b, err := os.ReadFile(e.logFile)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return "\n" + e.logFile + " (last lines):" + indent([]byte(strings.Join(lines, "\n")))
}

// indent formats program output for an error message.
func indent(out []byte) string {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return ""
	}
	return "\n\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether nothing listens on 127.0.0.1:port.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// waitTCP dials 127.0.0.1:port until it accepts a connection or timeout
// passes.
func waitTCP(ctx context.Context, port int, timeout time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(timeout)
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("port %s does not accept TCP connections: %w", addr, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %s does not accept TCP connections: %w", addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
