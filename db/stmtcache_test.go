package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// preparedOnConnection is how many statements the server keeps prepared for the connection
// that asks (a statement without parameters: not prepared itself).
func preparedOnConnection(t *testing.T, q interface {
	GetContext(context.Context, any, string, ...any) error
}) int {
	t.Helper()
	var n int
	if err := q.GetContext(context.Background(), &n, `SELECT count(*) FROM pg_prepared_statements`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStatementCacheKeepsAtMostItsCapacity: with statement_cache_capacity=2 a connection
// keeps two statements prepared; a third closes the least recently used one (a round trip
// more), which then prepares again when it runs again.
func TestStatementCacheKeepsAtMostItsCapacity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, counter := oneConnection(t, "statement_cache_capacity=2")
	run := func(q string) {
		t.Helper()
		var n int
		if err := d.GetContext(ctx, &n, q, 1); err != nil {
			t.Fatal(err)
		}
	}
	const a, b, c = `SELECT $1::int + 1`, `SELECT $1::int + 2`, `SELECT $1::int + 3`
	run(a)
	run(b)
	counter.Reset()
	run(a) // most recent now: b goes next
	wantRoundTrips(t, counter, "a prepared statement", 1)
	counter.Reset()
	run(c)
	wantRoundTrips(t, counter, "a third statement: prepare, close b, run", 3)
	if n := preparedOnConnection(t, d); n != 2 {
		t.Fatalf("%d statements prepared on the connection, want 2", n)
	}
	counter.Reset()
	run(a)
	wantRoundTrips(t, counter, "a, still prepared", 1)
	counter.Reset()
	run(b)
	wantRoundTrips(t, counter, "b, evicted: prepare, close c, run", 3)
}

// TestStatementCacheOff: statement_cache_capacity=0 prepares nothing.
func TestStatementCacheOff(t *testing.T) {
	t.Parallel()
	d, _ := oneConnection(t, noStatementCache)
	var n int
	for range 3 {
		if err := d.GetContext(context.Background(), &n, `SELECT $1::int`, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := preparedOnConnection(t, d); n != 0 {
		t.Fatalf("%d statements prepared, want none", n)
	}
}

// TestStatementCacheAfterAChangedResultType: when a table's change changes what a prepared
// statement returns, its next run fails with the server's "cached plan must not change
// result type" and the connection forgets it; the run after prepares it again and works,
// inside a transaction as outside.
func TestStatementCacheAfterAChangedResultType(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := oneConnection(t)
	if _, err := d.Exec(`CREATE TABLE shapes (id int PRIMARY KEY, name text); INSERT INTO shapes VALUES (1, 'circle')`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT * FROM shapes WHERE id = $1`
	var row struct {
		ID    int    `db:"id"`
		Name  string `db:"name"`
		Sides *int   `db:"sides"`
	}
	if err := d.GetContext(ctx, &row, q, 1); err != nil || row.Name != "circle" {
		t.Fatalf("first run: %+v, %v", row, err)
	}
	if _, err := d.Exec(`ALTER TABLE shapes ADD COLUMN sides int`); err != nil {
		t.Fatal(err)
	}
	err := d.GetContext(ctx, &row, q, 1)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || !strings.Contains(pqErr.Message, "cached plan") {
		t.Fatalf("after the change: %v, want the server's cached plan error", err)
	}
	if err := d.GetContext(ctx, &row, q, 1); err != nil || row.Name != "circle" {
		t.Fatalf("the run after: %+v, %v", row, err)
	}
	if _, err := d.Exec(`ALTER TABLE shapes DROP COLUMN sides`); err != nil {
		t.Fatal(err)
	}
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.GetContext(ctx, &row, q, 1); err == nil {
		t.Fatal("in a transaction, after the change: no error")
	}
	tx.Rollback()
	if err := d.GetContext(ctx, &row, q, 1); err != nil || row.Name != "circle" {
		t.Fatalf("after the failed transaction: %+v, %v", row, err)
	}
}
