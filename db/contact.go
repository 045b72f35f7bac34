package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// ContactService implements rubrica.ContactService.
type ContactService struct {
	db *DB
}

var _ rubrica.ContactService = (*ContactService)(nil)

// contactRow is a contacts row as stored.
type contactRow struct {
	ID                string         `db:"id"`
	WorkspaceID       string         `db:"workspace_id"`
	FirstName         sql.NullString `db:"first_name"`
	LastName          sql.NullString `db:"last_name"`
	ProfileName       sql.NullString `db:"profile_name"`
	ProfilePictureURL sql.NullString `db:"profile_picture_url"`
	Email             sql.NullString `db:"email"`
	OtherEmails       pq.StringArray `db:"other_emails"`
	Phone             sql.NullString `db:"phone"`
	OtherPhones       pq.StringArray `db:"other_phones"`
	Country           sql.NullString `db:"country"`
	CountryManual     bool           `db:"country_manual"`
	Language          sql.NullString `db:"language"`
	AssigneeID        sql.NullString `db:"assignee_id"`
	BlockedAt         sql.NullTime   `db:"blocked_at"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
	SortName          string         `db:"sort_name"`
}

// contactColumns are the columns contactRow reads, for a table aliased c.
const contactColumns = `c.id, c.workspace_id, c.first_name, c.last_name, c.profile_name, c.profile_picture_url,
	c.email, c.other_emails, c.phone, c.other_phones, c.country, c.country_manual, c.language, c.assignee_id, c.blocked_at,
	c.created_at, c.updated_at, c.sort_name`

func (r *contactRow) contact() *rubrica.Contact {
	c := &rubrica.Contact{
		ID: r.ID, WorkspaceID: r.WorkspaceID,
		FirstName: nullable(r.FirstName), LastName: nullable(r.LastName),
		ProfileName: nullable(r.ProfileName), ProfilePictureURL: nullable(r.ProfilePictureURL),
		Email: nullable(r.Email), OtherEmails: r.OtherEmails, Phone: nullable(r.Phone), OtherPhones: r.OtherPhones,
		Country:       nullable(r.Country),
		CountryManual: r.CountryManual, Language: nullable(r.Language), AssigneeID: nullable(r.AssigneeID),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.BlockedAt.Valid {
		t := r.BlockedAt.Time
		c.BlockedAt = &t
	}
	return c
}

func nullable(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// FindContactByID returns a contact of the actor's workspace.
func (s *ContactService) FindContactByID(ctx context.Context, id string) (*rubrica.Contact, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findContact(ctx, s.db, a.WorkspaceID, id, false)
}

// FindContactWithLists implements rubrica.ContactService.
func (s *ContactService) FindContactWithLists(ctx context.Context, id string, set rubrica.ContactListSet) (*rubrica.Contact, rubrica.ContactLists, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, rubrica.ContactLists{}, err
	}
	return findContactWithLists(ctx, s.db, a.WorkspaceID, id, set)
}

// findContact reads one contact of the workspace, locking it when lock is set.
func findContact(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string, lock bool) (*rubrica.Contact, error) {
	row, err := getByID[contactRow](ctx, q, "Contact", "id",
		`SELECT `+contactColumns+` FROM contacts c WHERE c.id = $1 AND c.workspace_id = $2`+forUpdate(lock), id, workspaceID)
	if err != nil {
		return nil, err
	}
	return row.contact(), nil
}

// FindContactsByIDs returns the workspace's contacts among ids.
func (s *ContactService) FindContactsByIDs(ctx context.Context, ids []string) (map[string]*rubrica.Contact, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findContactsByIDs(ctx, s.db, a.WorkspaceID, ids)
}

func findContactsByIDs(ctx context.Context, db sqlx.QueryerContext, workspaceID string, ids []string) (map[string]*rubrica.Contact, error) {
	const q = `SELECT ` + contactColumns + ` FROM contacts c WHERE c.id = ANY($1) AND c.workspace_id = $2`
	var rows []contactRow
	if err := sqlx.SelectContext(ctx, db, &rows, q, pq.Array(validIDs(ids)), workspaceID); err != nil {
		return nil, fmt.Errorf("db: find contacts by ids: %w", err)
	}
	out := make(map[string]*rubrica.Contact, len(rows))
	for i := range rows {
		out[rows[i].ID] = rows[i].contact()
	}
	return out, nil
}

// contactOrders maps each order to its keyset columns.
var contactOrders = map[rubrica.ContactOrderField]keyset{
	rubrica.ContactOrderCreatedAt: {key: "c.created_at", id: "c.id", keyType: keyTimestamp},
	rubrica.ContactOrderUpdatedAt: {key: "c.updated_at", id: "c.id", keyType: keyTimestamp},
	rubrica.ContactOrderName:      {key: "c.sort_name", id: "c.id", keyType: keyText},
}

// contactWhere returns the conditions of a filter for contacts aliased c.
func contactWhere(workspaceID string, f rubrica.ContactFilter, a *args) ([]string, error) {
	where := []string{"c.workspace_id = " + a.add(workspaceID)}
	if err := rubrica.ValidateSearch("filter.search", f.Search); err != nil {
		return nil, err
	}
	if f.Country != nil && !rubrica.ValidText(*f.Country) {
		return nil, rubrica.InvalidField("filter.country", "country may not contain NUL characters.")
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		where = append(where, "c.search_text LIKE "+a.add(likePattern(searchTerm(s))))
	}
	if len(f.TagIDs) > 0 {
		ids := validIDs(f.TagIDs)
		if f.TagMatch == rubrica.TagMatchAll {
			if len(ids) < len(f.TagIDs) {
				where = append(where, "false")
			} else {
				where = append(where, "(SELECT count(*) FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ANY("+
					a.add(pq.Array(ids))+")) = "+a.add(len(uniq(ids))))
			}
		} else {
			where = append(where, "EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ANY("+a.add(pq.Array(ids))+"))")
		}
	}
	if len(f.ChannelIDs) > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM contact_channels l WHERE l.contact_id = c.id AND l.channel_id = ANY("+
			a.add(pq.Array(validIDs(f.ChannelIDs)))+"))")
	}
	if f.Blocked != nil {
		if *f.Blocked {
			where = append(where, "c.blocked_at IS NOT NULL")
		} else {
			where = append(where, "c.blocked_at IS NULL")
		}
	}
	if f.AssigneeID != nil {
		if !validID(*f.AssigneeID) {
			where = append(where, "false")
		} else {
			where = append(where, "c.assignee_id = "+a.add(*f.AssigneeID))
		}
	}
	if f.Country != nil {
		where = append(where, "c.country = "+a.add(strings.ToUpper(strings.TrimSpace(*f.Country))))
	}
	return where, nil
}

// customField names the input field of a custom value: customFields.<key> when the key can
// be one (see rubrica.ValidateCustomFieldInput), else customFields, so that no field name
// grows with the input.
func customField(key string) string {
	if len(key) > 64 || !rubrica.ValidText(key) || !utf8.ValidString(key) {
		return "customFields"
	}
	return "customFields." + key
}

// searchTerm returns what to look for: a phone-like term loses its spaces, dashes and
// brackets, so "+39 333 123" finds +39333123....
func searchTerm(s string) string {
	phoneLike := true
	for _, r := range s {
		if !strings.ContainsRune("+0123456789 -().", r) {
			phoneLike = false
			break
		}
	}
	if phoneLike {
		return strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "").Replace(s)
	}
	return s
}

func uniq(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// FindContacts returns one page of the workspace's contacts.
func (s *ContactService) FindContacts(ctx context.Context, f rubrica.ContactFilter, o rubrica.ContactOrder, p rubrica.Page) (*rubrica.Connection[*rubrica.Contact], error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if o.Field == "" {
		o = rubrica.ContactOrder{Field: rubrica.ContactOrderCreatedAt, Descending: true}
	}
	ks, ok := contactOrders[o.Field]
	if !ok {
		return nil, rubrica.InvalidField("orderBy", "unknown order %q.", o.Field)
	}
	ks.descending = o.Descending
	var qa args
	where, err := contactWhere(a.WorkspaceID, f, &qa)
	if err != nil {
		return nil, err
	}
	return listPage(ctx, s.db, p, string(o.Field), ks, `SELECT `+contactColumns+` FROM contacts c`, where, qa,
		(*contactRow).contact, func(r *contactRow) (string, string) { return contactSortKey(o.Field, r), r.ID })
}

func contactSortKey(f rubrica.ContactOrderField, r *contactRow) string {
	switch f {
	case rubrica.ContactOrderUpdatedAt:
		return timeKey(r.UpdatedAt)
	case rubrica.ContactOrderName:
		return r.SortName
	}
	return timeKey(r.CreatedAt)
}

// CountContacts counts the contacts a filter selects.
func (s *ContactService) CountContacts(ctx context.Context, f rubrica.ContactFilter) (int, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return 0, err
	}
	var qa args
	where, err := contactWhere(a.WorkspaceID, f, &qa)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM contacts c WHERE `+strings.Join(where, " AND "), qa...); err != nil {
		return 0, fmt.Errorf("db: count contacts: %w", err)
	}
	return n, nil
}

// CreateContact validates and stores a new contact with its custom values.
func (s *ContactService) CreateContact(ctx context.Context, in rubrica.ContactChanges) (*rubrica.Contact, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	c := &rubrica.Contact{WorkspaceID: a.WorkspaceID}
	if err := rubrica.ApplyContactChanges(c, in); err != nil {
		return nil, err
	}
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkAssignee(ctx, tx, a.WorkspaceID, c.AssigneeID); err != nil {
			return err
		}
		values, err := customValues(ctx, tx, a.WorkspaceID, in.CustomFields)
		if err != nil {
			return err
		}
		if err := insertContact(ctx, tx, c); err != nil {
			return err
		}
		if err := saveCustomValues(ctx, tx, c.ID, values); err != nil {
			return err
		}
		if err := refreshNewContacts(ctx, tx, a.WorkspaceID, c); err != nil {
			return err
		}
		return publish(ctx, tx, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactCreated, c.ID, nil))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// contactWritten are the columns every write of a contact sets from the contact, by name (see
// contactValues); a statement adds the columns it treats apart.
var contactWritten = []string{"first_name", "last_name", "profile_name", "profile_picture_url",
	"email", "other_emails", "phone", "other_phones", "country", "country_manual", "language"}

// contactValues are a contact's stored values by column name, for the named parameters of
// contact writes.
func contactValues(c *rubrica.Contact) map[string]any {
	return map[string]any{
		"id": c.ID, "workspace_id": c.WorkspaceID, "first_name": c.FirstName, "last_name": c.LastName,
		"profile_name": c.ProfileName, "profile_picture_url": c.ProfilePictureURL,
		"email": c.Email, "other_emails": textArray(c.OtherEmails), "phone": c.Phone, "other_phones": textArray(c.OtherPhones),
		"country": c.Country, "country_manual": c.CountryManual, "language": c.Language, "assignee_id": c.AssigneeID,
		"blocked_at": c.BlockedAt, "created_at": c.CreatedAt, "updated_at": c.UpdatedAt,
	}
}

// textArray is a text[] parameter: empty, never NULL, for no values.
func textArray(v []string) pq.StringArray {
	if v == nil {
		return pq.StringArray{}
	}
	return v
}

// namedInsert is INSERT INTO contacts of contactWritten and the extra columns, each bound to
// the parameter of its name unless values says otherwise (column → SQL expression).
func namedInsert(extra []string, exprs map[string]string, returning string) string {
	cols := append(append([]string{}, contactWritten...), extra...)
	vals := make([]string, len(cols))
	for i, col := range cols {
		vals[i] = ":" + col
		if e, ok := exprs[col]; ok {
			vals[i] = e
		}
	}
	return `INSERT INTO contacts (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(vals, ", ") + `)` + returning
}

// namedUpdate is UPDATE contacts SET contactWritten and the extra columns (bound as in
// namedInsert) and updated_at, of the contact :id.
func namedUpdate(extra []string, exprs map[string]string, returning string) string {
	cols := append(append([]string{}, contactWritten...), extra...)
	sets := make([]string, len(cols))
	for i, col := range cols {
		v := ":" + col
		if e, ok := exprs[col]; ok {
			v = e
		}
		sets[i] = col + " = " + v
	}
	return `UPDATE contacts SET ` + strings.Join(sets, ", ") + `, updated_at = clock_timestamp() WHERE id = :id` + returning
}

// execContact runs a named contact write for c and scans what it returns into dest.
func execContact(ctx context.Context, tx *sqlx.Tx, q string, c *rubrica.Contact, dest ...any) error {
	bound, args, err := sqlx.Named(q, contactValues(c))
	if err != nil {
		return err
	}
	bound = tx.Rebind(bound)
	if len(dest) == 0 {
		_, err = tx.ExecContext(ctx, bound, args...)
		return err
	}
	return tx.QueryRowxContext(ctx, bound, args...).Scan(dest...)
}

// The contact writes.
var (
	insertContactSQL = namedInsert([]string{"workspace_id", "assignee_id"}, nil, ` RETURNING id, created_at, updated_at`)
	updateContactSQL = namedUpdate([]string{"assignee_id"}, nil, ` RETURNING updated_at`)
	// A merge or an unmerge also writes the blocked mark; an assignee removed since is not
	// restored.
	writeContactSQL = namedUpdate([]string{"assignee_id", "blocked_at"},
		map[string]string{"assignee_id": `(SELECT id FROM members WHERE id = :assignee_id AND removed_at IS NULL)`},
		` RETURNING updated_at, assignee_id`)
	restoreContactSQL = namedInsert([]string{"id", "workspace_id", "assignee_id", "blocked_at", "created_at", "updated_at"},
		map[string]string{"assignee_id": `(SELECT id FROM members WHERE id = :assignee_id AND workspace_id = :workspace_id AND removed_at IS NULL)`}, ``)
)

// insertContact stores a new contact and sets its id and times.
func insertContact(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact) error {
	if err := execContact(ctx, tx, insertContactSQL, c, &c.ID, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return fmt.Errorf("db: insert contact: %w", err)
	}
	return nil
}

// UpdateContact applies the fields the input sets to a contact of the workspace.
func (s *ContactService) UpdateContact(ctx context.Context, id string, in rubrica.ContactChanges) (*rubrica.Contact, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if in.OwnFieldsOnly() {
		return s.updateOwnFields(ctx, a.WorkspaceID, id, in)
	}
	var c *rubrica.Contact
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if c, err = findContact(ctx, tx, a.WorkspaceID, id, true); err != nil {
			return err
		}
		before := *c
		if err := rubrica.ApplyContactChanges(c, in); err != nil {
			return err
		}
		if in.AssigneeID.Set {
			if err := checkAssignee(ctx, tx, a.WorkspaceID, c.AssigneeID); err != nil {
				return err
			}
		}
		values, err := customValues(ctx, tx, a.WorkspaceID, in.CustomFields)
		if err != nil {
			return err
		}
		if err := execContact(ctx, tx, updateContactSQL, c, &c.UpdatedAt); err != nil {
			return fmt.Errorf("db: update contact: %w", err)
		}
		if err := saveCustomValues(ctx, tx, c.ID, values); err != nil {
			return err
		}
		if old := contactKeys(&before); strings.Join(old, ",") != strings.Join(contactKeys(c), ",") {
			if err := refreshDuplicates(ctx, tx, a.WorkspaceID, []string{c.ID}, old...); err != nil {
				return err
			}
		}
		events, err := channelStatusEvents(ctx, tx, &before, c)
		if err != nil {
			return err
		}
		events = append(events, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, c.ID, nil))
		return publish(ctx, tx, events...)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// updateOwnFieldsSQL stores an edit of the fields of ContactChanges.OwnFieldsOnly and its
// UPDATED event in one statement, so in one transaction and one round trip: the contact is
// not read first, as no rule needs its other values. The update locks the contact's row
// before the event draws its sequence number, which keeps its events in order (see
// publish). $1 id, $2 workspace, then whether each field is set and its value: first name
// $3 $4, last name $5 $6, picture $7 $8, language $9 $10; $11 $12 the event's kind and type.
var updateOwnFieldsSQL = `WITH c AS (UPDATE contacts c SET first_name = CASE WHEN $3 THEN $4 ELSE c.first_name END,
		last_name = CASE WHEN $5 THEN $6 ELSE c.last_name END,
		profile_picture_url = CASE WHEN $7 THEN $8 ELSE c.profile_picture_url END,
		language = CASE WHEN $9 THEN $10 ELSE c.language END, updated_at = clock_timestamp()
		WHERE c.id = $1 AND c.workspace_id = $2 RETURNING ` + contactColumns + `),
	e AS (INSERT INTO events (workspace_id, kind, type, contact_id) SELECT c.workspace_id, $11, $12, c.id FROM c)
	SELECT ` + contactColumns + ` FROM c`

// updateOwnFields is UpdateContact for changes of OwnFieldsOnly, by updateOwnFieldsSQL.
func (s *ContactService) updateOwnFields(ctx context.Context, workspaceID, id string, in rubrica.ContactChanges) (*rubrica.Contact, error) {
	var v rubrica.Contact // the changes' values, normalized
	if err := rubrica.ApplyContactChanges(&v, in); err != nil {
		return nil, err
	}
	row, err := getByID[contactRow](ctx, s.db, "Contact", "id", updateOwnFieldsSQL, id, workspaceID,
		in.FirstName.Set, v.FirstName, in.LastName.Set, v.LastName, in.ProfilePictureURL.Set, v.ProfilePictureURL,
		in.Language.Set, v.Language, string(rubrica.KindContact), rubrica.ContactUpdated)
	if err != nil {
		return nil, translate(err)
	}
	s.db.notify.wake()
	return row.contact(), nil
}

// checkAssignee makes sure an assignee is a member of the workspace, not a removed one.
func checkAssignee(ctx context.Context, tx *sqlx.Tx, workspaceID string, assigneeID *string) error {
	if assigneeID == nil {
		return nil
	}
	if !validID(*assigneeID) {
		return rubrica.NotFound("assigneeId", "Member")
	}
	var ok bool
	const q = `SELECT EXISTS (SELECT 1 FROM members WHERE id = $1 AND workspace_id = $2 AND removed_at IS NULL)`
	if err := tx.GetContext(ctx, &ok, q, *assigneeID, workspaceID); err != nil {
		return fmt.Errorf("db: check assignee: %w", err)
	} else if !ok {
		return rubrica.NotFound("assigneeId", "Member")
	}
	return nil
}

// customValue is a checked value for one definition; a nil value clears it.
type customValue struct {
	definitionID string
	value        *string
}

// customValues checks custom field inputs against the workspace's definitions.
func customValues(ctx context.Context, tx *sqlx.Tx, workspaceID string, in []rubrica.CustomValueInput) ([]customValue, error) {
	if len(in) == 0 {
		return nil, nil
	}
	defs, err := findDefinitions(ctx, tx, workspaceID)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*rubrica.CustomFieldDefinition, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	out := make([]customValue, 0, len(in))
	seen := map[string]bool{}
	for _, v := range in {
		d, ok := byKey[v.Key]
		if !ok {
			return nil, rubrica.InvalidField(customField(v.Key), "the workspace has no custom field %s.", rubrica.Quoted(v.Key))
		}
		if seen[v.Key] {
			return nil, rubrica.InvalidField(customField(v.Key), "custom field %s is given twice.", rubrica.Quoted(v.Key))
		}
		seen[v.Key] = true
		val, err := rubrica.NormalizeCustomValue(d, v.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, customValue{definitionID: d.ID, value: val})
	}
	return out, nil
}

// saveCustomValues sets or clears a contact's custom values.
func saveCustomValues(ctx context.Context, tx *sqlx.Tx, contactID string, values []customValue) error {
	for _, v := range values {
		var err error
		if v.value == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM contact_custom_values WHERE contact_id = $1 AND definition_id = $2`, contactID, v.definitionID)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO contact_custom_values (contact_id, definition_id, value) VALUES ($1, $2, $3)
				ON CONFLICT (contact_id, definition_id) DO UPDATE SET value = EXCLUDED.value`, contactID, v.definitionID, *v.value)
		}
		if err != nil {
			return fmt.Errorf("db: save custom value: %w", err)
		}
	}
	return nil
}

// FindCustomValuesByContactIDs returns each contact's custom values in the workspace's field
// order.
func (s *ContactService) FindCustomValuesByContactIDs(ctx context.Context, ids []string) (map[string][]*rubrica.CustomFieldValue, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findCustomValues(ctx, s.db, a.WorkspaceID, ids)
}

func findCustomValues(ctx context.Context, db sqlx.QueryerContext, workspaceID string, ids []string) (map[string][]*rubrica.CustomFieldValue, error) {
	var rows []customValueRow
	if err := sqlx.SelectContext(ctx, db, &rows, customValuesList.rows(), pq.Array(validIDs(ids)), workspaceID); err != nil {
		return nil, fmt.Errorf("db: find custom values: %w", err)
	}
	return customValuesByContact(rows, len(ids)), nil
}

// customValueRow is a custom value of a contact with its definition, as customValuesList
// reads it.
type customValueRow struct {
	ContactID string `db:"contact_id" json:"contact_id"`
	Value     string `db:"value" json:"value"`
	definitionRow
}

// customValuesByContact groups the rows by contact, in their order; the values of one
// definition share it.
func customValuesByContact(rows []customValueRow, n int) map[string][]*rubrica.CustomFieldValue {
	out := make(map[string][]*rubrica.CustomFieldValue, n)
	defs := map[string]*rubrica.CustomFieldDefinition{}
	for i := range rows {
		r := &rows[i]
		d, ok := defs[r.definitionRow.ID]
		if !ok {
			d = r.definitionRow.definition()
			defs[d.ID] = d
		}
		v := r.Value
		out[r.ContactID] = append(out[r.ContactID], &rubrica.CustomFieldValue{ContactID: r.ContactID, Definition: d, Value: &v})
	}
	return out
}

// FindContactLists returns the lists set names of the workspace's contacts among ids, in
// one statement (with tags, a second counts them); no ids read nothing.
func (s *ContactService) FindContactLists(ctx context.Context, ids []string, set rubrica.ContactListSet) (rubrica.ContactLists, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return rubrica.ContactLists{}, err
	}
	if len(ids) == 0 {
		return rubrica.ContactLists{}, nil
	}
	return readContactLists(ctx, s.db, a.WorkspaceID, ids, set)
}

// channelStatusEvents returns a STATUS_CHANGED event for each channel whose status for the
// contact changed with its details (a phone or email gained or lost). It reads nothing when
// neither changed presence.
func channelStatusEvents(ctx context.Context, tx *sqlx.Tx, before, after *rubrica.Contact) ([]rubrica.Event, error) {
	if (before.Phone == nil) == (after.Phone == nil) && (before.Email == nil) == (after.Email == nil) {
		return nil, nil
	}
	channels, err := findChannels(ctx, tx, after.WorkspaceID)
	if err != nil {
		return nil, err
	}
	links, err := findLinks(ctx, tx, after.WorkspaceID, []string{after.ID})
	if err != nil {
		return nil, err
	}
	var events []rubrica.Event
	for _, ch := range channels {
		var on []*rubrica.ChannelLink
		for _, l := range links {
			if l.ChannelID == ch.ID {
				on = append(on, l)
			}
		}
		if rubrica.ContactChannelOf(before, ch, on).Status != rubrica.ContactChannelOf(after, ch, on).Status {
			id := ch.ID
			events = append(events, newEvent(after.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelStatusChanged, after.ID, &id))
		}
	}
	return events, nil
}
