package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
)

// wait bounds every wait for an event that must come.
const wait = 15 * time.Second

// quiet is how long a test waits to be sure that an event does not come (checked after one
// that must, so a short wait suffices).
const quiet = 200 * time.Millisecond

// busEnv is a fresh database with a running bus.
type busEnv struct {
	DB  *db.DB
	DSN string
	Bus *db.Bus
}

// startBus opens a fresh database and runs a bus on it until the test ends.
func startBus(tb testing.TB, cfg db.BusConfig) *busEnv {
	tb.Helper()
	dsn := dbtest.NewDatabase(tb)
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return &busEnv{DB: d, DSN: dsn, Bus: runBus(tb, d, dsn, cfg)}
}

// runBus runs a bus on d until the test ends.
func runBus(tb testing.TB, d *db.DB, dsn string, cfg db.BusConfig) *db.Bus {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bus := db.NewBus(d, dsn, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("bus.Run: %v", err)
		}
	})
	return bus
}

// actor returns a context acting in workspace ws (events need no real workspace).
func actor(ws string) context.Context {
	return rubrica.NewContext(context.Background(), rubrica.Actor{MemberID: uuid.NewString(), WorkspaceID: ws, Role: rubrica.RoleOwner})
}

func subscribe(tb testing.TB, bus *db.Bus, ws string, f rubrica.EventFilter) *rubrica.Subscription {
	tb.Helper()
	ctx, cancel := context.WithCancel(actor(ws))
	tb.Cleanup(cancel)
	sub, err := bus.Subscribe(ctx, f)
	if err != nil {
		tb.Fatal(err)
	}
	return sub
}

func event(ws string, kind rubrica.EventKind, typ, contactID string, subject *string) rubrica.Event {
	e := rubrica.Event{WorkspaceID: ws, Kind: kind, Type: typ}
	if contactID != "" {
		e.ContactID = &contactID
	}
	e.SubjectID = subject
	return e
}

// publish commits the events in one transaction, as a service does.
func publish(tb testing.TB, d *db.DB, events ...rubrica.Event) {
	tb.Helper()
	tx, err := d.BeginTxx(context.Background(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	if err := db.Publish(context.Background(), tx, events...); err != nil {
		tb.Fatal(err)
	}
	if err := db.Commit(d, tx); err != nil {
		tb.Fatal(err)
	}
}

// next returns the subscription's next event, failing the test if none comes within wait.
func next(tb testing.TB, sub *rubrica.Subscription) rubrica.Event {
	tb.Helper()
	select {
	case e, ok := <-sub.C:
		if !ok {
			tb.Fatalf("subscription closed: %v, want an event", sub.Err())
		}
		return *e
	case <-time.After(wait):
		tb.Fatalf("no event within %v", wait)
	}
	return rubrica.Event{}
}

func nothing(tb testing.TB, sub *rubrica.Subscription) {
	tb.Helper()
	select {
	case e, ok := <-sub.C:
		tb.Fatalf("got %+v (open %v), want nothing", e, ok)
	case <-time.After(quiet):
	}
}

func wantEvent(tb testing.TB, got rubrica.Event, want rubrica.Event) {
	tb.Helper()
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	if got.WorkspaceID != want.WorkspaceID || got.Kind != want.Kind || got.Type != want.Type ||
		str(got.ContactID) != str(want.ContactID) || str(got.SubjectID) != str(want.SubjectID) {
		tb.Fatalf("event: got %s %s %s contact %s subject %s, want %s %s %s contact %s subject %s",
			got.WorkspaceID, got.Kind, got.Type, str(got.ContactID), str(got.SubjectID),
			want.WorkspaceID, want.Kind, want.Type, str(want.ContactID), str(want.SubjectID))
	}
	if got.Seq <= 0 || got.CreatedAt.IsZero() {
		tb.Fatalf("event: seq %d, createdAt %v, want both set", got.Seq, got.CreatedAt)
	}
}

// TestBusFilters: each subscriber gets exactly the committed events of its workspace that
// pass its filter, in commit order.
func TestBusFilters(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{})
	w1, w2 := uuid.NewString(), uuid.NewString()
	x, y, ch := uuid.NewString(), uuid.NewString(), uuid.NewString()
	all := subscribe(t, env.Bus, w1, rubrica.EventFilter{Kind: rubrica.KindContact})
	onlyX := subscribe(t, env.Bus, w1, rubrica.EventFilter{Kind: rubrica.KindContact, ContactID: &x})
	channels := subscribe(t, env.Bus, w1, rubrica.EventFilter{Kind: rubrica.KindContactChannel})
	other := subscribe(t, env.Bus, w2, rubrica.EventFilter{Kind: rubrica.KindContact})
	if n := env.Bus.Subscribers(); n != 4 {
		t.Fatalf("Subscribers: got %d, want 4", n)
	}

	createdX := event(w1, rubrica.KindContact, rubrica.ContactCreated, x, nil)
	updatedY := event(w1, rubrica.KindContact, rubrica.ContactUpdated, y, nil)
	linkedX := event(w1, rubrica.KindContactChannel, rubrica.ChannelLinked, x, &ch)
	createdY2 := event(w2, rubrica.KindContact, rubrica.ContactCreated, y, nil) // the same id, another workspace
	publish(t, env.DB, createdX, updatedY, linkedX, createdY2)
	updatedX := event(w1, rubrica.KindContact, rubrica.ContactUpdated, x, nil)
	publish(t, env.DB, updatedX)
	unlinkedX := event(w1, rubrica.KindContactChannel, rubrica.ChannelUnlinked, x, &ch)
	deletedY2 := event(w2, rubrica.KindContact, rubrica.ContactDeleted, y, nil)
	publish(t, env.DB, unlinkedX, deletedY2)

	for _, tc := range []struct {
		name string
		sub  *rubrica.Subscription
		want []rubrica.Event
	}{
		{"all", all, []rubrica.Event{createdX, updatedY, updatedX}},
		{"onlyX", onlyX, []rubrica.Event{createdX, updatedX}},
		{"channels", channels, []rubrica.Event{linkedX, unlinkedX}},
		{"other", other, []rubrica.Event{createdY2, deletedY2}},
	} {
		var last int64
		for _, want := range tc.want {
			got := next(t, tc.sub)
			wantEvent(t, got, want)
			if got.Seq <= last {
				t.Fatalf("%s: seq %d after %d, want increasing", tc.name, got.Seq, last)
			}
			last = got.Seq
		}
		nothing(t, tc.sub)
	}
}

// TestBusRollbackAnnouncesNothing: events of a transaction that rolls back are never seen.
func TestBusRollbackAnnouncesNothing(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{})
	ws := uuid.NewString()
	sub := subscribe(t, env.Bus, ws, rubrica.EventFilter{Kind: rubrica.KindContact})

	ctx := context.Background()
	rolledBack := event(ws, rubrica.KindContact, rubrica.ContactCreated, uuid.NewString(), nil)
	tx, err := env.DB.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Publish(ctx, tx, rolledBack); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// A statement failing after the events were written aborts the transaction.
	tx, err = env.DB.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Publish(ctx, tx, rolledBack); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1/0`); err == nil {
		t.Fatal("SELECT 1/0 succeeded")
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("commit of an aborted transaction succeeded")
	}

	committed := event(ws, rubrica.KindContact, rubrica.ContactUpdated, uuid.NewString(), nil)
	publish(t, env.DB, committed)
	wantEvent(t, next(t, sub), committed)
	nothing(t, sub)
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM events`); err != nil || n != 1 {
		t.Fatalf("outbox rows: got %d (%v), want 1", n, err)
	}
}

// begin starts a transaction that published events and stays open until the test commits
// (db.Commit) or rolls it back.
func begin(tb testing.TB, d *db.DB, events ...rubrica.Event) *sqlx.Tx {
	tb.Helper()
	tx, err := d.BeginTxx(context.Background(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tx.Rollback() })
	if err := db.Publish(context.Background(), tx, events...); err != nil {
		tb.Fatal(err)
	}
	return tx
}

// newContacts creates n contacts in the actor's workspace and returns their ids.
func newContacts(tb testing.TB, d *db.DB, ctx context.Context, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		c, err := d.Services().Contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo(fmt.Sprintf("N%d", i))})
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = c.ID
	}
	return ids
}

// TestBusLateCommit: writers of different contacts do not wait for each other; a transaction
// that commits after later ones (a lower seq, committed last) is delivered when it commits,
// never skipped; one about the same contact waits for it and comes after it; one rolled back
// while others committed around it is never delivered.
func TestBusLateCommit(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{Poll: time.Hour})
	ctx := newWorkspace(t, env.DB, "late")
	a, _ := rubrica.ActorFromContext(ctx)
	ws := a.WorkspaceID
	sub, err := env.Bus.Subscribe(ctx, rubrica.EventFilter{Kind: rubrica.KindContact})
	if err != nil {
		t.Fatal(err)
	}
	ids := newContacts(t, env.DB, ctx, 3)
	x, y, z := ids[0], ids[1], ids[2]
	for _, id := range ids {
		wantEvent(t, next(t, sub), event(ws, rubrica.KindContact, rubrica.ContactCreated, id, nil))
	}

	long := event(ws, rubrica.KindContact, rubrica.ContactUpdated, x, nil)
	longTx := begin(t, env.DB, long)
	doomed := event(ws, rubrica.KindContact, rubrica.ContactDeleted, z, nil)
	doomedTx := begin(t, env.DB, doomed)

	// Later writers of another contact commit at once, and are delivered at once.
	y1 := event(ws, rubrica.KindContact, rubrica.ContactUpdated, y, nil)
	y2 := event(ws, rubrica.KindContact, rubrica.ContactBlocked, y, nil)
	done := make(chan struct{})
	go func() { defer close(done); publish(t, env.DB, y1); publish(t, env.DB, y2) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("writers of another contact waited for the open transaction")
	}
	gotY1, gotY2 := next(t, sub), next(t, sub)
	wantEvent(t, gotY1, y1)
	wantEvent(t, gotY2, y2)

	// A later writer of the same contact waits for the open transaction.
	x2 := event(ws, rubrica.KindContact, rubrica.ContactBlocked, x, nil)
	x2Done := make(chan struct{})
	go func() { defer close(x2Done); publish(t, env.DB, x2) }()
	select {
	case <-x2Done:
		t.Fatal("a writer of the same contact committed while the open transaction held its event")
	case <-time.After(quiet):
	}
	nothing(t, sub)

	if err := db.Commit(env.DB, longTx); err != nil {
		t.Fatal(err)
	}
	<-x2Done
	gotLong, gotX2 := next(t, sub), next(t, sub)
	wantEvent(t, gotLong, long)
	wantEvent(t, gotX2, x2)
	if gotLong.Seq >= gotY1.Seq || gotX2.Seq <= gotLong.Seq {
		t.Fatalf("seqs: long %d, y %d %d, x2 %d; want the late commit's below the ys' (drawn first) and x2 after it",
			gotLong.Seq, gotY1.Seq, gotY2.Seq, gotX2.Seq)
	}

	if err := doomedTx.Rollback(); err != nil {
		t.Fatal(err)
	}
	last := event(ws, rubrica.KindContact, rubrica.ContactUpdated, z, nil)
	publish(t, env.DB, last)
	wantEvent(t, next(t, sub), last)
	nothing(t, sub)
}

// TestBusSubscriptionLifetime: a subscription needs an actor, ends with its context, and
// every subscription ends when the bus stops.
func TestBusSubscriptionLifetime(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDatabase(t)
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bus := db.NewBus(d, dsn, db.BusConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(runCtx) }()

	if _, err := bus.Subscribe(context.Background(), rubrica.EventFilter{Kind: rubrica.KindContact}); rubrica.ErrorCode(err) != rubrica.EUNAUTHENTICATED {
		t.Fatalf("Subscribe without an actor: got %v, want UNAUTHENTICATED", err)
	}
	ws := uuid.NewString()
	ctx, cancel := context.WithCancel(actor(ws))
	ended, err := bus.Subscribe(ctx, rubrica.EventFilter{Kind: rubrica.KindContact})
	if err != nil {
		t.Fatal(err)
	}
	running := subscribe(t, bus, ws, rubrica.EventFilter{Kind: rubrica.KindContact})
	cancel()
	select {
	case _, ok := <-ended.C:
		if ok {
			t.Fatal("got an event, want the subscription closed")
		}
	case <-time.After(wait):
		t.Fatal("the subscription did not end with its context")
	}
	if !errors.Is(ended.Err(), context.Canceled) {
		t.Fatalf("Err after the context ended: got %v, want context.Canceled", ended.Err())
	}
	if n := bus.Subscribers(); n != 1 {
		t.Fatalf("Subscribers: got %d, want 1", n)
	}

	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, ok := <-running.C; ok || !errors.Is(running.Err(), rubrica.ErrEventsStopped) {
		t.Fatalf("after the bus stopped: open %v, Err %v, want closed with ErrEventsStopped", ok, running.Err())
	}
	if _, err := bus.Subscribe(actor(ws), rubrica.EventFilter{Kind: rubrica.KindContact}); !errors.Is(err, rubrica.ErrEventsStopped) {
		t.Fatalf("Subscribe after the bus stopped: got %v, want ErrEventsStopped", err)
	}
}

// TestBusSlowSubscriberDropped: a subscriber that does not read is dropped with
// ErrSubscriberTooSlow once Buffer events wait for it, while a reading subscriber gets every
// event and publishing never waits.
func TestBusSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{Buffer: 2})
	ws := uuid.NewString()
	slow := subscribe(t, env.Bus, ws, rubrica.EventFilter{Kind: rubrica.KindContact})
	fast := subscribe(t, env.Bus, ws, rubrica.EventFilter{Kind: rubrica.KindContact})

	var sent []rubrica.Event
	var slowest time.Duration
	for i := range 10 {
		e := event(ws, rubrica.KindContact, rubrica.ContactCreated, uuid.NewString(), nil)
		t0 := time.Now()
		publish(t, env.DB, e)
		slowest = max(slowest, time.Since(t0))
		sent = append(sent, e)
		// In step with the fast reader, so that only the slow one falls behind.
		wantEvent(t, next(t, fast), e)
		if i == 2 {
			if n := env.Bus.Subscribers(); n != 1 {
				t.Fatalf("after 3 events with a buffer of 2: %d subscribers, want the slow one dropped", n)
			}
		}
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest publish: %v, want it never held up by a subscriber", slowest)
	}
	for i := range 2 {
		wantEvent(t, next(t, slow), sent[i])
	}
	if _, ok := <-slow.C; ok {
		t.Fatal("the slow subscription got a third event, want it closed")
	}
	if !errors.Is(slow.Err(), rubrica.ErrSubscriberTooSlow) || rubrica.ErrorCode(slow.Err()) != rubrica.ELIMIT {
		t.Fatalf("slow subscription Err: got %v, want ErrSubscriberTooSlow (LIMIT_EXCEEDED)", slow.Err())
	}
	if fast.Err() != nil {
		t.Fatalf("fast subscription Err: got %v, want nil", fast.Err())
	}
}

// newWorkspace creates a workspace and returns a context acting as its owner.
func newWorkspace(tb testing.TB, d *db.DB, name string) context.Context {
	tb.Helper()
	ctx := context.Background()
	_, token, err := d.Admin().CreateWorkspace(ctx, name, "owner@"+name+".test")
	if err != nil {
		tb.Fatal(err)
	}
	a, err := d.Services().Auth.Authenticate(ctx, token)
	if err != nil {
		tb.Fatal(err)
	}
	return rubrica.NewContext(ctx, a)
}

// killListeners terminates the listener connections of the database at dsn and returns how
// many it terminated.
func killListeners(tb testing.TB, d *db.DB) int {
	tb.Helper()
	var n int
	const q = `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'rubrica-listener' AND datname = current_database()`
	if err := d.Get(&n, q); err != nil {
		tb.Errorf("terminate listeners: %v", err)
	}
	return n
}

// TestBusListenerKilled kills the bus's LISTEN connection over and over while contacts are
// created: the subscriber still receives every CREATED event exactly once, in order. The
// poll is off, so only the catch-up after each reconnect can recover missed notifications.
func TestBusListenerKilled(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{Poll: time.Hour})
	ctx := newWorkspace(t, env.DB, "kill")
	sub, err := env.Bus.Subscribe(ctx, rubrica.EventFilter{Kind: rubrica.KindContact})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	created := make(chan string, n)
	var kills atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	stopKilling := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(stopKilling)
		defer close(created)
		contacts := env.DB.Services().Contacts
		for i := range n {
			name := fmt.Sprintf("C%03d", i)
			c, err := contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo(name)})
			if err != nil {
				t.Errorf("create %s: %v", name, err)
				return
			}
			created <- c.ID
			if i%10 == 0 {
				time.Sleep(5 * time.Millisecond) // let the listener reconnect in between
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopKilling:
				return
			case <-time.After(15 * time.Millisecond):
			}
			kills.Add(int64(killListeners(t, env.DB)))
		}
	}()

	var want []string
	seen := map[string]bool{}
	var lastSeq int64
	timeout := time.After(2 * wait)
	for i := 0; i < n; i++ {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed after %d events: %v", i, sub.Err())
			}
			for len(want) <= i { // the ids in creation order, as far as created
				id, ok := <-created
				if !ok {
					t.Fatalf("event %d: %s, but only %d contacts were created", i, *e.ContactID, len(want))
				}
				want = append(want, id)
			}
			if e.Type != rubrica.ContactCreated || e.ContactID == nil || seen[*e.ContactID] {
				t.Fatalf("event %d: got %s of %v (seen before: %v), want each CREATED once", i, e.Type, e.ContactID, e.ContactID != nil && seen[*e.ContactID])
			}
			seen[*e.ContactID] = true
			if *e.ContactID != want[i] || e.Seq <= lastSeq {
				t.Fatalf("event %d: contact %s seq %d, want contact %s after seq %d", i, *e.ContactID, e.Seq, want[i], lastSeq)
			}
			lastSeq = e.Seq
		case <-timeout:
			t.Fatalf("got %d of %d events within %v (%d listener connections killed)", i, n, 2*wait, kills.Load())
		}
	}
	wg.Wait()
	// One more after the killing stopped, and nothing in between.
	kills.Add(int64(killListeners(t, env.DB)))
	last, err := env.DB.Services().Contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo("Last")})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, sub); e.ContactID == nil || *e.ContactID != last.ID {
		t.Fatalf("after the kills: got %+v, want the CREATED of %s", e, last.ID)
	}
	nothing(t, sub)
	t.Logf("%d events in order with %d listener connections killed", n+1, kills.Load())
	if kills.Load() < 3 {
		t.Fatalf("killed %d listener connections, want several", kills.Load())
	}
}

// TestBusPrune: events older than the retention are deleted when the bus starts and then as
// often as the retention (at most every 10 minutes); newer ones stay.
func TestBusPrune(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDatabase(t)
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ws := uuid.NewString()
	const insert = `INSERT INTO events (workspace_id, kind, type, created_at) VALUES ($1, 'contact', 'CREATED', now() - $2::interval)`
	for _, age := range []string{"3 days", "25 hours", "2 seconds"} {
		if _, err := d.Exec(insert, ws, age); err != nil {
			t.Fatal(err)
		}
	}
	ages := func() []string {
		var out []string
		if err := d.Select(&out, `SELECT CASE WHEN created_at < now() - interval '1 day' THEN 'old' ELSE 'new' END FROM events ORDER BY seq`); err != nil {
			t.Fatal(err)
		}
		return out
	}
	runBus(t, d, dsn, db.BusConfig{Retention: 24 * time.Hour})
	for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		got := fmt.Sprint(ages())
		if got == "[new]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after a bus started with a retention of 24h: got %s, want only the event of 2 seconds ago", wait, got)
		}
	}

	// A short retention prunes as it goes.
	short := runBus(t, d, dsn, db.BusConfig{Retention: time.Second})
	sub := subscribe(t, short, ws, rubrica.EventFilter{Kind: rubrica.KindContact})
	fresh := event(ws, rubrica.KindContact, rubrica.ContactCreated, uuid.NewString(), nil)
	publish(t, d, fresh)
	wantEvent(t, next(t, sub), fresh) // delivered before it could be pruned
	deadline := time.Now().Add(wait)
	for {
		var n int
		if err := d.Get(&n, `SELECT count(*) FROM events`); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events left %v after they were older than the retention of 1s", n, wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outboxEvent is one row of the outbox, as the ordering tests compare it.
type outboxEvent struct {
	Seq       int64  `db:"seq"`
	ContactID string `db:"contact_id"`
}

// outbox returns the workspace's committed events in seq order.
func outbox(tb testing.TB, d *db.DB, ws string) []outboxEvent {
	tb.Helper()
	var rows []outboxEvent
	if err := d.Select(&rows, `SELECT seq, coalesce(contact_id::text, '') AS contact_id FROM events WHERE workspace_id = $1 ORDER BY seq`, ws); err != nil {
		tb.Fatal(err)
	}
	return rows
}

// receiveAll reads n events from sub, failing the test if they do not come within 2*wait.
func receiveAll(tb testing.TB, sub *rubrica.Subscription, n int) []rubrica.Event {
	tb.Helper()
	got := make([]rubrica.Event, 0, n)
	timeout := time.After(2 * wait)
	for len(got) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				tb.Fatalf("subscription closed after %d of %d events: %v", len(got), n, sub.Err())
			}
			got = append(got, *e)
		case <-timeout:
			tb.Fatalf("got %d of %d events within %v", len(got), n, 2*wait)
		}
	}
	return got
}

// wantOutbox checks that got holds every committed event of the outbox exactly once and, for
// each contact, in the outbox's seq order (its commit order), and returns each contact's seqs.
func wantOutbox(tb testing.TB, got []rubrica.Event, want []outboxEvent) map[string][]int64 {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d events, want the outbox's %d", len(got), len(want))
	}
	contactOf := make(map[int64]string, len(want))
	wantPer := map[string][]int64{}
	for _, w := range want {
		contactOf[w.Seq] = w.ContactID
		wantPer[w.ContactID] = append(wantPer[w.ContactID], w.Seq)
	}
	seen := map[int64]bool{}
	gotPer := map[string][]int64{}
	for _, e := range got {
		c, ok := contactOf[e.Seq]
		if !ok || seen[e.Seq] {
			tb.Fatalf("event seq %d: in the outbox %v, delivered before %v; want each outbox event once", e.Seq, ok, seen[e.Seq])
		}
		seen[e.Seq] = true
		if e.ContactID == nil || *e.ContactID != c {
			tb.Fatalf("event seq %d: contact %v, want %s", e.Seq, e.ContactID, c)
		}
		gotPer[c] = append(gotPer[c], e.Seq)
	}
	for c, seqs := range wantPer {
		if fmt.Sprint(gotPer[c]) != fmt.Sprint(seqs) {
			tb.Fatalf("contact %s: delivered %v, want the commit order %v", c, gotPer[c], seqs)
		}
	}
	return gotPer
}

// burst runs, at once, writers that each update their own contact `updates` times through
// services, writers that update one shared contact, and slow transactions that publish an
// event, wait a few milliseconds and then commit (two in three) or roll back, until all are
// done. It returns the number of slow transactions committed.
func burst(tb testing.TB, ctx context.Context, ws string, pools []*db.DB, updates int) int {
	tb.Helper()
	own := newContacts(tb, pools[0], ctx, 6)
	shared := newContacts(tb, pools[0], ctx, 1)[0]
	slow := newContacts(tb, pools[0], ctx, 2)
	var wg sync.WaitGroup
	var committed atomic.Int64
	update := func(d *db.DB, id, name string) {
		if _, err := d.Services().Contacts.UpdateContact(ctx, id, rubrica.ContactChanges{FirstName: rubrica.SetTo(name)}); err != nil {
			tb.Errorf("update %s: %v", id, err)
		}
	}
	for i, id := range own {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range updates {
				update(pools[i%len(pools)], id, fmt.Sprintf("Own%d", j))
			}
		}()
	}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range updates {
				update(pools[i%len(pools)], shared, fmt.Sprintf("Shared%d-%d", i, j))
			}
		}()
	}
	for i, id := range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := pools[i%len(pools)]
			for j := range updates / 2 {
				tx := begin(tb, d, event(ws, rubrica.KindContact, rubrica.ContactUpdated, id, nil))
				time.Sleep(time.Duration(5+(j*7)%30) * time.Millisecond)
				if j%3 == 2 {
					if err := tx.Rollback(); err != nil {
						tb.Error(err)
					}
					continue
				}
				if err := db.Commit(d, tx); err != nil {
					tb.Error(err)
				}
				committed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(committed.Load())
}

// TestBusBurstListenerKilled: while concurrent writers (some slow, committing after later
// ones or rolling back) publish, the bus's LISTEN connection is killed over and over; with
// the poll off, the subscriber still gets every committed event exactly once, per contact in
// commit order, and nothing of the transactions rolled back.
func TestBusBurstListenerKilled(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{Poll: time.Hour})
	ctx := newWorkspace(t, env.DB, "burst")
	a, _ := rubrica.ActorFromContext(ctx)
	sub, err := env.Bus.Subscribe(ctx, rubrica.EventFilter{Kind: rubrica.KindContact})
	if err != nil {
		t.Fatal(err)
	}
	var kills atomic.Int64
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			kills.Add(int64(killListeners(t, env.DB)))
		}
	}()
	slow := burst(t, ctx, a.WorkspaceID, []*db.DB{env.DB}, 20)
	close(stop)
	<-killed

	want := outbox(t, env.DB, a.WorkspaceID)
	if n := 9 + 8*20 + slow; len(want) != n {
		t.Fatalf("outbox: %d events, want %d (9 created, 160 updated, %d slow ones committed)", len(want), n, slow)
	}
	wantOutbox(t, receiveAll(t, sub, len(want)), want)
	nothing(t, sub)
	t.Logf("%d events, %d listener connections killed", len(want), kills.Load())
	if kills.Load() < 3 {
		t.Fatalf("killed %d listener connections, want several", kills.Load())
	}
}

// TestBusTwoInstances: two instances (a pool and a bus each) write concurrently, some of them
// the same contact; each instance's subscriber gets every event exactly once, and both see
// each contact's events in the same order, its commit order.
func TestBusTwoInstances(t *testing.T) {
	t.Parallel()
	env := startBus(t, db.BusConfig{})
	other, err := db.Open(context.Background(), env.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	otherBus := runBus(t, other, env.DSN, db.BusConfig{})
	ctx := newWorkspace(t, env.DB, "two")
	a, _ := rubrica.ActorFromContext(ctx)
	subs := []*rubrica.Subscription{}
	for _, bus := range []*db.Bus{env.Bus, otherBus} {
		sub, err := bus.Subscribe(ctx, rubrica.EventFilter{Kind: rubrica.KindContact})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	slow := burst(t, ctx, a.WorkspaceID, []*db.DB{env.DB, other}, 10)

	want := outbox(t, env.DB, a.WorkspaceID)
	if n := 9 + 8*10 + slow; len(want) != n {
		t.Fatalf("outbox: %d events, want %d", len(want), n)
	}
	first := wantOutbox(t, receiveAll(t, subs[0], len(want)), want)
	second := wantOutbox(t, receiveAll(t, subs[1], len(want)), want)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("the instances disagree on an order per contact:\n%v\n%v", first, second)
	}
	for _, sub := range subs {
		nothing(t, sub)
	}
}

// TestWakeupsCoalesced: however many transactions commit events, one pool sends at most one
// NOTIFY per NotifyInterval, and at least one after the last commit.
func TestWakeupsCoalesced(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDatabase(t)
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	listener := pq.NewListener(dsn, 10*time.Millisecond, time.Second, nil)
	defer listener.Close()
	if err := listener.Listen(db.EventsChannel); err != nil {
		t.Fatal(err)
	}
	ws := uuid.NewString()
	const writers, each = 16, 25
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				publish(t, d, event(ws, rubrica.KindContact, rubrica.ContactUpdated, uuid.NewString(), nil))
			}
		}()
	}
	wg.Wait()
	// Every wake-up of the burst arrives within a quiet period after the last commit.
	var n int
	for quietUntil := time.Now().Add(quiet); time.Now().Before(quietUntil); {
		select {
		case <-listener.Notify:
			n++
		case <-time.After(time.Until(quietUntil)):
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d commits, %d wake-ups in %v", writers*each, n, elapsed)
	if limit := int(elapsed/db.NotifyInterval) + 1; n < 1 || n > limit {
		t.Fatalf("%d wake-ups for %d commits in %v, want between 1 and %d (one per %v at most)", n, writers*each, elapsed, limit, db.NotifyInterval)
	}
}
