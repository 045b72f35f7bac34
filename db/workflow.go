package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// WorkflowService implements rubrica.WorkflowService.
type WorkflowService struct {
	db *DB
}

var _ rubrica.WorkflowService = (*WorkflowService)(nil)

type workflowRunRow struct {
	ID           string         `db:"id"`
	WorkspaceID  string         `db:"workspace_id"`
	ContactID    string         `db:"contact_id"`
	WorkflowName string         `db:"workflow_name"`
	Status       string         `db:"status"`
	StopReason   sql.NullString `db:"stop_reason"`
	StartedAt    time.Time      `db:"started_at"`
	StoppedAt    sql.NullTime   `db:"stopped_at"`
}

const workflowRunColumns = `w.id, w.workspace_id, w.contact_id, w.workflow_name, w.status, w.stop_reason, w.started_at, w.stopped_at`

func (r *workflowRunRow) run() *rubrica.WorkflowRun {
	out := &rubrica.WorkflowRun{ID: r.ID, WorkspaceID: r.WorkspaceID, ContactID: r.ContactID, WorkflowName: r.WorkflowName,
		Status: rubrica.WorkflowRunStatus(r.Status), StopReason: nullable(r.StopReason), StartedAt: r.StartedAt}
	if r.StoppedAt.Valid {
		t := r.StoppedAt.Time
		out.StoppedAt = &t
	}
	return out
}

// StartWorkflowRun registers a RUNNING run for a contact of the workspace; any member may.
// A blocked contact starts no workflow.
func (s *WorkflowService) StartWorkflowRun(ctx context.Context, contactID, workflowName string) (*rubrica.WorkflowRun, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	name, err := rubrica.NormalizeWorkflowName("workflowName", workflowName)
	if err != nil {
		return nil, err
	}
	var run *rubrica.WorkflowRun
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		// FOR SHARE: a concurrent block waits for this run, then stops it.
		c, err := findContactForShare(ctx, tx, a.WorkspaceID, contactID)
		if err != nil {
			return withField(err, "contactId")
		}
		if c.Blocked() {
			return rubrica.InvalidField("contactId", "The contact is blocked: its workflows are stopped and no new one starts.")
		}
		var row workflowRunRow
		const q = `INSERT INTO workflow_runs AS w (workspace_id, contact_id, workflow_name, status)
			VALUES ($1, $2, $3, 'RUNNING') RETURNING ` + workflowRunColumns
		if err := tx.GetContext(ctx, &row, q, a.WorkspaceID, c.ID, name); err != nil {
			return fmt.Errorf("db: insert workflow run: %w", err)
		}
		run = row.run()
		return nil
	})
	return run, err
}

// findContactForShare reads a contact and keeps it from changing (a block, a delete) until
// the transaction ends.
func findContactForShare(ctx context.Context, tx *sqlx.Tx, workspaceID, id string) (*rubrica.Contact, error) {
	if !validID(id) {
		return nil, rubrica.NotFound("id", "Contact")
	}
	var row contactRow
	q := `SELECT ` + contactColumns + ` FROM contacts c WHERE c.id = $1 AND c.workspace_id = $2 FOR SHARE`
	if err := tx.GetContext(ctx, &row, q, id, workspaceID); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound("id", "Contact")
	} else if err != nil {
		return nil, fmt.Errorf("db: find contact: %w", err)
	}
	return row.contact(), nil
}

// FinishWorkflowRun marks a RUNNING run of the workspace FINISHED; a stopped or finished run
// stays as it is.
func (s *WorkflowService) FinishWorkflowRun(ctx context.Context, id string) (*rubrica.WorkflowRun, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var run *rubrica.WorkflowRun
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if run, err = findWorkflowRun(ctx, tx, a.WorkspaceID, id); err != nil {
			return err
		}
		if run.Status != rubrica.WorkflowRunning {
			return nil
		}
		var row workflowRunRow
		const q = `UPDATE workflow_runs w SET status = 'FINISHED', stopped_at = clock_timestamp()
			WHERE id = $1 AND status = 'RUNNING' RETURNING ` + workflowRunColumns
		if err := tx.GetContext(ctx, &row, q, run.ID); errors.Is(err, sql.ErrNoRows) {
			// Stopped by a block that committed in between: it stays stopped.
			run, err = findWorkflowRun(ctx, tx, a.WorkspaceID, id)
			return err
		} else if err != nil {
			return fmt.Errorf("db: finish workflow run: %w", err)
		}
		run = row.run()
		return nil
	})
	return run, err
}

// FindWorkflowRunByID returns a run of the workspace.
func (s *WorkflowService) FindWorkflowRunByID(ctx context.Context, id string) (*rubrica.WorkflowRun, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findWorkflowRun(ctx, s.db, a.WorkspaceID, id)
}

func findWorkflowRun(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string) (*rubrica.WorkflowRun, error) {
	if !validID(id) {
		return nil, rubrica.NotFound("id", "WorkflowRun")
	}
	var row workflowRunRow
	if err := sqlx.GetContext(ctx, q, &row, `SELECT `+workflowRunColumns+` FROM workflow_runs w WHERE w.id = $1 AND w.workspace_id = $2`,
		id, workspaceID); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound("id", "WorkflowRun")
	} else if err != nil {
		return nil, fmt.Errorf("db: find workflow run: %w", err)
	}
	return row.run(), nil
}

// FindWorkflowRunsByContactIDs returns each contact's runs, newest first.
func (s *WorkflowService) FindWorkflowRunsByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*rubrica.WorkflowRun, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	const q = `SELECT ` + workflowRunColumns + ` FROM workflow_runs w WHERE w.contact_id = ANY($1) AND w.workspace_id = $2
		ORDER BY w.contact_id, w.started_at DESC, w.id DESC`
	var rows []workflowRunRow
	if err := s.db.SelectContext(ctx, &rows, q, pq.Array(validIDs(contactIDs)), a.WorkspaceID); err != nil {
		return nil, fmt.Errorf("db: find workflow runs: %w", err)
	}
	out := make(map[string][]*rubrica.WorkflowRun, len(contactIDs))
	for i := range rows {
		out[rows[i].ContactID] = append(out[rows[i].ContactID], rows[i].run())
	}
	return out, nil
}
