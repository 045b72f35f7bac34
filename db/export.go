package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// ExportService implements rubrica.ExportService.
type ExportService struct {
	db *DB
}

var _ rubrica.ExportService = (*ExportService)(nil)

// ExportContacts reads at most MaxBulkContacts selected contacts with their tags, custom
// values, assignees and the workspace's fields, in one read-only snapshot; any member may.
func (s *ExportService) ExportContacts(ctx context.Context, sel rubrica.ContactSelection) (*rubrica.ContactExport, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("db: begin: %w", err)
	}
	defer tx.Rollback()
	out, err := readExport(ctx, tx, a.WorkspaceID, sel)
	if err != nil {
		return nil, translate(err)
	}
	return out, tx.Commit()
}

func readExport(ctx context.Context, tx *sqlx.Tx, workspaceID string, sel rubrica.ContactSelection) (*rubrica.ContactExport, error) {
	limit := selectionLimit{max: rubrica.MaxBulkContacts, what: "A CSV export holds"}
	ids, err := selectContactIDs(ctx, tx, workspaceID, sel, "ids", limit, false)
	if err != nil {
		return nil, err
	}
	out := &rubrica.ContactExport{Tags: map[string][]*rubrica.Tag{}, Values: map[string][]*rubrica.CustomFieldValue{},
		Members: map[string]*rubrica.Member{}}
	if out.Workspace, err = findWorkspace(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	if out.Definitions, err = findDefinitions(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return out, nil
	}
	var contacts []contactRow
	if err := tx.SelectContext(ctx, &contacts, `SELECT `+contactColumns+` FROM contacts c WHERE c.id = ANY($1) AND c.workspace_id = $2`,
		pq.Array(ids), workspaceID); err != nil {
		return nil, fmt.Errorf("db: export contacts: %w", err)
	}
	byID := make(map[string]*rubrica.Contact, len(contacts))
	var assignees []string
	for i := range contacts {
		c := contacts[i].contact()
		byID[c.ID] = c
		if c.AssigneeID != nil {
			assignees = append(assignees, *c.AssigneeID)
		}
	}
	for _, id := range ids {
		out.Contacts = append(out.Contacts, byID[id])
	}

	var tags []struct {
		ContactID string `db:"contact_id"`
		tagRow
	}
	if err := tx.SelectContext(ctx, &tags, `SELECT ct.contact_id, `+tagColumns+` FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
		WHERE ct.contact_id = ANY($1) AND t.workspace_id = $2 ORDER BY lower(t.name), t.id`, pq.Array(ids), workspaceID); err != nil {
		return nil, fmt.Errorf("db: export tags: %w", err)
	}
	for i := range tags {
		out.Tags[tags[i].ContactID] = append(out.Tags[tags[i].ContactID], tags[i].tag())
	}

	defs := make(map[string]*rubrica.CustomFieldDefinition, len(out.Definitions))
	for _, d := range out.Definitions {
		defs[d.ID] = d
	}
	var values []struct {
		ContactID    string `db:"contact_id"`
		DefinitionID string `db:"definition_id"`
		Value        string `db:"value"`
	}
	if err := tx.SelectContext(ctx, &values, `SELECT contact_id, definition_id, value FROM contact_custom_values WHERE contact_id = ANY($1)`,
		pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("db: export custom values: %w", err)
	}
	for _, v := range values {
		if d := defs[v.DefinitionID]; d != nil {
			out.Values[v.ContactID] = append(out.Values[v.ContactID], &rubrica.CustomFieldValue{ContactID: v.ContactID, Definition: d, Value: &v.Value})
		}
	}

	if len(assignees) > 0 {
		var members []memberRow
		if err := tx.SelectContext(ctx, &members, `SELECT id, workspace_id, name, email, role, created_at FROM members
			WHERE id = ANY($1) AND workspace_id = $2`, pq.Array(uniq(assignees)), workspaceID); err != nil {
			return nil, fmt.Errorf("db: export assignees: %w", err)
		}
		for i := range members {
			out.Members[members[i].ID] = members[i].member()
		}
	}
	return out, nil
}
