package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// listQuery is how one list of some contacts is read: its columns (a row struct's column
// list), tables, conditions ($1 the contact ids as uuid[], $2 the workspace) and order. A
// finder selects its rows; readContactLists aggregates them, with the others, into one
// statement.
type listQuery struct {
	columns, from, where, order string
}

// rows is the statement that selects the list's rows, in order.
func (l listQuery) rows() string {
	q := `SELECT ` + l.columns + ` FROM ` + l.from + ` WHERE ` + l.where
	if l.order != "" {
		q += ` ORDER BY ` + l.order
	}
	return q
}

// jsonAgg is the expression of the list's rows as one JSON array of objects named after the
// columns, in order ('[]' when there are none).
func (l listQuery) jsonAgg() string {
	agg := `json_agg(x)`
	if l.order != "" {
		agg = `json_agg(x ORDER BY ` + l.order + `)`
	}
	return `(SELECT coalesce(` + agg + `, '[]') FROM ` + l.from + `, LATERAL (SELECT ` + l.columns + `) x WHERE ` + l.where + `)`
}

// The lists of contacts, each with the indexes EXPLAIN ANALYZE shows it reads through, for 50
// of 4,000 contacts (dbtest.Fill: 3 tags, 3 links, 2 or 3 values each) of a workspace beside
// another as big. The workspace's few tags, definitions, channels and members are seq scans
// while their tables are that small, the indexes named below with enable_seqscan off.
var (
	// contactTagsList: contact_tags_pkey (contact_id, tag_id), index only, for the contacts;
	// the workspace's tags by tags_workspace_name_unique, hashed.
	contactTagsList = listQuery{
		columns: `ct.contact_id, ` + tagColumns,
		from:    `contact_tags ct JOIN tags t ON t.id = ct.tag_id`,
		where:   `ct.contact_id = ANY($1) AND t.workspace_id = $2`,
		order:   `lower(t.name), t.id`,
	}
	// customValuesList: contact_custom_values_pkey (contact_id, definition_id) for the
	// contacts; custom_field_definitions_pkey and workspaces_pkey.
	customValuesList = listQuery{
		columns: `v.contact_id, v.value, ` + definitionColumns,
		from: `contact_custom_values v JOIN custom_field_definitions d ON d.id = v.definition_id
			JOIN workspaces w ON w.id = d.workspace_id`,
		where: `v.contact_id = ANY($1) AND d.workspace_id = $2`,
		order: `array_position(w.field_order, d.key) NULLS LAST, d.created_at, d.id`,
	}
	// linksList: contact_channels_contact (contact_id, channel_id).
	linksList = listQuery{
		columns: linkColumns,
		from:    `contact_channels l`,
		where:   `l.contact_id = ANY($1) AND l.workspace_id = $2`,
		order:   `l.last_interaction_at DESC, l.id`,
	}
	// assigneesList: contacts_pkey for the contacts, then members_pkey for their assignees
	// (the ARRAY keeps the planner from a semi join that walks contacts_assignee member by
	// member, as many rows as the workspace's assigned contacts).
	assigneesList = listQuery{
		columns: memberColumns,
		from:    `members m`,
		where: `m.workspace_id = $2
			AND m.id = ANY (ARRAY(SELECT c.assignee_id FROM contacts c WHERE c.id = ANY($1) AND c.workspace_id = $2))`,
	}
)

// The lists statement reads tags and custom values by id, each tag and definition once,
// rather than a whole tag or definition per contact: a page of 50 contacts with 3 tags and
// 3 values each decodes 150 short pairs and a few tags and definitions instead of 300
// objects of 6 to 9 fields (its JSON decoding was 18% of the page's CPU).
var (
	// contactTagIDsList: the (contact, tag) pairs of contactTagsList, in its order.
	contactTagIDsList = listQuery{columns: `ct.contact_id, ct.tag_id`, from: contactTagsList.from,
		where: contactTagsList.where, order: contactTagsList.order}
	// tagsOfContactsList: the tags of those pairs: contact_tags_pkey for the contacts,
	// tags_pkey for the tags.
	tagsOfContactsList = listQuery{columns: tagColumns, from: `tags t`,
		where: `t.workspace_id = $2 AND t.id = ANY (ARRAY(SELECT ct.tag_id FROM contact_tags ct WHERE ct.contact_id = ANY($1)))`}
	// customValueIDsList: the (contact, definition, value) rows of customValuesList, in
	// its order.
	customValueIDsList = listQuery{columns: `v.contact_id, v.definition_id, v.value`, from: customValuesList.from,
		where: customValuesList.where, order: customValuesList.order}
	// definitionsList: the definitions of those values: contact_custom_values_pkey for the
	// contacts, custom_field_definitions_pkey for the definitions.
	definitionsList = listQuery{columns: definitionColumns, from: `custom_field_definitions d`,
		where: `d.workspace_id = $2 AND d.id = ANY (ARRAY(SELECT v.definition_id FROM contact_custom_values v WHERE v.contact_id = ANY($1)))`}
)

// contactTagIDRow is a row of contactTagIDsList.
type contactTagIDRow struct {
	ContactID string `json:"contact_id"`
	TagID     string `json:"tag_id"`
}

// customValueIDRow is a row of customValueIDsList.
type customValueIDRow struct {
	ContactID    string `json:"contact_id"`
	DefinitionID string `json:"definition_id"`
	Value        string `json:"value"`
}

// channelsList is the workspace's channels, the workspace the parameter p:
// channels_workspace (workspace_id, created_at, id), already in order.
func channelsList(p string) listQuery {
	return listQuery{columns: channelColumns, from: `channels ch`, where: `ch.workspace_id = ` + p, order: `ch.created_at, ch.id`}
}

// readContactLists reads the lists set names of the contacts (ids of other workspaces or
// not uuids have nothing) in one statement, in the transaction of a mutation so that its
// payload needs no statement after the commit: with links, the workspace's channels. With
// tag counts, a second statement counts the contacts of those tags and of extraTags. An
// empty set reads nothing.
func readContactLists(ctx context.Context, q sqlx.QueryerContext, workspaceID string, ids []string, set rubrica.ContactListSet, extraTags ...string) (rubrica.ContactLists, error) {
	if one, ok := oneList(ctx, q, workspaceID, ids, set); ok {
		out, err := one()
		if err == nil && set.Tags && set.TagCounts {
			out.TagCounts, err = countListedTags(ctx, q, workspaceID, out.Tags, extraTags)
		}
		return out, err
	}
	exprs := listExprs(set)
	if exprs == "" {
		return rubrica.ContactLists{}, nil
	}
	var cols listColumns
	if err := sqlx.GetContext(ctx, q, &cols, `SELECT `+exprs, pq.Array(validIDs(ids)), workspaceID); err != nil {
		return rubrica.ContactLists{}, fmt.Errorf("db: read contact lists: %w", err)
	}
	return cols.decode(ctx, q, workspaceID, len(ids), set, extraTags)
}

// findContactWithLists reads one contact of the workspace and the lists set names of it in
// one statement (the lists' columns beside the contact's), or NOT_FOUND. Tag counts, when
// set names them, take a second statement.
func findContactWithLists(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string, set rubrica.ContactListSet) (*rubrica.Contact, rubrica.ContactLists, error) {
	exprs := listExprs(set)
	if exprs == "" {
		c, err := findContact(ctx, q, workspaceID, id, false)
		return c, rubrica.ContactLists{}, err
	}
	if !validID(id) {
		return nil, rubrica.ContactLists{}, rubrica.NotFound("id", "Contact")
	}
	var row struct {
		contactRow
		listColumns
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT `+contactColumns+`, `+ofTheContact.Replace(exprs)+`
		FROM contacts c CROSS JOIN LATERAL (SELECT c.id, c.workspace_id) AS this_contact (id, workspace_id)
		WHERE c.id = $1 AND c.workspace_id = $2`,
		id, workspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.ContactLists{}, rubrica.NotFound("id", "Contact")
	} else if err != nil {
		return nil, rubrica.ContactLists{}, fmt.Errorf("db: find contact with lists: %w", err)
	}
	lists, err := row.listColumns.decode(ctx, q, workspaceID, 1, set, nil)
	if err != nil {
		return nil, rubrica.ContactLists{}, err
	}
	return row.contactRow.contact(), lists, nil
}

// ofTheContact makes the lists' expressions (whose only parameters are $1, the contacts,
// and $2, the workspace) subqueries of the one contact they are read with, this_contact (a
// name no list uses: the lists' own subqueries name their tables c, t, ...). Correlated to
// one contact, PostgreSQL plans them for one contact: with the ids a parameter, its generic
// plan expects an array of ten, and the statement cost the server more than the contact and
// its tags read apart (contact(id) with tags at concurrency 16: 0.50-0.66 ms of the server's
// CPU a request, against 0.36-0.42 ms apart and 0.17 ms correlated).
var ofTheContact = strings.NewReplacer(`$1`, `ARRAY[this_contact.id]`, `$2`, `this_contact.workspace_id`)

// listColumns are the columns of the lists set names (see listExprs): the session's time
// zone, and each list as a JSON array of its rows.
type listColumns struct {
	Zone        string `db:"lists_zone"`
	TagIDs      []byte `db:"lists_tag_ids"`
	Tags        []byte `db:"lists_tags"`
	Values      []byte `db:"lists_values"`
	Definitions []byte `db:"lists_definitions"`
	Links       []byte `db:"lists_links"`
	Channels    []byte `db:"lists_channels"`
	Members     []byte `db:"lists_members"`
}

// listExprs returns the select list that reads the lists set names as listColumns, $1 the
// contact ids (uuid[]) and $2 the workspace; "" for a set that names none.
func listExprs(set rubrica.ContactListSet) string {
	var exprs []string
	part := func(want bool, expr, column string) {
		if want {
			exprs = append(exprs, expr+` AS `+column)
		}
	}
	part(set.Tags, contactTagIDsList.jsonAgg(), `lists_tag_ids`)
	part(set.Tags, tagsOfContactsList.jsonAgg(), `lists_tags`)
	part(set.CustomValues, customValueIDsList.jsonAgg(), `lists_values`)
	part(set.CustomValues, definitionsList.jsonAgg(), `lists_definitions`)
	part(set.Links, linksList.jsonAgg(), `lists_links`)
	part(set.Links, channelsList("$2").jsonAgg(), `lists_channels`)
	part(set.Assignees, assigneesList.jsonAgg(), `lists_members`)
	if exprs == nil {
		return ""
	}
	return `current_setting('TimeZone') AS lists_zone, ` + strings.Join(exprs, `, `)
}

// decode builds the lists of n contacts from the columns read; with tag counts, it counts
// the contacts of the tags listed and of extraTags.
func (c *listColumns) decode(ctx context.Context, q sqlx.QueryerContext, workspaceID string, n int, set rubrica.ContactListSet, extraTags []string) (rubrica.ContactLists, error) {
	var out rubrica.ContactLists
	var err error
	loc := sessionLocation(c.Zone)
	if set.Tags {
		if out.Tags, err = decodeTags(c.TagIDs, c.Tags, loc, n); err != nil {
			return out, err
		}
		if set.TagCounts {
			if out.TagCounts, err = countListedTags(ctx, q, workspaceID, out.Tags, extraTags); err != nil {
				return out, err
			}
		}
	}
	if set.CustomValues {
		if out.CustomValues, err = decodeCustomValues(c.Values, c.Definitions, loc, n); err != nil {
			return out, err
		}
	}
	if set.Links {
		rows, err := decodeRows[linkRow](c.Links, loc, "links")
		if err != nil {
			return out, err
		}
		out.Links = linksByContact(linksOf(rows), n)
		chRows, err := decodeRows[channelRow](c.Channels, loc, "channels")
		if err != nil {
			return out, err
		}
		out.Channels = channelsOf(chRows)
	}
	if set.Assignees {
		rows, err := decodeRows[memberRow](c.Members, loc, "assignees")
		if err != nil {
			return out, err
		}
		out.Members = membersByID(rows)
	}
	return out, nil
}

// decodeTags builds each contact's tags from the (contact, tag) pairs and the tags they name.
func decodeTags(pairsJSON, tagsJSON []byte, loc *time.Location, n int) (map[string][]*rubrica.Tag, error) {
	pairs, err := decodeRows[contactTagIDRow](pairsJSON, loc, "tags of contacts")
	if err != nil {
		return nil, err
	}
	rows, err := decodeRows[tagRow](tagsJSON, loc, "tags")
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*rubrica.Tag, len(rows))
	for i := range rows {
		byID[rows[i].ID] = rows[i].tag()
	}
	out := make(map[string][]*rubrica.Tag, n)
	for _, p := range pairs {
		out[p.ContactID] = append(out[p.ContactID], byID[p.TagID])
	}
	return out, nil
}

// decodeCustomValues builds each contact's custom values from the value rows and the
// definitions they name; the values of one definition share it.
func decodeCustomValues(valuesJSON, definitionsJSON []byte, loc *time.Location, n int) (map[string][]*rubrica.CustomFieldValue, error) {
	rows, err := decodeRows[customValueIDRow](valuesJSON, loc, "custom values")
	if err != nil {
		return nil, err
	}
	defRows, err := decodeRows[definitionRow](definitionsJSON, loc, "custom field definitions")
	if err != nil {
		return nil, err
	}
	defs := make(map[string]*rubrica.CustomFieldDefinition, len(defRows))
	for i := range defRows {
		defs[defRows[i].ID] = defRows[i].definition()
	}
	out := make(map[string][]*rubrica.CustomFieldValue, n)
	for i := range rows {
		r := &rows[i]
		out[r.ContactID] = append(out[r.ContactID], &rubrica.CustomFieldValue{ContactID: r.ContactID, Definition: defs[r.DefinitionID], Value: &r.Value})
	}
	return out, nil
}

// countListedTags counts the contacts of the tags listed and of extra.
func countListedTags(ctx context.Context, q sqlx.QueryerContext, workspaceID string, tags map[string][]*rubrica.Tag, extra []string) (map[string]int, error) {
	tagIDs := tagIDsOf(tags, extra)
	if len(tagIDs) == 0 {
		return map[string]int{}, nil
	}
	return countTagContacts(ctx, q, workspaceID, tagIDs)
}

// oneList returns, for a set that names one list only (not links, which come with the
// channels), the read of that list with its finder's plain statement: for one list the JSON
// aggregation costs PostgreSQL more than it saves (contact(id) with tags at concurrency 16:
// the lists statement served 1.0x PostGraphile, the plain one 1.3x).
func oneList(ctx context.Context, q sqlx.QueryerContext, workspaceID string, ids []string, set rubrica.ContactListSet) (func() (rubrica.ContactLists, error), bool) {
	var out rubrica.ContactLists
	var err error
	switch (rubrica.ContactListSet{Tags: set.Tags, CustomValues: set.CustomValues, Links: set.Links, Assignees: set.Assignees}) {
	case rubrica.ContactListSet{Tags: true}:
		return func() (rubrica.ContactLists, error) {
			out.Tags, err = findContactTags(ctx, q, workspaceID, ids)
			return out, err
		}, true
	case rubrica.ContactListSet{CustomValues: true}:
		return func() (rubrica.ContactLists, error) {
			out.CustomValues, err = findCustomValues(ctx, q, workspaceID, ids)
			return out, err
		}, true
	case rubrica.ContactListSet{Assignees: true}:
		return func() (rubrica.ContactLists, error) {
			var rows []memberRow
			if err := sqlx.SelectContext(ctx, q, &rows, assigneesList.rows(), pq.Array(validIDs(ids)), workspaceID); err != nil {
				return out, fmt.Errorf("db: find assignees: %w", err)
			}
			out.Members = membersByID(rows)
			return out, nil
		}, true
	}
	return nil, false
}

// decodeRows decodes a list's JSON into its rows, with their times in loc as lib/pq scans
// them. It decodes with goccy/go-json, a drop-in for encoding/json: on a page's 150 channel
// links it decodes in a fifth of the time (0.17 ms against 0.8 ms), and the lists' decoding
// was a fifth of the contacts page's CPU.
func decodeRows[R any](data []byte, loc *time.Location, what string) ([]R, error) {
	var rows []R
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("db: read contact lists: decode %s: %w", what, err)
	}
	inLocation(reflect.ValueOf(rows), loc)
	return rows, nil
}

// sessionLocation is the location lib/pq gives the timestamps it scans for the session's
// TimeZone (nil: it keeps the server's offset).
func sessionLocation(zone string) *time.Location {
	switch zone {
	case "UTC", "Etc/UTC", "Etc/Universal", "Etc/Zulu", "Etc/UCT":
		return time.UTC
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil
	}
	return loc
}

var timeType = reflect.TypeFor[time.Time]()

// inLocation sets every time of v (rows, their fields, pointers to times) as lib/pq sets a
// scanned timestamptz: in loc when loc agrees on the offset, else at a fixed offset. JSON
// carries only the offset.
func inLocation(v reflect.Value, loc *time.Location) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			inLocation(v.Elem(), loc)
		}
	case reflect.Slice:
		for i := range v.Len() {
			inLocation(v.Index(i), loc)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if !v.CanSet() {
				return
			}
			t := v.Interface().(time.Time)
			_, off := t.Zone()
			if loc != nil {
				if lt := t.In(loc); zoneOffset(lt) == off {
					v.Set(reflect.ValueOf(lt))
					return
				}
			}
			v.Set(reflect.ValueOf(t.In(time.FixedZone("", off))))
			return
		}
		// The exported fields of an embedded row (tagRow in contactTagRow) are settable.
		for i := range v.NumField() {
			inLocation(v.Field(i), loc)
		}
	}
}

func zoneOffset(t time.Time) int {
	_, off := t.Zone()
	return off
}

// tagIDsOf returns the ids of the tags, and extra, once each.
func tagIDsOf(tags map[string][]*rubrica.Tag, extra []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range extra {
		add(id)
	}
	for _, list := range tags {
		for _, t := range list {
			add(t.ID)
		}
	}
	return out
}

// contactsInOrder returns the contacts of ids that exist, in the order of ids.
func contactsInOrder(found map[string]*rubrica.Contact, ids []string) []*rubrica.Contact {
	out := make([]*rubrica.Contact, 0, len(ids))
	for _, id := range ids {
		if c, ok := found[id]; ok {
			out = append(out, c)
			delete(found, id)
		}
	}
	return out
}
