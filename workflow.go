package rubrica

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Workflows belong to another module; Rubrica keeps their runs per contact so that blocking a
// contact can stop them.

// WorkflowRunStatus is where a workflow run stands.
type WorkflowRunStatus string

// The statuses of a workflow run.
const (
	WorkflowRunning  WorkflowRunStatus = "RUNNING"
	WorkflowStopped  WorkflowRunStatus = "STOPPED"
	WorkflowFinished WorkflowRunStatus = "FINISHED"
)

// WorkflowRun is one run of a workflow for one contact.
type WorkflowRun struct {
	ID           string
	WorkspaceID  string
	ContactID    string
	WorkflowName string
	Status       WorkflowRunStatus
	StopReason   *string // why a STOPPED run was stopped
	StartedAt    time.Time
	StoppedAt    *time.Time // when it was stopped or finished
}

// MaxWorkflowNameLength is the longest workflow name, in characters.
const MaxWorkflowNameLength = 255

// NormalizeWorkflowName trims a workflow name and checks it.
func NormalizeWorkflowName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxWorkflowNameLength || !ValidText(name) {
		return "", InvalidField(field, "a workflow name must be 1 to %d characters.", MaxWorkflowNameLength)
	}
	return name, nil
}

// WorkflowService registers workflow runs and lists them per contact.
type WorkflowService interface {
	// StartWorkflowRun registers a RUNNING run of a workflow for a contact; a blocked
	// contact starts none (BAD_USER_INPUT about contactId).
	StartWorkflowRun(ctx context.Context, contactID, workflowName string) (*WorkflowRun, error)
	// FinishWorkflowRun marks a RUNNING run FINISHED; a run that is not running is left as it is.
	FinishWorkflowRun(ctx context.Context, id string) (*WorkflowRun, error)
	// FindWorkflowRunByID returns a run of the workspace, or NOT_FOUND.
	FindWorkflowRunByID(ctx context.Context, id string) (*WorkflowRun, error)
	// FindWorkflowRunsByContactIDs returns each contact's runs, newest first.
	FindWorkflowRunsByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*WorkflowRun, error)
}
