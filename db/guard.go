package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"

	"github.com/lib/pq"
)

// Why connections are guarded: lib/pq v1.12.3, the newest release (the Go module proxy serves
// nothing later), reads any ErrorResponse longer than 30,000 bytes as a pre-protocol
// plain-text error (conn.go recvMessage, since v1.11.0, PR #1249). It returns the garbled
// "pq: server error: ..." without reading the rest of the message or the ReadyForQuery that
// follows, and does not mark the connection bad: database/sql takes it back into the pool, and
// the next statement on it reads the error's text as message headers, then waits for a
// message of gigabytes that never comes (a hang that ignores its context) or allocates it
// (fatal error: out of memory). PostgreSQL repeats a bad parameter in its error, so a
// 40,000-byte value cast to uuid or timestamptz was enough. Reported as lib/pq issue #1324,
// fixed by PR #1327 (merged 2026-07-11, not released). TestGuardedConnectionAfterHugeError
// reproduces it against the real server.
//
// The guard marks a connection broken when the driver returns an error other than a parsed
// server error (*pq.Error, after which lib/pq has read up to ReadyForQuery), io.EOF at the
// end of rows, or the signals of database/sql. A broken connection reaches the driver no
// more: every call returns driver.ErrBadConn, so database/sql closes the connection instead
// of reusing it, and a transaction's Rollback does not wait for a ReadyForQuery that will
// not come. Input validation (cursors, ids) keeps client text out of such errors; the guard
// is what holds if something slips through.

// NewConnector returns lib/pq's connector for dsn with broken connections kept out of the
// pool (see above) and every statement one round trip (see singleRoundTrip). Open uses it; so
// should anything else that opens the services' pool.
func NewConnector(dsn string) (driver.Connector, error) {
	return NewConnectorDialer(dsn, nil)
}

// NewConnectorDialer is NewConnector whose connections d dials (nil: lib/pq's own dialer), for
// a test that watches the connection's traffic.
func NewConnectorDialer(dsn string, d pq.Dialer) (driver.Connector, error) {
	dsn, capacity, err := splitStatementCache(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("db: connector: %w", err)
	}
	c, err := pq.NewConnectorConfig(singleRoundTrip(cfg))
	if err != nil {
		return nil, fmt.Errorf("db: connector: %w", err)
	}
	if d != nil {
		c.Dialer(d)
	}
	return guardedConnector{Connector: c, statements: capacity}, nil
}

// singleRoundTrip turns on lib/pq's binary_parameters, whatever dsn says. Without it lib/pq
// runs a statement with parameters in two round trips: Parse, Describe and Sync to learn the
// parameters' types, then Bind, Execute and Sync (each Sync also an implicit transaction of
// its own outside BEGIN). With it lib/pq sends Parse, Bind, Describe, Execute and Sync at
// once, as libpq's PQexecParams does (lib/pq issues #209, #636; PR #357), and the server
// infers the parameter types exactly as before, from the unnamed statement.
//
// What changes is only how a parameter of Go type []byte is sent: in binary format, as it is,
// instead of as text (hex for bytea). That is right for bytea (our token hashes) and for text,
// but wrong for jsonb, whose binary form starts with a version byte ("unsupported jsonb
// version number 123", lib/pq issue #528), and for uuid or numbers. So the rule of this
// package: only bytea gets a []byte; JSON and everything else goes as a string. pq.Array,
// time.Time, strings, integers and bools are sent as text exactly as before, and results
// come back as text, which lib/pq decodes to the same Go values. TestBinaryParameters checks
// every kind of parameter the services send.
func singleRoundTrip(cfg pq.Config) pq.Config {
	cfg.BinaryParameters = true
	return cfg
}

type guardedConnector struct {
	driver.Connector
	statements int // prepared statements kept per connection (see stmtcache.go)
}

func (c guardedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &guardedConn{conn: conn, stmts: newStmtCache(c.statements)}, nil
}

// outOfStep reports whether err may leave lib/pq's connection out of step with the server.
func outOfStep(err error) bool {
	if err == nil || errors.Is(err, driver.ErrSkip) || errors.Is(err, driver.ErrRemoveArgument) {
		return false
	}
	var pqErr *pq.Error
	return !errors.As(err, &pqErr)
}

// guardedConn passes every call to lib/pq's connection until one returns an error that may
// have left it out of step; from then on it refuses all.
type guardedConn struct {
	conn   driver.Conn
	broken atomic.Bool
	stmts  *stmtCache // nil: every statement unnamed
}

// check records err and returns it.
func (c *guardedConn) check(err error) error {
	if outOfStep(err) {
		c.broken.Store(true)
	}
	return err
}

func (c *guardedConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *guardedConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if c.broken.Load() {
		return nil, driver.ErrBadConn
	}
	st, err := c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, c.check(err)
	}
	return &guardedStmt{Stmt: st, conn: c}, nil
}

func (c *guardedConn) Close() error { return c.conn.Close() }

func (c *guardedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *guardedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.broken.Load() {
		return nil, driver.ErrBadConn
	}
	tx, err := c.conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, c.check(err)
	}
	return &guardedTx{tx: tx, conn: c}, nil
}

func (c *guardedConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if c.broken.Load() {
		return nil, driver.ErrBadConn
	}
	if st, err := c.prepared(ctx, q, args); err != nil || st != nil {
		if err != nil {
			return nil, err
		}
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return nil, c.checkPrepared(q, err)
		}
		return &guardedRows{rows: rows, conn: c}, nil
	}
	rows, err := c.conn.(driver.QueryerContext).QueryContext(ctx, q, args)
	if err != nil {
		return nil, c.check(err)
	}
	return &guardedRows{rows: rows, conn: c}, nil
}

func (c *guardedConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if c.broken.Load() {
		return nil, driver.ErrBadConn
	}
	if st, err := c.prepared(ctx, q, args); err != nil || st != nil {
		if err != nil {
			return nil, err
		}
		res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
		return res, c.checkPrepared(q, err)
	}
	res, err := c.conn.(driver.ExecerContext).ExecContext(ctx, q, args)
	return res, c.check(err)
}

// prepared returns the connection's prepared statement for q, preparing it on first use,
// or nil when q goes unnamed (no cache, no parameters, a COPY). See stmtcache.go.
func (c *guardedConn) prepared(ctx context.Context, q string, args []driver.NamedValue) (driver.Stmt, error) {
	if c.stmts == nil || !cacheable(q, args) {
		return nil, nil
	}
	if st := c.stmts.get(q); st != nil {
		return st, nil
	}
	st, err := c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, c.check(err)
	}
	if old := c.stmts.put(q, st); old != nil {
		if err := old.Close(); err != nil {
			return nil, c.check(err)
		}
	}
	return st, nil
}

// checkPrepared is check for the run of q's prepared statement, which it forgets when the
// server can no longer run it as prepared (the next run prepares it again).
func (c *guardedConn) checkPrepared(q string, err error) error {
	if stale(err) {
		c.stmts.forget(q)
	}
	return c.check(err)
}

func (c *guardedConn) Ping(ctx context.Context) error {
	if c.broken.Load() {
		return driver.ErrBadConn
	}
	return c.check(c.conn.(driver.Pinger).Ping(ctx))
}

func (c *guardedConn) ResetSession(ctx context.Context) error {
	if c.broken.Load() {
		return driver.ErrBadConn
	}
	return c.conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *guardedConn) IsValid() bool {
	return !c.broken.Load() && c.conn.(driver.Validator).IsValid()
}

func (c *guardedConn) CheckNamedValue(v *driver.NamedValue) error {
	return c.conn.(driver.NamedValueChecker).CheckNamedValue(v)
}

type guardedTx struct {
	tx   driver.Tx
	conn *guardedConn
}

func (t *guardedTx) Commit() error {
	if t.conn.broken.Load() {
		return driver.ErrBadConn
	}
	return t.conn.check(t.tx.Commit())
}

func (t *guardedTx) Rollback() error {
	if t.conn.broken.Load() {
		return driver.ErrBadConn
	}
	return t.conn.check(t.tx.Rollback())
}

type guardedStmt struct {
	driver.Stmt
	conn *guardedConn
}

func (s *guardedStmt) Close() error {
	if s.conn.broken.Load() {
		return nil // the connection is closed with it
	}
	return s.conn.check(s.Stmt.Close())
}

func (s *guardedStmt) Exec(args []driver.Value) (driver.Result, error) {
	if s.conn.broken.Load() {
		return nil, driver.ErrBadConn
	}
	res, err := s.Stmt.Exec(args) //lint:ignore SA1019 lib/pq's COPY statement implements only Exec
	return res, s.conn.check(err)
}

func (s *guardedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	st, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return s.Exec(values(args))
	}
	if s.conn.broken.Load() {
		return nil, driver.ErrBadConn
	}
	res, err := st.ExecContext(ctx, args)
	return res, s.conn.check(err)
}

func (s *guardedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	st, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return s.Query(values(args))
	}
	if s.conn.broken.Load() {
		return nil, driver.ErrBadConn
	}
	rows, err := st.QueryContext(ctx, args)
	if err != nil {
		return nil, s.conn.check(err)
	}
	return &guardedRows{rows: rows, conn: s.conn}, nil
}

func (s *guardedStmt) Query(args []driver.Value) (driver.Rows, error) {
	if s.conn.broken.Load() {
		return nil, driver.ErrBadConn
	}
	rows, err := s.Stmt.Query(args) //lint:ignore SA1019 as Exec
	if err != nil {
		return nil, s.conn.check(err)
	}
	return &guardedRows{rows: rows, conn: s.conn}, nil
}

// values drops the ordinals of args for the statements that take only values.
func values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// guardedRows stops reading a broken connection: lib/pq's Close reads up to the
// ReadyForQuery, which on a connection out of step never comes.
type guardedRows struct {
	rows driver.Rows
	conn *guardedConn
}

func (r *guardedRows) Columns() []string { return r.rows.Columns() }

func (r *guardedRows) Close() error {
	if r.conn.broken.Load() {
		return driver.ErrBadConn
	}
	return r.conn.check(r.rows.Close())
}

func (r *guardedRows) Next(dest []driver.Value) error {
	if r.conn.broken.Load() {
		return driver.ErrBadConn
	}
	err := r.rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return r.conn.check(err)
}

func (r *guardedRows) HasNextResultSet() bool {
	rs, ok := r.rows.(driver.RowsNextResultSet)
	return ok && !r.conn.broken.Load() && rs.HasNextResultSet()
}

func (r *guardedRows) NextResultSet() error {
	rs, ok := r.rows.(driver.RowsNextResultSet)
	if !ok {
		return io.EOF
	}
	if r.conn.broken.Load() {
		return driver.ErrBadConn
	}
	err := rs.NextResultSet()
	if err == io.EOF {
		return err
	}
	return r.conn.check(err)
}

func (r *guardedRows) ColumnTypeScanType(i int) reflect.Type {
	if rs, ok := r.rows.(driver.RowsColumnTypeScanType); ok {
		return rs.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *guardedRows) ColumnTypeDatabaseTypeName(i int) string {
	if rs, ok := r.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return rs.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *guardedRows) ColumnTypeLength(i int) (int64, bool) {
	if rs, ok := r.rows.(driver.RowsColumnTypeLength); ok {
		return rs.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *guardedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if rs, ok := r.rows.(driver.RowsColumnTypePrecisionScale); ok {
		return rs.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
