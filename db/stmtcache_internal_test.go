package db

import (
	"database/sql/driver"
	"testing"
)

// TestSplitStatementCache: statement_cache_capacity comes out of a URL or key=value DSN,
// the rest unchanged; absent, the default; a bad value is refused.
func TestSplitStatementCache(t *testing.T) {
	for _, c := range []struct {
		dsn, rest string
		capacity  int
	}{
		{"postgres://u@h:5432/d?sslmode=disable", "postgres://u@h:5432/d?sslmode=disable", defaultStatementCacheCapacity},
		{"postgres://u@h/d?statement_cache_capacity=0&sslmode=disable", "postgres://u@h/d?sslmode=disable", 0},
		{"postgresql://u@h/d?statement_cache_capacity=16", "postgresql://u@h/d", 16},
		{"host=h dbname=d statement_cache_capacity=7 sslmode=disable", "host=h dbname=d sslmode=disable", 7},
		{"statement_cache_capacity=0", "", 0},
		{"host=h dbname=d", "host=h dbname=d", defaultStatementCacheCapacity},
	} {
		rest, capacity, err := splitStatementCache(c.dsn)
		if err != nil || rest != c.rest || capacity != c.capacity {
			t.Errorf("%q: got %q, %d, %v; want %q, %d", c.dsn, rest, capacity, err, c.rest, c.capacity)
		}
	}
	for _, bad := range []string{"postgres://h/d?statement_cache_capacity=-1", "host=h statement_cache_capacity=many", "postgres://h/d?statement_cache_capacity="} {
		if _, _, err := splitStatementCache(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestCacheable: statements with parameters are prepared, COPY (in any case, after any
// leading space) and statements without parameters are not.
func TestCacheable(t *testing.T) {
	one := []driver.NamedValue{{Ordinal: 1, Value: 1}}
	for _, c := range []struct {
		text string
		args []driver.NamedValue
		want bool
	}{
		{"SELECT $1", one, true},
		{"SELECT 1", nil, false},
		{"COPY t FROM STDIN", one, false},
		{" \n\tcopy t (a) FROM STDIN", one, false},
		{"COPYRIGHT", one, false},
		{"WITH x AS (SELECT $1) SELECT * FROM x", one, true},
		{"SEL", one, true},
	} {
		if got := cacheable(c.text, c.args); got != c.want {
			t.Errorf("cacheable(%q, %d args) = %v, want %v", c.text, len(c.args), got, c.want)
		}
	}
}
