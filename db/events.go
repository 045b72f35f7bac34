package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// eventsChannel is the NOTIFY channel that wakes every instance's listener.
const eventsChannel = "rubrica_events"

// How events flow, and why delivery is lossless, exactly once and in order per contact
// without a lock shared by all writers:
//
// Writing. publish inserts the events in the causing transaction, so an event exists exactly
// when its change committed (a rollback leaves nothing to read). Each row records its writer's
// top-level transaction id (xid, pg_current_xact_id()) and draws seq from a sequence at its
// insert. Before drawing seq, publish holds the row lock of every contact its events are about
// (FOR NO KEY UPDATE, a no-op when the transaction already locked or changed the contact, as
// every service does) until commit. So for two transactions A and B with events about the same
// contact the spans [lock, commit] are disjoint, and seq(A) < seq(B) exactly when A committed
// before B drew seq(B): per contact, seq order is commit order. The same holds for the events
// about a job or a suggestion, whose writers update its row before they publish. Writers of
// different contacts share nothing: no advisory lock, no NOTIFY in their transaction.
//
// Waking. After a successful commit the writer's process wakes its notifier, which sends one
// NOTIFY outside any writer's transaction, at most once per notifyInterval (see notifier). The
// wake-up carries nothing; a lost one (a crash between commit and NOTIFY, a failed NOTIFY, a
// dropped LISTEN connection) only delays delivery until the next notification, the listener's
// reconnect or the poll.
//
// Reading. A bus remembers the snapshot of its last read, S (pg_current_snapshot(): xmax and
// the xids in progress, xip). A committed transaction is visible in S exactly when its xid is
// below xmax(S) and not in xip(S). Each read takes a new snapshot S' (one REPEATABLE READ
// transaction) and selects, in S', the events with xid >= xmax(S) or xid in xip(S): exactly
// the events of the transactions that S did not see and S' does. Then S' replaces S. Hence:
//   - lossless: an event visible in S' was either visible in S (delivered by an earlier read)
//     or is selected now. A transaction that commits late, after many later ones, stays in xip
//     of every snapshot taken while it runs, so it is never skipped however its seq compares;
//   - exactly once: an event is selected by the one read whose snapshot first sees it;
//   - in order per contact: if A committed before B drew its seq (in particular, A and B are
//     about the same contact and A committed first), any snapshot that sees B sees A, so A is
//     delivered in the same read as B or an earlier one, and within a read events go in seq
//     order, where seq(A) < seq(B). Only transactions that overlap (neither committed before
//     the other wrote its events) may be delivered in an order other than their commit order,
//     and they are never about the same contact.
// A read that fails leaves S unchanged and delivers nothing, so the next one starts from S.
// Each instance reads with its own S, so this holds on every instance, whoever wrote.

// publishedTxs holds the transactions that published events and have not ended yet
// (*sqlx.Tx → struct{}), so that the commit in DB.commit knows to wake the listeners.
var publishedTxs sync.Map

// newEvent returns an event of the workspace about a contact and an optional subject.
func newEvent(workspaceID string, kind rubrica.EventKind, typ, contactID string, subjectID *string) rubrica.Event {
	e := rubrica.Event{WorkspaceID: workspaceID, Kind: kind, Type: typ, SubjectID: subjectID}
	if contactID != "" {
		e.ContactID = &contactID
	}
	return e
}

// publish writes events into the outbox in the caller's transaction; DB.commit wakes the
// listeners once the transaction committed. It locks the events' contacts until commit
// (see above). Two statements write their events themselves, in the statement of their
// change, to save a round trip: updateOwnFieldsSQL (its update locks the contact first) and
// firstMessageSQL (its contact is new); each says why its events are in order.
func publish(ctx context.Context, tx *sqlx.Tx, events ...rubrica.Event) error {
	if len(events) == 0 {
		return nil
	}
	ws, kinds, types := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	contacts, subjects := make([]sql.NullString, len(events)), make([]sql.NullString, len(events))
	for i, e := range events {
		ws[i], kinds[i], types[i] = e.WorkspaceID, string(e.Kind), e.Type
		if e.ContactID != nil {
			contacts[i] = sql.NullString{String: *e.ContactID, Valid: true}
		}
		if e.SubjectID != nil {
			subjects[i] = sql.NullString{String: *e.SubjectID, Valid: true}
		}
	}
	// The lock is an InitPlan: it runs before the first row draws its seq.
	const q = `WITH locked AS (SELECT id FROM contacts WHERE id = ANY($4::uuid[]) ORDER BY id FOR NO KEY UPDATE)
		INSERT INTO events (workspace_id, kind, type, contact_id, subject_id)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[])
		WHERE (SELECT count(*) FROM locked) >= 0`
	if _, err := tx.ExecContext(ctx, q, pq.Array(ws), pq.Array(kinds), pq.Array(types), pq.Array(contacts), pq.Array(subjects)); err != nil {
		return fmt.Errorf("db: insert events: %w", err)
	}
	publishedTxs.Store(tx, struct{}{})
	return nil
}

// maxPruneInterval is how often a bus prunes the outbox at most; a shorter retention prunes
// as often as its retention.
const maxPruneInterval = 10 * time.Minute

// BusConfig tunes an event bus.
type BusConfig struct {
	Buffer    int           // events a subscriber may fall behind before it is dropped (default 256)
	Retention time.Duration // how long the outbox keeps events (default 24h)
	Poll      time.Duration // a read even without a wake-up: the bound on a lost one's delay (default 1s)
	Logger    *slog.Logger
}

// Bus is one server instance's end of the event flow: one LISTEN connection, reading the
// events of the transactions committed since its last read and fanning them out to the local
// subscribers of each workspace (see "How events flow" above). After the listener reconnects
// it reads on from the snapshot of its last read, so no event is lost or delivered twice
// across a dropped connection. It implements rubrica.EventService.
type Bus struct {
	db  *DB
	dsn string
	cfg BusConfig

	seen snapshot // the snapshot of the last read; only Run's goroutine uses it

	mu       sync.Mutex
	subs     map[string]map[*subscriber]struct{} // by workspace
	watchers map[*func(*rubrica.Event)]struct{}  // of auth events, of every workspace
	stopped  bool
	ready    chan struct{}
}

type subscriber struct {
	filter rubrica.EventFilter
	ch     chan *rubrica.Event
	err    error // why ch was closed; guarded by Bus.mu
}

var (
	_ rubrica.EventService      = (*Bus)(nil)
	_ rubrica.RevocationWatcher = (*Bus)(nil)
)

// WithDefaults returns c with its unset numbers and durations set to their defaults (the
// Logger stays as it is).
func (c BusConfig) WithDefaults() BusConfig {
	if c.Buffer <= 0 {
		c.Buffer = 256
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	return c
}

// NewBus returns a bus reading the database at dsn (the listener needs a connection of its
// own). Run must be running for subscribers to receive anything.
func NewBus(d *DB, dsn string, cfg BusConfig) *Bus {
	cfg = cfg.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Bus{db: d, dsn: dsn, cfg: cfg, subs: map[string]map[*subscriber]struct{}{},
		watchers: map[*func(*rubrica.Event)]struct{}{}, ready: make(chan struct{})}
}

// listenerDSN names the listener's connection, so that operators (and a test) can find it.
func listenerDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " application_name=rubrica-listener"
	}
	q := u.Query()
	q.Set("application_name", "rubrica-listener")
	u.RawQuery = q.Encode()
	return u.String()
}

// Run listens and delivers until ctx ends; then it closes every subscription.
func (b *Bus) Run(ctx context.Context) error {
	defer b.stop()
	var start string
	if err := b.db.GetContext(ctx, &start, `SELECT pg_current_snapshot()::text`); err != nil {
		return fmt.Errorf("db: events: %w", err)
	}
	var err error
	if b.seen, err = parseSnapshot(start); err != nil {
		return fmt.Errorf("db: events: %w", err)
	}
	listener := pq.NewListener(listenerDSN(b.dsn), 50*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			b.cfg.Logger.Warn("event listener", "event", ev, "err", err)
		}
	})
	defer listener.Close()
	if err := listener.Listen(eventsChannel); err != nil {
		return fmt.Errorf("db: listen: %w", err)
	}
	close(b.ready)
	poll := time.NewTicker(b.cfg.Poll)
	defer poll.Stop()
	prune := time.NewTicker(min(maxPruneInterval, b.cfg.Retention))
	defer prune.Stop()
	b.prune(ctx)
	for {
		// A notification (nil after a reconnect), a poll or a prune: read on from b.seen.
		select {
		case <-ctx.Done():
			return nil
		case <-listener.Notify:
		case <-poll.C:
		case <-prune.C:
			b.prune(ctx)
		}
		if err := b.catchUp(ctx); err != nil && ctx.Err() == nil {
			b.cfg.Logger.Warn("event catch-up", "err", err)
		}
	}
}

// catchUp delivers the events of the transactions committed since the last read, in seq
// order, and moves b.seen on.
func (b *Bus) catchUp(ctx context.Context) error {
	events, next, err := b.readSince(ctx, b.seen)
	if err != nil {
		return err
	}
	for _, e := range events {
		b.deliver(e)
	}
	b.seen = next
	return nil
}

// readSince returns the events that the snapshot seen did not see and a new snapshot sees,
// in seq order, and that new snapshot. They are the events of the transactions committed
// between two reads, a few milliseconds apart while the listener runs.
func (b *Bus) readSince(ctx context.Context, seen snapshot) ([]*rubrica.Event, snapshot, error) {
	tx, err := b.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, snapshot{}, fmt.Errorf("db: read events: %w", err)
	}
	defer tx.Rollback()
	var text string // the transaction's snapshot: taken by its first statement, used by both
	if err := tx.GetContext(ctx, &text, `SELECT pg_current_snapshot()::text`); err != nil {
		return nil, snapshot{}, fmt.Errorf("db: read events: snapshot: %w", err)
	}
	next, err := parseSnapshot(text)
	if err != nil {
		return nil, snapshot{}, fmt.Errorf("db: read events: %w", err)
	}
	var rows []struct {
		Seq         int64          `db:"seq"`
		WorkspaceID string         `db:"workspace_id"`
		Kind        string         `db:"kind"`
		Type        string         `db:"type"`
		ContactID   sql.NullString `db:"contact_id"`
		SubjectID   sql.NullString `db:"subject_id"`
		CreatedAt   time.Time      `db:"created_at"`
	}
	q := `SELECT seq, workspace_id, kind, type, contact_id, subject_id, created_at FROM events WHERE ` +
		seen.unseen() + ` ORDER BY seq`
	if err := tx.SelectContext(ctx, &rows, q); err != nil {
		return nil, snapshot{}, fmt.Errorf("db: read events: %w", err)
	}
	events := make([]*rubrica.Event, len(rows))
	for i, r := range rows {
		events[i] = &rubrica.Event{Seq: r.Seq, WorkspaceID: r.WorkspaceID, Kind: rubrica.EventKind(r.Kind), Type: r.Type,
			ContactID: nullable(r.ContactID), SubjectID: nullable(r.SubjectID), CreatedAt: r.CreatedAt}
	}
	return events, next, nil
}

// snapshot is a pg_snapshot as a reader needs it: a committed transaction is visible in it
// exactly when its xid is below xmax and not in xip.
type snapshot struct {
	xmax uint64
	xip  []uint64
}

// parseSnapshot reads pg_snapshot's text form, "xmin:xmax:xip,xip,...".
func parseSnapshot(text string) (snapshot, error) {
	parts := strings.Split(text, ":")
	if len(parts) != 3 {
		return snapshot{}, fmt.Errorf("snapshot %q: want xmin:xmax:xip", text)
	}
	var s snapshot
	var err error
	if s.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return snapshot{}, fmt.Errorf("snapshot %q: xmax: %w", text, err)
	}
	for _, x := range strings.Split(parts[2], ",") {
		if x == "" {
			continue
		}
		xid, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return snapshot{}, fmt.Errorf("snapshot %q: xip: %w", text, err)
		}
		s.xip = append(s.xip, xid)
	}
	return s, nil
}

// unseen is the condition on events.xid that selects the events of the transactions s did
// not see. Its numbers are written into the statement, not passed as parameters, so that
// every read is planned for them (two index range/lookups on events_xid): a generic plan of a
// prepared statement would not know how few rows they select.
func (s snapshot) unseen() string {
	var b strings.Builder
	fmt.Fprintf(&b, "(xid >= '%d'::xid8", s.xmax)
	if len(s.xip) > 0 {
		b.WriteString(" OR xid = ANY('{")
		for i, x := range s.xip {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(x, 10))
		}
		b.WriteString("}'::xid8[])")
	}
	b.WriteByte(')')
	return b.String()
}

// deliver hands an event to the matching subscribers without ever blocking: one whose buffer
// is full is dropped with ErrSubscriberTooSlow. An auth event goes to the watchers.
func (b *Bus) deliver(e *rubrica.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Kind == rubrica.KindAuth {
		for fn := range b.watchers {
			(*fn)(e)
		}
	}
	for s := range b.subs[e.WorkspaceID] {
		if !s.filter.Matches(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			b.dropLocked(e.WorkspaceID, s, rubrica.ErrSubscriberTooSlow)
		}
	}
}

func (b *Bus) dropLocked(workspaceID string, s *subscriber, err error) {
	if _, ok := b.subs[workspaceID][s]; !ok {
		return
	}
	delete(b.subs[workspaceID], s)
	if len(b.subs[workspaceID]) == 0 {
		delete(b.subs, workspaceID)
	}
	s.err = err
	close(s.ch)
}

func (b *Bus) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	for ws, subs := range b.subs {
		for s := range subs {
			b.dropLocked(ws, s, rubrica.ErrEventsStopped)
		}
	}
}

func (b *Bus) prune(ctx context.Context) {
	res, err := b.db.ExecContext(ctx, `DELETE FROM events WHERE created_at < now() - make_interval(secs => $1)`, b.cfg.Retention.Seconds())
	if err != nil {
		b.cfg.Logger.Warn("event pruning", "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		b.cfg.Logger.Info("pruned old events", "count", n)
	}
}

// Subscribe delivers the actor's workspace's events that match f, from now on, until ctx
// ends or the subscriber falls Buffer events behind.
func (b *Bus) Subscribe(ctx context.Context, f rubrica.EventFilter) (*rubrica.Subscription, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	select {
	case <-b.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &subscriber{filter: f, ch: make(chan *rubrica.Event, b.cfg.Buffer)}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil, rubrica.ErrEventsStopped
	}
	if b.subs[a.WorkspaceID] == nil {
		b.subs[a.WorkspaceID] = map[*subscriber]struct{}{}
	}
	b.subs[a.WorkspaceID][s] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		b.dropLocked(a.WorkspaceID, s, ctx.Err())
		b.mu.Unlock()
	}()
	return &rubrica.Subscription{C: s.ch, Err: func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		return s.err
	}}, nil
}

// Subscribers counts the subscriptions this instance serves (for metrics and tests).
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, subs := range b.subs {
		n += len(subs)
	}
	return n
}

// WatchRevocations calls fn with every auth event (a token revoked, a member removed) of every
// workspace from now on, until stop is called. fn runs on the bus's loop, under its lock: it
// must return at once and not call the bus.
func (b *Bus) WatchRevocations(fn func(*rubrica.Event)) (stop func()) {
	key := &fn
	b.mu.Lock()
	b.watchers[key] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.watchers, key)
		b.mu.Unlock()
	}
}
