package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"rubrica"
	"rubrica/internal/testenv"
)

// eventsPerOp is how many events one iteration of BenchmarkDelivery publishes, one at a
// time, each once every subscriber has the previous one.
const eventsPerOp = 20

// BenchmarkDelivery measures delivery over real websockets on one server: 1,000 websockets
// (half of each protocol) with one contactEvents subscription each, on loopback in this
// process. It reports the latency from the start of a createContact to the receipt of its
// event by each client (p50-ms, p99-ms; mutation-ms is the mutation's own median, which that
// includes), and the memory of an idle websocket with its subscription (bytes/ws: heap and
// goroutine stacks after GC, the server's side and the test client's together;
// bytes/bare-ws is the same for a bare gorilla websocket pair, the client's share's upper
// bound). The 10,000-subscriber case is measured at the bus (BenchmarkDelivery in db/): ten
// thousand websockets in one process would need 20,000 file descriptors.
//
//	go test -run '^$' -bench Delivery -benchtime 1x ./server/
func BenchmarkDelivery(b *testing.B) {
	b.Run("websockets=1000", func(b *testing.B) { benchWebsockets(b, 1000) })
}

func benchWebsockets(b *testing.B, n int) {
	env := testenv.New(b)
	ws := env.Workspace(b, "Bench")
	ctx := context.Background()
	actor, err := env.DB.Services().Auth.Authenticate(ctx, ws.Owner())
	if err != nil {
		b.Fatal(err)
	}
	ctx = rubrica.NewContext(ctx, actor)
	contacts := env.DB.Services().Contacts

	bare := bareWebsocketBytes(b, n)
	before := memInUse()
	conns := make([]*testenv.WS, n)
	for i := range conns {
		conns[i] = testenv.Dial(b, env.WSURL(), testenv.Protocols[i%2], ws.Agent())
		conns[i].Subscribe("s", `subscription { contactEvents { type contactId } }`, nil)
	}
	env.WaitSubscribers(b, n)
	perWS := float64(memInUse()-before) / float64(n)

	var lat, mutation []time.Duration
	for b.Loop() {
		for i := range eventsPerOp {
			t0 := time.Now()
			if _, err := contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo(fmt.Sprint("C", i))}); err != nil {
				b.Fatal(err)
			}
			mutation = append(mutation, time.Since(t0))
			for _, c := range conns {
				m, err := c.Message("s", testenv.WSWait)
				if err != nil || !m.IsData() {
					b.Fatalf("event %d: got %s %s (%v), want a result", i, m.Type, m.Payload, err)
				}
				lat = append(lat, m.Received.Sub(t0))
			}
		}
	}
	b.StopTimer()
	p50, p99 := percentiles(lat)
	mut, _ := percentiles(mutation)
	b.ReportMetric(perWS, "bytes/ws") // after b.Loop, which resets the metrics reported before it
	b.ReportMetric(bare, "bytes/bare-ws")
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.ReportMetric(mut, "mutation-ms")
}

// bareWebsocketBytes measures the memory of n idle gorilla websocket pairs in this process:
// a server side that only reads, and a testenv client.
func bareWebsocketBytes(b *testing.B, n int) float64 {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	before := memInUse()
	conns := make([]*testenv.WS, n)
	for i := range conns {
		var err error
		if conns[i], _, err = testenv.DialWS(b, "ws"+srv.URL[len("http"):], "", nil); err != nil {
			b.Fatal(err)
		}
	}
	perWS := float64(memInUse()-before) / float64(n)
	for _, c := range conns {
		c.Close()
	}
	return perWS
}

// memInUse returns the heap and goroutine stack memory in use after a garbage collection.
func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// percentiles returns the 50th and 99th percentiles of lat in milliseconds.
func percentiles(lat []time.Duration) (float64, float64) {
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99)
}
