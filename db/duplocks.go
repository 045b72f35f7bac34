package db

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sync"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Suggestion refreshes lock what they read, not the workspace.
//
// A refresh (refreshDuplicates) reads a closure: the changed contacts, the contacts that share
// a duplicate value with them, transitively, and the open suggestions any of those are in. It
// holds, until commit, one advisory lock per duplicate value and per suggestion of that closure
// (dupLocks), and the workspace's duplicates lock in shared mode. Operator actions that
// rewrite suggestions wholesale (merges, undos, dismissals, the rebuild) take the workspace
// lock exclusively (lockDuplicates) and so wait for every refresh and stop all of them.
//
// Why incremental still equals rebuild. Every transaction that changes a contact's values
// holds the locks of the contact's old and new values when it refreshes, and every refresh
// that writes a suggestion holds the locks of the values of all its contacts and of the
// suggestion. A refresh reads its closure only once it holds every lock of that closure (a
// pass that finds a value or suggestion it does not hold yet takes it and reads again), so
// anything another transaction changed in the closure was either committed before the read
// (and is seen: READ COMMITTED reads the latest commit per statement) or is still waiting for
// a lock this refresh holds (and will read this refresh's result). Two changes whose closures
// meet only once both commit still meet in a lock: the path between them crosses a value one
// of them added or removed, which both hold. So the refreshes over any one group run one
// after the other, each from the state the previous one committed, exactly as under one
// workspace lock; refreshes over disjoint groups run at once.
//
// Bounded. PostgreSQL's lock table is shared and sized for some 64 locks per connection: a
// refresh that would need more than maxDupLocks (a shared line or mailbox, a batch of a
// delete-all job) runs again holding the workspace's lock exclusively instead, as every
// refresh did before.
//
// Deadlocks. A transaction only ever waits for a value lock larger (as an int64) than every
// value lock it holds: the first locks are taken in ascending order, later ones above the
// largest held are too, and those below it are only tried (pg_try_advisory_xact_lock). So no
// cycle of waits exists. A try that fails rolls the whole transaction back with
// errLockOrder, and inTx runs it again taking every lock it needed at once, in order.

// dupLocks are the suggestion locks one transaction holds.
type dupLocks struct {
	workspaceID string
	held        map[int64]bool
	max         int64 // the largest held; meaningful when held is not empty
	wait        bool  // the last attempt: wait for every lock (PostgreSQL's deadlock check is the backstop)
	exclusive   bool  // holds the workspace's lock exclusively: needs no other
}

// maxDupLocks is the most value and suggestion locks one refresh takes.
const maxDupLocks = 100

// maxLockAttempts is how many times inTx runs a transaction that failed on lock order.
const maxLockAttempts = 6

// errLockOrder is a refresh that needed a lock below one it held while another transaction
// held it, or more than maxDupLocks (exclusive). ids are every lock the refresh needed, for
// the next attempt to take first.
type errLockOrder struct {
	ids       []int64
	exclusive bool
}

func (e *errLockOrder) Error() string {
	return fmt.Sprintf("db: %d duplicate locks needed out of order", len(e.ids))
}

// lockHints are, per transaction, the locks a previous attempt needed (set by inTx).
var lockHints sync.Map // *sqlx.Tx -> lockHint

type lockHint struct {
	ids       []int64
	wait      bool
	exclusive bool
}

// dupLockID is the advisory lock id of a lock name in a workspace.
func dupLockID(workspaceID, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(workspaceID))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// valueLockName and suggestionLockName name the locks of a duplicate key and a suggestion.
func valueLockName(key string) string     { return "value:" + key }
func suggestionLockName(id string) string { return "suggestion:" + id }

// lockDuplicates stops every suggestion refresh of the workspace until commit, for the
// operator actions that rewrite suggestions they did not read through a closure and for
// refreshes too large for value locks. Take it
// before publish (the events lock) in any transaction that takes both.
func lockDuplicates(ctx context.Context, tx *sqlx.Tx, workspaceID string) error {
	return lockKey(ctx, tx, "duplicates:"+workspaceID)
}

// startDupLocks takes the workspace's duplicates lock in shared mode, then the named locks
// and those a previous attempt of the transaction needed, in order, in one statement
// (firstLocksSQL).
func startDupLocks(ctx context.Context, tx *sqlx.Tx, workspaceID string, names []string) (*dupLocks, error) {
	l, ids := planDupLocks(tx, workspaceID, names)
	if l.exclusive {
		return l, lockDuplicates(ctx, tx, workspaceID)
	}
	q := `SELECT count(*) FROM (` + firstLocksSQL("$1", "$2") + `) AS locks`
	args := []any{"duplicates:" + workspaceID, pq.Array(ids)}
	if len(ids) == 0 { // still shared with operators, which rewrite what it reads
		q, args = `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`, args[:1]
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return nil, fmt.Errorf("db: lock duplicates: %w", err)
	}
	l.hold(ids)
	return l, nil
}

// firstLocksSQL takes the duplicates lock of a workspace (ws names "duplicates:" and its id)
// in shared mode and the value and suggestion locks ids (bigint[]), in order: a target list
// is evaluated left to right, unnest returns its array in order. Nothing when ids is empty.
func firstLocksSQL(ws, ids string) string {
	return `SELECT pg_advisory_xact_lock_shared(hashtextextended(` + ws + `, 0)), pg_advisory_xact_lock(k)
		FROM unnest(CAST(` + ids + ` AS bigint[])) AS k`
}

// planDupLocks returns the first locks of a refresh of names in tx: the named locks and those
// a previous attempt of the transaction needed, sorted, to take with firstLocksSQL and then
// hold; or, when they are too many or a previous attempt says so, the exclusive mode.
func planDupLocks(tx *sqlx.Tx, workspaceID string, names []string) (*dupLocks, []int64) {
	l := &dupLocks{workspaceID: workspaceID, held: map[int64]bool{}}
	ids := make([]int64, 0, len(names))
	if v, ok := lockHints.Load(tx); ok {
		hint := v.(lockHint)
		l.wait, l.exclusive = hint.wait, hint.exclusive
		ids = append(ids, hint.ids...)
	}
	for _, n := range names {
		ids = append(ids, dupLockID(workspaceID, n))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if l.exclusive || len(ids) > maxDupLocks {
		l.exclusive = true
		return l, nil
	}
	return l, ids
}

// hold records ids, taken in ascending order, as held.
func (l *dupLocks) hold(ids []int64) {
	for _, id := range ids {
		l.held[id] = true
	}
	if len(ids) > 0 {
		l.max = ids[len(ids)-1]
	}
}

// missing returns the names of locks not held yet.
func (l *dupLocks) missing(names []string) []string {
	if l.exclusive {
		return nil
	}
	var out []string
	for _, n := range names {
		if !l.held[dupLockID(l.workspaceID, n)] {
			out = append(out, n)
		}
	}
	return out
}

// take takes the named locks: those above the largest held by waiting, in order; those below
// it by trying, failing with errLockOrder.
func (l *dupLocks) take(ctx context.Context, tx *sqlx.Tx, names []string) error {
	ids := make([]int64, 0, len(names))
	for _, n := range names {
		ids = append(ids, dupLockID(l.workspaceID, n))
	}
	return l.takeIDs(ctx, tx, ids)
}

func (l *dupLocks) takeIDs(ctx context.Context, tx *sqlx.Tx, ids []int64) error {
	if l.exclusive {
		return nil
	}
	var below, above []int64
	for _, id := range ids {
		switch {
		case l.held[id]:
		case len(l.held) > 0 && id < l.max && !l.wait:
			below = append(below, id)
		default:
			above = append(above, id)
		}
	}
	slices.Sort(below)
	below = slices.Compact(below)
	slices.Sort(above)
	above = slices.Compact(above)
	if len(l.held)+len(below)+len(above) > maxDupLocks {
		return &errLockOrder{exclusive: true}
	}
	if len(below) > 0 {
		var ok bool
		if err := tx.GetContext(ctx, &ok, `SELECT bool_and(pg_try_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k`, pq.Array(below)); err != nil {
			return fmt.Errorf("db: lock duplicate values: %w", err)
		}
		if !ok {
			all := append(slices.Collect(maps.Keys(l.held)), ids...)
			return &errLockOrder{ids: all}
		}
	}
	if len(above) > 0 {
		// unnest returns the array's elements in order, so the locks are taken in order.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, pq.Array(above)); err != nil {
			return fmt.Errorf("db: lock duplicate values: %w", err)
		}
	}
	for _, id := range append(below, above...) {
		if len(l.held) == 0 || id > l.max {
			l.max = id
		}
		l.held[id] = true
	}
	return nil
}

// retryLockOrder runs attempt (one whole transaction) until it does not fail on lock order,
// each new attempt taking first the locks the previous one needed; the last waits for all.
func retryLockOrder(attempt func(hint *lockHint) error) error {
	var hint *lockHint
	for n := 1; ; n++ {
		err := attempt(hint)
		var lo *errLockOrder
		if !errors.As(err, &lo) || n == maxLockAttempts {
			return err
		}
		hint = &lockHint{ids: lo.ids, wait: n == maxLockAttempts-1, exclusive: lo.exclusive}
	}
}
