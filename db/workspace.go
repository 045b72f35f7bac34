package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// WorkspaceService implements rubrica.WorkspaceService and rubrica.Admin.
type WorkspaceService struct {
	db *DB
}

var (
	_ rubrica.WorkspaceService = (*WorkspaceService)(nil)
	_ rubrica.Admin            = (*WorkspaceService)(nil)
)

// Admin returns the command line's operations.
func (db *DB) Admin() rubrica.Admin { return &WorkspaceService{db: db} }

type workspaceRow struct {
	ID             string         `db:"id"`
	Name           string         `db:"name"`
	FieldOrder     pq.StringArray `db:"field_order"`
	AutoMergePhone bool           `db:"auto_merge_phone"`
	AutoMergeEmail bool           `db:"auto_merge_email"`
	CreatedAt      time.Time      `db:"created_at"`
}

// workspaceColumns are the columns workspaceRow reads.
const workspaceColumns = `id, name, field_order, auto_merge_phone, auto_merge_email, created_at`

func (r *workspaceRow) workspace() *rubrica.Workspace {
	return &rubrica.Workspace{ID: r.ID, Name: r.Name, FieldOrder: r.FieldOrder, CreatedAt: r.CreatedAt,
		AutoMerge: rubrica.AutoMergeSettings{VerifiedPhone: r.AutoMergePhone, VerifiedEmail: r.AutoMergeEmail}}
}

// memberRow is a members row, scanned (db) or decoded from readContactLists' JSON (json).
type memberRow struct {
	ID          string     `db:"id" json:"id"`
	WorkspaceID string     `db:"workspace_id" json:"workspace_id"`
	Name        string     `db:"name" json:"name"`
	Email       string     `db:"email" json:"email"`
	Role        string     `db:"role" json:"role"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
	RemovedAt   *time.Time `db:"removed_at" json:"removed_at"`
}

// memberColumns are the columns memberRow reads.
const memberColumns = `id, workspace_id, name, email, role, created_at, removed_at`

func (r *memberRow) member() *rubrica.Member {
	return &rubrica.Member{ID: r.ID, WorkspaceID: r.WorkspaceID, Name: r.Name, Email: r.Email, Role: rubrica.Role(r.Role),
		CreatedAt: r.CreatedAt, RemovedAt: r.RemovedAt}
}

// definitionRow is a custom_field_definitions row, scanned (db) or decoded from
// readContactLists' JSON (json).
type definitionRow struct {
	ID          string         `db:"def_id" json:"def_id"`
	WorkspaceID string         `db:"def_workspace_id" json:"def_workspace_id"`
	Key         string         `db:"def_key" json:"def_key"`
	Label       string         `db:"def_label" json:"def_label"`
	Type        string         `db:"def_type" json:"def_type"`
	Options     pq.StringArray `db:"def_options" json:"def_options"`
	CreatedAt   time.Time      `db:"def_created_at" json:"def_created_at"`
}

// definitionColumns are the columns definitionRow reads, for a table aliased d.
const definitionColumns = `d.id AS def_id, d.workspace_id AS def_workspace_id, d.key AS def_key, d.label AS def_label,
	d.type AS def_type, d.options AS def_options, d.created_at AS def_created_at`

func (r *definitionRow) definition() *rubrica.CustomFieldDefinition {
	d := &rubrica.CustomFieldDefinition{ID: r.ID, WorkspaceID: r.WorkspaceID, Key: r.Key, Label: r.Label,
		Type: rubrica.CustomFieldType(r.Type), CreatedAt: r.CreatedAt}
	if r.Options != nil {
		d.Options = []string(r.Options)
	}
	return d
}

// FindWorkspace returns the actor's workspace.
func (s *WorkspaceService) FindWorkspace(ctx context.Context) (*rubrica.Workspace, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findWorkspace(ctx, s.db, a.WorkspaceID)
}

func findWorkspace(ctx context.Context, q sqlx.QueryerContext, id string) (*rubrica.Workspace, error) {
	var row workspaceRow
	if err := sqlx.GetContext(ctx, q, &row, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = $1`, id); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound("workspace", "Workspace")
	} else if err != nil {
		return nil, fmt.Errorf("db: find workspace: %w", err)
	}
	return row.workspace(), nil
}

// FindMembersByIDs returns the workspace's members among ids, removed ones included (history
// names them).
func (s *WorkspaceService) FindMembersByIDs(ctx context.Context, ids []string) (map[string]*rubrica.Member, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findMembers(ctx, s.db, a.WorkspaceID, ids)
}

func findMembers(ctx context.Context, db sqlx.QueryerContext, workspaceID string, ids []string) (map[string]*rubrica.Member, error) {
	const q = `SELECT ` + memberColumns + ` FROM members WHERE id = ANY($1) AND workspace_id = $2`
	var rows []memberRow
	if err := sqlx.SelectContext(ctx, db, &rows, q, pq.Array(validIDs(ids)), workspaceID); err != nil {
		return nil, fmt.Errorf("db: find members: %w", err)
	}
	return membersByID(rows), nil
}

func membersByID(rows []memberRow) map[string]*rubrica.Member {
	out := make(map[string]*rubrica.Member, len(rows))
	for i := range rows {
		out[rows[i].ID] = rows[i].member()
	}
	return out
}

// FindCustomFieldDefinitions lists the workspace's custom fields, oldest first.
func (s *WorkspaceService) FindCustomFieldDefinitions(ctx context.Context) ([]*rubrica.CustomFieldDefinition, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findDefinitions(ctx, s.db, a.WorkspaceID)
}

func findDefinitions(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]*rubrica.CustomFieldDefinition, error) {
	var rows []definitionRow
	if err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+definitionColumns+` FROM custom_field_definitions d
		WHERE d.workspace_id = $1 ORDER BY d.created_at, d.id`, workspaceID); err != nil {
		return nil, fmt.Errorf("db: find custom field definitions: %w", err)
	}
	out := make([]*rubrica.CustomFieldDefinition, len(rows))
	for i := range rows {
		out[i] = rows[i].definition()
	}
	return out, nil
}

// CreateCustomFieldDefinition adds a custom field; owners and managers only. It returns the
// field, the workspace and all its fields as committed.
func (s *WorkspaceService) CreateCustomFieldDefinition(ctx context.Context, in rubrica.CustomFieldInput) (*rubrica.CustomFieldCreated, error) {
	a, err := rubrica.RequireManager(ctx, "manage custom fields")
	if err != nil {
		return nil, err
	}
	if err := rubrica.ValidateCustomFieldInput(&in); err != nil {
		return nil, err
	}
	var out rubrica.CustomFieldCreated
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row definitionRow
		const q = `INSERT INTO custom_field_definitions AS d (workspace_id, key, label, type, options)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, key) DO NOTHING RETURNING ` + definitionColumns
		var options any
		if in.Options != nil {
			options = pq.Array(in.Options)
		}
		if err := tx.GetContext(ctx, &row, q, a.WorkspaceID, in.Key, in.Label, string(in.Type), options); errors.Is(err, sql.ErrNoRows) {
			return &rubrica.Error{Code: rubrica.ECONFLICT, Field: "key", Message: fmt.Sprintf("The workspace already has a custom field %q.", in.Key)}
		} else if err != nil {
			return fmt.Errorf("db: insert custom field definition: %w", err)
		}
		out.Definition = row.definition()
		if out.Workspace, err = findWorkspace(ctx, tx, a.WorkspaceID); err != nil {
			return err
		}
		out.Definitions, err = findDefinitions(ctx, tx, a.WorkspaceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetContactFieldOrder stores the workspace's contact field order; owners and managers only.
func (s *WorkspaceService) SetContactFieldOrder(ctx context.Context, keys []string) (*rubrica.Workspace, error) {
	a, err := rubrica.RequireManager(ctx, "change the field order")
	if err != nil {
		return nil, err
	}
	var ws *rubrica.Workspace
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var stored pq.StringArray
		if err := tx.GetContext(ctx, &stored, `SELECT field_order FROM workspaces WHERE id = $1 FOR UPDATE`, a.WorkspaceID); err != nil {
			return fmt.Errorf("db: lock workspace: %w", err)
		}
		defs, err := findDefinitions(ctx, tx, a.WorkspaceID)
		if err != nil {
			return err
		}
		if err := rubrica.ValidateFieldOrder(keys, definitionKeys(defs)); err != nil {
			return err
		}
		order := rubrica.ReorderFields(stored, keys, definitionKeys(defs))
		if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET field_order = $2 WHERE id = $1`, a.WorkspaceID, pq.Array(order)); err != nil {
			return fmt.Errorf("db: set field order: %w", err)
		}
		ws, err = findWorkspace(ctx, tx, a.WorkspaceID)
		return err
	})
	return ws, err
}

// SetAutoMerge changes the workspace's automatic merges; owners and managers only. A nil
// setting stays as it is.
func (s *WorkspaceService) SetAutoMerge(ctx context.Context, verifiedPhone, verifiedEmail *bool) (*rubrica.Workspace, error) {
	a, err := rubrica.RequireManager(ctx, "change automatic merges")
	if err != nil {
		return nil, err
	}
	var row workspaceRow
	const q = `UPDATE workspaces SET auto_merge_phone = coalesce($2, auto_merge_phone), auto_merge_email = coalesce($3, auto_merge_email)
		WHERE id = $1 RETURNING ` + workspaceColumns
	if err := s.db.GetContext(ctx, &row, q, a.WorkspaceID, verifiedPhone, verifiedEmail); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound("workspace", "Workspace")
	} else if err != nil {
		return nil, fmt.Errorf("db: set auto merge: %w", err)
	}
	return row.workspace(), nil
}

func definitionKeys(defs []*rubrica.CustomFieldDefinition) []string {
	keys := make([]string, len(defs))
	for i, d := range defs {
		keys[i] = d.Key
	}
	return keys
}

// CreateWorkspace creates a workspace and its owner, and returns a new token for the owner.
func (s *WorkspaceService) CreateWorkspace(ctx context.Context, name, ownerEmail string) (*rubrica.Workspace, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", rubrica.InvalidField("name", "a workspace needs a name.")
	}
	email, err := rubrica.NormalizeEmail("ownerEmail", &ownerEmail)
	if err != nil || email == nil {
		return nil, "", rubrica.InvalidField("ownerEmail", "%s is not a valid email address.", rubrica.Quoted(ownerEmail))
	}
	var ws *rubrica.Workspace
	var token string
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row workspaceRow
		if err := tx.GetContext(ctx, &row, `INSERT INTO workspaces (name) VALUES ($1) RETURNING `+workspaceColumns, name); err != nil {
			return fmt.Errorf("db: insert workspace: %w", err)
		}
		ws = row.workspace()
		token, _, err = createToken(ctx, tx, ws.ID, *email, rubrica.RoleOwner, nil)
		return err
	})
	return ws, token, err
}

// CreateToken adds or finds the member and returns a new token for it.
func (s *WorkspaceService) CreateToken(ctx context.Context, workspaceID, email string, role rubrica.Role) (string, error) {
	token, _, err := s.CreateExpiringToken(ctx, workspaceID, email, role, nil)
	return token, err
}

// FindWorkspaceByName returns the oldest workspace with that name.
func (s *WorkspaceService) FindWorkspaceByName(ctx context.Context, name string) (*rubrica.Workspace, error) {
	var row workspaceRow
	const q = `SELECT ` + workspaceColumns + ` FROM workspaces WHERE name = $1 ORDER BY created_at, id LIMIT 1`
	if err := s.db.GetContext(ctx, &row, q, name); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound("name", "Workspace")
	} else if err != nil {
		return nil, fmt.Errorf("db: find workspace by name: %w", err)
	}
	return row.workspace(), nil
}

// CountWorkspaces counts every workspace.
func (s *WorkspaceService) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM workspaces`); err != nil {
		return 0, fmt.Errorf("db: count workspaces: %w", err)
	}
	return n, nil
}
