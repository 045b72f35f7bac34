package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// JobService implements rubrica.JobService.
type JobService struct {
	db *DB
}

var _ rubrica.JobService = (*JobService)(nil)

type jobRow struct {
	ID          string         `db:"id"`
	WorkspaceID string         `db:"workspace_id"`
	Kind        string         `db:"kind"`
	Status      string         `db:"status"`
	Total       int            `db:"total"`
	Processed   int            `db:"processed"`
	Error       sql.NullString `db:"error"`
	CreatedAt   time.Time      `db:"created_at"`
	StartedAt   sql.NullTime   `db:"started_at"`
	FinishedAt  sql.NullTime   `db:"finished_at"`
}

const jobColumns = `j.id, j.workspace_id, j.kind, j.status, j.total, j.processed, j.error, j.created_at, j.started_at, j.finished_at`

func (r *jobRow) job() *rubrica.Job {
	j := &rubrica.Job{ID: r.ID, WorkspaceID: r.WorkspaceID, Kind: rubrica.JobKind(r.Kind), Status: rubrica.JobStatus(r.Status),
		Total: r.Total, Processed: r.Processed, Error: nullable(r.Error), CreatedAt: r.CreatedAt}
	if r.StartedAt.Valid {
		t := r.StartedAt.Time
		j.StartedAt = &t
	}
	if r.FinishedAt.Valid {
		t := r.FinishedAt.Time
		j.FinishedAt = &t
	}
	return j
}

// FindJobByID returns a job of the workspace; any member may follow a job.
func (s *JobService) FindJobByID(ctx context.Context, id string) (*rubrica.Job, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	row, err := getByID[jobRow](ctx, s.db, "Job", "id", `SELECT `+jobColumns+` FROM jobs j WHERE j.id = $1 AND j.workspace_id = $2`, id, a.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return row.job(), nil
}

// JobWorkerConfig tunes a job worker.
type JobWorkerConfig struct {
	// BatchSize is how many items one batch (one transaction) processes (default 1000).
	BatchSize int
	// Lease is how long a claimed job stays this worker's without a batch committing; a job
	// whose worker died is claimed again once its lease has run out (default 30s).
	Lease time.Duration
	// Poll is how often the worker looks for jobs without being notified (default 2s).
	Poll time.Duration
	// Pause is a rest between two batches of a job, leaving room to other work (default none).
	Pause time.Duration
	// Concurrency is how many jobs the worker runs at once (default 2).
	Concurrency int
	// MaxFailures is how many batches of a job in a row may fail before the job is FAILED
	// (default 5); failures are retried with a growing delay.
	MaxFailures int
	// ID names this worker in the jobs it holds, followed by /n for its nth loop (default
	// host-pid-random).
	ID     string
	Logger *slog.Logger
}

// JobWorker runs background jobs. Every instance of the server runs one; they share the jobs
// table: a job is claimed with FOR UPDATE SKIP LOCKED and held with a lease that each batch
// renews, so one worker at a time processes it, and a job whose worker stopped or died is
// taken over and goes on from where it stopped (each batch commits its progress with its work).
type JobWorker struct {
	db  *DB
	dsn string
	cfg JobWorkerConfig
}

// NewJobWorker returns a worker for the database; dsn (may be empty) is used to LISTEN for new
// jobs, without which the worker finds them by polling.
func NewJobWorker(d *DB, dsn string, cfg JobWorkerConfig) *JobWorker {
	cfg = cfg.WithDefaults()
	if cfg.ID == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		rand.Read(b)
		cfg.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &JobWorker{db: d, dsn: dsn, cfg: cfg}
}

// WithDefaults returns c with its unset numbers and durations set to their defaults (the ID
// and Logger stay as they are).
func (c JobWorkerConfig) WithDefaults() JobWorkerConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	return c
}

// ID returns the name the worker holds jobs under.
func (w *JobWorker) ID() string { return w.cfg.ID }

// Run claims and runs jobs until ctx ends. A job it holds when ctx ends is released at once,
// so that the next worker need not wait for the lease to run out. It returns nil: what goes
// wrong meanwhile is logged and retried.
func (w *JobWorker) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	notify := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if w.dsn != "" {
		listener := pq.NewListener(w.dsn, 50*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
			if err != nil {
				w.cfg.Logger.Warn("job listener", "event", ev, "err", err)
			}
		})
		defer listener.Close()
		if err := listener.Listen(jobsChannel); err != nil {
			// Not fatal: the loops still find new jobs by polling.
			w.cfg.Logger.Warn("job listener: new jobs wait for the poll", "err", err, "poll", w.cfg.Poll.String())
		}
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-listener.Notify:
					// Every loop looks: a notification may be worth a job to each.
					notify()
				}
			}
		}()
	}
	var wg sync.WaitGroup
	wakes := make([]chan struct{}, w.cfg.Concurrency)
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
		// Each loop holds jobs under a name of its own, so that a loop can lose its job to
		// another loop of the same worker exactly as to another instance.
		holder := fmt.Sprintf("%s/%d", w.cfg.ID, i)
		wg.Go(func() { w.loop(ctx, holder, wakes[i]) })
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				for _, c := range wakes {
					select {
					case c <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	wg.Wait()
	return nil
}

// loop claims a job, runs it to its end (or until it loses it), and looks again; with nothing
// to claim it waits for a notification or the poll.
func (w *JobWorker) loop(ctx context.Context, holder string, wake <-chan struct{}) {
	poll := time.NewTicker(w.cfg.Poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		job, err := w.claim(ctx, holder)
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("claim job", "err", err)
		}
		if job != nil {
			w.run(ctx, holder, job)
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-poll.C:
		}
	}
}

// claim takes the oldest job that no live worker holds, if any: QUEUED, or RUNNING with a
// lease that ran out. SKIP LOCKED lets concurrent claimers pass over a job being claimed or
// processed (a batch holds the job's row until it commits).
func (w *JobWorker) claim(ctx context.Context, holder string) (*rubrica.Job, error) {
	var job *rubrica.Job
	err := w.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row jobRow
		const q = `UPDATE jobs j SET status = 'RUNNING', locked_by = $1, locked_until = clock_timestamp() + $2 * interval '1 millisecond',
				started_at = coalesce(started_at, clock_timestamp()), attempts = attempts + 1
			WHERE j.id = (SELECT id FROM jobs WHERE status IN ('QUEUED', 'RUNNING')
				AND (locked_until IS NULL OR locked_until < clock_timestamp())
				ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING ` + jobColumns
		if err := tx.GetContext(ctx, &row, q, holder, w.cfg.Lease.Milliseconds()); errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("db: claim job: %w", err)
		}
		job = row.job()
		return publish(ctx, tx, newEvent(job.WorkspaceID, rubrica.KindJob, rubrica.JobEventProgress, "", &job.ID))
	})
	return job, err
}

// errLostJob stops a worker whose job another worker took over (its lease had run out).
var errLostJob = errors.New("db: job taken over by another worker")

// run processes a claimed job batch by batch until it ends, is lost, or ctx ends.
func (w *JobWorker) run(ctx context.Context, holder string, job *rubrica.Job) {
	log := w.cfg.Logger.With("job", job.ID, "kind", job.Kind, "worker", holder)
	log.Info("job claimed", "processed", job.Processed, "total", job.Total)
	failures := 0
	for {
		done, err := w.batch(ctx, holder, job)
		switch {
		case ctx.Err() != nil:
			w.release(holder, job)
			log.Info("job released: stopping")
			return
		case errors.Is(err, errLostJob):
			log.Warn("job lost to another worker")
			return
		case err != nil:
			failures++
			log.Error("job batch failed", "err", err, "failures", failures)
			if failures >= w.cfg.MaxFailures {
				if err := w.fail(ctx, holder, job, err); err != nil {
					log.Error("mark job failed", "err", err)
				}
				return
			}
			if !sleep(ctx, time.Duration(1<<(failures-1))*time.Second) {
				w.release(holder, job)
				return
			}
			continue
		case done:
			log.Info("job succeeded", "total", job.Total)
			return
		}
		failures = 0
		if w.cfg.Pause > 0 && !sleep(ctx, w.cfg.Pause) {
			w.release(holder, job)
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// batch processes one batch of a job in one transaction: its work, its progress, the
// renewal of the lease and a job event commit together.
func (w *JobWorker) batch(ctx context.Context, holder string, job *rubrica.Job) (done bool, err error) {
	err = w.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var held struct {
			Status   string         `db:"status"`
			LockedBy sql.NullString `db:"locked_by"`
		}
		if err := tx.GetContext(ctx, &held, `SELECT status, locked_by FROM jobs WHERE id = $1 FOR UPDATE`, job.ID); errors.Is(err, sql.ErrNoRows) {
			return errLostJob // the workspace was deleted
		} else if err != nil {
			return fmt.Errorf("db: lock job: %w", err)
		}
		if held.Status != string(rubrica.JobRunning) || held.LockedBy.String != holder {
			return errLostJob
		}
		var items []string
		if err := tx.SelectContext(ctx, &items, `SELECT item_id FROM job_items WHERE job_id = $1 ORDER BY item_id LIMIT $2`,
			job.ID, w.cfg.BatchSize); err != nil {
			return fmt.Errorf("db: job items: %w", err)
		}
		switch job.Kind {
		case rubrica.JobDeleteAllContacts:
			if err := deleteAllBatch(ctx, tx, job.WorkspaceID, items); err != nil {
				return err
			}
		default:
			return fmt.Errorf("db: unknown job kind %q", job.Kind)
		}
		if len(items) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM job_items WHERE job_id = $1 AND item_id = ANY($2)`, job.ID, pq.Array(items)); err != nil {
				return fmt.Errorf("db: job items done: %w", err)
			}
		}
		// A batch short of full was the last: the job ends with it.
		done = len(items) < w.cfg.BatchSize
		var row jobRow
		var err error
		if done {
			const q = `UPDATE jobs j SET processed = processed + $2, status = 'SUCCEEDED', finished_at = clock_timestamp(),
				locked_by = NULL, locked_until = NULL WHERE id = $1 RETURNING ` + jobColumns
			err = tx.GetContext(ctx, &row, q, job.ID, len(items))
		} else {
			const q = `UPDATE jobs j SET processed = processed + $2, locked_until = clock_timestamp() + $3 * interval '1 millisecond'
				WHERE id = $1 RETURNING ` + jobColumns
			err = tx.GetContext(ctx, &row, q, job.ID, len(items), w.cfg.Lease.Milliseconds())
		}
		if err != nil {
			return fmt.Errorf("db: job progress: %w", err)
		}
		*job = *row.job()
		return publish(ctx, tx, newEvent(job.WorkspaceID, rubrica.KindJob, string(job.Status), "", &job.ID))
	})
	return done, err
}

// deleteAllBatch deletes a batch of a delete-all job's contacts: those the workspace still
// has, locked in id order. One deleted meanwhile (or merged away) counts as processed.
func deleteAllBatch(ctx context.Context, tx *sqlx.Tx, workspaceID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var present []string
	if err := tx.SelectContext(ctx, &present, `SELECT id FROM contacts WHERE id = ANY($1) AND workspace_id = $2 ORDER BY id FOR UPDATE`,
		pq.Array(ids), workspaceID); err != nil {
		return fmt.Errorf("db: lock contacts: %w", err)
	}
	_, err := deleteContacts(ctx, tx, workspaceID, present)
	return err
}

// release gives a job back when the worker stops, so another takes it over at once.
func (w *JobWorker) release(holder string, job *rubrica.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.db.ExecContext(ctx, `UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND status = 'RUNNING'`,
		job.ID, holder); err != nil {
		w.cfg.Logger.Warn("release job", "job", job.ID, "err", err)
	}
}

// fail ends a job as FAILED; the client sees the error's public message only.
func (w *JobWorker) fail(ctx context.Context, holder string, job *rubrica.Job, cause error) error {
	return w.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row jobRow
		const q = `UPDATE jobs j SET status = 'FAILED', error = $3, finished_at = clock_timestamp(), locked_by = NULL, locked_until = NULL
			WHERE id = $1 AND locked_by = $2 AND status = 'RUNNING' RETURNING ` + jobColumns
		if err := tx.GetContext(ctx, &row, q, job.ID, holder, rubrica.ErrorMessage(cause)); errors.Is(err, sql.ErrNoRows) {
			return errLostJob
		} else if err != nil {
			return fmt.Errorf("db: fail job: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM job_items WHERE job_id = $1`, job.ID); err != nil {
			return fmt.Errorf("db: drop job items: %w", err)
		}
		*job = *row.job()
		return publish(ctx, tx, newEvent(job.WorkspaceID, rubrica.KindJob, rubrica.JobEventFailed, "", &job.ID))
	})
}
