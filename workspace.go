package rubrica

import "context"

// WorkspaceService reads and changes the actor's workspace, its members and settings.
type WorkspaceService interface {
	// FindWorkspace returns the actor's workspace.
	FindWorkspace(ctx context.Context) (*Workspace, error)
	// FindMembersByIDs returns the workspace's members with those ids.
	FindMembersByIDs(ctx context.Context, ids []string) (map[string]*Member, error)
	// FindCustomFieldDefinitions lists the workspace's custom fields, oldest first.
	FindCustomFieldDefinitions(ctx context.Context) ([]*CustomFieldDefinition, error)
	// CreateCustomFieldDefinition adds a custom field (owners and managers).
	CreateCustomFieldDefinition(ctx context.Context, in CustomFieldInput) (*CustomFieldDefinition, error)
	// SetContactFieldOrder stores the order of the contact fields (owners and managers) and
	// returns the workspace.
	SetContactFieldOrder(ctx context.Context, keys []string) (*Workspace, error)
}

// Admin holds the operations of the command line, which act with no actor.
type Admin interface {
	// CreateWorkspace creates a workspace and its owner and returns the owner's new token.
	CreateWorkspace(ctx context.Context, name, ownerEmail string) (ws *Workspace, token string, err error)
	// CreateToken adds or finds the member and returns a new token for it.
	CreateToken(ctx context.Context, workspaceID, email string, role Role) (string, error)
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
