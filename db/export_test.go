package db

import (
	"context"

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
