// Package dbtest gives each test its own fresh PostgreSQL database, cloned from a migrated
// template, so tests run in parallel and leave nothing behind.
//
// The server is TEST_DATABASE_URL when set, else the private cluster under the repository's
// .data directory (started on first use, see db/localpg).
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"rubrica/db"
	"rubrica/db/localpg"
)

var (
	setupOnce sync.Once
	serverURL string
	template  string
	setupErr  error
)

// ServerURL returns the URL of the test server's maintenance database and the name of the
// migrated template, creating the template on first use.
func ServerURL(tb testing.TB) (string, string) {
	tb.Helper()
	setupOnce.Do(func() { serverURL, template, setupErr = setup(context.Background()) })
	if setupErr != nil {
		tb.Fatalf("dbtest: %v", setupErr)
	}
	return serverURL, template
}

func setup(ctx context.Context) (string, string, error) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		root, err := repoRoot()
		if err != nil {
			return "", "", err
		}
		c := &localpg.Cluster{Dir: filepath.Join(root, ".data")}
		if base, err = c.Ensure(ctx, "postgres"); err != nil {
			return "", "", err
		}
	}
	name, err := templateName()
	if err != nil {
		return "", "", err
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return "", "", err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", "", fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	defer conn.Close()
	// One process builds the template; the others wait here and then find it.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return "", "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(727274)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", "", err
	}
	if exists {
		return base, name, nil
	}
	build := name + "_build"
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(build)+` WITH (FORCE)`); err != nil {
		return "", "", err
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(build)); err != nil {
		return "", "", err
	}
	d, err := db.Open(ctx, withDatabase(base, build))
	if err != nil {
		return "", "", err
	}
	err = d.Migrate(ctx)
	d.Close()
	if err != nil {
		return "", "", err
	}
	// Built under another name and renamed: a template is never seen half migrated.
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(build)+` RENAME TO `+pq.QuoteIdentifier(name)); err != nil {
		return "", "", err
	}
	return base, name, nil
}

// templateName is named after the migrations, so a changed migration gets a new template.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(db.MigrationsFS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(db.MigrationsFS(), path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return "rubrica_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], err
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// NewDatabase creates a fresh database cloned from the template, drops it when the test ends,
// and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	_, tmpl := ServerURL(tb)
	return createDatabase(tb, tmpl)
}

// MustOpenEmptyDB returns a fresh database with no migrations applied, for tests of the
// migrations themselves; it is dropped when the test ends.
func MustOpenEmptyDB(tb testing.TB) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), createDatabase(tb, ""))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() }) // before the drop: cleanups run last first
	return d
}

// createDatabase creates a database of a random name on the test server, from template
// ("": an empty one), drops it when the test ends, and returns its URL.
func createDatabase(tb testing.TB, template string) string {
	tb.Helper()
	base, _ := ServerURL(tb)
	b := make([]byte, 8)
	rand.Read(b)
	name := "rubrica_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("postgres", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	create := `CREATE DATABASE ` + pq.QuoteIdentifier(name)
	if template != "" {
		create += ` TEMPLATE ` + pq.QuoteIdentifier(template)
	}
	if _, err := admin.Exec(create); err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("postgres", base)
		if err != nil {
			tb.Errorf("dbtest: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + pq.QuoteIdentifier(name) + ` WITH (FORCE)`); err != nil {
			tb.Errorf("dbtest: drop database: %v", err)
		}
	})
	return withDatabase(base, name)
}

// MustOpenDB returns a fresh, migrated database for one test.
func MustOpenDB(tb testing.TB) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), NewDatabase(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// MustOpenCountingDB is MustOpenDB whose connections count the SQL statements they run. It
// also returns the database's URL.
func MustOpenCountingDB(tb testing.TB) (*db.DB, *Counter, string) {
	tb.Helper()
	return MustOpenCountingDBParams(tb, "")
}

// MustOpenCountingDBParams is MustOpenCountingDB whose connections are opened with the DSN
// parameters params added (e.g. "statement_cache_capacity=0"); the URL it returns has none.
func MustOpenCountingDBParams(tb testing.TB, params string) (*db.DB, *Counter, string) {
	tb.Helper()
	dsn := NewDatabase(tb)
	counter := &Counter{}
	connector, err := db.NewConnectorDialer(withParams(dsn, params), countingDialer{counter})
	if err != nil {
		tb.Fatal(err)
	}
	d, err := db.New(context.Background(), sql.OpenDB(&countingConnector{Connector: connector, counter: counter}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	// The wake-ups of the event listeners after commits go out asynchronously: through a pool
	// of their own, so that they never count as the statements of what a test measures.
	wake, err := db.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { wake.Close() })
	d.WakeListenersThrough(wake)
	return d, counter, dsn
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

// withParams adds the URL query params to dsn.
func withParams(dsn, params string) string {
	if params == "" {
		return dsn
	}
	if strings.Contains(dsn, "?") {
		return dsn + "&" + params
	}
	return dsn + "?" + params
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Counter counts SQL statements and the round trips to the server, and records which
// statements ran inside a transaction and when transactions committed.
type Counter struct {
	mu         sync.Mutex
	statements []string
	steps      []Step
	roundTrips int
}

// Step is a statement, or the commit of a transaction, in the order the counted connections
// ran them.
type Step struct {
	Statement string // "" for a commit
	InTx      bool   // the statement ran inside a transaction
}

// Reset forgets the statements and round trips counted so far.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = nil
	c.steps = nil
	c.roundTrips = 0
}

// Steps returns the statements and commits since the last Reset, in order.
func (c *Counter) Steps() []Step {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Step(nil), c.steps...)
}

// RoundTrips returns the round trips since the last Reset: the times a connection sent
// something after it had read (or before it read anything), each a wait for the server.
// Opening a connection costs round trips of its own (startup, authentication).
func (c *Counter) RoundTrips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roundTrips
}

// Statements returns the statements run since the last Reset.
func (c *Counter) Statements() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.statements...)
}

func (c *Counter) add(q string, inTx bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = append(c.statements, q)
	c.steps = append(c.steps, Step{Statement: q, InTx: inTx})
}

func (c *Counter) commit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, Step{})
}

// countingDialer dials connections that count their round trips.
type countingDialer struct{ counter *Counter }

func (d countingDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d countingDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &countingNetConn{Conn: c, counter: d.counter}, nil
}

// countingNetConn counts a round trip at every write that follows a read (or comes first):
// lib/pq writes a statement's messages, then reads the answer, so a statement that waits
// for the server twice writes twice with a read between.
type countingNetConn struct {
	net.Conn
	counter *Counter
	sending atomic.Bool // the last call was a write
}

func (c *countingNetConn) Write(p []byte) (int, error) {
	if !c.sending.Swap(true) {
		c.counter.mu.Lock()
		c.counter.roundTrips++
		c.counter.mu.Unlock()
	}
	return c.Conn.Write(p)
}

func (c *countingNetConn) Read(p []byte) (int, error) {
	c.sending.Store(false)
	return c.Conn.Read(p)
}

type countingConnector struct {
	driver.Connector
	counter *Counter
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, counter: c.counter}, nil
}

// countingConn passes everything to lib/pq's connection and counts queries and execs. A
// connection serves one goroutine at a time (database/sql sees to it), so inTx needs no lock.
type countingConn struct {
	driver.Conn
	counter *Counter
	inTx    bool
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.counter.add(q, c.inTx)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.counter.add(q, c.inTx)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &countingTx{Tx: tx, conn: c}, nil
}

// countingTx records its commit, once the server has acknowledged it.
type countingTx struct {
	driver.Tx
	conn *countingConn
}

func (t *countingTx) Commit() error {
	t.conn.inTx = false
	if err := t.Tx.Commit(); err != nil {
		return err
	}
	t.conn.counter.commit()
	return nil
}

func (t *countingTx) Rollback() error {
	t.conn.inTx = false
	return t.Tx.Rollback()
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}
