package rubrica

import (
	"context"
	"time"
)

// WorkspaceService reads and changes the actor's workspace, its members and settings.
type WorkspaceService interface {
	// FindWorkspace returns the actor's workspace.
	FindWorkspace(ctx context.Context) (*Workspace, error)
	// FindMembersByIDs returns the workspace's members with those ids.
	FindMembersByIDs(ctx context.Context, ids []string) (map[string]*Member, error)
	// FindCustomFieldDefinitions lists the workspace's custom fields, oldest first.
	FindCustomFieldDefinitions(ctx context.Context) ([]*CustomFieldDefinition, error)
	// CreateCustomFieldDefinition adds a custom field (owners and managers) and returns what
	// its transaction committed.
	CreateCustomFieldDefinition(ctx context.Context, in CustomFieldInput) (*CustomFieldCreated, error)
	// SetContactFieldOrder stores the order of the contact fields (owners and managers) and
	// returns the workspace.
	SetContactFieldOrder(ctx context.Context, keys []string) (*Workspace, error)
	// SetAutoMerge changes the workspace's automatic merges (owners and managers); a nil
	// setting stays as it is. It returns the workspace.
	SetAutoMerge(ctx context.Context, verifiedPhone, verifiedEmail *bool) (*Workspace, error)
	// FindMembers lists the workspace's members (removed ones left out), oldest first; any
	// member may.
	FindMembers(ctx context.Context) ([]*Member, error)
	// FindAPITokens lists every token of the workspace's members, revoked and expired ones
	// included, newest first (owners only).
	FindAPITokens(ctx context.Context) ([]*APIToken, error)
	// FindAPITokenByID returns one token of the workspace (owners only).
	FindAPITokenByID(ctx context.Context, id string) (*APIToken, error)
	// RevokeToken revokes a token of the workspace (owners only); revoking a revoked token
	// changes nothing and returns it as it is.
	RevokeToken(ctx context.Context, id string) (*APIToken, error)
	// RemoveMember removes a member of the workspace (owners only; see Admin.RemoveWorkspaceMember
	// for what removal does). An owner cannot remove themself.
	RemoveMember(ctx context.Context, id string) (*Member, error)
}

// AutoMergeSettings say which first messages merge at once into the one contact holding
// their identity (see the README's Merging): with VerifiedPhone, a WHATSAPP or SMS number;
// with VerifiedEmail, an EMAIL address. Both are off by default.
type AutoMergeSettings struct {
	VerifiedPhone bool
	VerifiedEmail bool
}

// AutoMergeField returns the duplicate field whose value a first message on a channel of the
// type merges by under the settings, or false when such messages do not merge automatically.
func (s AutoMergeSettings) AutoMergeField(t ChannelType) (DuplicateField, bool) {
	switch {
	case s.VerifiedPhone && (t == ChannelWhatsApp || t == ChannelSMS):
		return DuplicatePhone, true
	case s.VerifiedEmail && t == ChannelEmail:
		return DuplicateEmail, true
	}
	return "", false
}

// CustomFieldCreated is what createCustomFieldDefinition did, read in its transaction.
type CustomFieldCreated struct {
	Definition  *CustomFieldDefinition
	Workspace   *Workspace
	Definitions []*CustomFieldDefinition // every definition of the workspace, the new one included, oldest first
}

// Admin holds the operations of the command line, which act with no actor.
type Admin interface {
	// CreateWorkspace creates a workspace and its owner and returns the owner's new token.
	CreateWorkspace(ctx context.Context, name, ownerEmail string) (ws *Workspace, token string, err error)
	// CreateToken adds or finds the member and returns a new token for it.
	CreateToken(ctx context.Context, workspaceID, email string, role Role) (string, error)
	// CreateExpiringToken is CreateToken for a token that expires at expiresAt (nil: never);
	// it returns the token and its record.
	CreateExpiringToken(ctx context.Context, workspaceID, email string, role Role, expiresAt *time.Time) (string, *APIToken, error)
	// ListWorkspaceTokens lists every token of the workspace, newest first.
	ListWorkspaceTokens(ctx context.Context, workspaceID string) ([]*APIToken, error)
	// RevokeWorkspaceToken revokes one token of the workspace.
	RevokeWorkspaceToken(ctx context.Context, workspaceID, tokenID string) (*APIToken, error)
	// RemoveWorkspaceMember removes the member with that email: softly (the member stays on
	// record, with RemovedAt, so that history still names them), every token of theirs is
	// revoked, and their contacts become unassigned (each announced as UPDATED). The last
	// owner cannot be removed.
	RemoveWorkspaceMember(ctx context.Context, workspaceID, email string) (*Member, error)
	// FindWorkspaceByName returns the oldest workspace with that name, or NOT_FOUND.
	FindWorkspaceByName(ctx context.Context, name string) (*Workspace, error)
	// CountWorkspaces counts every workspace of the database.
	CountWorkspaces(ctx context.Context) (int, error)
}

// AuthService turns a bearer token into an actor.
type AuthService interface {
	// Authenticate returns the actor a token belongs to, or UNAUTHENTICATED.
	Authenticate(ctx context.Context, token string) (Actor, error)
}
