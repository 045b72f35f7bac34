package db

import (
	"context"

	"github.com/jmoiron/sqlx"

	"rubrica"
)

// Publish is publish, for the tests of package db_test.
func Publish(ctx context.Context, tx *sqlx.Tx, events ...rubrica.Event) error {
	return publish(ctx, tx, events...)
}
