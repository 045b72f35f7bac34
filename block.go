package rubrica

import (
	"context"
	"regexp"
	"time"
)

// Blocking: a blocked contact's open conversation is closed when it is blocked, the messages
// it sends while blocked are stored but hidden (never in a conversation, a list, a count, a
// channel's lastInteractionAt or the billing count), its running workflow runs are stopped
// and it leaves every merge suggestion. Unblocking shows its later messages again; those it
// sent while blocked stay hidden.

// StopReasonContactBlocked is the stop reason of the workflow runs a block stops.
const StopReasonContactBlocked = "contact blocked"

// BlockService blocks and unblocks contacts of the actor's workspace.
type BlockService interface {
	// BlockContact closes the contact's open conversation, stops its running workflow runs
	// and blocks it (any member). Blocking a blocked contact changes nothing.
	BlockContact(ctx context.Context, id string) (*Contact, error)
	// UnblockContact unblocks a contact (owners and managers). Unblocking a contact that is
	// not blocked changes nothing.
	UnblockContact(ctx context.Context, id string) (*Contact, error)
}

// BillingService counts what the workspace is billed for.
type BillingService interface {
	// CountActiveContacts counts the contacts with at least one visible inbound message sent
	// in the month ("YYYY-MM", UTC).
	CountActiveContacts(ctx context.Context, month string) (int, error)
}

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// ParseMonth reads a month "YYYY-MM" and returns its first instant and the first instant of
// the next month, in UTC.
func ParseMonth(field, s string) (start, end time.Time, err error) {
	if !monthPattern.MatchString(s) {
		return start, end, InvalidField(field, "%s is not a month in the form YYYY-MM, such as 2026-11.", Quoted(s))
	}
	start, err = time.Parse("2006-01", s)
	if err != nil {
		return start, end, InvalidField(field, "%s is not a month in the form YYYY-MM, such as 2026-11.", Quoted(s))
	}
	return start, start.AddDate(0, 1, 0), nil
}
