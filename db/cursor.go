package db

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"rubrica"
)

// cursor is a keyset position: the sort key and id of an item, and the order it belongs to.
type cursor struct {
	Order string `json:"o"`
	Key   string `json:"k"`
	ID    string `json:"i"`
}

// The SQL types of keyset keys; a cursor's key is checked against its keyset's type before
// any SQL sees it (decodeCursor), so no cast can fail on a client's text.
const (
	keyTimestamp = "timestamptz"
	keyText      = "text"
)

// maxTextKey is the longest text key of a cursor, in characters: above any sort key a row
// can have (a sort name is at most a first and last name, rubrica.MaxNameLength each).
const maxTextKey = 1024

// maxCursorLength bounds a cursor before it is decoded: the base64 of the longest cursor
// encodeCursor makes (a text key whose every character JSON escapes as \u00XX, an order
// name and an id).
var maxCursorLength = base64.RawURLEncoding.EncodedLen(len(`{"o":"","k":"","i":""}`) + 64 + 6*maxTextKey + 36)

// timeKey is the key of a time in a cursor: RFC 3339 in UTC, to the nanosecond.
func timeKey(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// canonicalKey returns key in the form the SQL gets, or false when it is no key of keyType.
func canonicalKey(keyType, key string) (string, bool) {
	switch keyType {
	case keyTimestamp:
		if len(key) > len("2006-01-02T15:04:05.999999999-07:00") {
			return "", false
		}
		t, err := time.Parse(time.RFC3339Nano, key)
		if err != nil {
			return "", false
		}
		if y := t.UTC().Year(); y < 1 || y > 9999 { // PostgreSQL has no year 0
			return "", false
		}
		return timeKey(t), true
	case keyText:
		ok := rubrica.ValidText(key) && utf8.RuneCountInString(key) <= maxTextKey // UTF-8, no NUL
		return key, ok
	}
	return "", false // a keyset of another type takes no cursor until its check is written
}

func encodeCursor(order, key, id string) string {
	b, _ := json.Marshal(cursor{Order: order, Key: key, ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made for the same order of this keyset: a bounded, well-formed
// key of the keyset's type (in canonical form) and a local id, or BAD_USER_INPUT about field,
// the argument.
func (k keyset) decodeCursor(field, order string, s *string) (*cursor, error) {
	if s == nil {
		return nil, nil
	}
	bad := rubrica.InvalidField(field, "%s is not a cursor of this list and order.", field)
	if len(*s) > maxCursorLength {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Order != order || !validID(c.ID) {
		return nil, bad
	}
	key, ok := canonicalKey(k.keyType, c.Key)
	if !ok {
		return nil, bad
	}
	c.Key = key
	return &c, nil
}

// keyset adds the conditions and order of one page to a statement: rows strictly after
// `after` and before `before` in the list's order, scanned backward when the page is `last`.
// It returns the ORDER BY clause and the LIMIT (one more than asked, to see if more follow).
type keyset struct {
	key, id    string // SQL expressions of the sort key and the tie-breaking id
	keyType    string // SQL type the cursor's key is cast to: keyTimestamp or keyText
	descending bool
}

// apply takes cursors of k.decodeCursor only: their keys are of k's type.
func (k keyset) apply(where *[]string, a *args, after, before *cursor, backward bool) (orderBy string) {
	cmp := func(c *cursor, greater bool) {
		op := "<"
		if greater {
			op = ">"
		}
		*where = append(*where, "("+k.key+", "+k.id+") "+op+" ("+a.add(c.Key)+"::"+k.keyType+", "+a.add(c.ID)+"::uuid)")
	}
	if after != nil {
		cmp(after, !k.descending)
	}
	if before != nil {
		cmp(before, k.descending)
	}
	dir := "ASC"
	if k.descending != backward {
		dir = "DESC"
	}
	return k.key + " " + dir + ", " + k.id + " " + dir
}

// pageOf turns rows fetched with limit n+1 into a connection page.
func pageOf[T any](rows []T, n int, backward bool, afterGiven, beforeGiven bool, cursorOf func(T) string) *rubrica.Connection[T] {
	more := len(rows) > n
	if more {
		rows = rows[:n]
	}
	if backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	conn := &rubrica.Connection[T]{Edges: make([]rubrica.Edge[T], len(rows))}
	for i, r := range rows {
		conn.Edges[i] = rubrica.Edge[T]{Cursor: cursorOf(r), Node: r}
	}
	if backward {
		conn.PageInfo.HasPreviousPage = more
		conn.PageInfo.HasNextPage = beforeGiven
	} else {
		conn.PageInfo.HasNextPage = more
		conn.PageInfo.HasPreviousPage = afterGiven
	}
	if len(rows) > 0 {
		s, e := conn.Edges[0].Cursor, conn.Edges[len(rows)-1].Cursor
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &s, &e
	}
	return conn
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// listPage runs one keyset page of a list: it validates the page and its cursors (made for
// order), adds the keyset conditions to where, selects with `selectFrom WHERE ... ORDER BY ...
// LIMIT n+1`, and maps each row to its node and cursor key.
func listPage[R any, T any](ctx context.Context, q sqlx.QueryerContext, p rubrica.Page, order string, k keyset,
	selectFrom string, where []string, qa args, node func(*R) T, key func(*R) (sortKey, id string)) (*rubrica.Connection[T], error) {
	n, backward, err := p.Size()
	if err != nil {
		return nil, err
	}
	after, err := k.decodeCursor("after", order, p.After)
	if err != nil {
		return nil, err
	}
	before, err := k.decodeCursor("before", order, p.Before)
	if err != nil {
		return nil, err
	}
	orderBy := k.apply(&where, &qa, after, before, backward)
	query := selectFrom + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + orderBy + ` LIMIT ` + qa.add(n+1)
	var rows []R
	if err := sqlx.SelectContext(ctx, q, &rows, query, qa...); err != nil {
		return nil, fmt.Errorf("db: list %s: %w", strings.ToLower(order), err)
	}
	edges := make([]rubrica.Edge[T], len(rows))
	for i := range rows {
		sortKey, id := key(&rows[i])
		edges[i] = rubrica.Edge[T]{Cursor: encodeCursor(order, sortKey, id), Node: node(&rows[i])}
	}
	page := pageOf(edges, n, backward, p.After != nil, p.Before != nil, func(e rubrica.Edge[T]) string { return e.Cursor })
	out := &rubrica.Connection[T]{PageInfo: page.PageInfo, Edges: make([]rubrica.Edge[T], len(page.Edges))}
	for i, e := range page.Edges {
		out.Edges[i] = e.Node
	}
	return out, nil
}
