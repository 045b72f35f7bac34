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

// TagService implements rubrica.TagService.
type TagService struct {
	db *DB
}

var _ rubrica.TagService = (*TagService)(nil)

// tagRow is a tags row, scanned (db) or decoded from readContactLists' JSON (json).
type tagRow struct {
	ID          string    `db:"id" json:"id"`
	WorkspaceID string    `db:"workspace_id" json:"workspace_id"`
	Name        string    `db:"name" json:"name"`
	Color       *string   `db:"color" json:"color"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}

const tagColumns = `t.id, t.workspace_id, t.name, t.color, t.created_at`

func (r *tagRow) tag() *rubrica.Tag {
	return &rubrica.Tag{ID: r.ID, WorkspaceID: r.WorkspaceID, Name: r.Name, Color: r.Color, CreatedAt: r.CreatedAt}
}

// CreateTag creates a tag; a name the workspace already has is CONFLICT.
func (s *TagService) CreateTag(ctx context.Context, in rubrica.TagInput) (*rubrica.Tag, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := rubrica.ValidateTagInput(&in); err != nil {
		return nil, err
	}
	var t *rubrica.Tag
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row tagRow
		const q = `INSERT INTO tags AS t (workspace_id, name, color) VALUES ($1, $2, $3)
			ON CONFLICT (workspace_id, lower(name)) DO NOTHING RETURNING ` + tagColumns
		if err := tx.GetContext(ctx, &row, q, a.WorkspaceID, in.Name, in.Color); errors.Is(err, sql.ErrNoRows) {
			return &rubrica.Error{Code: rubrica.ECONFLICT, Field: "name", Message: fmt.Sprintf("The workspace already has a tag named %q.", in.Name)}
		} else if err != nil {
			return fmt.Errorf("db: insert tag: %w", err)
		}
		t = row.tag()
		return nil
	})
	return t, err
}

// FindTagByID returns a tag of the workspace.
func (s *TagService) FindTagByID(ctx context.Context, id string) (*rubrica.Tag, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findTag(ctx, s.db, a.WorkspaceID, id, "id")
}

// tagOrder is the order of tags: by name, case-insensitive.
var tagOrder = keyset{key: "lower(t.name)", id: "t.id", keyType: keyText}

func tagWhere(workspaceID, search string, a *args) ([]string, error) {
	if err := rubrica.ValidateSearch("search", search); err != nil {
		return nil, err
	}
	where := []string{"t.workspace_id = " + a.add(workspaceID)}
	if s := strings.TrimSpace(search); s != "" {
		where = append(where, "lower(t.name) LIKE "+a.add(likePattern(s)))
	}
	return where, nil
}

// FindTags lists the workspace's tags by name.
func (s *TagService) FindTags(ctx context.Context, search string, p rubrica.Page) (*rubrica.Connection[*rubrica.Tag], error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var qa args
	where, err := tagWhere(a.WorkspaceID, search, &qa)
	if err != nil {
		return nil, err
	}
	return listPage(ctx, s.db, p, "TAG", tagOrder, `SELECT `+tagColumns+` FROM tags t`, where, qa,
		(*tagRow).tag, func(r *tagRow) (string, string) { return strings.ToLower(r.Name), r.ID })
}

// CountTags counts the tags FindTags lists.
func (s *TagService) CountTags(ctx context.Context, search string) (int, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return 0, err
	}
	var qa args
	where, err := tagWhere(a.WorkspaceID, search, &qa)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM tags t WHERE `+strings.Join(where, " AND "), qa...); err != nil {
		return 0, fmt.Errorf("db: count tags: %w", err)
	}
	return n, nil
}

// AddTagsToContacts tags up to MaxBulkContacts contacts, given by id or by a filter, with
// tags by id or name, creating tags for names the workspace does not have. Nothing changes
// unless every id is found.
func (s *TagService) AddTagsToContacts(ctx context.Context, sel rubrica.ContactSelection, tagIDs, tagNames []string) (*rubrica.TagsAdded, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := sel.Validate("contactIds"); err != nil {
		return nil, err
	}
	if len(tagIDs) == 0 && len(tagNames) == 0 {
		return nil, rubrica.InvalidField("tagIds", "name at least one tag, by id or by name.")
	}
	names := make([]string, 0, len(tagNames))
	for _, n := range tagNames {
		n, err := rubrica.NormalizeTagName("tagNames", n)
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	var tags []*rubrica.Tag
	var contactIDs []string
	var contacts []*rubrica.Contact
	var lists rubrica.ContactLists
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		limit := selectionLimit{max: rubrica.MaxBulkContacts, what: "Tags can be added to"}
		if contactIDs, err = selectContactIDs(ctx, tx, a.WorkspaceID, sel, "contactIds", limit, false); err != nil {
			return err
		}
		var rows []tagRow
		if len(tagIDs) > 0 {
			ids := uniq(tagIDs)
			if err := tx.SelectContext(ctx, &rows, `SELECT `+tagColumns+` FROM tags t WHERE t.id = ANY($1) AND t.workspace_id = $2`,
				pq.Array(validIDs(ids)), a.WorkspaceID); err != nil {
				return fmt.Errorf("db: find tags: %w", err)
			}
			if len(rows) != len(ids) {
				return rubrica.NotFound("tagIds", "Tag")
			}
		}
		if len(contactIDs) == 0 {
			// A filter that matches nothing tags nothing and creates no tag.
			return nil
		}
		if len(names) > 0 {
			// Create the missing names first (a concurrent creation of the same name is fine),
			// then read every named tag.
			const create = `INSERT INTO tags (workspace_id, name) SELECT $1, n FROM unnest($2::text[]) AS n
				ON CONFLICT (workspace_id, lower(name)) DO NOTHING`
			if _, err := tx.ExecContext(ctx, create, a.WorkspaceID, pq.Array(names)); err != nil {
				return fmt.Errorf("db: create tags: %w", err)
			}
			var named []tagRow
			if err := tx.SelectContext(ctx, &named, `SELECT `+tagColumns+` FROM tags t WHERE t.workspace_id = $1
				AND lower(t.name) = ANY(SELECT lower(n) FROM unnest($2::text[]) AS n)`, a.WorkspaceID, pq.Array(names)); err != nil {
				return fmt.Errorf("db: find named tags: %w", err)
			}
			rows = append(rows, named...)
		}
		seen := map[string]bool{}
		ids := []string{}
		for i := range rows {
			if !seen[rows[i].ID] {
				seen[rows[i].ID] = true
				ids = append(ids, rows[i].ID)
				tags = append(tags, rows[i].tag())
			}
		}
		const link = `INSERT INTO contact_tags (contact_id, tag_id)
			SELECT c, t FROM unnest($1::uuid[]) AS c CROSS JOIN unnest($2::uuid[]) AS t
			ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, link, pq.Array(contactIDs), pq.Array(ids)); err != nil {
			return fmt.Errorf("db: link tags: %w", err)
		}
		if contacts, err = touchContacts(ctx, tx, contactIDs); err != nil {
			return err
		}
		events := make([]rubrica.Event, len(contactIDs))
		for i, id := range contactIDs {
			events[i] = newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, id, nil)
		}
		if err := publish(ctx, tx, events...); err != nil {
			return err
		}
		lists, err = readContactLists(ctx, tx, a.WorkspaceID, contactIDs, rubrica.ContactListSet{Tags: true, TagCounts: true, Assignees: true}, ids...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []*rubrica.Tag{}
	}
	return &rubrica.TagsAdded{ContactIDs: contactIDs, Contacts: contacts, Tags: tags, Lists: lists}, nil
}

// touchContacts sets the contacts' updated_at and returns them as they now are, in the order
// of ids.
func touchContacts(ctx context.Context, tx *sqlx.Tx, ids []string) ([]*rubrica.Contact, error) {
	var rows []contactRow
	const q = `UPDATE contacts AS c SET updated_at = clock_timestamp() WHERE c.id = ANY($1) RETURNING ` + contactColumns
	if err := tx.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("db: touch contacts: %w", err)
	}
	found := make(map[string]*rubrica.Contact, len(rows))
	for i := range rows {
		found[rows[i].ID] = rows[i].contact()
	}
	return contactsInOrder(found, ids), nil
}

// RemoveTagFromContact takes a tag off a contact; the tag itself stays. It returns the
// contact, the tag and the contact's remaining tags with their counts as committed.
func (s *TagService) RemoveTagFromContact(ctx context.Context, contactID, tagID string) (*rubrica.TagRemoved, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out rubrica.TagRemoved
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if out.Contact, err = findContact(ctx, tx, a.WorkspaceID, contactID, true); err != nil {
			return withField(err, "contactId")
		}
		if out.Tag, err = findTag(ctx, tx, a.WorkspaceID, tagID, "tagId"); err != nil {
			return err
		}
		if err := unlinkTag(ctx, tx, out.Contact, tagID); err != nil {
			return err
		}
		out.Lists, err = readContactLists(ctx, tx, a.WorkspaceID, []string{contactID}, rubrica.ContactListSet{Tags: true, TagCounts: true, Assignees: true}, tagID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// findTag returns a tag of the workspace; NOT_FOUND names field.
func findTag(ctx context.Context, q sqlx.QueryerContext, workspaceID, id, field string) (*rubrica.Tag, error) {
	row, err := getByID[tagRow](ctx, q, "Tag", field, `SELECT `+tagColumns+` FROM tags t WHERE t.id = $1 AND t.workspace_id = $2`, id, workspaceID)
	if err != nil {
		return nil, err
	}
	return row.tag(), nil
}

// unlinkTag takes a tag off a contact; if it had it, the contact is touched (c.UpdatedAt
// follows) and announced.
func unlinkTag(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, tagID string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM contact_tags WHERE contact_id = $1 AND tag_id = $2`, c.ID, tagID)
	if err != nil {
		return fmt.Errorf("db: unlink tag: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if err := tx.GetContext(ctx, &c.UpdatedAt, `UPDATE contacts SET updated_at = clock_timestamp() WHERE id = $1 RETURNING updated_at`, c.ID); err != nil {
		return fmt.Errorf("db: touch contact: %w", err)
	}
	return publish(ctx, tx, newEvent(c.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, c.ID, nil))
}

// FindTagsByContactIDs returns each contact's tags, by name.
func (s *TagService) FindTagsByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*rubrica.Tag, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findContactTags(ctx, s.db, a.WorkspaceID, contactIDs)
}

func findContactTags(ctx context.Context, db sqlx.QueryerContext, workspaceID string, contactIDs []string) (map[string][]*rubrica.Tag, error) {
	var rows []contactTagRow
	if err := sqlx.SelectContext(ctx, db, &rows, contactTagsList.rows(), pq.Array(validIDs(contactIDs)), workspaceID); err != nil {
		return nil, fmt.Errorf("db: find tags of contacts: %w", err)
	}
	return tagsByContact(rows, len(contactIDs)), nil
}

// contactTagRow is a tag of a contact, as contactTagsList reads it.
type contactTagRow struct {
	ContactID string `db:"contact_id" json:"contact_id"`
	tagRow
}

// tagsByContact groups the rows by contact, in their order.
func tagsByContact(rows []contactTagRow, n int) map[string][]*rubrica.Tag {
	out := make(map[string][]*rubrica.Tag, n)
	for i := range rows {
		out[rows[i].ContactID] = append(out[rows[i].ContactID], rows[i].tag())
	}
	return out
}

// CountContactsByTagIDs returns how many contacts carry each tag.
func (s *TagService) CountContactsByTagIDs(ctx context.Context, tagIDs []string) (map[string]int, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return countTagContacts(ctx, s.db, a.WorkspaceID, tagIDs)
}

func countTagContacts(ctx context.Context, db sqlx.QueryerContext, workspaceID string, tagIDs []string) (map[string]int, error) {
	const q = `SELECT t.id, count(ct.contact_id) AS n FROM tags t LEFT JOIN contact_tags ct ON ct.tag_id = t.id
		WHERE t.id = ANY($1) AND t.workspace_id = $2 GROUP BY t.id`
	var rows []struct {
		ID string `db:"id"`
		N  int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, db, &rows, q, pq.Array(validIDs(tagIDs)), workspaceID); err != nil {
		return nil, fmt.Errorf("db: count tag contacts: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}

// withField names the input field of a NOT_FOUND error.
func withField(err error, field string) error {
	var e *rubrica.Error
	if errors.As(err, &e) && e.Code == rubrica.ENOTFOUND {
		return &rubrica.Error{Code: e.Code, Message: e.Message, Field: field}
	}
	return err
}
