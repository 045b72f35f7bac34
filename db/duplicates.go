package db

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// refreshDuplicates brings the merge suggestions up to date after a change to the given
// contacts (created, edited, merged, unmerged, blocked, unblocked or deleted), in the change's
// own transaction. oldValues are the phones and emails the contacts held before the change, so
// groups they left are updated too. Its work is proportional to the contacts that share those
// values, never to the workspace's size.
func refreshDuplicates(ctx context.Context, tx *sqlx.Tx, workspaceID string, contactIDs []string, oldValues ...string) error {
	// Issue 5 fills this in; every change that can matter already calls it.
	return nil
}
