package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// BenchmarkReceiveNewNumbers measures a burst of first WhatsApp messages from numbers no
// contact holds, through the real handler at concurrency 16, in a workspace of BENCH_CONTACTS
// contacts (20,000 by default) with automatic merges off and on. The sub-benchmarks alternate
// (BENCH_ROUNDS rounds), so compare their req/s round by round:
//
//	go test -run '^$' -bench ReceiveNewNumbers -benchtime 3s ./graph/
//
// With automatic merges on, a first message costs one read of the settings and one lookup of
// the number's holders (the duplicates' GIN index) more than with them off (which reads the
// settings too); the number lookup runs before the suggestions' lock.
func BenchmarkReceiveNewNumbers(b *testing.B) {
	env := testenv.New(b)
	contacts := bmEnvInt(b, "BENCH_CONTACTS", 20000)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	type side struct{ name, token, channel string }
	var sides []side
	for i, name := range []string{"AutoMergeOff", "AutoMergeOn"} {
		ws := env.Workspace(b, "Receive"+name)
		s := side{name: name, token: ws.Owner(), channel: mgChannel(b, env, ws.Owner(), "WHATSAPP", "WhatsApp")}
		mgExec(b, env, `INSERT INTO contacts (workspace_id, first_name, phone, country)
			SELECT $1, 'Seed ' || g, '+39347' || lpad(g::text, 7, '0'), 'IT' FROM generate_series(1, $2) AS g`, ws.ID, contacts)
		if i == 1 {
			amSet(b, env, ws.Owner(), map[string]any{"verifiedPhone": true})
		}
		sides = append(sides, s)
	}
	mgExec(b, env, `ANALYZE contacts`)
	const query = `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { contact { id } contactCreated } }`
	var serial atomic.Int64
	receive := func(b *testing.B, s side) {
		b.SetParallelism(8) // 16 goroutines on 2 CPUs
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				number := fmt.Sprintf("+39348%07d", serial.Add(1)) // held by no contact
				body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{
					"in": map[string]any{"channelId": s.channel, "identifier": number, "text": "hello"}}})
				req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+s.token)
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var r struct {
					Errors []any
					Data   struct {
						ReceiveMessage struct{ ContactCreated bool }
					}
				}
				if json.Unmarshal(out, &r) != nil || len(r.Errors) > 0 || !r.Data.ReceiveMessage.ContactCreated {
					b.Errorf("receiveMessage: %s", out)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	}
	// Off and on alternate, BENCH_ROUNDS times (4 by default), each round in the other order
	// (off-on, on-off): on a shared machine the load changes from run to run, and the
	// workspaces grow by what each run receives.
	for round := range bmEnvInt(b, "BENCH_ROUNDS", 4) {
		for i := range sides {
			s := sides[(i+round)%len(sides)]
			b.Run(s.name, func(b *testing.B) { receive(b, s) })
		}
	}
}

// bmEnvInt returns an environment setting's number, or def when unset.
func bmEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}
