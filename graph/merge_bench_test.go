package graph_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"rubrica"
	"rubrica/internal/testenv"
)

// The merge benchmarks. Run them once with
//
//	go test -run '^$' -bench Merge -benchtime 1x ./graph/
//
// (BENCH_MESSAGES sets the larger number of messages of BenchmarkMergeUnmerge, 10,000 by
// default; BENCH_CONTACTS the workspace size of BenchmarkMergeSuggestionRefresh, 1,000,000).

// bmPair is a workspace with two contacts holding n messages each, bulk-inserted into their
// conversations.
type bmPair struct {
	ctx      context.Context
	a, b     string // local ids
	messages int
}

func bmSetupPair(b *testing.B, env *testenv.Env, n int) *bmPair {
	b.Helper()
	ws := env.Workspace(b, fmt.Sprintf("Bench%d", n))
	tok := ws.Owner()
	wa := mgChannel(b, env, tok, "WHATSAPP", "WhatsApp")
	ra := mgReceive(b, env, tok, wa, "+393470000001", "first from A")
	rb := mgReceive(b, env, tok, wa, "+393470000002", "first from B")
	for _, r := range []mgReceived{ra, rb} {
		cv := mgLocal(b, r.ConversationID)
		mgExec(b, env, `INSERT INTO messages (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at, created_at)
			SELECT c.workspace_id, c.id, c.channel_id, l.identifier, CASE WHEN g % 2 = 0 THEN 'INBOUND' ELSE 'OUTBOUND' END,
				'message ' || g, now() - make_interval(secs => g), now() - make_interval(secs => g)
			FROM conversations c JOIN contact_channels l ON l.contact_id = c.contact_id, generate_series(1, $2) AS g
			WHERE c.id = $1`, cv, n-1)
	}
	mgExec(b, env, `ANALYZE messages`)
	p := &bmPair{a: mgLocal(b, ra.ContactID), b: mgLocal(b, rb.ContactID), messages: n}
	p.ctx = rubrica.NewContext(context.Background(), rubrica.Actor{MemberID: mgLocal(b, fxViewerID(b, env, tok)), WorkspaceID: ws.ID, Role: rubrica.RoleOwner})
	if got := mgCount(b, env, `SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = ANY($1::uuid[])`,
		"{"+p.a+","+p.b+"}"); got != 2*n {
		b.Fatalf("messages: got %d, want %d", got, 2*n)
	}
	return p
}

// BenchmarkMergeUnmerge merges two contacts and undoes the merge, with 100 and 10,000
// messages on each: the time must not grow with the messages (conversations move, not
// messages).
func BenchmarkMergeUnmerge(b *testing.B) {
	env := testenv.New(b)
	merges := env.DB.Services().Merges
	large := 10000
	if s := os.Getenv("BENCH_MESSAGES"); s != "" {
		var err error
		if large, err = strconv.Atoi(s); err != nil {
			b.Fatalf("BENCH_MESSAGES: %v", err)
		}
	}
	pairs := []*bmPair{bmSetupPair(b, env, 100), bmSetupPair(b, env, large)}
	for _, p := range pairs {
		b.Run(fmt.Sprintf("Messages=%d", p.messages), func(b *testing.B) {
			var merge, unmerge time.Duration
			ops := 0
			for b.Loop() {
				ops++
				t0 := time.Now()
				res, err := merges.MergeContacts(p.ctx, p.a, p.b, nil)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := merges.UnmergeContacts(p.ctx, res.Merge.ID); err != nil {
					b.Fatal(err)
				}
				merge += t1.Sub(t0)
				unmerge += time.Since(t1)
			}
			b.ReportMetric(float64(merge.Microseconds())/1000/float64(ops), "merge-ms/op")
			b.ReportMetric(float64(unmerge.Microseconds())/1000/float64(ops), "unmerge-ms/op")
		})
	}
}

// BenchmarkMergeSuggestionRefresh times updateContact changing one contact's phone (which
// brings the merge suggestions up to date in the same transaction) in a workspace of
// BENCH_CONTACTS contacts (default 1,000,000) with mostly unique phones and emails and a few
// shared ones.
func BenchmarkMergeSuggestionRefresh(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("BENCH_CONTACTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("BENCH_CONTACTS: %v", err)
		}
	}
	env := testenv.New(b)
	ws := env.Workspace(b, "Million")
	tok := ws.Owner()
	t0 := time.Now()
	// Every 1000th contact shares its phone with the next one, every 1000th its email.
	mgExec(b, env, `INSERT INTO contacts (workspace_id, first_name, phone, email, country)
		SELECT $1, 'Contact ' || g,
			'+39333' || lpad(CASE WHEN g % 1000 = 1 THEN g - 1 ELSE g END::text, 7, '0'),
			'c' || CASE WHEN g % 1000 = 501 THEN g - 1 ELSE g END || '@example.com', 'IT'
		FROM generate_series(1, $2) AS g`, ws.ID, n)
	mgExec(b, env, `ANALYZE contacts`)
	load := time.Since(t0)
	b.Logf("%d contacts inserted in %v", n, load.Round(time.Millisecond))
	// The shared values, as groups: every contact that shares a phone or an email.
	t1 := time.Now()
	if err := env.DB.Services().Merges.RebuildSuggestions(mgActor(b, env, ws, tok, rubrica.RoleOwner)); err != nil {
		b.Fatal(err)
	}
	rebuild := time.Since(t1)
	// Statistics as autovacuum would soon gather them: without them the planner takes the
	// thousands of fresh suggestions for a few rows and reads them all on every refresh.
	mgExec(b, env, `ANALYZE merge_suggestions, merge_suggestion_contacts`)
	open := mgCount(b, env, `SELECT count(*) FROM merge_suggestions WHERE workspace_id = $1 AND status = 'OPEN'`, ws.ID)
	b.Logf("%d open suggestions after a rebuild of %v", open, rebuild.Round(time.Millisecond))

	var id string
	if err := env.DB.GetContext(context.Background(), &id, `SELECT id FROM contacts WHERE workspace_id = $1 AND phone = '+393330001000' LIMIT 1`, ws.ID); err != nil {
		b.Fatal(err)
	}
	contacts := env.DB.Services().Contacts
	ctx := mgActor(b, env, ws, tok, rubrica.RoleOwner)
	// The contact alternates between a phone it shares (joining a group) and one of its own.
	phones := []string{"+393330002000", "+393339999999"}
	b.Run(fmt.Sprintf("PhoneChange/Contacts=%d", n), func(b *testing.B) {
		i := 0
		start := time.Now()
		for b.Loop() {
			phone := phones[i%2]
			i++
			if _, err := contacts.UpdateContact(ctx, id, rubrica.ContactChanges{Phone: rubrica.SetTo(phone)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(i), "ms/update")
		b.ReportMetric(load.Seconds(), "load-s")
		b.ReportMetric(rebuild.Seconds(), "rebuild-s")
	})
	// The same update without a duplicate key changed (no suggestion work), for comparison.
	b.Run(fmt.Sprintf("NameChange/Contacts=%d", n), func(b *testing.B) {
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			if _, err := contacts.UpdateContact(ctx, id, rubrica.ContactChanges{FirstName: rubrica.SetTo(fmt.Sprint("Name ", i))}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(i), "ms/update")
	})
	// A merge of two duplicates and its undo in the big workspace.
	var other string
	if err := env.DB.GetContext(context.Background(), &other, `SELECT id FROM contacts WHERE workspace_id = $1 AND email = 'c500@example.com' AND id <> $2 LIMIT 1`, ws.ID, id); err != nil {
		b.Fatal(err)
	}
	var pair string
	if err := env.DB.GetContext(context.Background(), &pair, `SELECT id FROM contacts WHERE workspace_id = $1 AND email = 'c500@example.com' AND id <> $2 LIMIT 1`, ws.ID, other); err != nil {
		b.Fatal(err)
	}
	merges := env.DB.Services().Merges
	b.Run(fmt.Sprintf("MergeUnmerge/Contacts=%d", n), func(b *testing.B) {
		i := 0
		start := time.Now()
		for b.Loop() {
			i++
			res, err := merges.MergeContacts(ctx, other, pair, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := merges.UnmergeContacts(ctx, res.Merge.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(i), "ms/merge+unmerge")
	})
}
