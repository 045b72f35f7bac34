// Package rubrica holds the domain of the Contacts module: its types, the services that
// implement it, error codes and the pure rules (validation, display names, field order).
// It imports none of db, graph or server: they depend on it, never the other way round.
package rubrica

import (
	"context"
	"time"
)

// Role is a member's role in a workspace.
type Role string

// The roles of API.md.
const (
	RoleOwner   Role = "OWNER"
	RoleManager Role = "MANAGER"
	RoleAgent   Role = "AGENT"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleOwner || r == RoleManager || r == RoleAgent
}

// CanManage reports whether the role may manage the workspace: remove channels, unblock,
// delete contacts, see merge history, manage channels, custom fields and the field order.
func (r Role) CanManage() bool {
	return r == RoleOwner || r == RoleManager
}

// Actor is who makes a request: one member of one workspace.
type Actor struct {
	MemberID    string
	WorkspaceID string
	Role        Role
	// TokenID names the token the actor authenticated with ("" when acting otherwise, as the
	// command line does); ExpiresAt is when that token expires (zero: never).
	TokenID   string
	ExpiresAt time.Time
}

type actorKey struct{}

// NewContext returns a context that carries the actor.
func NewContext(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor of the request, if any.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.WorkspaceID != "" && a.MemberID != ""
}

// RequireActor returns the actor of the request, or an UNAUTHENTICATED error.
func RequireActor(ctx context.Context) (Actor, error) {
	a, ok := ActorFromContext(ctx)
	if !ok {
		return Actor{}, Errorf(EUNAUTHENTICATED, "Authentication required: send Authorization: Bearer <token>.")
	}
	return a, nil
}

// RequireManager returns the actor when it is an owner or a manager, else a FORBIDDEN error
// that names the action.
func RequireManager(ctx context.Context, action string) (Actor, error) {
	a, err := RequireActor(ctx)
	if err != nil {
		return a, err
	}
	if !a.Role.CanManage() {
		return a, Errorf(EFORBIDDEN, "Only owners and managers may %s.", action)
	}
	return a, nil
}

// RequireOwner returns the actor when it is an owner, else a FORBIDDEN error that names the
// action.
func RequireOwner(ctx context.Context, action string) (Actor, error) {
	a, err := RequireActor(ctx)
	if err != nil {
		return a, err
	}
	if a.Role != RoleOwner {
		return a, Errorf(EFORBIDDEN, "Only owners may %s.", action)
	}
	return a, nil
}

// Workspace is a tenant: everything else belongs to exactly one workspace.
type Workspace struct {
	ID         string
	Name       string
	FieldOrder []string // stored order of field keys; see EffectiveFieldOrder
	AutoMerge  AutoMergeSettings
	CreatedAt  time.Time
}

// Member is a person who works in a workspace's inbox.
type Member struct {
	ID          string
	WorkspaceID string
	Name        string
	Email       string
	Role        Role
	CreatedAt   time.Time
	// RemovedAt is when the member was removed (nil: a member still). A removed member stays
	// on record so that history names them, but authenticates no more (every token of theirs
	// is revoked) and is assigned no contact.
	RemovedAt *time.Time
}

// APIToken is one of a member's API tokens as an owner sees it: never its secret, which is
// stored only as its SHA-256.
type APIToken struct {
	ID        string
	Member    *Member // whose token it is
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: it never expires
	RevokedAt *time.Time // nil: not revoked
}

// Page asks for one page of a keyset-paginated list: First/After go forward, Last/Before
// go backward. Cursors are opaque strings made by the list's service.
type Page struct {
	First  *int
	After  *string
	Last   *int
	Before *string
}

// MaxPageSize is the largest page a list returns.
const MaxPageSize = 100

// DefaultPageSize is the page size when neither First nor Last is given.
const DefaultPageSize = 20

// PageInfo describes where a page stands in its list (Relay connection semantics).
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// Edge is one item of a page with its cursor.
type Edge[T any] struct {
	Cursor string
	Node   T
}

// Connection is one page of a list.
type Connection[T any] struct {
	Edges    []Edge[T]
	PageInfo PageInfo
}

// Services are the domain services a server needs.
type Services struct {
	Auth          AuthService
	Workspaces    WorkspaceService
	Contacts      ContactService
	Tags          TagService
	Channels      ChannelService
	Conversations ConversationService
	Events        EventService
	Merges        MergeService
	Blocks        BlockService
	Workflows     WorkflowService
	Billing       BillingService
	Deletes       DeleteService
	Jobs          JobService
	Exports       ExportService
}

// Size validates a page request and returns how many items it asks for and whether it pages
// backward (Last given).
func (p Page) Size() (n int, backward bool, err error) {
	switch {
	case p.First != nil && p.Last != nil:
		return 0, false, InvalidField("last", "first and last cannot be used together.")
	case p.First != nil:
		n = *p.First
		if n < 0 || n > MaxPageSize {
			return 0, false, InvalidField("first", "first must be between 0 and %d.", MaxPageSize)
		}
		return n, false, nil
	case p.Last != nil:
		n = *p.Last
		if n < 0 || n > MaxPageSize {
			return 0, false, InvalidField("last", "last must be between 0 and %d.", MaxPageSize)
		}
		return n, true, nil
	}
	return DefaultPageSize, false, nil
}
