package graph_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"rubrica"
	"rubrica/internal/testenv"
)

// bmSetupGroup makes a workspace with size contacts holding n messages each, bulk-inserted
// into their conversations; it returns the actor's context and the contacts' local ids.
func bmSetupGroup(b *testing.B, env *testenv.Env, size, n int) (context.Context, []string) {
	b.Helper()
	ws := env.Workspace(b, fmt.Sprintf("BenchGroup%d", n))
	tok := ws.Owner()
	wa := mgChannel(b, env, tok, "WHATSAPP", "WhatsApp")
	var ids []string
	for i := range size {
		r := mgReceive(b, env, tok, wa, fmt.Sprintf("+3934700001%02d", i), "first")
		mgExec(b, env, `INSERT INTO messages (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at, created_at)
			SELECT c.workspace_id, c.id, c.channel_id, l.identifier, 'INBOUND', 'message ' || g, now() - make_interval(secs => g), now() - make_interval(secs => g)
			FROM conversations c JOIN contact_channels l ON l.contact_id = c.contact_id, generate_series(1, $2) AS g
			WHERE c.id = $1`, mgLocal(b, r.ConversationID), n-1)
		ids = append(ids, mgLocal(b, r.ContactID))
	}
	mgExec(b, env, `ANALYZE messages`)
	ctx := rubrica.NewContext(context.Background(), rubrica.Actor{MemberID: mgLocal(b, fxViewerID(b, env, tok)), WorkspaceID: ws.ID, Role: rubrica.RoleOwner})
	return ctx, ids
}

// BenchmarkGroupMergeUnmerge merges four contacts in one call and undoes the merge, with 100
// and 10,000 messages on each: the time must not grow with the messages.
//
//	go test -run '^$' -bench GroupMergeUnmerge -benchtime 20x ./graph/
func BenchmarkGroupMergeUnmerge(b *testing.B) {
	env := testenv.New(b)
	merges := env.DB.Services().Merges
	for _, n := range []int{100, bmEnvInt(b, "BENCH_MESSAGES", 10000)} {
		ctx, ids := bmSetupGroup(b, env, 4, n)
		b.Run(fmt.Sprintf("Messages=%d", n), func(b *testing.B) {
			var merge, unmerge time.Duration
			ops := 0
			for b.Loop() {
				ops++
				t0 := time.Now()
				res, err := merges.MergeGroup(ctx, ids[0], ids[1:], nil)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := merges.UnmergeContacts(ctx, res.Merge.ID); err != nil {
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
