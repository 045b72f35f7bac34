package db_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"rubrica"
	"rubrica/db"
)

// eventsPerOp is how many events one iteration of BenchmarkDelivery publishes, one at a
// time, each once every subscriber has the previous one.
const eventsPerOp = 50

// BenchmarkDelivery measures, on one bus, the latency from an event's commit to its receipt
// by each of 1,000 and 10,000 subscribers (p50-ms, p99-ms over every event and subscriber),
// and the memory of an idle subscription (bytes/sub: heap and goroutine stacks, after GC).
//
//	go test -run '^$' -bench Delivery -benchtime 1x ./db/
func BenchmarkDelivery(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchDelivery(b, n) })
	}
}

func benchDelivery(b *testing.B, n int) {
	env := startBus(b, db.BusConfig{})
	ws := uuid.NewString()
	ctx, cancel := context.WithCancel(actor(ws))
	defer cancel()
	filter := rubrica.EventFilter{Kind: rubrica.KindContact}

	before := memInUse()
	subs := make([]*rubrica.Subscription, n)
	for i := range subs {
		var err error
		if subs[i], err = env.Bus.Subscribe(ctx, filter); err != nil {
			b.Fatal(err)
		}
	}
	perSub := float64(memInUse()-before) / float64(n)

	// Each subscriber records when it receives each event; the publisher waits for all.
	var (
		mu       sync.Mutex
		received = make([][]time.Time, n)
		allGot   = make(chan struct{}, 1)
		pending  int
	)
	for i, sub := range subs {
		received[i] = make([]time.Time, 0, eventsPerOp)
		go func() {
			for range sub.C {
				now := time.Now()
				received[i] = append(received[i], now) // only this goroutine writes received[i]
				mu.Lock()
				if pending--; pending == 0 {
					allGot <- struct{}{}
				}
				mu.Unlock()
			}
		}()
	}
	var committed []time.Time
	for b.Loop() {
		for range eventsPerOp {
			mu.Lock()
			pending = n
			mu.Unlock()
			tx, err := env.DB.BeginTxx(context.Background(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Publish(context.Background(), tx, event(ws, rubrica.KindContact, rubrica.ContactCreated, uuid.NewString(), nil)); err != nil {
				b.Fatal(err)
			}
			committed = append(committed, time.Now())
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			select {
			case <-allGot:
			case <-time.After(wait):
				b.Fatalf("not every subscriber got event %d within %v", len(committed), wait)
			}
		}
	}
	b.StopTimer()
	cancel()
	var lat []time.Duration
	for _, times := range received {
		if len(times) != len(committed) {
			b.Fatalf("a subscriber got %d events, want %d", len(times), len(committed))
		}
		for k, t := range times {
			lat = append(lat, t.Sub(committed[k]))
		}
	}
	p50, p99 := percentiles(lat)
	b.ReportMetric(perSub, "bytes/sub") // after b.Loop, which resets the metrics reported before it
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
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
