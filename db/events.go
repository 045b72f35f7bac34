package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// eventsChannel is the NOTIFY channel that wakes every instance's listener.
const eventsChannel = "rubrica_events"

// eventsLock is the advisory lock event writers hold from their insert to their commit, so
// that seq follows commit order and a reader that has seen seq N has seen every event below.
// Writers serialise only over that short tail of their transaction.
const eventsLock = 7272001

// newEvent returns an event of the workspace about a contact and an optional subject.
func newEvent(workspaceID string, kind rubrica.EventKind, typ, contactID string, subjectID *string) rubrica.Event {
	e := rubrica.Event{WorkspaceID: workspaceID, Kind: kind, Type: typ, SubjectID: subjectID}
	if contactID != "" {
		e.ContactID = &contactID
	}
	return e
}

// publish writes events into the outbox in the caller's transaction and wakes the listeners
// when it commits. Call it last in the transaction.
func publish(ctx context.Context, tx *sqlx.Tx, events ...rubrica.Event) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1), pg_notify($2, '')`, eventsLock, eventsChannel); err != nil {
		return fmt.Errorf("db: lock events: %w", err)
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
	const q = `INSERT INTO events (workspace_id, kind, type, contact_id, subject_id)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[])`
	if _, err := tx.ExecContext(ctx, q, pq.Array(ws), pq.Array(kinds), pq.Array(types), pq.Array(contacts), pq.Array(subjects)); err != nil {
		return fmt.Errorf("db: insert events: %w", err)
	}
	return nil
}

// maxPruneInterval is how often a bus prunes the outbox at most; a shorter retention prunes
// as often as its retention.
const maxPruneInterval = 10 * time.Minute

// BusConfig tunes an event bus.
type BusConfig struct {
	Buffer    int           // events a subscriber may fall behind before it is dropped (default 256)
	Retention time.Duration // how long the outbox keeps events (default 24h)
	Poll      time.Duration // a catch-up read even without notifications (default 30s)
	Logger    *slog.Logger
}

// Bus is one server instance's end of the event flow: one LISTEN connection, reading new
// events in seq order and fanning them out to the local subscribers of each workspace. After
// the listener reconnects it reads on from the last seq it delivered, so no event is lost or
// delivered twice across a dropped connection. It implements rubrica.EventService.
type Bus struct {
	db  *DB
	dsn string
	cfg BusConfig

	mu       sync.Mutex
	subs     map[string]map[*subscriber]struct{} // by workspace
	watchers map[*func(*rubrica.Event)]struct{}  // of auth events, of every workspace
	lastSeq  int64
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
		c.Poll = 30 * time.Second
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
	if err := b.db.GetContext(ctx, &b.lastSeq, `SELECT coalesce(max(seq), 0) FROM events`); err != nil {
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
		// A notification (nil after a reconnect), a poll or a prune: read on from lastSeq.
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

// catchUp delivers every event after lastSeq.
func (b *Bus) catchUp(ctx context.Context) error {
	for {
		var rows []struct {
			Seq         int64          `db:"seq"`
			WorkspaceID string         `db:"workspace_id"`
			Kind        string         `db:"kind"`
			Type        string         `db:"type"`
			ContactID   sql.NullString `db:"contact_id"`
			SubjectID   sql.NullString `db:"subject_id"`
			CreatedAt   time.Time      `db:"created_at"`
		}
		const q = `SELECT seq, workspace_id, kind, type, contact_id, subject_id, created_at FROM events WHERE seq > $1 ORDER BY seq LIMIT 1000`
		if err := b.db.SelectContext(ctx, &rows, q, b.lastSeq); err != nil {
			return fmt.Errorf("db: read events: %w", err)
		}
		for _, r := range rows {
			b.deliver(&rubrica.Event{Seq: r.Seq, WorkspaceID: r.WorkspaceID, Kind: rubrica.EventKind(r.Kind), Type: r.Type,
				ContactID: nullable(r.ContactID), SubjectID: nullable(r.SubjectID), CreatedAt: r.CreatedAt})
		}
		if len(rows) < 1000 {
			return nil
		}
	}
}

// deliver hands an event to the matching subscribers without ever blocking: one whose buffer
// is full is dropped with ErrSubscriberTooSlow. An auth event goes to the watchers.
func (b *Bus) deliver(e *rubrica.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastSeq = e.Seq
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
