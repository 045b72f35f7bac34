package readpath_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rubrica/db/dbtest"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// contacts is the size of the benchmark's workspace.
const contacts = 100_000

// concurrencies are the numbers of clients sending requests at once.
var concurrencies = []int{1, 16}

// The requests measured: a page of 50 contacts with everything a list shows, one contact
// with its tags, and the first page of a search with its total.
const (
	listQuery = `{ contacts(first: 50) { edges { node { id firstName lastName email phone country language
		assignee { id name } tags { id name } customFields { definition { key } value }
		channels { status identifier connectedAt channel { id name type } } } } } }`
	contactQuery = `query($id: ID!) { contact(id: $id) { id firstName lastName email phone tags { id name } } }`
	searchQuery  = `{ contacts(first: 50, filter: {search: "mar"}) { totalCount edges { node { id firstName lastName email phone } } } }`
)

// BenchmarkReadPath measures the three requests of the read path through the real HTTP
// server on one workspace of 100,000 contacts (dbtest.Fill: 3 channel links, 3 tags and 2
// or 3 custom values each; 14.5% match "mar"), with 1 and 16 clients. Each sub-benchmark
// reports req/s, the latency's p50-ms and p99-ms, and stmts/req, the SQL statements the
// server ran per request (the bearer token lookup included). The seeding happens here, once,
// so it costs nothing when benchmarks do not run. For steadier percentiles run longer:
//
//	make bench BENCH=ReadPath PKG=./internal/readpath/ BENCHTIME=5s
func BenchmarkReadPath(b *testing.B) {
	// As served: tokens authenticated from the cache (tests run without it by default).
	env := testenv.NewWithOptions(b, testenv.Options{NoJobs: true,
		Server: func(c *server.Config) { c.AuthCacheTTL = server.DefaultAuthCacheTTL }})
	ws := env.Workspace(b, "Bench")
	start := time.Now()
	dbtest.Fill(b, env.DSN, ws.ID, dbtest.FillOptions{Contacts: contacts})
	b.Logf("filled %d contacts in %s", contacts, time.Since(start).Round(time.Millisecond))

	c := &client{url: env.Server.URL + "/graphql", token: ws.Owner(), http: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * slices.Max(concurrencies)},
	}}
	contactID := checkList(b, c)
	checkContact(b, c, contactID)
	checkSearch(b, c)

	requests := []struct {
		name string
		body []byte
	}{
		{"list50", body(listQuery, nil)},
		{"contact", body(contactQuery, map[string]any{"id": contactID})},
		{"search", body(searchQuery, nil)},
	}
	for _, r := range requests {
		for _, n := range concurrencies {
			b.Run(fmt.Sprintf("%s/c=%d", r.name, n), func(b *testing.B) {
				measure(b, env, c, r.body, n)
			})
		}
	}
}

// measure sends b.N requests from n clients at once and reports throughput, latency and
// statements per request.
func measure(b *testing.B, env *testenv.Env, c *client, body []byte, n int) {
	for range 4 * n { // warm the connection pools, server and database
		if err := c.post(body); err != nil {
			b.Fatal(err)
		}
	}
	env.Counter.Reset()
	latencies := make([][]time.Duration, n)
	var sent atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range n {
		wg.Go(func() {
			for sent.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := c.post(body); err != nil {
					b.Error(err)
					return
				}
				latencies[w] = append(latencies[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	statements := len(env.Counter.Statements())

	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(percentile(all, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 99)), "p99-ms")
	b.ReportMetric(float64(statements)/float64(b.N), "stmts/req")
}

// percentile is the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// client posts GraphQL requests with a bearer token over connections it keeps open.
type client struct {
	url, token string
	http       *http.Client
}

// post sends one request and reads its whole answer, which must be a 200 without errors;
// it does not decode it, so that the client costs the shared CPU little.
func (c *client) post(body []byte) error {
	_, err := c.do(body)
	return err
}

func (c *client) do(body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors":`)) {
		return nil, fmt.Errorf("status %d: %.300s", res.StatusCode, out)
	}
	return out, nil
}

// decode sends one request and decodes its data into v.
func (c *client) decode(tb testing.TB, body []byte, v any) {
	tb.Helper()
	out, err := c.do(body)
	if err != nil {
		tb.Fatal(err)
	}
	var r struct{ Data json.RawMessage }
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		tb.Fatalf("decode %.300s: %v", r.Data, err)
	}
}

func body(query string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err)
	}
	return b
}

type node struct {
	ID           string
	Assignee     *struct{ ID string }
	Tags         []struct{ ID string }
	CustomFields []struct{ Value string }
	Channels     []struct{ Status string }
}

// checkList checks that the list answers what it is meant to measure, and returns the id of
// one of its contacts.
func checkList(b *testing.B, c *client) string {
	var data struct {
		Contacts struct{ Edges []struct{ Node node } }
	}
	c.decode(b, body(listQuery, nil), &data)
	edges := data.Contacts.Edges
	if len(edges) != 50 {
		b.Fatalf("list: got %d contacts, want 50", len(edges))
	}
	for _, e := range edges {
		n := e.Node
		if n.Assignee == nil || len(n.Tags) != 3 || len(n.CustomFields) < 2 || len(n.Channels) < 3 {
			b.Fatalf("list: contact %s has assignee %v, %d tags, %d custom values, %d channels; want an assignee, 3, 2 or 3, 3 or more",
				n.ID, n.Assignee, len(n.Tags), len(n.CustomFields), len(n.Channels))
		}
	}
	return edges[37].Node.ID
}

func checkContact(b *testing.B, c *client, id string) {
	var data struct{ Contact *node }
	c.decode(b, body(contactQuery, map[string]any{"id": id}), &data)
	if data.Contact == nil || data.Contact.ID != id || len(data.Contact.Tags) != 3 {
		b.Fatalf("contact %s: got %+v, want it with 3 tags", id, data.Contact)
	}
}

func checkSearch(b *testing.B, c *client) {
	var data struct {
		Contacts struct {
			TotalCount int
			Edges      []struct{ Node node }
		}
	}
	c.decode(b, body(searchQuery, nil), &data)
	want := contacts * 145 / 1000
	if data.Contacts.TotalCount != want || len(data.Contacts.Edges) != 50 {
		b.Fatalf("search: got %d of %d, want 50 of %d", len(data.Contacts.Edges), data.Contacts.TotalCount, want)
	}
}
