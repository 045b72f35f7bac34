package db

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"

	"rubrica"
)

// Commit is DB.commit (which wakes the listeners of a transaction that published), for the
// tests of package db_test.
func Commit(d *DB, tx *sqlx.Tx) error {
	return d.commit(tx)
}

// Publish is publish, for the tests of package db_test.
func Publish(ctx context.Context, tx *sqlx.Tx, events ...rubrica.Event) error {
	return publish(ctx, tx, events...)
}

// EventsChannel and NotifyInterval are eventsChannel and notifyInterval, for the tests.
const (
	EventsChannel  = eventsChannel
	NotifyInterval = notifyInterval
)

// HoldRefresh creates a contact with the phone in a transaction and refreshes the workspace's
// suggestions, holding the transaction (and its locks) open until commit is called.
func HoldRefresh(ctx context.Context, d *DB, phone string) (commit func() error, err error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	c := &rubrica.Contact{WorkspaceID: a.WorkspaceID}
	if err := rubrica.ApplyContactChanges(c, rubrica.ContactChanges{Phone: rubrica.SetTo(phone)}); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := insertContact(ctx, tx, c); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := refreshDuplicates(ctx, tx, a.WorkspaceID, []string{c.ID}); err != nil {
		tx.Rollback()
		return nil, err
	}
	return func() error { return d.commit(tx) }, nil
}

// TakeDuplicateLocks takes suggestion locks by id in tx, in one call per slice, as a refresh
// does; a previous attempt's hint (see InTx) is taken first.
func TakeDuplicateLocks(ctx context.Context, tx *sqlx.Tx, workspaceID string, ids ...[]int64) error {
	l, err := startDupLocks(ctx, tx, workspaceID, nil)
	if err != nil {
		return err
	}
	for _, s := range ids {
		if err := l.takeIDs(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

// LockOrderIDs reports whether err is a refresh's lock-order failure, and the locks it needed.
func LockOrderIDs(err error) ([]int64, bool) {
	var lo *errLockOrder
	if errors.As(err, &lo) {
		return lo.ids, true
	}
	return nil, false
}

// InTx is DB.inTx.
func InTx(ctx context.Context, d *DB, fn func(tx *sqlx.Tx) error) error {
	return d.inTx(ctx, fn)
}
