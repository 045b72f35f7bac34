package db

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// notifyInterval is the shortest time between two wake-ups one process sends: a burst of
// commits within it costs one NOTIFY, and delays the events after its first by at most this.
const notifyInterval = 5 * time.Millisecond

// notifyTimeout bounds one NOTIFY; a wake-up that fails is only late, never lost (the
// listeners poll, see BusConfig.Poll).
const notifyTimeout = 2 * time.Second

// notifier wakes every instance's event listener after a transaction that published events
// has committed. It sends the NOTIFY outside the writer's transaction, from one goroutine per
// process, at most once per notifyInterval: writers never wait for it, and PostgreSQL's
// instance-wide lock on the commits of notifying transactions is taken by that one small
// transaction instead of by every writer. The wake-up carries nothing; readers find the
// events in the outbox.
type notifier struct {
	db      *sqlx.DB
	pending chan struct{} // one token: a wake-up is due
	quit    chan struct{}
	start   sync.Once
	stop    sync.Once
	done    chan struct{}
}

func newNotifier(d *sqlx.DB) *notifier {
	return &notifier{db: d, pending: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// wake asks for a NOTIFY soon and returns at once; wake-ups that arrive while one is due or
// being sent are one.
func (n *notifier) wake() {
	n.start.Do(func() { go n.run() })
	select {
	case n.pending <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.quit:
			select { // the last commits before Close still wake the others
			case <-n.pending:
				n.send()
			default:
			}
			return
		case <-n.pending:
			n.send()
			time.Sleep(notifyInterval)
		}
	}
}

func (n *notifier) send() {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if _, err := n.db.ExecContext(ctx, `SELECT pg_notify($1, '')`, eventsChannel); err != nil {
		slog.Warn("event wake-up", "err", err)
	}
}

// close sends a due wake-up and stops the goroutine, if it ever started.
func (n *notifier) close() {
	n.stop.Do(func() {
		close(n.quit)
		started := true
		n.start.Do(func() { started = false })
		if started {
			<-n.done
		}
	})
}
