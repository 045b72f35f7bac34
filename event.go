package rubrica

import (
	"context"
	"errors"
	"time"
)

// EventKind is the stream an event belongs to; each GraphQL subscription reads one kind.
type EventKind string

// The event streams.
const (
	KindContact         EventKind = "contact"
	KindContactChannel  EventKind = "contactChannel"
	KindMergeSuggestion EventKind = "mergeSuggestion"
	KindJob             EventKind = "job"
	// KindAuth tells every instance that credentials ended; no GraphQL subscription reads it.
	KindAuth EventKind = "auth"
)

// The types of auth events; SubjectID names the token or the member.
const (
	TokenRevoked  = "TOKEN_REVOKED"
	MemberRemoved = "MEMBER_REMOVED"
)

// The types of contact events.
const (
	ContactCreated   = "CREATED"
	ContactUpdated   = "UPDATED"
	ContactMerged    = "MERGED"
	ContactUnmerged  = "UNMERGED"
	ContactBlocked   = "BLOCKED"
	ContactUnblocked = "UNBLOCKED"
	ContactDeleted   = "DELETED"
)

// The types of contact channel events.
const (
	ChannelLinked        = "LINKED"
	ChannelUnlinked      = "UNLINKED"
	ChannelStatusChanged = "STATUS_CHANGED"
)

// Event is a committed change, as subscribers receive it. Events are written in the
// transaction that makes the change, so an event exists exactly when its change committed.
// Seq is unique; the events about one contact are numbered, and delivered, in their commit
// order, as are two changes of which one committed before the other began. Only changes to
// different contacts that overlap in time may arrive in an order other than their commit
// order, and then Seq need not increase.
type Event struct {
	Seq         int64
	WorkspaceID string
	Kind        EventKind
	Type        string
	ContactID   *string // the contact it is about, if any
	SubjectID   *string // the channel, suggestion or job it is about, if any
	CreatedAt   time.Time
}

// EventFilter selects the events of one subscription within the subscriber's workspace.
type EventFilter struct {
	Kind      EventKind
	ContactID *string // only events about this contact
	SubjectID *string // only events about this channel, suggestion or job
}

// Matches reports whether an event of the subscriber's workspace passes the filter.
func (f EventFilter) Matches(e *Event) bool {
	if e.Kind != f.Kind {
		return false
	}
	if f.ContactID != nil && (e.ContactID == nil || *e.ContactID != *f.ContactID) {
		return false
	}
	if f.SubjectID != nil && (e.SubjectID == nil || *e.SubjectID != *f.SubjectID) {
		return false
	}
	return true
}

// ErrSubscriberTooSlow ends a subscription whose buffer filled up: the subscriber fell too
// far behind and must subscribe again (and refetch what it shows).
var ErrSubscriberTooSlow = &Error{Code: ELIMIT, Message: "The subscription fell too far behind and was closed: subscribe again and refetch."}

// ErrEventsStopped ends a subscription when the server shuts down.
var ErrEventsStopped = errors.New("event stream stopped")

// Subscription is a running subscription: events arrive on C in commit order (see Event)
// until the subscriber's context ends or the subscription is dropped; Err then says why.
type Subscription struct {
	C   <-chan *Event // shared by every subscriber of the event: read it, never change it
	Err func() error
}

// EventService delivers committed events to subscribers.
type EventService interface {
	// Subscribe delivers, from now on, the events of the actor's workspace that match the
	// filter, until ctx ends.
	Subscribe(ctx context.Context, f EventFilter) (*Subscription, error)
}

// RevocationWatcher tells a server about the tokens revoked and the members removed in every
// workspace, so that it can close the connections they authenticated.
type RevocationWatcher interface {
	// WatchRevocations calls fn with every auth event (KindAuth) committed from now on, of
	// every workspace, in commit order, until stop is called. fn runs on the event loop: it
	// must return at once.
	WatchRevocations(fn func(*Event)) (stop func())
}
