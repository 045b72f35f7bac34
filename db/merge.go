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
	MergedContactIDs pq.StringArray `db:"merged_contact_ids"`
	Automatic        bool           `db:"automatic"`
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
const mergeColumns = `m.id, m.workspace_id, m.primary_contact_id, m.merged_contact_id, m.merged_contact_ids, m.automatic, m.snapshot, m.merged_by,
	m.merged_at, m.undone_at, m.undone_by,
	EXISTS (SELECT 1 FROM contacts pc WHERE pc.id = m.primary_contact_id) AS primary_exists,
	(SELECT l.id FROM merges l WHERE l.workspace_id = m.workspace_id AND l.undone_at IS NULL AND l.id <> m.id
		AND (l.merged_at, l.id) > (m.merged_at, m.id)
		AND (l.primary_contact_id = m.primary_contact_id OR l.merged_contact_ids @> ARRAY[m.primary_contact_id])
		ORDER BY l.merged_at DESC, l.id DESC LIMIT 1) AS later_merge_id`

func (r *mergeRow) merge() *rubrica.Merge {
	m := &rubrica.Merge{ID: r.ID, WorkspaceID: r.WorkspaceID, PrimaryContactID: r.PrimaryContactID, MergedContactID: r.MergedContactID,
		MergedContactIDs: r.MergedContactIDs, Automatic: r.Automatic,
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

// lockGroup locks the contacts of a merge in id order, so concurrent merges over the same
// contacts never deadlock, and returns the primary and the secondaries in the order given. A
// contact merged away meanwhile is CONFLICT; one that does not exist is NOT_FOUND; field names
// the secondaries' input field.
func lockGroup(ctx context.Context, tx *sqlx.Tx, workspaceID, primaryID string, secondaryIDs []string, field string) (*rubrica.Contact, []*rubrica.Contact, error) {
	ids := append([]string{primaryID}, secondaryIDs...)
	fieldOf := func(i int) string {
		if i == 0 {
			return "primaryContactId"
		}
		return field
	}
	for i, id := range ids {
		if !validID(id) {
			return nil, nil, rubrica.NotFound(fieldOf(i), "Contact")
		}
	}
	var rows []contactRow
	const q = `SELECT ` + contactColumns + ` FROM contacts c WHERE c.id = ANY($1) AND c.workspace_id = $2 ORDER BY c.id FOR UPDATE`
	if err := tx.SelectContext(ctx, &rows, q, pq.Array(ids), workspaceID); err != nil {
		return nil, nil, fmt.Errorf("db: merge: lock contacts: %w", err)
	}
	found := map[string]*rubrica.Contact{}
	for i := range rows {
		found[rows[i].ID] = rows[i].contact()
	}
	out := make([]*rubrica.Contact, len(ids))
	for i, id := range ids {
		if out[i] = found[id]; out[i] != nil {
			continue
		}
		var mergedInto bool
		if err := tx.GetContext(ctx, &mergedInto, `SELECT EXISTS (SELECT 1 FROM merges WHERE merged_contact_ids @> ARRAY[$1]::uuid[]
			AND workspace_id = $2 AND undone_at IS NULL)`, id, workspaceID); err != nil {
			return nil, nil, fmt.Errorf("db: merge: %w", err)
		}
		if mergedInto {
			return nil, nil, &rubrica.Error{Code: rubrica.ECONFLICT, Field: fieldOf(i), Message: "The contact was just merged into another contact."}
		}
		return nil, nil, rubrica.NotFound(fieldOf(i), "Contact")
	}
	return out[0], out[1:], nil
}

// findGroup reads the contacts of a merge without locking them.
func findGroup(ctx context.Context, q sqlx.QueryerContext, workspaceID, primaryID string, secondaryIDs []string, field string) (*rubrica.Contact, []*rubrica.Contact, error) {
	p, err := findContact(ctx, q, workspaceID, primaryID, false)
	if err != nil {
		return nil, nil, withField(err, "primaryContactId")
	}
	secs := make([]*rubrica.Contact, len(secondaryIDs))
	for i, id := range secondaryIDs {
		if secs[i], err = findContact(ctx, q, workspaceID, id, false); err != nil {
			return nil, nil, withField(err, field)
		}
	}
	return p, secs, nil
}

// choiceMap checks field choices against the standard fields and the custom field keys and
// returns, by field, the id of the contact whose value it takes: a choice names a contact of
// the merge (contactId), or a side, which only a merge of two contacts can tell apart.
func choiceMap(choices []rubrica.FieldChoice, defs []*rubrica.CustomFieldDefinition, primaryID string, secondaryIDs []string) (map[string]string, error) {
	known := map[string]bool{}
	for _, f := range rubrica.MergeableFields {
		known[f] = true
	}
	for _, d := range defs {
		known[d.Key] = true
	}
	inGroup := map[string]bool{primaryID: true}
	for _, id := range secondaryIDs {
		inGroup[id] = true
	}
	out := map[string]string{}
	for _, c := range choices {
		if !known[c.Field] {
			return nil, rubrica.InvalidField("fieldChoices", "unknown field %s: choose among %s and the custom field keys.", rubrica.Quoted(c.Field), strings.Join(rubrica.MergeableFields, ", "))
		}
		switch {
		case c.ContactID != "" && c.Side != "":
			return nil, rubrica.InvalidField("fieldChoices", "the choice for %s gives both use and contactId: give one.", rubrica.Quoted(c.Field))
		case c.ContactID != "":
			if !inGroup[c.ContactID] {
				return nil, rubrica.InvalidField("fieldChoices", "the choice for %s names a contact that is not one of the merge's.", rubrica.Quoted(c.Field))
			}
			out[c.Field] = c.ContactID
		case c.Side == rubrica.SidePrimary:
			out[c.Field] = primaryID
		case c.Side == rubrica.SideSecondary:
			if len(secondaryIDs) != 1 {
				return nil, rubrica.InvalidField("fieldChoices", "use: SECONDARY names no one contact among %d: give contactId for %s.", len(secondaryIDs), rubrica.Quoted(c.Field))
			}
			out[c.Field] = secondaryIDs[0]
		case c.Side == "":
			return nil, rubrica.InvalidField("fieldChoices", "the choice for %s needs use or contactId.", rubrica.Quoted(c.Field))
		default:
			return nil, rubrica.InvalidField("fieldChoices", "unknown side %s.", rubrica.Quoted(string(c.Side)))
		}
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

// groupPlan is what a merge of a group works from and would make: the parties (the primary
// first), the merged contact and custom values, and the changes to the primary.
type groupPlan struct {
	defs          []*rubrica.CustomFieldDefinition
	keyOf         map[string]string
	parties       []*mergeParty // the primary, then the secondaries in order
	merged        *rubrica.Contact
	custom        map[string]string
	fieldChanges  map[string]rubrica.FieldChange
	customChanges map[string]rubrica.FieldChange
}

// planGroup reads what each contact holds and combines them (rubrica.MergeGroup and
// rubrica.MergeGroupCustomValues) under the checked choices.
func planGroup(ctx context.Context, tx *sqlx.Tx, workspaceID string, p *rubrica.Contact, secs []*rubrica.Contact, choices []rubrica.FieldChoice) (*groupPlan, error) {
	defs, err := findDefinitions(ctx, tx, workspaceID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(secs))
	for i, s := range secs {
		ids[i] = s.ID
	}
	cm, err := choiceMap(choices, defs, p.ID, ids)
	if err != nil {
		return nil, err
	}
	plan := &groupPlan{defs: defs, keyOf: keysByDefinition(defs)}
	customs := make([]map[string]string, len(secs))
	for i, c := range append([]*rubrica.Contact{p}, secs...) {
		party, err := loadParty(ctx, tx, workspaceID, c)
		if err != nil {
			return nil, err
		}
		plan.parties = append(plan.parties, party)
		if i > 0 {
			customs[i-1] = party.custom
		}
	}
	plan.merged, plan.fieldChanges = rubrica.MergeGroup(p, secs, cm)
	plan.custom, plan.customChanges = rubrica.MergeGroupCustomValues(p.ID, plan.parties[0].custom, ids, customs, plan.keyOf, cm)
	return plan, nil
}

// PreviewMerge returns what merging the secondary into the primary would produce; it changes
// nothing.
func (s *MergeService) PreviewMerge(ctx context.Context, primaryID, secondaryID string, choices []rubrica.FieldChoice) (*rubrica.MergePreview, error) {
	return s.previewGroup(ctx, primaryID, []string{secondaryID}, choices, "secondaryContactId")
}

// PreviewGroupMerge returns what merging the secondaries into the primary would produce; it
// changes nothing.
func (s *MergeService) PreviewGroupMerge(ctx context.Context, primaryID string, secondaryIDs []string, choices []rubrica.FieldChoice) (*rubrica.MergePreview, error) {
	return s.previewGroup(ctx, primaryID, secondaryIDs, choices, "secondaryContactIds")
}

func (s *MergeService) previewGroup(ctx context.Context, primaryID string, secondaryIDs []string, choices []rubrica.FieldChoice, field string) (*rubrica.MergePreview, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := rubrica.ValidateMergeGroup(primaryID, secondaryIDs, field); err != nil {
		return nil, err
	}
	var out *rubrica.MergePreview
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		p, secs, err := findGroup(ctx, tx, a.WorkspaceID, primaryID, secondaryIDs, field)
		if err != nil {
			return err
		}
		plan, err := planGroup(ctx, tx, a.WorkspaceID, p, secs, choices)
		if err != nil {
			return err
		}
		out = &rubrica.MergePreview{Contact: plan.merged}
		var tagIDs []string
		for _, party := range plan.parties {
			tagIDs = append(tagIDs, party.tags...)
			for _, l := range party.links {
				l := *l
				l.ContactID = p.ID
				out.Links = append(out.Links, &l)
			}
		}
		for _, d := range plan.defs {
			if v, ok := plan.custom[d.ID]; ok {
				v := v
				out.CustomValues = append(out.CustomValues, &rubrica.CustomFieldValue{ContactID: p.ID, Definition: d, Value: &v})
			}
		}
		var tags []tagRow
		if err := tx.SelectContext(ctx, &tags, `SELECT `+tagColumns+` FROM tags t WHERE t.id = ANY($1) ORDER BY lower(t.name), t.id`,
			pq.Array(tagIDs)); err != nil {
			return fmt.Errorf("db: preview tags: %w", err)
		}
		for i := range tags {
			out.Tags = append(out.Tags, tags[i].tag())
		}
		return nil
	})
	return out, err
}

// MergeContacts merges the secondary into the primary (see MergeGroup).
func (s *MergeService) MergeContacts(ctx context.Context, primaryID, secondaryID string, choices []rubrica.FieldChoice) (*rubrica.MergeResult, error) {
	return s.merge(ctx, primaryID, []string{secondaryID}, choices, "secondaryContactId")
}

// MergeGroup merges the secondaries into the primary in one transaction and one Merge: fields
// combined by rubrica.MergeGroup and the choices, the secondaries' channel links,
// conversations (with their messages, moved as conversations, not one by one), tags, custom
// values and workflow runs moved to the primary, the secondaries deleted, and a Merge recorded
// with everything needed to undo it.
func (s *MergeService) MergeGroup(ctx context.Context, primaryID string, secondaryIDs []string, choices []rubrica.FieldChoice) (*rubrica.MergeResult, error) {
	return s.merge(ctx, primaryID, secondaryIDs, choices, "secondaryContactIds")
}

func (s *MergeService) merge(ctx context.Context, primaryID string, secondaryIDs []string, choices []rubrica.FieldChoice, field string) (*rubrica.MergeResult, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := rubrica.ValidateMergeGroup(primaryID, secondaryIDs, field); err != nil {
		return nil, err
	}
	var res *rubrica.MergeResult
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err = mergeGroup(ctx, tx, a.WorkspaceID, &a.MemberID, primaryID, secondaryIDs, choices, field)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// mergeGroup merges, in the caller's transaction, the secondaries into the primary; mergedBy
// nil is an automatic merge.
func mergeGroup(ctx context.Context, tx *sqlx.Tx, workspaceID string, mergedBy *string, primaryID string, secondaryIDs []string,
	choices []rubrica.FieldChoice, field string) (*rubrica.MergeResult, error) {
	p, secs, err := lockGroup(ctx, tx, workspaceID, primaryID, secondaryIDs, field)
	if err != nil {
		return nil, err
	}
	plan, err := planGroup(ctx, tx, workspaceID, p, secs, choices)
	if err != nil {
		return nil, err
	}
	pp, merged := plan.parties[0], plan.merged
	snap := mergeSnapshot{Primary: primaryChanges{
		Fields: valueChanges(plan.fieldChanges), CountryManual: p.CountryManual, BlockedAt: p.BlockedAt,
		MergedBlockedAt: merged.BlockedAt, Custom: valueChanges(plan.customChanges),
		Phones: listChangeOf(p.Phones(), merged.Phones()), Emails: listChangeOf(p.Emails(), merged.Emails()),
	}}
	// One open conversation per contact: the primary's stays open, else the first
	// secondary's that has one; the others close.
	open := pp.open
	var tags []string
	for _, sp := range plan.parties[1:] {
		sec := sp.contact
		party := snapshotParty{Contact: toSnapshotContact(sec), Custom: sp.custom, CustomKeys: map[string]string{},
			Tags: sp.tags, Conversations: sp.conversations}
		for _, l := range sp.links {
			party.Links = append(party.Links, l.ID)
			party.Identities = append(party.Identities, snapshotIdentity{ChannelID: l.ChannelID, Identifier: l.Identifier})
		}
		for def := range sp.custom {
			party.CustomKeys[def] = plan.keyOf[def]
		}
		tags = append(tags, sp.tags...)
		if sp.open != nil && open != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'CLOSED', closed_at = clock_timestamp() WHERE id = $1`, *sp.open); err != nil {
				return nil, fmt.Errorf("db: merge: close conversation: %w", err)
			}
			party.ClosedConversation = sp.open
		} else if sp.open != nil {
			open = sp.open
		}
		if err := tx.SelectContext(ctx, &party.WorkflowRuns, `SELECT id FROM workflow_runs WHERE contact_id = $1 ORDER BY id`, sec.ID); err != nil {
			return nil, fmt.Errorf("db: merge: workflow runs: %w", err)
		}
		snap.Secondaries = append(snap.Secondaries, party)
	}
	snap.Primary.AddedTags = uniq(diff(tags, pp.tags))
	moves := []string{
		`UPDATE workflow_runs SET contact_id = $1 WHERE contact_id = ANY($2)`,
		`UPDATE contact_channels SET contact_id = $1 WHERE contact_id = ANY($2)`,
		`UPDATE conversations SET contact_id = $1 WHERE contact_id = ANY($2)`,
		`INSERT INTO contact_tags (contact_id, tag_id) SELECT DISTINCT $1::uuid, tag_id FROM contact_tags WHERE contact_id = ANY($2) ON CONFLICT DO NOTHING`,
	}
	for _, q := range moves {
		if _, err := tx.ExecContext(ctx, q, p.ID, pq.Array(secondaryIDs)); err != nil {
			return nil, fmt.Errorf("db: merge: move: %w", err)
		}
	}
	for def, ch := range plan.customChanges {
		if err := setCustomValue(ctx, tx, p.ID, def, ch.New); err != nil {
			return nil, err
		}
	}
	if err := writeContact(ctx, tx, merged); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE id = ANY($1)`, pq.Array(secondaryIDs)); err != nil {
		return nil, fmt.Errorf("db: merge: delete secondaries: %w", err)
	}
	snapJSON, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("db: merge: snapshot: %w", err)
	}
	var mergeID string // the snapshot goes as a string: jsonb takes no []byte (see singleRoundTrip)
	if err := tx.GetContext(ctx, &mergeID, `INSERT INTO merges (workspace_id, primary_contact_id, merged_contact_id, merged_contact_ids,
		snapshot, merged_by, automatic) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		workspaceID, p.ID, secondaryIDs[0], pq.Array(secondaryIDs), string(snapJSON), mergedBy, mergedBy == nil); err != nil {
		return nil, fmt.Errorf("db: merge: record: %w", err)
	}
	group := append([]string{p.ID}, secondaryIDs...)
	events, err := closeMergedSuggestions(ctx, tx, workspaceID, group)
	if err != nil {
		return nil, err
	}
	if err := refreshDuplicates(ctx, tx, workspaceID, group, contactKeys(append([]*rubrica.Contact{p}, secs...)...)...); err != nil {
		return nil, err
	}
	events = append(events, newEvent(workspaceID, rubrica.KindContact, rubrica.ContactMerged, p.ID, nil))
	for _, sec := range secs {
		events = append(events, newEvent(workspaceID, rubrica.KindContact, rubrica.ContactMerged, sec.ID, nil))
	}
	var moved []*rubrica.ChannelLink
	for _, sp := range plan.parties[1:] {
		moved = append(moved, sp.links...)
	}
	for _, chID := range linkChannels(moved) {
		chID := chID
		events = append(events, newEvent(workspaceID, rubrica.KindContactChannel, rubrica.ChannelLinked, p.ID, &chID))
	}
	for _, sp := range plan.parties[1:] {
		for _, chID := range linkChannels(sp.links) {
			chID := chID
			events = append(events, newEvent(workspaceID, rubrica.KindContactChannel, rubrica.ChannelUnlinked, sp.contact.ID, &chID))
		}
	}
	if err := publish(ctx, tx, events...); err != nil {
		return nil, err
	}
	m, err := findMerge(ctx, tx, workspaceID, mergeID, false)
	if err != nil {
		return nil, err
	}
	return &rubrica.MergeResult{Contact: merged, Merge: m}, nil
}

// closeMergedSuggestions marks MERGED the open suggestions all of whose contacts are in the
// group just merged and returns their events; larger groups are updated by refreshDuplicates.
func closeMergedSuggestions(ctx context.Context, tx *sqlx.Tx, workspaceID string, group []string) ([]rubrica.Event, error) {
	if err := lockDuplicates(ctx, tx, workspaceID); err != nil {
		return nil, err
	}
	var done []string
	if err := tx.SelectContext(ctx, &done, `SELECT id FROM merge_suggestions WHERE workspace_id = $1 AND status = 'OPEN'
		AND id IN (SELECT suggestion_id FROM merge_suggestion_contacts WHERE contact_id = ANY($2))
		AND contact_ids <@ $2::uuid[] ORDER BY id`, workspaceID, pq.Array(group)); err != nil {
		return nil, fmt.Errorf("db: merge: suggestions: %w", err)
	}
	var events []rubrica.Event
	for _, id := range done {
		if err := closeSuggestion(ctx, tx, id, rubrica.SuggestionMerged); err != nil {
			return nil, err
		}
		id := id
		events = append(events, newEvent(workspaceID, rubrica.KindMergeSuggestion, rubrica.SuggestionResolvedEvent, "", &id))
	}
	return events, nil
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
		if len(snap.Secondaries) == 0 {
			return fmt.Errorf("db: unmerge: snapshot of merge %s names no contact merged away", m.ID)
		}
		before := *p
		changes := snap.Primary
		// The secondaries come back as they were.
		secs := make([]*rubrica.Contact, len(snap.Secondaries))
		for i, party := range snap.Secondaries {
			sec := party.Contact.contact()
			sec.WorkspaceID = a.WorkspaceID
			secs[i] = &sec
			if err := restoreParty(ctx, tx, &sec, party); err != nil {
				return err
			}
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
		// Links, conversations and workflow runs go back to the contact that brought them.
		var events []rubrica.Event
		for i, party := range snap.Secondaries {
			restored, err := returnParty(ctx, tx, p.ID, secs[i].ID, party)
			if err != nil {
				return err
			}
			for _, chID := range linkChannels(restored) {
				chID := chID
				events = append(events, newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelLinked, secs[i].ID, &chID),
					newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelUnlinked, p.ID, &chID))
			}
		}
		// Messages since the merge follow the identity they came through.
		if err := followIdentities(ctx, tx, a.WorkspaceID, append([]*rubrica.Contact{p}, secs...), m.MergedAt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE merges SET undone_at = clock_timestamp(), undone_by = $2 WHERE id = $1`, m.ID, a.MemberID); err != nil {
			return fmt.Errorf("db: unmerge: record: %w", err)
		}
		if m.Automatic {
			if err := rememberUndoneAutoMerge(ctx, tx, a.WorkspaceID, p, secs); err != nil {
				return err
			}
		}
		ids := []string{p.ID}
		for _, sec := range secs {
			ids = append(ids, sec.ID)
		}
		if err := refreshDuplicates(ctx, tx, a.WorkspaceID, ids, contactKeys(&before)...); err != nil {
			return err
		}
		unmerged := []rubrica.Event{newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUnmerged, p.ID, nil)}
		for _, sec := range secs {
			unmerged = append(unmerged, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUnmerged, sec.ID, nil))
		}
		if err := publish(ctx, tx, append(unmerged, events...)...); err != nil {
			return err
		}
		return readUnmerge(ctx, tx, a.WorkspaceID, p.ID, ids[1:], m.ID, &res)
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// restoreParty brings a contact merged away back as it was, with its custom values (of the
// fields that still exist) and tags (that still exist).
func restoreParty(ctx context.Context, tx *sqlx.Tx, sec *rubrica.Contact, party snapshotParty) error {
	if err := execContact(ctx, tx, restoreContactSQL, sec); err != nil {
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
	return nil
}

// returnParty gives a restored contact back the links, conversations and workflow runs it
// brought to the primary (those still there), reopens the conversation the merge closed when
// it has no open one, and returns the links it got back.
func returnParty(ctx context.Context, tx *sqlx.Tx, primaryID, secID string, party snapshotParty) ([]*rubrica.ChannelLink, error) {
	var links []linkRow
	if err := tx.SelectContext(ctx, &links, `UPDATE contact_channels l SET contact_id = $1 WHERE l.id = ANY($2) AND l.contact_id = $3
		RETURNING `+linkColumns, secID, pq.Array(party.Links), primaryID); err != nil {
		return nil, fmt.Errorf("db: unmerge: links: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET contact_id = $1 WHERE id = ANY($2) AND contact_id = $3`,
		secID, pq.Array(party.Conversations), primaryID); err != nil {
		return nil, fmt.Errorf("db: unmerge: conversations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE workflow_runs SET contact_id = $1 WHERE id = ANY($2) AND contact_id = $3`,
		secID, pq.Array(party.WorkflowRuns), primaryID); err != nil {
		return nil, fmt.Errorf("db: unmerge: workflow runs: %w", err)
	}
	if party.ClosedConversation != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'OPEN', closed_at = NULL WHERE id = $1 AND contact_id = $2
			AND status = 'CLOSED' AND NOT EXISTS (SELECT 1 FROM conversations WHERE contact_id = $2 AND status = 'OPEN')`,
			*party.ClosedConversation, secID); err != nil {
			return nil, fmt.Errorf("db: unmerge: reopen conversation: %w", err)
		}
	}
	out := make([]*rubrica.ChannelLink, len(links))
	for i := range links {
		out[i] = links[i].link()
	}
	return out, nil
}

// followIdentities gives each contact of an undone merge what arrived or left since the merge
// through its identities but sits with another contact of the group (see moveMessagesToOwner).
// One statement finds the pairs (owner, holder) that have such messages, from the messages
// since the merge only, so the cost does not grow with the messages before it; each message
// moves once, to its owner, where it stays.
func followIdentities(ctx context.Context, tx *sqlx.Tx, workspaceID string, group []*rubrica.Contact, since time.Time) error {
	byID := make(map[string]*rubrica.Contact, len(group))
	ids := make([]string, len(group))
	for i, c := range group {
		byID[c.ID], ids[i] = c, c.ID
	}
	const q = `SELECT DISTINCT l.contact_id AS owner, cv.contact_id AS other FROM conversations cv
		JOIN messages m ON m.conversation_id = cv.id AND m.created_at >= $2
		JOIN contact_channels l ON l.channel_id = m.channel_id AND l.identifier = m.identifier
		WHERE cv.contact_id = ANY($1) AND l.contact_id = ANY($1) AND l.contact_id <> cv.contact_id ORDER BY 1, 2`
	for range len(group) + 1 { // a move can only bring messages to their owner: this ends
		var pairs []struct {
			Owner string `db:"owner"`
			Other string `db:"other"`
		}
		if err := tx.SelectContext(ctx, &pairs, q, pq.Array(ids), since); err != nil {
			return fmt.Errorf("db: unmerge: messages since: %w", err)
		}
		if len(pairs) == 0 {
			return nil
		}
		for _, pr := range pairs {
			if err := moveMessagesToOwner(ctx, tx, workspaceID, byID[pr.Owner], byID[pr.Other], since); err != nil {
				return err
			}
		}
	}
	return nil
}

// readUnmerge reads, in the unmerge's transaction, what its payload shows: the primary and the
// contacts brought back, the merge, the contacts' tags (with their counts), custom values and
// links, and the members the merge and the contacts name.
func readUnmerge(ctx context.Context, tx *sqlx.Tx, workspaceID, primaryID string, restoredIDs []string, mergeID string, res *rubrica.MergeResult) error {
	ids := append([]string{primaryID}, restoredIDs...)
	found, err := findContactsByIDs(ctx, tx, workspaceID, ids)
	if err != nil {
		return err
	}
	if res.Contact = found[primaryID]; res.Contact == nil {
		return fmt.Errorf("db: unmerge: contact %s not found after the unmerge", primaryID)
	}
	for _, id := range restoredIDs {
		if found[id] == nil {
			return fmt.Errorf("db: unmerge: contact %s not found after the unmerge", id)
		}
		res.RestoredAll = append(res.RestoredAll, found[id])
	}
	res.Restored = res.RestoredAll[0]
	if res.Merge, err = findMerge(ctx, tx, workspaceID, mergeID, false); err != nil {
		return err
	}
	set := rubrica.ContactListSet{Tags: true, TagCounts: true, CustomValues: true, Links: true, Assignees: true}
	if res.Lists, err = readContactLists(ctx, tx, workspaceID, ids, set); err != nil {
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

// autoMergeHolder returns, locked, the contact that a contact about to be created by a first
// inbound message on the channel merges into at once under the workspace's automatic merges
// (settings, read with the identity):
// the one contact that is not blocked and holds the message's phone (WHATSAPP, SMS) or email
// (EMAIL), unless an undone automatic merge or a dismissal remembers that contact with that
// value. None (the setting off, no holder, two or more, blocked ones only): nil, and the new
// contact is made and suggested as usual. It locks the holder before the message's link is
// written (contact rows before links, as sends and merges lock them), and checks again under
// the lock. Call autoMerge once the new contact and its link are written.
func autoMergeHolder(ctx context.Context, tx *sqlx.Tx, workspaceID string, settings rubrica.AutoMergeSettings, ch *rubrica.Channel, identifier string, c *rubrica.Contact) (*rubrica.Contact, error) {
	field, ok := settings.AutoMergeField(ch.Type)
	if !ok {
		return nil, nil
	}
	var key *rubrica.DuplicateKey
	for _, k := range rubrica.DuplicateKeys(c) {
		if k.Field == field {
			key = &k
			break
		}
	}
	if key == nil {
		return nil, nil
	}
	var phones, emails []string
	if field == rubrica.DuplicatePhone {
		phones = key.LookupValues()
	} else {
		emails = key.LookupValues()
	}
	// The holders are read as refreshDuplicates reads them (the same statement, so the same
	// plan on the GIN indexes: a LIMIT of 2 made the planner walk the workspace's contacts
	// looking for two that a new number never has).
	holders := func() ([]string, error) {
		rows, err := readHolders(ctx, tx, workspaceID, phones, emails)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		return ids, nil
	}
	ids, err := holders()
	if err != nil || len(ids) != 1 {
		return nil, err
	}
	var remembered bool
	if err := tx.GetContext(ctx, &remembered, `SELECT EXISTS (SELECT 1 FROM merge_suggestions WHERE workspace_id = $1
		AND status = 'DISMISSED' AND contact_ids @> ARRAY[$2]::uuid[] AND keys @> ARRAY[$3]::text[])`, workspaceID, ids[0], key.String()); err != nil {
		return nil, fmt.Errorf("db: auto merge dismissals: %w", err)
	}
	if remembered {
		return nil, nil
	}
	holder, err := findContact(ctx, tx, workspaceID, ids[0], true)
	if rubrica.ErrorCode(err) == rubrica.ENOTFOUND {
		return nil, nil // merged away or deleted meanwhile: a suggestion as usual
	} else if err != nil {
		return nil, err
	}
	// A member's first message to the holder may have connected this very identity while
	// this waited for the holder's lock: the message then goes through that link, received
	// again (see errLinkedMeanwhile).
	var linked bool
	if err := tx.GetContext(ctx, &linked, `SELECT EXISTS (SELECT 1 FROM contact_channels WHERE channel_id = $1 AND identifier = $2)`,
		ch.ID, identifier); err != nil {
		return nil, fmt.Errorf("db: auto merge: link: %w", err)
	}
	if linked {
		return nil, errLinkedMeanwhile
	}
	if again, err := holders(); err != nil || len(again) != 1 || again[0] != holder.ID || holder.Blocked() {
		return nil, err
	}
	return holder, nil
}

// errLinkedMeanwhile is the answer of autoMergeHolder, and of a link insert (linkedMeanwhile),
// when the message's identity was linked by another transaction while this one waited:
// ReceiveMessage receives the message again, in a new transaction, through that link.
var errLinkedMeanwhile = errors.New("db: the identity was linked while the message waited")

// autoMerge merges a contact just created by a first inbound message (with its link, before
// its conversation) into the holder autoMergeHolder locked, in the message's transaction: the
// suggestion of the two is made as usual and marked MERGED by the merge, which is automatic
// (no member made it) and undoable as any other. It returns the merged contact, which the
// message then reaches.
func autoMerge(ctx context.Context, tx *sqlx.Tx, workspaceID string, holder, created *rubrica.Contact) (*rubrica.Contact, error) {
	if err := refreshDuplicates(ctx, tx, workspaceID, []string{created.ID}); err != nil {
		return nil, err
	}
	res, err := mergeGroup(ctx, tx, workspaceID, nil, holder.ID, []string{created.ID}, nil, "secondaryContactId")
	if err != nil {
		return nil, fmt.Errorf("db: auto merge: %w", err)
	}
	return res.Contact, nil
}

// rememberUndoneAutoMerge records an undone automatic merge as a dismissal of its contacts
// and the values the contacts merged away held: the pair is neither suggested nor merged
// automatically again (see autoMergeHolder), until a new value or contact joins them.
func rememberUndoneAutoMerge(ctx context.Context, tx *sqlx.Tx, workspaceID string, primary *rubrica.Contact, secs []*rubrica.Contact) error {
	ids := []string{primary.ID}
	for _, s := range secs {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	keys := contactKeys(secs...)
	sort.Strings(keys)
	if _, err := tx.ExecContext(ctx, `INSERT INTO merge_suggestions (workspace_id, status, contact_ids, keys) VALUES ($1, 'DISMISSED', $2, $3)`,
		workspaceID, pq.Array(ids), pq.Array(uniq(keys))); err != nil {
		return fmt.Errorf("db: unmerge: remember the automatic merge: %w", err)
	}
	return nil
}
