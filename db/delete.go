package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// DeleteService implements rubrica.DeleteService.
type DeleteService struct {
	db *DB
}

var _ rubrica.DeleteService = (*DeleteService)(nil)

// expectedCountError refuses a deletion whose confirmation does not match.
func expectedCountError(expected, selected int) error {
	return rubrica.InvalidField("expectedCount", "expectedCount is %d but %d contacts are selected: nothing was deleted.", expected, selected)
}

// DeleteContacts deletes the selected contacts in one transaction; owners and managers only.
// The contacts go with their channel links, conversations, messages, tag links, custom values
// and workflow runs (the foreign keys cascade). Each gets a DELETED event.
func (s *DeleteService) DeleteContacts(ctx context.Context, sel rubrica.ContactSelection, expectedCount int) ([]string, error) {
	a, err := rubrica.RequireManager(ctx, "delete contacts")
	if err != nil {
		return nil, err
	}
	if err := sel.Validate("contactIds"); err != nil {
		return nil, err
	}
	if sel.Filter == nil {
		if n := len(uniq(sel.IDs)); n != expectedCount {
			return nil, expectedCountError(expectedCount, n)
		}
	}
	var deleted []string
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		ids, err := selectContactIDs(ctx, tx, a.WorkspaceID, sel, "contactIds", selectionLimit{}, true)
		if err != nil {
			return err
		}
		if len(ids) != expectedCount {
			return expectedCountError(expectedCount, len(ids))
		}
		if deleted, err = deleteContacts(ctx, tx, a.WorkspaceID, ids); err != nil {
			return err
		}
		events := make([]rubrica.Event, len(deleted))
		for i, id := range deleted {
			events[i] = newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactDeleted, id, nil)
		}
		return publish(ctx, tx, events...)
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

// deleteContacts deletes those of the ids the workspace still has, which the caller has
// locked in id order, and brings the merge suggestions up to date. It returns the ids deleted.
func deleteContacts(ctx context.Context, tx *sqlx.Tx, workspaceID string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var deleted []string
	if err := tx.SelectContext(ctx, &deleted, `DELETE FROM contacts WHERE id = ANY($1) AND workspace_id = $2 RETURNING id`,
		pq.Array(ids), workspaceID); err != nil {
		return nil, fmt.Errorf("db: delete contacts: %w", err)
	}
	if len(deleted) == 0 {
		return nil, nil
	}
	// The suggestions the contacts were in shrink or resolve.
	if err := refreshDuplicates(ctx, tx, workspaceID, deleted); err != nil {
		return nil, err
	}
	return deleted, nil
}

// jobsChannel is the NOTIFY channel that wakes the job workers of every instance.
const jobsChannel = "rubrica_jobs"

// DeleteAllContacts creates a job that deletes every contact the workspace has now; owners
// and managers only. The job records the contacts' ids (contacts created later stay), so
// expectedCount is checked against exactly what the job will delete. A job worker runs it.
func (s *DeleteService) DeleteAllContacts(ctx context.Context, expectedCount int) (*rubrica.Job, error) {
	a, err := rubrica.RequireManager(ctx, "delete contacts")
	if err != nil {
		return nil, err
	}
	var job *rubrica.Job
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row jobRow
		const insert = `INSERT INTO jobs AS j (workspace_id, kind, status, created_by) VALUES ($1, 'DELETE_ALL_CONTACTS', 'QUEUED', $2)
			ON CONFLICT (workspace_id) WHERE kind = 'DELETE_ALL_CONTACTS' AND status IN ('QUEUED', 'RUNNING') DO NOTHING
			RETURNING ` + jobColumns
		if err := tx.GetContext(ctx, &row, insert, a.WorkspaceID, a.MemberID); errors.Is(err, sql.ErrNoRows) {
			return &rubrica.Error{Code: rubrica.ECONFLICT, Message: "A job deleting all contacts is already running in this workspace: follow it with jobEvents or job(id)."}
		} else if err != nil {
			return fmt.Errorf("db: insert job: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO job_items (job_id, item_id) SELECT $1, id FROM contacts WHERE workspace_id = $2`, row.ID, a.WorkspaceID)
		if err != nil {
			return fmt.Errorf("db: record the contacts to delete: %w", err)
		}
		n, _ := res.RowsAffected()
		if int(n) != expectedCount {
			return rubrica.InvalidField("expectedCount", "expectedCount is %d but the workspace has %d contacts: nothing was deleted.", expectedCount, n)
		}
		if err := tx.GetContext(ctx, &row, `UPDATE jobs j SET total = $2 WHERE id = $1 RETURNING `+jobColumns, row.ID, n); err != nil {
			return fmt.Errorf("db: job total: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, jobsChannel); err != nil {
			return fmt.Errorf("db: wake job workers: %w", err)
		}
		job = row.job()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}
