package rubrica

import (
	"context"
	"time"
)

// JobKind is what a background job does.
type JobKind string

// The kinds of jobs.
const (
	// JobDeleteAllContacts deletes the contacts a workspace had when the job was created.
	JobDeleteAllContacts JobKind = "DELETE_ALL_CONTACTS"
)

// JobStatus is where a job stands.
type JobStatus string

// The statuses of a job: QUEUED until a worker claims it, RUNNING while workers process it
// (across restarts: a job whose worker died is claimed again), then SUCCEEDED or FAILED.
const (
	JobQueued    JobStatus = "QUEUED"
	JobRunning   JobStatus = "RUNNING"
	JobSucceeded JobStatus = "SUCCEEDED"
	JobFailed    JobStatus = "FAILED"
)

// Done reports whether a job with this status has ended.
func (s JobStatus) Done() bool { return s == JobSucceeded || s == JobFailed }

// Job is a long-running change done in the background, in bounded batches, each batch its
// own transaction.
type Job struct {
	ID          string
	WorkspaceID string
	Kind        JobKind
	Status      JobStatus
	Total       int     // items to process, fixed when the job is created
	Processed   int     // items processed so far
	Error       *string // why a FAILED job failed
	CreatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
}

// The types of job events: RUNNING for each step of progress, then SUCCEEDED or FAILED.
const (
	JobEventProgress  = string(JobRunning)
	JobEventSucceeded = string(JobSucceeded)
	JobEventFailed    = string(JobFailed)
)

// DeleteService deletes contacts: the contacts go with their channel links, conversations,
// messages, tag links, custom values and workflow runs, irreversibly.
type DeleteService interface {
	// DeleteContacts deletes the selected contacts in one transaction (owners and managers);
	// expectedCount must equal the number selected (the confirmation), else nothing is
	// deleted. It returns the ids deleted.
	DeleteContacts(ctx context.Context, sel ContactSelection, expectedCount int) ([]string, error)
	// DeleteAllContacts starts a job that deletes every contact the workspace has now (owners
	// and managers); expectedCount must equal that number. One such job runs per workspace
	// at a time (CONFLICT).
	DeleteAllContacts(ctx context.Context, expectedCount int) (*Job, error)
}

// JobService reads jobs.
type JobService interface {
	// FindJobByID returns a job of the workspace, or NOT_FOUND.
	FindJobByID(ctx context.Context, id string) (*Job, error)
}
