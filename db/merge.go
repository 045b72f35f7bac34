package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

type mergeRow struct {
	ID               string         `db:"id"`
	WorkspaceID      string         `db:"workspace_id"`
	PrimaryContactID string         `db:"primary_contact_id"`
	MergedContactID  string         `db:"merged_contact_id"`
	Snapshot         []byte         `db:"snapshot"`
	MergedBy         sql.NullString `db:"merged_by"`
	MergedAt         time.Time      `db:"merged_at"`
	UndoneAt         sql.NullTime   `db:"undone_at"`
	UndoneBy         sql.NullString `db:"undone_by"`
	PrimaryExists    bool           `db:"primary_exists"`
	LaterMergeID     sql.NullString `db:"later_merge_id"`
}

// mergeColumns read a merge aliased m, whether its primary still exists, and the newest later
// merge (not undone) into or of the same primary.
const mergeColumns = `m.id, m.workspace_id, m.primary_contact_id, m.merged_contact_id, m.snapshot, m.merged_by,
	m.merged_at, m.undone_at, m.undone_by,
	EXISTS (SELECT 1 FROM contacts pc WHERE pc.id = m.primary_contact_id) AS primary_exists,
	(SELECT l.id FROM merges l WHERE l.workspace_id = m.workspace_id AND l.undone_at IS NULL AND l.id <> m.id
		AND (l.merged_at, l.id) > (m.merged_at, m.id)
		AND (l.primary_contact_id = m.primary_contact_id OR l.merged_contact_id = m.primary_contact_id)
		ORDER BY l.merged_at DESC, l.id DESC LIMIT 1) AS later_merge_id`

func (r *mergeRow) merge() *rubrica.Merge {
	m := &rubrica.Merge{ID: r.ID, WorkspaceID: r.WorkspaceID, PrimaryContactID: r.PrimaryContactID, MergedContactID: r.MergedContactID,
		Snapshot: r.Snapshot, MergedBy: nullable(r.MergedBy), MergedAt: r.MergedAt, UndoneBy: nullable(r.UndoneBy),
		PrimaryExists: r.PrimaryExists, LaterMergeID: nullable(r.LaterMergeID)}
	if r.UndoneAt.Valid {
		t := r.UndoneAt.Time
		m.UndoneAt = &t
	}
	var snap mergeSnapshot
	if json.Unmarshal(r.Snapshot, &snap) == nil && len(snap.Secondaries) > 0 {
		sec := snap.Secondaries[0]
		mc := &rubrica.MergedContact{Contact: sec.Contact.contact(), CustomValues: map[string]string{}, TagIDs: sec.Tags,
			ConversationIDs: sec.Conversations}
		for _, id := range sec.Identities {
			mc.Identities = append(mc.Identities, rubrica.Identity{ChannelID: id.ChannelID, Identifier: id.Identifier})
		}
		for def, v := range sec.Custom {
			key, ok := sec.CustomKeys[def]
			if !ok {
				key = def
			}
			mc.CustomValues[key] = v
		}
		m.Merged = mc
	}
	return m
}

// mergeParty is one contact of a merge with what it holds.
type mergeParty struct {
	contact       *rubrica.Contact
	custom        map[string]string // definition id → value
	tags          []string
	links         []*rubrica.ChannelLink
	conversations []string
	open          *string // its open conversation
}

// loadParty reads what a contact holds; the contact row is given (and locked by the caller
// when it will change).
func loadParty(ctx context.Context, q sqlx.QueryerContext, workspaceID string, c *rubrica.Contact) (*mergeParty, error) {
	p := &mergeParty{contact: c, custom: map[string]string{}}
	var values []struct {
		Def   string `db:"definition_id"`
		Value string `db:"value"`
	}
	if err := sqlx.SelectContext(ctx, q, &values, `SELECT definition_id, value FROM contact_custom_values WHERE contact_id = $1`, c.ID); err != nil {
		return nil, fmt.Errorf("db: merge: custom values: %w", err)
	}
	for _, v := range values {
		p.custom[v.Def] = v.Value
	}
	if err := sqlx.SelectContext(ctx, q, &p.tags, `SELECT tag_id FROM contact_tags WHERE contact_id = $1 ORDER BY tag_id`, c.ID); err != nil {
		return nil, fmt.Errorf("db: merge: tags: %w", err)
	}
	links, err := findLinks(ctx, q, workspaceID, []string{c.ID})
	if err != nil {
		return nil, err
	}
	p.links = links
	var convs []struct {
		ID     string `db:"id"`
		Status string `db:"status"`
	}
	if err := sqlx.SelectContext(ctx, q, &convs, `SELECT id, status FROM conversations WHERE contact_id = $1 ORDER BY id`, c.ID); err != nil {
		return nil, fmt.Errorf("db: merge: conversations: %w", err)
	}
	for _, cv := range convs {
		id := cv.ID
		p.conversations = append(p.conversations, id)
		if cv.Status == string(rubrica.ConversationOpen) {
			p.open = &id
		}
	}
	return p, nil
}

// lockPair locks two contacts of the workspace in id order, so concurrent merges over the same
// contacts never deadlock. A contact merged away meanwhile is CONFLICT; one that does not
// exist is NOT_FOUND.
func lockPair(ctx context.Context, tx *sqlx.Tx, workspaceID, primaryID, secondaryID string) (*rubrica.Contact, *rubrica.Contact, error) {
	for id, field := range map[string]string{primaryID: "primaryContactId", secondaryID: "secondaryContactId"} {
		if !validID(id) {
			return nil, nil, rubrica.NotFound(field, "Contact")
		}
	}
	var rows []contactRow
	const q = `SELECT ` + contactColumns + ` FROM contacts c WHERE c.id = ANY($1) AND c.workspace_id = $2 ORDER BY c.id FOR UPDATE`
	if err := tx.SelectContext(ctx, &rows, q, pq.Array([]string{primaryID, secondaryID}), workspaceID); err != nil {
		return nil, nil, fmt.Errorf("db: merge: lock contacts: %w", err)
	}
	found := map[string]*rubrica.Contact{}
	for i := range rows {
		found[rows[i].ID] = rows[i].contact()
	}
	for _, p := range []struct{ id, field string }{{primaryID, "primaryContactId"}, {secondaryID, "secondaryContactId"}} {
		if found[p.id] != nil {
			continue
		}
		var mergedInto bool
		if err := tx.GetContext(ctx, &mergedInto, `SELECT EXISTS (SELECT 1 FROM merges WHERE merged_contact_id = $1 AND workspace_id = $2 AND undone_at IS NULL)`, p.id, workspaceID); err != nil {
			return nil, nil, fmt.Errorf("db: merge: %w", err)
		}
		if mergedInto {
			return nil, nil, &rubrica.Error{Code: rubrica.ECONFLICT, Field: p.field, Message: "The contact was just merged into another contact."}
		}
		return nil, nil, rubrica.NotFound(p.field, "Contact")
	}
	return found[primaryID], found[secondaryID], nil
}

// choiceMap checks field choices against the standard fields and the custom field keys.
func choiceMap(choices []rubrica.FieldChoice, defs []*rubrica.CustomFieldDefinition) (map[string]rubrica.MergeSide, error) {
	known := map[string]bool{}
	for _, f := range rubrica.MergeableFields {
		known[f] = true
	}
	for _, d := range defs {
		known[d.Key] = true
	}
	out := map[string]rubrica.MergeSide{}
	for _, c := range choices {
		if !known[c.Field] {
			return nil, rubrica.InvalidField("fieldChoices", "unknown field %s: choose among %s and the custom field keys.", rubrica.Quoted(c.Field), strings.Join(rubrica.MergeableFields, ", "))
		}
		if c.Side != rubrica.SidePrimary && c.Side != rubrica.SideSecondary {
			return nil, rubrica.InvalidField("fieldChoices", "unknown side %s.", rubrica.Quoted(string(c.Side)))
		}
		out[c.Field] = c.Side
	}
	return out, nil
}

func keysByDefinition(defs []*rubrica.CustomFieldDefinition) map[string]string {
	out := make(map[string]string, len(defs))
	for _, d := range defs {
		out[d.ID] = d.Key
	}
	return out
}

// writeContact stores every column a merge or unmerge may change; an assignee removed since
// the merge is not restored.
func writeContact(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact) error {
	if err := execContact(ctx, tx, writeContactSQL, c, &c.UpdatedAt, &c.AssigneeID); err != nil {
		return fmt.Errorf("db: write contact: %w", err)
	}
	return nil
}

func setCustomValue(ctx context.Context, tx *sqlx.Tx, contactID, defID string, v *string) error {
	var err error
	if v == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM contact_custom_values WHERE contact_id = $1 AND definition_id = $2`, contactID, defID)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO contact_custom_values (contact_id, definition_id, value) VALUES ($1, $2, $3)
			ON CONFLICT (contact_id, definition_id) DO UPDATE SET value = EXCLUDED.value`, contactID, defID, *v)
	}
	if err != nil {
		return fmt.Errorf("db: custom value: %w", err)
	}
	return nil
}

func diff(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// PreviewMerge returns what merging the secondary into the primary would produce; it changes
// nothing.
func (s *MergeService) PreviewMerge(ctx context.Context, primaryID, secondaryID string, choices []rubrica.FieldChoice) (*rubrica.MergePreview, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if primaryID == secondaryID {
		return nil, rubrica.InvalidField("secondaryContactId", "A contact cannot be merged with itself.")
	}
	var out *rubrica.MergePreview
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		p, sec, err := findPair(ctx, tx, a.WorkspaceID, primaryID, secondaryID)
		if err != nil {
			return err
		}
		defs, cm, pp, sp, err := prepareMerge(ctx, tx, a.WorkspaceID, p, sec, choices)
		if err != nil {
			return err
		}
		merged, _ := rubrica.MergeFields(p, sec, cm)
		custom, _ := rubrica.MergeCustomValues(pp.custom, sp.custom, keysByDefinition(defs), cm)
		out = &rubrica.MergePreview{Contact: merged, Links: append(append([]*rubrica.ChannelLink{}, pp.links...), sp.links...)}
		for _, d := range defs {
			if v, ok := custom[d.ID]; ok {
				v := v
				out.CustomValues = append(out.CustomValues, &rubrica.CustomFieldValue{ContactID: p.ID, Definition: d, Value: &v})
			}
		}
		for i := range out.Links {
			l := *out.Links[i]
			l.ContactID = p.ID
			out.Links[i] = &l
		}
		var tags []tagRow
		if err := tx.SelectContext(ctx, &tags, `SELECT `+tagColumns+` FROM tags t WHERE t.id = ANY($1) ORDER BY lower(t.name), t.id`,
			pq.Array(append(append([]string{}, pp.tags...), sp.tags...))); err != nil {
			return fmt.Errorf("db: preview tags: %w", err)
		}
		for i := range tags {
			out.Tags = append(out.Tags, tags[i].tag())
		}
		return nil
	})
	return out, err
}

// prepareMerge reads what a merge of two contacts works from: the workspace's custom field
// definitions, the checked field choices, and what each contact holds.
func prepareMerge(ctx context.Context, tx *sqlx.Tx, workspaceID string, p, sec *rubrica.Contact, choices []rubrica.FieldChoice) (
	defs []*rubrica.CustomFieldDefinition, cm map[string]rubrica.MergeSide, pp, sp *mergeParty, err error) {
	if defs, err = findDefinitions(ctx, tx, workspaceID); err != nil {
		return
	}
	if cm, err = choiceMap(choices, defs); err != nil {
		return
	}
	if pp, err = loadParty(ctx, tx, workspaceID, p); err != nil {
		return
	}
	sp, err = loadParty(ctx, tx, workspaceID, sec)
	return
}

// findPair reads two contacts of the workspace without locking them.
func findPair(ctx context.Context, q sqlx.QueryerContext, workspaceID, primaryID, secondaryID string) (*rubrica.Contact, *rubrica.Contact, error) {
	p, err := findContact(ctx, q, workspaceID, primaryID, false)
	if err != nil {
		return nil, nil, withField(err, "primaryContactId")
	}
	sec, err := findContact(ctx, q, workspaceID, secondaryID, false)
	if err != nil {
		return nil, nil, withField(err, "secondaryContactId")
	}
	return p, sec, nil
}

// MergeContacts merges the secondary into the primary in one transaction: fields combined by
// MergeFields and the choices, the secondary's channel links, conversations (with their
// messages, moved as conversations, not one by one), tags and custom values moved to the
// primary, the secondary deleted, and a Merge recorded with everything needed to undo it.
func (s *MergeService) MergeContacts(ctx context.Context, primaryID, secondaryID string, choices []rubrica.FieldChoice) (*rubrica.MergeResult, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if primaryID == secondaryID {
		return nil, rubrica.InvalidField("secondaryContactId", "A contact cannot be merged with itself.")
	}
	var res rubrica.MergeResult
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		p, sec, err := lockPair(ctx, tx, a.WorkspaceID, primaryID, secondaryID)
		if err != nil {
			return err
		}
		defs, cm, pp, sp, err := prepareMerge(ctx, tx, a.WorkspaceID, p, sec, choices)
		if err != nil {
			return err
		}
		keyOf := keysByDefinition(defs)
		merged, fieldChanges := rubrica.MergeFields(p, sec, cm)
		_, customChanges := rubrica.MergeCustomValues(pp.custom, sp.custom, keyOf, cm)
		party := snapshotParty{Contact: toSnapshotContact(sec), Custom: sp.custom, CustomKeys: map[string]string{},
			Tags: sp.tags, Conversations: sp.conversations}
		for _, l := range sp.links {
			party.Links = append(party.Links, l.ID)
			party.Identities = append(party.Identities, snapshotIdentity{ChannelID: l.ChannelID, Identifier: l.Identifier})
		}
		for def := range sp.custom {
			party.CustomKeys[def] = keyOf[def]
		}
		snap := mergeSnapshot{Primary: primaryChanges{
			Fields: valueChanges(fieldChanges), CountryManual: p.CountryManual, BlockedAt: p.BlockedAt,
			MergedBlockedAt: merged.BlockedAt, Custom: valueChanges(customChanges), AddedTags: diff(sp.tags, pp.tags),
			Phones: listChangeOf(p.Phones(), merged.Phones()), Emails: listChangeOf(p.Emails(), merged.Emails()),
		}}
		// One open conversation per contact: the primary's stays open, the secondary's closes.
		if pp.open != nil && sp.open != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'CLOSED', closed_at = clock_timestamp() WHERE id = $1`, *sp.open); err != nil {
				return fmt.Errorf("db: merge: close conversation: %w", err)
			}
			party.ClosedConversation = sp.open
		}
		if err := tx.SelectContext(ctx, &party.WorkflowRuns, `SELECT id FROM workflow_runs WHERE contact_id = $1 ORDER BY id`, sec.ID); err != nil {
			return fmt.Errorf("db: merge: workflow runs: %w", err)
		}
		snap.Secondaries = []snapshotParty{party}
		moves := []string{
			`UPDATE workflow_runs SET contact_id = $1 WHERE contact_id = $2`,
			`UPDATE contact_channels SET contact_id = $1 WHERE contact_id = $2`,
			`UPDATE conversations SET contact_id = $1 WHERE contact_id = $2`,
			`INSERT INTO contact_tags (contact_id, tag_id) SELECT $1, tag_id FROM contact_tags WHERE contact_id = $2 ON CONFLICT DO NOTHING`,
		}
		for _, q := range moves {
			if _, err := tx.ExecContext(ctx, q, p.ID, sec.ID); err != nil {
				return fmt.Errorf("db: merge: move: %w", err)
			}
		}
		for def, ch := range customChanges {
			if err := setCustomValue(ctx, tx, p.ID, def, ch.New); err != nil {
				return err
			}
		}
		if err := writeContact(ctx, tx, merged); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE id = $1`, sec.ID); err != nil {
			return fmt.Errorf("db: merge: delete secondary: %w", err)
		}
		snapJSON, err := json.Marshal(snap)
		if err != nil {
			return fmt.Errorf("db: merge: snapshot: %w", err)
		}
		var mergeID string // the snapshot goes as a string: jsonb takes no []byte (see singleRoundTrip)
		if err := tx.GetContext(ctx, &mergeID, `INSERT INTO merges (workspace_id, primary_contact_id, merged_contact_id, snapshot, merged_by)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, a.WorkspaceID, p.ID, sec.ID, string(snapJSON), a.MemberID); err != nil {
			return fmt.Errorf("db: merge: record: %w", err)
		}
		// The suggestions of exactly these two contacts are done: MERGED. Larger groups are
		// updated by refreshDuplicates.
		if err := lockDuplicates(ctx, tx, a.WorkspaceID); err != nil {
			return err
		}
		var done []string
		if err := tx.SelectContext(ctx, &done, `SELECT id FROM merge_suggestions WHERE workspace_id = $1 AND status = 'OPEN'
			AND id IN (SELECT suggestion_id FROM merge_suggestion_contacts WHERE contact_id = $3)
			AND contact_ids @> $2::uuid[] AND cardinality(contact_ids) = 2`, a.WorkspaceID, pq.Array([]string{p.ID, sec.ID}), p.ID); err != nil {
			return fmt.Errorf("db: merge: suggestions: %w", err)
		}
		var events []rubrica.Event
		for _, id := range done {
			if err := closeSuggestion(ctx, tx, id, rubrica.SuggestionMerged); err != nil {
				return err
			}
			id := id
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindMergeSuggestion, rubrica.SuggestionResolvedEvent, "", &id))
		}
		if err := refreshDuplicates(ctx, tx, a.WorkspaceID, []string{p.ID, sec.ID}, contactKeys(p, sec)...); err != nil {
			return err
		}
		events = append(events, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactMerged, p.ID, nil),
			newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactMerged, sec.ID, nil))
		for _, chID := range linkChannels(sp.links) {
			chID := chID
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelLinked, p.ID, &chID),
				newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelUnlinked, sec.ID, &chID))
		}
		if err := publish(ctx, tx, events...); err != nil {
			return err
		}
		res.Contact = merged
		res.Merge, err = findMerge(ctx, tx, a.WorkspaceID, mergeID, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// linkChannels returns the distinct channels of links.
func linkChannels(links []*rubrica.ChannelLink) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range links {
		if !seen[l.ChannelID] {
			seen[l.ChannelID] = true
			out = append(out, l.ChannelID)
		}
	}
	sort.Strings(out)
	return out
}

func findMerge(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string, lock bool) (*rubrica.Merge, error) {
	lockClause := ""
	if lock {
		lockClause = ` FOR UPDATE OF m`
	}
	row, err := getByID[mergeRow](ctx, q, "Merge", "mergeId",
		`SELECT `+mergeColumns+` FROM merges m WHERE m.id = $1 AND m.workspace_id = $2`+lockClause, id, workspaceID)
	if err != nil {
		return nil, err
	}
	return row.merge(), nil
}

// FindMergeByID returns a merge: to owners and managers, or to the member who made it.
func (s *MergeService) FindMergeByID(ctx context.Context, id string) (*rubrica.Merge, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	m, err := findMerge(ctx, s.db, a.WorkspaceID, id, false)
	if err != nil {
		return nil, err
	}
	if !a.Role.CanManage() && (m.MergedBy == nil || *m.MergedBy != a.MemberID) {
		return nil, rubrica.Errorf(rubrica.EFORBIDDEN, "Only owners and managers may see the merge history.")
	}
	return m, nil
}

// mergeOrder is the order of the merge history: newest first.
var mergeOrder = keyset{key: "m.merged_at", id: "m.id", keyType: keyTimestamp, descending: true}

// FindMerges lists the workspace's merges, newest first; owners and managers only.
func (s *MergeService) FindMerges(ctx context.Context, p rubrica.Page) (*rubrica.Connection[*rubrica.Merge], error) {
	a, err := rubrica.RequireManager(ctx, "see the merge history")
	if err != nil {
		return nil, err
	}
	var qa args
	where := []string{"m.workspace_id = " + qa.add(a.WorkspaceID)}
	return listPage(ctx, s.db, p, "MERGE", mergeOrder, `SELECT `+mergeColumns+` FROM merges m`, where, qa,
		(*mergeRow).merge, func(r *mergeRow) (string, string) { return timeKey(r.MergedAt), r.ID })
}

// CountMerges counts the workspace's merges; owners and managers only.
func (s *MergeService) CountMerges(ctx context.Context) (int, error) {
	a, err := rubrica.RequireManager(ctx, "see the merge history")
	if err != nil {
		return 0, err
	}
	var n int
	err = s.db.GetContext(ctx, &n, `SELECT count(*) FROM merges WHERE workspace_id = $1`, a.WorkspaceID)
	return n, err
}

// UnmergeContacts undoes a merge: the secondary comes back with its id and values; the primary
// gets back the values the merge replaced, except those edited since; links, conversations,
// tags and custom values go back to the contact that brought them; a message that arrived or
// left after the merge goes with the channel identity it came through. Merges touching the
// same contact are undone newest first.
func (s *MergeService) UnmergeContacts(ctx context.Context, mergeID string) (*rubrica.MergeResult, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var res rubrica.MergeResult
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		m, err := findMerge(ctx, tx, a.WorkspaceID, mergeID, true)
		if err != nil {
			return err
		}
		if err := undoBlocked(m, a); err != nil {
			return err
		}
		p, err := findContact(ctx, tx, a.WorkspaceID, m.PrimaryContactID, true)
		if err != nil && rubrica.ErrorCode(err) != rubrica.ENOTFOUND {
			return err
		}
		// Checked again under the primary's lock: a merge into it (or of it) that committed
		// while this waited must be undone first.
		if m, err = findMerge(ctx, tx, a.WorkspaceID, mergeID, false); err != nil {
			return err
		}
		if err := undoBlocked(m, a); err != nil {
			return err
		}
		if p == nil {
			return &rubrica.Error{Code: rubrica.ECONFLICT, Field: "mergeId", Message: "The contact it merged into was deleted."}
		}
		var snap mergeSnapshot
		if err := json.Unmarshal(m.Snapshot, &snap); err != nil {
			return fmt.Errorf("db: unmerge: snapshot: %w", err)
		}
		if len(snap.Secondaries) != 1 {
			return fmt.Errorf("db: unmerge: snapshot of merge %s names %d contacts merged away, want 1", m.ID, len(snap.Secondaries))
		}
		before := *p
		party, changes := snap.Secondaries[0], snap.Primary
		sec := party.Contact.contact()
		// The secondary comes back as it was.
		sec.WorkspaceID = a.WorkspaceID
		if err := execContact(ctx, tx, restoreContactSQL, &sec); err != nil {
			return fmt.Errorf("db: unmerge: restore secondary: %w", err)
		}
		defs := make([]string, 0, len(party.Custom))
		vals := make([]string, 0, len(party.Custom))
		for d, v := range party.Custom {
			defs, vals = append(defs, d), append(vals, v)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO contact_custom_values (contact_id, definition_id, value)
			SELECT $1, d, v FROM unnest($2::uuid[], $3::text[]) AS x(d, v) WHERE EXISTS (SELECT 1 FROM custom_field_definitions WHERE id = d)`,
			sec.ID, pq.Array(defs), pq.Array(vals)); err != nil {
			return fmt.Errorf("db: unmerge: custom values: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO contact_tags (contact_id, tag_id) SELECT $1, id FROM tags WHERE id = ANY($2)`,
			sec.ID, pq.Array(party.Tags)); err != nil {
			return fmt.Errorf("db: unmerge: tags: %w", err)
		}
		// The primary gets back what the merge replaced, unless edited since.
		for key, ch := range changes.Fields {
			if equalStr(rubrica.FieldValue(p, key), ch.New) {
				rubrica.SetFieldValue(p, key, ch.Old)
				if key == "country" {
					p.CountryManual = changes.CountryManual
				}
			}
		}
		p.SetPhones(changes.Phones.undo(p.Phones(), samePhone))
		p.SetEmails(changes.Emails.undo(p.Emails(), strings.ToLower))
		if equalTime(p.BlockedAt, changes.MergedBlockedAt) {
			p.BlockedAt = changes.BlockedAt
		}
		if err := writeContact(ctx, tx, p); err != nil {
			return err
		}
		for def, ch := range changes.Custom {
			var cur sql.NullString
			err := tx.GetContext(ctx, &cur, `SELECT value FROM contact_custom_values WHERE contact_id = $1 AND definition_id = $2`, p.ID, def)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("db: unmerge: custom value: %w", err)
			}
			if equalStr(nullable(cur), ch.New) {
				if err := setCustomValue(ctx, tx, p.ID, def, ch.Old); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM contact_tags WHERE contact_id = $1 AND tag_id = ANY($2)`, p.ID, pq.Array(changes.AddedTags)); err != nil {
			return fmt.Errorf("db: unmerge: tags: %w", err)
		}
		// Links and conversations go back to the contact that brought them.
		var links []linkRow
		if err := tx.SelectContext(ctx, &links, `UPDATE contact_channels l SET contact_id = $1 WHERE l.id = ANY($2) AND l.contact_id = $3
			RETURNING `+linkColumns, sec.ID, pq.Array(party.Links), p.ID); err != nil {
			return fmt.Errorf("db: unmerge: links: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET contact_id = $1 WHERE id = ANY($2) AND contact_id = $3`,
			sec.ID, pq.Array(party.Conversations), p.ID); err != nil {
			return fmt.Errorf("db: unmerge: conversations: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE workflow_runs SET contact_id = $1 WHERE id = ANY($2) AND contact_id = $3`,
			sec.ID, pq.Array(party.WorkflowRuns), p.ID); err != nil {
			return fmt.Errorf("db: unmerge: workflow runs: %w", err)
		}
		if party.ClosedConversation != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'OPEN', closed_at = NULL WHERE id = $1 AND contact_id = $2
				AND status = 'CLOSED' AND NOT EXISTS (SELECT 1 FROM conversations WHERE contact_id = $2 AND status = 'OPEN')`,
				*party.ClosedConversation, sec.ID); err != nil {
				return fmt.Errorf("db: unmerge: reopen conversation: %w", err)
			}
		}
		// Messages since the merge follow the identity they came through.
		for _, pair := range [][2]*rubrica.Contact{{p, &sec}, {&sec, p}} {
			if err := moveMessagesToOwner(ctx, tx, a.WorkspaceID, pair[0], pair[1], m.MergedAt); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE merges SET undone_at = clock_timestamp(), undone_by = $2 WHERE id = $1`, m.ID, a.MemberID); err != nil {
			return fmt.Errorf("db: unmerge: record: %w", err)
		}
		if err := refreshDuplicates(ctx, tx, a.WorkspaceID, []string{p.ID, sec.ID}, contactKeys(&before)...); err != nil {
			return err
		}
		events := []rubrica.Event{
			newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUnmerged, p.ID, nil),
			newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUnmerged, sec.ID, nil),
		}
		var restored []*rubrica.ChannelLink
		for i := range links {
			restored = append(restored, links[i].link())
		}
		for _, chID := range linkChannels(restored) {
			chID := chID
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelLinked, sec.ID, &chID),
				newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelUnlinked, p.ID, &chID))
		}
		if err := publish(ctx, tx, events...); err != nil {
			return err
		}
		return readUnmerge(ctx, tx, a.WorkspaceID, p.ID, sec.ID, m.ID, &res)
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// readUnmerge reads, in the unmerge's transaction, what its payload shows: both contacts, the
// merge, the contacts' tags (with their counts), custom values and links, and the members
// the merge and the contacts name.
func readUnmerge(ctx context.Context, tx *sqlx.Tx, workspaceID, primaryID, restoredID, mergeID string, res *rubrica.MergeResult) error {
	found, err := findContactsByIDs(ctx, tx, workspaceID, []string{primaryID, restoredID})
	if err != nil {
		return err
	}
	if res.Contact, res.Restored = found[primaryID], found[restoredID]; res.Contact == nil || res.Restored == nil {
		return fmt.Errorf("db: unmerge: contacts %s and %s not found after the unmerge", primaryID, restoredID)
	}
	if res.Merge, err = findMerge(ctx, tx, workspaceID, mergeID, false); err != nil {
		return err
	}
	set := rubrica.ContactListSet{Tags: true, TagCounts: true, CustomValues: true, Links: true, Assignees: true}
	if res.Lists, err = readContactLists(ctx, tx, workspaceID, []string{primaryID, restoredID}, set); err != nil {
		return err
	}
	// The contacts' assignees came with the lists; the merge's members are read unless one
	// of them is an assignee.
	res.Members = maps.Clone(res.Lists.Members)
	var members []string
	for _, id := range []*string{res.Merge.MergedBy, res.Merge.UndoneBy} {
		if id != nil && res.Members[*id] == nil {
			members = append(members, *id)
		}
	}
	if len(members) == 0 {
		return nil
	}
	more, err := findMembers(ctx, tx, workspaceID, members)
	maps.Copy(res.Members, more)
	return err
}

// undoBlocked returns why the actor may not undo the merge now as an error: FORBIDDEN for
// the actor's rights, CONFLICT for the merge's state (undone, its contact deleted, a later
// merge to undo first, named), or nil.
func undoBlocked(m *rubrica.Merge, a rubrica.Actor) error {
	why := m.UndoBlocker(a, time.Now())
	if why == "" {
		return nil
	}
	code := rubrica.EFORBIDDEN
	if m.UndoneAt != nil || !m.PrimaryExists || m.LaterMergeID != nil {
		code = rubrica.ECONFLICT
	}
	if m.LaterMergeID != nil {
		why = fmt.Sprintf("Undo the later merge %s into the same contact first.", globalMergeID(*m.LaterMergeID))
	}
	return &rubrica.Error{Code: code, Field: "mergeId", Message: why}
}

// moveMessagesToOwner gives owner what arrived or left since a merge through an identity
// (channel and identifier) linked to owner but sits with other, as if the merge had not
// happened: a conversation of other opened since the merge whose messages all came through
// owner's identities moves whole (unless it is open and owner already has an open one);
// other such messages move into owner's open conversation (opened if it has none); and a
// conversation of other opened since the merge that this leaves empty is deleted.
func moveMessagesToOwner(ctx context.Context, tx *sqlx.Tx, workspaceID string, owner, other *rubrica.Contact, since time.Time) error {
	const ownerIdentity = `EXISTS (SELECT 1 FROM contact_channels l WHERE l.contact_id = $2 AND l.channel_id = m.channel_id AND l.identifier = m.identifier)`
	const whole = `UPDATE conversations cv SET contact_id = $2 WHERE cv.contact_id = $1 AND cv.created_at >= $3
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = cv.id AND NOT ` + ownerIdentity + `)
		AND (cv.status = 'CLOSED' OR NOT EXISTS (SELECT 1 FROM conversations o WHERE o.contact_id = $2 AND o.status = 'OPEN'))`
	if _, err := tx.ExecContext(ctx, whole, other.ID, owner.ID, since); err != nil {
		return fmt.Errorf("db: unmerge: move conversations: %w", err)
	}
	var ids []string
	const q = `SELECT m.id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
		WHERE cv.contact_id = $1 AND m.created_at >= $3 AND ` + ownerIdentity
	if err := tx.SelectContext(ctx, &ids, q, other.ID, owner.ID, since); err != nil {
		return fmt.Errorf("db: unmerge: messages: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	var channelID sql.NullString
	if err := tx.GetContext(ctx, &channelID, `SELECT channel_id FROM messages WHERE id = $1`, ids[0]); err != nil {
		return fmt.Errorf("db: unmerge: messages: %w", err)
	}
	owner.WorkspaceID = workspaceID
	cv, _, err := openConversation(ctx, tx, owner, channelID.String)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET conversation_id = $1 WHERE id = ANY($2)`, cv.ID, pq.Array(ids)); err != nil {
		return fmt.Errorf("db: unmerge: move messages: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM conversations cv WHERE cv.contact_id = $1 AND cv.created_at >= $2
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = cv.id)`, other.ID, since); err != nil {
		return fmt.Errorf("db: unmerge: empty conversations: %w", err)
	}
	return nil
}

func equalStr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func equalTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

// globalMergeID is the API id of a merge, for messages that name one.
func globalMergeID(id string) string {
	return base64URL("Merge:" + id)
}
