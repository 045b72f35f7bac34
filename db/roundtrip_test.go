package db_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
)

// oneConnection opens a counting database whose pool holds one open connection, so that
// nothing counted is the opening of a connection. params are DSN parameters for its
// connections ("" for none).
func oneConnection(t *testing.T, params ...string) (*db.DB, *dbtest.Counter) {
	t.Helper()
	d, counter, _ := dbtest.MustOpenCountingDBParams(t, strings.Join(params, "&"))
	d.SetMaxOpenConns(1)
	if _, err := d.Exec(`SELECT 1`); err != nil {
		t.Fatal(err)
	}
	return d, counter
}

// wantRoundTrips fails unless the counter saw exactly want round trips since its reset.
func wantRoundTrips(t *testing.T, counter *dbtest.Counter, what string, want int) {
	t.Helper()
	if got := counter.RoundTrips(); got != want {
		t.Fatalf("%s: %d round trips, want %d", what, got, want)
	}
}

// noStatementCache is the DSN parameter that turns the prepared statements off.
const noStatementCache = "statement_cache_capacity=0"

// TestOneRoundTripPerStatement: a query or exec with parameters waits for the server once
// (lib/pq's binary_parameters, see db.NewConnector), the token lookup included, once its
// connection has prepared it: the first run of a statement on a connection prepares it, one
// round trip more (see db/stmtcache.go). Without the statement cache every run waits once.
// A transaction adds one round trip for BEGIN and one for COMMIT.
func TestOneRoundTripPerStatement(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		params []string
		first  int // round trips of a statement's first run on the connection
	}{
		{"prepared", nil, 2},
		{"unnamed", []string{noStatementCache}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, counter := oneConnection(t, c.params...)
			ws, token, err := d.Admin().CreateWorkspace(ctx, "Trips", "owner@trips.test")
			if err != nil {
				t.Fatal(err)
			}
			var name string
			for run, want := range []int{c.first, 1, 1} {
				at := fmt.Sprintf(" (run %d)", run+1)
				counter.Reset()
				a, err := d.Services().Auth.Authenticate(ctx, token)
				if err != nil || a.WorkspaceID != ws.ID {
					t.Fatalf("authenticate: got %+v, %v", a, err)
				}
				wantRoundTrips(t, counter, "the token lookup"+at, want)

				counter.Reset()
				if err := d.GetContext(ctx, &name, `SELECT name FROM workspaces WHERE id = $1 AND name <> $2`, ws.ID, "x"); err != nil || name != "Trips" {
					t.Fatalf("query: got %q, %v", name, err)
				}
				wantRoundTrips(t, counter, "a query with parameters"+at, want)

				counter.Reset()
				if _, err := d.ExecContext(ctx, `UPDATE workspaces SET name = $2 WHERE id = $1`, ws.ID, "Trips"); err != nil {
					t.Fatal(err)
				}
				wantRoundTrips(t, counter, "an exec with parameters"+at, want)
			}

			counter.Reset()
			tx, err := d.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := tx.GetContext(ctx, &name, `SELECT name FROM workspaces WHERE id = $1`, ws.ID); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			wantRoundTrips(t, counter, "BEGIN, three queries, COMMIT", 1+c.first+1+1+1)
		})
	}
}

// TestBinaryParameters sends every kind of parameter the services send (a []byte to bytea,
// pq.Array of uuids, of nullable strings and of text, a time, a JSON string to jsonb, an
// int, a bool, a NULL) and reads each back unchanged, in one round trip, both as an unnamed
// statement and as a prepared one (whose results come back partly in binary: uuid, integers
// and bytea; see lib/pq's decideColumnFormats). A []byte to jsonb is refused by the server
// (its binary form wants a version byte): the reason the services send JSON as a string.
// The refusal leaves the connection usable.
func TestBinaryParameters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		params []string
		trips  []int // round trips of the first runs
	}{
		{"prepared", nil, []int{2, 1}},
		{"unnamed", []string{noStatementCache}, []int{1, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d, counter := oneConnection(t, c.params...)
			for run, want := range c.trips {
				counter.Reset()
				checkParameters(t, d)
				wantRoundTrips(t, counter, fmt.Sprintf("a query with nine parameters, run %d", run+1), want)
			}
			ctx := context.Background()
			var s string
			err := d.GetContext(ctx, &s, `SELECT $1::jsonb::text`, []byte(`{"k": 1}`))
			if pqErr, ok := err.(*pq.Error); !ok || !strings.Contains(pqErr.Message, "jsonb version") {
				t.Fatalf("a []byte to jsonb: got %q, %v; want the server's refusal of its binary form", s, err)
			}
			if err := d.GetContext(ctx, &s, `SELECT $1::text`, "still usable"); err != nil || s != "still usable" {
				t.Fatalf("after the refusal: got %q, %v", s, err)
			}
		})
	}
}

// checkParameters runs the query of every kind of parameter and checks what comes back.
func checkParameters(t *testing.T, d *db.DB) {
	t.Helper()
	hash := []byte{0, 1, 2, 0xff, '\\', 'x', 0}
	ids := []string{"7d1ae0a2-3c6e-4b8a-9a36-1c8c0d3f0b11", "00000000-0000-0000-0000-000000000000"}
	nullable := []sql.NullString{{String: "a", Valid: true}, {}}
	texts := []string{`with "quotes", commas`, `{braces}`, `back\slash`, ""}
	at := time.Date(2026, 12, 1, 23, 59, 58, 123456000, time.FixedZone("x", 3600))
	doc := `{"k": ["v", 1, null], "é": "\u00e9"}`
	var got struct {
		Hash     []byte         `db:"hash"`
		ID       string         `db:"id"`
		IDs      pq.StringArray `db:"ids"`
		Nullable string         `db:"nullable"`
		Nulls    int            `db:"nulls"`
		Texts    pq.StringArray `db:"texts"`
		At       time.Time      `db:"at"`
		Doc      string         `db:"doc"`
		N        int64          `db:"n"`
		B        bool           `db:"b"`
		Null     sql.NullString `db:"null"`
	}
	const q = `SELECT $1::bytea AS hash, ($2::uuid[])[1] AS id, $2::uuid[] AS ids, $3::text[]::text AS nullable,
		cardinality(array_positions($3::text[], NULL)) AS nulls, $4::text[] AS texts,
		$5::timestamptz AS at, $6::jsonb::text AS doc, $7::int8 + 1 AS n, NOT $8::bool AS b, $9::text AS null`
	if err := d.GetContext(context.Background(), &got, q, hash, pq.Array(ids), pq.Array(nullable), pq.Array(texts), at, doc, 41, false, nil); err != nil {
		t.Fatal(err)
	}
	if string(got.Hash) != string(hash) {
		t.Errorf("bytea: got %x, want %x", got.Hash, hash)
	}
	if got.ID != ids[0] || strings.Join(got.IDs, ",") != strings.Join(ids, ",") {
		t.Errorf("uuid, uuid[]: got %s, %v, want %s, %v", got.ID, got.IDs, ids[0], ids)
	}
	if got.Nullable != "{a,NULL}" || got.Nulls != 1 {
		t.Errorf("nullable text[]: got %s with %d NULL, want {a,NULL}", got.Nullable, got.Nulls)
	}
	if strings.Join(got.Texts, "|") != strings.Join(texts, "|") {
		t.Errorf("text[]: got %q, want %q", got.Texts, texts)
	}
	if !got.At.Equal(at) {
		t.Errorf("timestamptz: got %s, want %s", got.At, at)
	}
	var sent, back any
	json.Unmarshal([]byte(doc), &sent)
	if err := json.Unmarshal([]byte(got.Doc), &back); err != nil || !jsonEqual(sent, back) {
		t.Errorf("jsonb: got %s, want %s", got.Doc, doc)
	}
	if got.N != 42 || !got.B || got.Null.Valid {
		t.Errorf("int, bool, NULL: got %d %v %+v, want 42 true NULL", got.N, got.B, got.Null)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestMergeSnapshotUnderBinaryParameters: a merge stores its snapshot (jsonb) and an unmerge
// reads it back, through the connector the services use.
func TestMergeSnapshotUnderBinaryParameters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.MustOpenDB(t)
	ws, token, err := d.Admin().CreateWorkspace(ctx, "Snap", "owner@snap.test")
	if err != nil {
		t.Fatal(err)
	}
	s := d.Services()
	a, err := s.Auth.Authenticate(ctx, token)
	if err != nil || a.WorkspaceID != ws.ID {
		t.Fatalf("authenticate: %+v, %v", a, err)
	}
	ctx = rubrica.NewContext(ctx, a)
	p, err := s.Contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo("Ada"), LastName: rubrica.SetTo("Lovelace")})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := s.Contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo("Ada")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Merges.MergeContacts(ctx, p.ID, sec.ID, nil)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	if _, err := s.Merges.UnmergeContacts(ctx, m.Merge.ID); err != nil {
		t.Fatalf("unmerge: %v", err)
	}
}

// TestReceiveMessageRoundTrips: once its statements are prepared, a message from a linked
// number into an open conversation waits for the server once (receiveLinkedSQL, a
// transaction of its own), and a first message from a new number (which creates a contact,
// its link, conversation and events, and refreshes the suggestions) 6 times: the linked
// attempt, then BEGIN, the identity, firstMessageSQL (which takes the value locks), the
// holders and COMMIT. The comparable transaction of ../shared/bench/pgbench/tx-plain.sql
// waits 5 times: every round trip here is a share of the write path's cost (see issue 11's
// figures in README).
func TestReceiveMessageRoundTrips(t *testing.T) {
	t.Parallel()
	d, counter := oneConnection(t)
	ctx := newWorkspace(t, d, "Receives")
	ch, err := d.Services().Channels.CreateChannel(ctx, rubrica.ChannelInput{Type: rubrica.ChannelWhatsApp, Name: "WhatsApp"})
	if err != nil {
		t.Fatal(err)
	}
	receive := func(identifier string) int {
		t.Helper()
		counter.Reset()
		if _, err := d.Services().Conversations.ReceiveMessage(ctx, rubrica.InboundMessage{ChannelID: ch.ID, Identifier: identifier, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		return counter.RoundTrips()
	}
	receive("+393331112220") // prepares the statements of a new number's message
	receive("+393331112220") // and of a linked one's
	if got := receive("+393331112221"); got != 6 {
		t.Errorf("a first message from a new number: %d round trips, want 6 (%q)", got, counter.Statements())
	}
	if got := receive("+393331112221"); got != 1 {
		t.Errorf("a message from a linked number: %d round trips, want 1 (%q)", got, counter.Statements())
	}
}

// TestUpdateContactRoundTrips: once prepared, a rename (ContactChanges.OwnFieldsOnly) waits
// for the server once, updateOwnFieldsSQL being its own transaction; an edit another rule
// reads (a phone: duplicates, channel standing) takes the transaction of the general path.
// Both are stored, with their UPDATED events.
func TestUpdateContactRoundTrips(t *testing.T) {
	t.Parallel()
	d, counter := oneConnection(t)
	ctx := newWorkspace(t, d, "Updates")
	contacts := d.Services().Contacts
	c, err := contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo("Ada")})
	if err != nil {
		t.Fatal(err)
	}
	update := func(in rubrica.ContactChanges) (*rubrica.Contact, int) {
		t.Helper()
		counter.Reset()
		got, err := contacts.UpdateContact(ctx, c.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		return got, counter.RoundTrips()
	}
	update(rubrica.ContactChanges{FirstName: rubrica.SetTo("Ada")}) // prepares the statements
	update(rubrica.ContactChanges{Phone: rubrica.SetTo("+393331112229")})
	renamed, trips := update(rubrica.ContactChanges{FirstName: rubrica.SetTo("  Grace "), Language: rubrica.SetTo("it")})
	if trips != 1 {
		t.Errorf("a rename: %d round trips, want 1 (%q)", trips, counter.Statements())
	}
	if renamed.FirstName == nil || *renamed.FirstName != "Grace" || renamed.Language == nil || *renamed.Language != "it" ||
		renamed.Phone == nil || *renamed.Phone != "+393331112229" {
		t.Errorf("renamed: got first name %v, language %v, phone %v; want Grace, it, the phone kept", renamed.FirstName, renamed.Language, renamed.Phone)
	}
	if _, trips := update(rubrica.ContactChanges{Phone: rubrica.SetTo("+393331112228")}); trips < 5 {
		t.Errorf("a phone change: %d round trips, want the general path's transaction (%q)", trips, counter.Statements())
	}
	var updated int
	if err := d.GetContext(context.Background(), &updated, `SELECT count(*) FROM events WHERE contact_id = $1 AND type = 'UPDATED'`, c.ID); err != nil {
		t.Fatal(err)
	}
	if updated != 4 {
		t.Errorf("UPDATED events: got %d, want one per update (4)", updated)
	}
}
