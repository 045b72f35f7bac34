package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rubrica/db/dbtest"
	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
)

// writeTarget is one contact a write benchmark may write to: its workspace's token and
// WhatsApp channel, its linked number and its open conversation.
type writeTarget struct {
	token, channel, contact   string // token; global ids
	workspaceID, contactID    string // local ids
	conversationID, channelID string
	identifier                string
}

// writeBenchDuration is how long each measured run of BenchmarkWrites lasts
// (RUBRICA_BENCH_WRITE_SECONDS, default 3).
func writeBenchDuration() time.Duration {
	var s int
	if _, err := fmt.Sscan(os.Getenv("RUBRICA_BENCH_WRITE_SECONDS"), &s); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 3 * time.Second
}

// BenchmarkWrites measures the write path through the real handler over HTTP:
// receiveMessage (half first messages from new numbers, which create a contact, half from
// linked numbers) and updateContact (a new first name on a random contact), at concurrency 1,
// 8 and 32, all in one workspace ("one") or spread over 32 ("spread"), 300 contacts each.
// Right after each run, the comparable transaction in plain SQL (insert a message, update the
// contact, insert an event: ../shared/bench/pgbench/tx-plain.sql) runs on the same database
// at the same concurrency over the server's own pool. It reports req/s, sql-tx/s and
// x-sql, their ratio, the figure issue 11 names (receives at 32 in one workspace: >= 0.6).
//
//	make bench BENCH=Writes PKG=./graph/
func BenchmarkWrites(b *testing.B) {
	env := testenv.New(b)
	const workspaces, perWorkspace = 32, 300
	targets := make([][]writeTarget, workspaces)
	ctx := context.Background()
	for i := range targets {
		ws := env.Workspace(b, fmt.Sprintf("Writes %d", i))
		dbtest.Fill(b, env.DSN, ws.ID, dbtest.FillOptions{Contacts: perWorkspace, Offset: i * 10000, Conversations: true})
		var rows []struct {
			ContactID      string `db:"contact_id"`
			ConversationID string `db:"conversation_id"`
			ChannelID      string `db:"channel_id"`
			Identifier     string `db:"identifier"`
		}
		if err := env.DB.SelectContext(ctx, &rows, `SELECT l.contact_id, cv.id AS conversation_id, l.channel_id, l.identifier
			FROM contact_channels l JOIN channels ch ON ch.id = l.channel_id AND ch.type = 'WHATSAPP'
			JOIN conversations cv ON cv.contact_id = l.contact_id AND cv.status = 'OPEN'
			WHERE l.workspace_id = $1`, ws.ID); err != nil {
			b.Fatal(err)
		}
		if len(rows) == 0 {
			b.Fatal("the fill made no WhatsApp links with open conversations")
		}
		for _, r := range rows {
			targets[i] = append(targets[i], writeTarget{token: ws.Owner(), channel: globalid.Encode("Channel", r.ChannelID),
				contact: globalid.Encode("Contact", r.ContactID), workspaceID: ws.ID, contactID: r.ContactID,
				conversationID: r.ConversationID, channelID: r.ChannelID, identifier: r.Identifier})
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var newNumbers atomic.Int64
	requests := map[string]func(t writeTarget, rng *rand.Rand) (string, map[string]any){
		"receive": func(t writeTarget, rng *rand.Rand) (string, map[string]any) {
			in := map[string]any{"channelId": t.channel, "identifier": t.identifier, "text": "hello"}
			if rng.IntN(2) == 0 {
				in["identifier"] = fmt.Sprintf("+39347%07d", newNumbers.Add(1))
			}
			return `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { contact { id } message { id } contactCreated } }`,
				map[string]any{"in": in}
		},
		"update": func(t writeTarget, rng *rand.Rand) (string, map[string]any) {
			return `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id firstName } } }`,
				map[string]any{"in": map[string]any{"id": t.contact, "firstName": fmt.Sprintf("Name %d", rng.IntN(1e6))}}
		},
	}
	for _, mutation := range []string{"receive", "update"} {
		for _, layout := range []string{"one", "spread"} {
			pool := targets[:1]
			if layout == "spread" {
				pool = targets
			}
			for _, c := range []int{1, 8, 32} {
				b.Run(fmt.Sprintf("%s/%s/c=%d", mutation, layout, c), func(b *testing.B) {
					var rps, sqlRate float64
					for range b.N {
						rps = runWrites(b, c, pool, func(t writeTarget, rng *rand.Rand) error {
							q, vars := requests[mutation](t, rng)
							return postMutation(client, env.Server.URL, t.token, q, vars)
						})
						sqlRate = runWrites(b, c, pool, func(t writeTarget, _ *rand.Rand) error {
							return comparableTx(ctx, env, t)
						})
					}
					b.ReportMetric(rps, "req/s")
					b.ReportMetric(sqlRate, "sql-tx/s")
					b.ReportMetric(rps/sqlRate, "x-sql")
				})
			}
		}
	}
}

// runWrites runs write on random targets of random workspaces of pool from c goroutines for
// writeBenchDuration and returns the writes per second; any error fails the benchmark.
func runWrites(b *testing.B, c int, pool [][]writeTarget, write func(writeTarget, *rand.Rand) error) float64 {
	b.Helper()
	deadline := time.Now().Add(writeBenchDuration())
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := range c {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) && failed.Load() == nil {
				ws := pool[rng.IntN(len(pool))]
				if err := write(ws[rng.IntN(len(ws))], rng); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// postMutation posts one mutation and fails on any error in its answer.
func postMutation(client *http.Client, url, token, query string, vars map[string]any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var out struct{ Errors []json.RawMessage }
	if err := json.Unmarshal(data, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	return nil
}

// comparableTx is tx-plain.sql: a message, the contact's update and an event, committed.
func comparableTx(ctx context.Context, env *testenv.Env, t writeTarget) error {
	tx, err := env.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at)
		VALUES ($1, $2, $3, $4, 'INBOUND', 'hello', now())`, t.workspaceID, t.conversationID, t.channelID, t.identifier); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE contacts SET updated_at = clock_timestamp() WHERE id = $1`, t.contactID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (workspace_id, kind, type, contact_id) VALUES ($1, 'CONTACT', 'UPDATED', $2)`,
		t.workspaceID, t.contactID); err != nil {
		return err
	}
	return tx.Commit()
}
