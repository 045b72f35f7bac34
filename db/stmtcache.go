package db

import (
	"container/list"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/lib/pq"
)

// Why statements are prepared: a statement sent unnamed (lib/pq's default, one round trip
// with binary_parameters) is parsed and planned by the server every time. For the small
// statements of the read path planning is most of the server's work: the contact by id takes
// 0.12 ms to plan and 0.04 ms to run, the tags of a contact 0.18 ms and 0.07 ms (EXPLAIN
// ANALYZE on the benchmark's database, warm). A named prepared statement is parsed once per
// connection, and after five executions PostgreSQL keeps its generic plan when that plan
// costs no more than the custom ones (plan_cache_mode auto), so it is planned no more.
//
// So each connection keeps the statements it ran with parameters, by their text, prepared
// (at most statementCacheCapacity, the least recently used closed first; statements without
// parameters go by the simple query protocol as before). The first run of a text on a
// connection costs one round trip more (Parse and Describe, then Bind and Execute); every
// later run one. This is what pgx does by default (its statement_cache_capacity, 512) and
// what PostGraphile does with node-postgres' named statements.
//
// The DSN parameter statement_cache_capacity sets the capacity per connection, as pgx's
// does; 0 turns the cache off, for a pooler in transaction mode that does not track
// prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
const defaultStatementCacheCapacity = 128

// statementCacheParam is the DSN parameter, taken out before lib/pq reads the DSN (it would
// send an unknown parameter to the server as a setting).
const statementCacheParam = "statement_cache_capacity"

// stmtCache is one connection's prepared statements by their text, the most recently used
// first. A connection serves one goroutine at a time (database/sql sees to it): no lock.
type stmtCache struct {
	capacity int
	order    *list.List // of *cachedStmt
	byText   map[string]*list.Element
}

type cachedStmt struct {
	text string
	stmt driver.Stmt
}

func newStmtCache(capacity int) *stmtCache {
	if capacity <= 0 {
		return nil
	}
	return &stmtCache{capacity: capacity, order: list.New(), byText: make(map[string]*list.Element)}
}

// get returns the statement prepared for text, or nil.
func (c *stmtCache) get(text string) driver.Stmt {
	e, ok := c.byText[text]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedStmt).stmt
}

// put keeps st for text and returns the statement it evicts to make room, if any: the
// caller closes it.
func (c *stmtCache) put(text string, st driver.Stmt) (evicted driver.Stmt) {
	c.byText[text] = c.order.PushFront(&cachedStmt{text: text, stmt: st})
	if c.order.Len() <= c.capacity {
		return nil
	}
	last := c.order.Back()
	c.order.Remove(last)
	old := last.Value.(*cachedStmt)
	delete(c.byText, old.text)
	return old.stmt
}

// forget drops text's statement without closing it: after stale reports an error the
// server no longer runs it as prepared, and closing it inside a failed transaction would
// fail too. The connection's end frees it on the server.
func (c *stmtCache) forget(text string) {
	if e, ok := c.byText[text]; ok {
		c.order.Remove(e)
		delete(c.byText, text)
	}
}

// stale reports whether err says a prepared statement can no longer run as prepared: a
// change of a table's columns changed its result type, or the server forgot it (DISCARD ALL
// by a pooler).
func stale(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	return pqErr.Code == "26000" || (pqErr.Code == "0A000" && strings.Contains(pqErr.Message, "cached plan"))
}

// cacheable reports whether a statement is worth preparing: it has parameters (the others
// go by the simple query protocol, one round trip and no parse of parameters) and is not a
// COPY, which lib/pq prepares in a way of its own.
func cacheable(text string, args []driver.NamedValue) bool {
	if len(args) == 0 {
		return false
	}
	text = strings.TrimLeft(text, " \t\r\n")
	return len(text) < 4 || !strings.EqualFold(text[:4], "COPY")
}

var keyValueCacheParam = regexp.MustCompile(`(?:^|\s)` + statementCacheParam + `\s*=\s*(\S*)`)

// splitStatementCache takes the statement_cache_capacity parameter out of dsn (a URL or
// key=value pairs) and returns the rest with the capacity (the default when absent).
func splitStatementCache(dsn string) (string, int, error) {
	capacity := defaultStatementCacheCapacity
	parse := func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("db: %s must be a number of statements, 0 or more: %q", statementCacheParam, v)
		}
		capacity = n
		return nil
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", 0, fmt.Errorf("db: dsn: %w", err)
		}
		q := u.Query()
		if !q.Has(statementCacheParam) {
			return dsn, capacity, nil
		}
		if err := parse(q.Get(statementCacheParam)); err != nil {
			return "", 0, err
		}
		q.Del(statementCacheParam)
		u.RawQuery = q.Encode()
		return u.String(), capacity, nil
	}
	m := keyValueCacheParam.FindStringSubmatchIndex(dsn)
	if m == nil {
		return dsn, capacity, nil
	}
	if err := parse(dsn[m[2]:m[3]]); err != nil {
		return "", 0, err
	}
	return strings.TrimSpace(dsn[:m[0]] + " " + strings.TrimSpace(dsn[m[1]:])), capacity, nil
}
