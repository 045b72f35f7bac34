package db_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
)

// jobFixture is a database with a workspace of n contacts and an actor of its owner.
type jobFixture struct {
	db    *db.DB
	dsn   string
	ws    string
	owner context.Context // a context acting as the workspace's owner
}

func newJobFixture(t *testing.T, contacts int) *jobFixture {
	t.Helper()
	dsn := dbtest.NewDatabase(t)
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := &jobFixture{db: d, dsn: dsn}
	f.ws, f.owner = f.workspace(t, "Jobs", contacts)
	return f
}

// workspace creates a workspace with n contacts (one set-based insert) and returns its id and
// a context acting as its owner.
func (f *jobFixture) workspace(t *testing.T, name string, n int) (string, context.Context) {
	t.Helper()
	ctx := context.Background()
	ws, token, err := f.db.Admin().CreateWorkspace(ctx, name, "owner@jobs.test")
	if err != nil {
		t.Fatal(err)
	}
	actor, err := f.db.Services().Auth.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ExecContext(ctx, `INSERT INTO contacts (workspace_id, first_name, email)
		SELECT $1, 'Contact ' || i, 'c' || i || '@jobs.test' FROM generate_series(1, $2) AS i`, ws.ID, n); err != nil {
		t.Fatal(err)
	}
	return ws.ID, rubrica.NewContext(ctx, actor)
}

// worker runs a job worker until the test ends or stop is called.
func (f *jobFixture) worker(t *testing.T, cfg db.JobWorkerConfig) (stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	w := db.NewJobWorker(f.db, f.dsn, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

type jobState struct {
	Status    string         `db:"status"`
	Total     int            `db:"total"`
	Processed int            `db:"processed"`
	LockedBy  sql.NullString `db:"locked_by"`
	Error     sql.NullString `db:"error"`
	Attempts  int            `db:"attempts"`
}

func (f *jobFixture) state(t *testing.T, id string) jobState {
	t.Helper()
	var s jobState
	if err := f.db.GetContext(context.Background(), &s, `SELECT status, total, processed, locked_by, error, attempts FROM jobs WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls the job until cond holds.
func (f *jobFixture) waitFor(t *testing.T, id string, timeout time.Duration, what string, cond func(jobState) bool) jobState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := f.state(t, id)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %+v after %s, want %s", id, s, timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func succeeded(s jobState) bool { return s.Status == "SUCCEEDED" }

func (f *jobFixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.GetContext(context.Background(), &n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *jobFixture) deleteAll(t *testing.T, ctx context.Context, n int) string {
	t.Helper()
	job, err := f.db.Services().Deletes.DeleteAllContacts(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return job.ID
}

// checkDone checks that a job deleted every contact it had to, once each.
func (f *jobFixture) checkDone(t *testing.T, id, ws string, total int) {
	t.Helper()
	s := f.state(t, id)
	if s.Status != "SUCCEEDED" || s.Processed != total || s.Total != total || s.LockedBy.Valid {
		t.Errorf("job: got %+v, want SUCCEEDED %d of %d and unlocked", s, total, total)
	}
	if n := f.count(t, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, ws); n != 0 {
		t.Errorf("contacts left: got %d, want 0", n)
	}
	if n := f.count(t, `SELECT count(*) FROM job_items WHERE job_id = $1`, id); n != 0 {
		t.Errorf("job items left: got %d, want 0", n)
	}
	if n := f.count(t, `SELECT count(*) FROM events WHERE kind = 'job' AND subject_id = $1 AND type = 'SUCCEEDED'`, id); n != 1 {
		t.Errorf("SUCCEEDED job events: got %d, want 1", n)
	}
}

// TestJobWorkersShareJobs runs four workers on two jobs: each job is processed by one worker
// at a time (processed ends at exactly its total) and both finish.
func TestJobWorkersShareJobs(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t, 1500)
	ws2, owner2 := f.workspace(t, "Jobs two", 700)
	keep, _ := f.workspace(t, "Jobs kept", 30)
	a := f.deleteAll(t, f.owner, 1500)
	b := f.deleteAll(t, owner2, 700)
	for range 4 {
		f.worker(t, db.JobWorkerConfig{BatchSize: 50, Concurrency: 2})
	}
	f.waitFor(t, a, 30*time.Second, "SUCCEEDED", succeeded)
	f.waitFor(t, b, 30*time.Second, "SUCCEEDED", succeeded)
	f.checkDone(t, a, f.ws, 1500)
	f.checkDone(t, b, ws2, 700)
	if n := f.count(t, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, keep); n != 30 {
		t.Errorf("contacts of a workspace with no job: got %d, want 30", n)
	}
	// 1500 in batches of 50: 30 full batches, one empty last one.
	if n := f.count(t, `SELECT count(*) FROM events WHERE kind = 'job' AND subject_id = $1`, a); n < 31 {
		t.Errorf("job events: got %d, want one per batch and claim (at least 31)", n)
	}
}

// TestJobLeaseExpiry: a job held by a worker that died is left alone until its lease runs out,
// then taken over and finished.
func TestJobLeaseExpiry(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t, 300)
	id := f.deleteAll(t, f.owner, 300)
	if _, err := f.db.ExecContext(context.Background(), `UPDATE jobs SET status = 'RUNNING', started_at = now(), locked_by = 'dead-instance',
		locked_until = clock_timestamp() + interval '1500 milliseconds', attempts = 1 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	f.worker(t, db.JobWorkerConfig{BatchSize: 100})
	time.Sleep(700 * time.Millisecond)
	if s := f.state(t, id); s.LockedBy.String != "dead-instance" || s.Processed != 0 {
		t.Fatalf("job within its lease: got %+v, want it still held by dead-instance, untouched", s)
	}
	f.waitFor(t, id, 10*time.Second, "SUCCEEDED", succeeded)
	f.checkDone(t, id, f.ws, 300)
	if s := f.state(t, id); s.Attempts != 2 {
		t.Errorf("attempts: got %d, want 2 (the dead worker's and the takeover)", s.Attempts)
	}
}

// TestJobReleasedOnStop: a worker that stops gives its job back at once, and the next worker
// goes on from where it stopped without waiting for the lease.
func TestJobReleasedOnStop(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t, 200)
	id := f.deleteAll(t, f.owner, 200)
	stop := f.worker(t, db.JobWorkerConfig{BatchSize: 20, Pause: 200 * time.Millisecond, Lease: time.Minute})
	f.waitFor(t, id, 10*time.Second, "some progress", func(s jobState) bool { return s.Processed >= 20 })
	stop()
	s := f.state(t, id)
	if s.Status != "RUNNING" || s.LockedBy.Valid || s.Processed >= 200 {
		t.Fatalf("job after its worker stopped: got %+v, want RUNNING, released, unfinished", s)
	}
	left := f.count(t, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, f.ws)
	if left != 200-s.Processed {
		t.Errorf("contacts left: got %d, want %d (progress commits with the work)", left, 200-s.Processed)
	}
	start := time.Now()
	f.worker(t, db.JobWorkerConfig{BatchSize: 50, Lease: time.Minute})
	f.waitFor(t, id, 10*time.Second, "SUCCEEDED", succeeded)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("takeover of a released job: took %s, want no wait for the one-minute lease", d)
	}
	f.checkDone(t, id, f.ws, 200)
}

// TestJobLostToAnotherWorker: a worker too slow to renew its lease loses the job to another;
// the slow one notices at its next batch and stops, and nothing is processed twice.
func TestJobLostToAnotherWorker(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t, 200)
	id := f.deleteAll(t, f.owner, 200)
	f.worker(t, db.JobWorkerConfig{ID: "slow", Concurrency: 1, BatchSize: 10, Pause: 1500 * time.Millisecond, Lease: 300 * time.Millisecond})
	f.waitFor(t, id, 10*time.Second, "a first batch", func(s jobState) bool { return s.Processed >= 10 })
	f.worker(t, db.JobWorkerConfig{ID: "fast", BatchSize: 10, Lease: time.Minute})
	f.waitFor(t, id, 20*time.Second, "SUCCEEDED", succeeded)
	time.Sleep(2 * time.Second) // the slow worker wakes up and finds the job gone
	f.checkDone(t, id, f.ws, 200)
	if s := f.state(t, id); s.Attempts != 2 {
		t.Errorf("attempts: got %d, want 2 (the slow worker's claim and the takeover)", s.Attempts)
	}
}

// TestJobFails: a batch that keeps failing ends the job FAILED after MaxFailures, with a
// message that shows nothing of the database; another delete-all may then start.
func TestJobFails(t *testing.T) {
	t.Parallel()
	f := newJobFixture(t, 50)
	ctx := context.Background()
	if _, err := f.db.ExecContext(ctx, `CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'secret detail'; END $$;
		CREATE TRIGGER refuse_delete BEFORE DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION refuse_delete()`); err != nil {
		t.Fatal(err)
	}
	id := f.deleteAll(t, f.owner, 50)
	f.worker(t, db.JobWorkerConfig{BatchSize: 20, MaxFailures: 2})
	s := f.waitFor(t, id, 10*time.Second, "FAILED", func(s jobState) bool { return s.Status == "FAILED" })
	if s.Error.String != "Internal error." || s.LockedBy.Valid || s.Processed != 0 {
		t.Errorf("failed job: got %+v, want error \"Internal error.\", unlocked, nothing processed", s)
	}
	if n := f.count(t, `SELECT count(*) FROM job_items WHERE job_id = $1`, id); n != 0 {
		t.Errorf("job items of a failed job: got %d, want 0", n)
	}
	if n := f.count(t, `SELECT count(*) FROM events WHERE kind = 'job' AND subject_id = $1 AND type = 'FAILED'`, id); n != 1 {
		t.Errorf("FAILED job events: got %d, want 1", n)
	}
	if _, err := f.db.ExecContext(ctx, `DROP TRIGGER refuse_delete ON contacts`); err != nil {
		t.Fatal(err)
	}
	again := f.deleteAll(t, f.owner, 50)
	f.waitFor(t, again, 10*time.Second, "SUCCEEDED", succeeded)
	f.checkDone(t, again, f.ws, 50)
}
