package dbtest

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

//go:embed fill.sql
var fillSQL string

// FillOptions size what Fill adds to a workspace.
type FillOptions struct {
	Contacts      int  // how many contacts
	Offset        int  // added to each contact's number, so that two fills of one database do not share phones or emails
	Conversations bool // also one open conversation with one inbound message per contact
}

// fillVar matches the psql variables of fill.sql (:n, :off, :conv), not casts (::text).
var fillVar = regexp.MustCompile(`(^|[^:]):(n|off|conv)\b`)

// Fill adds to the workspace, through SQL in one transaction, 20 agents, 6 channels, 50 tags,
// 3 custom field definitions and opts.Contacts contacts with 3 channel links, 3 tags and 2 or
// 3 custom values each (see fill.sql), then analyses the tables, so that a benchmark seeds
// 100,000 contacts in seconds. dsn is the database's URL; Fill connects on its own, so its
// statements count as no request's.
func Fill(tb testing.TB, dsn, workspaceID string, opts FillOptions) {
	tb.Helper()
	if err := fill(context.Background(), dsn, workspaceID, opts); err != nil {
		tb.Fatalf("dbtest: fill workspace %s: %v", workspaceID, err)
	}
}

func fill(ctx context.Context, dsn, workspaceID string, opts FillOptions) error {
	q, err := fillStatements(workspaceID, opts)
	if err != nil {
		return err
	}
	conn, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// No arguments: lib/pq sends the text as one simple query, every statement of it.
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `VACUUM ANALYZE`)
	return err
}

// fillStatements is fill.sql with its psql variables replaced by the values of a fill.
func fillStatements(workspaceID string, opts FillOptions) (string, error) {
	if _, err := uuid.Parse(workspaceID); err != nil {
		return "", fmt.Errorf("workspace id %q: %w", workspaceID, err)
	}
	if opts.Contacts < 1 || opts.Offset < 0 || opts.Offset+opts.Contacts > 9_999_999 {
		return "", fmt.Errorf("contacts %d from %d: the phones +39333nnnnnnn hold 1 to 9,999,999", opts.Contacts, opts.Offset)
	}
	conv := 0
	if opts.Conversations {
		conv = 1
	}
	values := map[string]string{"n": strconv.Itoa(opts.Contacts), "off": strconv.Itoa(opts.Offset), "conv": strconv.Itoa(conv)}
	q := strings.ReplaceAll(fillSQL, ":'ws'", pq.QuoteLiteral(workspaceID))
	return fillVar.ReplaceAllStringFunc(q, func(m string) string {
		sub := fillVar.FindStringSubmatch(m)
		return sub[1] + values[sub[2]]
	}), nil
}
