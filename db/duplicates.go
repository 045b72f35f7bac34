package db

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// dupRow is what duplicate detection reads of a contact.
type dupRow struct {
	ID          string         `db:"id"`
	Phone       sql.NullString `db:"phone"`
	OtherPhones pq.StringArray `db:"other_phones"`
	Email       sql.NullString `db:"email"`
	OtherEmails pq.StringArray `db:"other_emails"`
}

// dupColumns are the columns of dupRow, for contacts aliased c.
const dupColumns = `c.id, c.phone, c.other_phones, c.email, c.other_emails`

// maxValueHolders bounds the contacts one duplicate lookup reads. A value that more contacts
// hold is a shared line or mailbox: its group is larger than rubrica.MaxSuggestionContacts
// and never suggested, whether all of its holders are read or these. The bound also keeps
// the planner off a parallel plan: it estimates an && of a few values on the GIN indexes at
// 0.5% of the contacts each (it has no statistics of unique elements), and starting workers
// for that cost some 8 ms at 1,000,000 contacts where the lookup itself takes 0.2 ms.
const maxValueHolders = 1000

// holdersQuery reads the contacts of workspace $1 that hold one of the phones $2 or the emails
// $3 (case-folded and trimmed), at most $4, through the GIN indexes contacts_dup_phones and
// contacts_dup_emails (which cover contacts not blocked). The workspace is compared as text
// so that no plan can use an index for it: prepared (db/stmtcache.go), the statement gets
// PostgreSQL's generic plan, which ANDed the GIN bitmap with a bitmap of the workspace's
// contacts (contacts_created) and so read all of them whenever a value had a holder (a new
// contact holds its own): some 90,000 index entries per lookup in a workspace of 90,000,
// where the GIN bitmap alone is a few rows.
const holdersQuery = `SELECT ` + dupColumns + ` FROM contacts c
	WHERE c.workspace_id::text = $1::text AND c.blocked_at IS NULL AND (contact_phone_keys(c.phone, c.other_phones) && $2::text[]
		OR contact_email_keys(c.email, c.other_emails) && $3::text[]) LIMIT $4`

// readHolders runs holdersQuery.
func readHolders(ctx context.Context, q sqlx.QueryerContext, workspaceID string, phones, emails []string) ([]dupRow, error) {
	var rows []dupRow
	if err := sqlx.SelectContext(ctx, q, &rows, holdersQuery, workspaceID, textArray(phones), textArray(emails), maxValueHolders); err != nil {
		return nil, fmt.Errorf("db: read holders: %w", err)
	}
	return rows, nil
}

func (r *dupRow) contact() *rubrica.Contact {
	return &rubrica.Contact{ID: r.ID, Phone: nullable(r.Phone), OtherPhones: r.OtherPhones,
		Email: nullable(r.Email), OtherEmails: r.OtherEmails}
}

type suggestionRow struct {
	ID          string         `db:"id"`
	WorkspaceID string         `db:"workspace_id"`
	Status      string         `db:"status"`
	ContactIDs  pq.StringArray `db:"contact_ids"`
	Keys        pq.StringArray `db:"keys"`
	CreatedAt   time.Time      `db:"created_at"`
	UpdatedAt   time.Time      `db:"updated_at"`
}

const suggestionColumns = `s.id, s.workspace_id, s.status, s.contact_ids, s.keys, s.created_at, s.updated_at`

func (r *suggestionRow) suggestion() *rubrica.MergeSuggestion {
	return &rubrica.MergeSuggestion{ID: r.ID, WorkspaceID: r.WorkspaceID, Status: rubrica.MergeSuggestionStatus(r.Status),
		ContactIDs: r.ContactIDs, Keys: r.Keys, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// refreshDuplicates brings the merge suggestions up to date after a change to the given
// contacts (created, edited, merged, unmerged, blocked, unblocked or deleted), in the change's
// own transaction, and publishes the suggestion events. oldValues are the duplicate keys
// (rubrica.DuplicateKey.String) the contacts held before the change, so that the groups they
// left are updated too. Its work is proportional to the contacts that share those values and
// to the groups they were in, never to the workspace's size; it locks those values and groups
// only (see dupLocks). Call it before publish.
func refreshDuplicates(ctx context.Context, tx *sqlx.Tx, workspaceID string, contactIDs []string, oldValues ...string) error {
	ids := validIDs(contactIDs)
	// The changed contacts are this transaction's own rows: their values lock first.
	var own []dupRow
	if err := tx.SelectContext(ctx, &own, `SELECT `+dupColumns+` FROM contacts c
		WHERE c.id = ANY($1) AND c.workspace_id = $2 AND c.blocked_at IS NULL`, pq.Array(ids), workspaceID); err != nil {
		return fmt.Errorf("db: read duplicate candidates: %w", err)
	}
	first := make([]string, 0, len(oldValues)+2*len(own))
	for _, v := range oldValues {
		first = append(first, valueLockName(v))
	}
	for i := range own {
		first = append(first, keyLockNames(own[i].contact())...)
	}
	return refresh(ctx, tx, workspaceID, first, ids, nil, oldValues)
}

// refreshNewContacts is refreshDuplicates for contacts this transaction created: they are in
// no suggestion yet and their values are known, so nothing of them is read back, and a
// contact without a phone or an email costs nothing.
func refreshNewContacts(ctx context.Context, tx *sqlx.Tx, workspaceID string, contacts ...*rubrica.Contact) error {
	var first []string
	for _, c := range contacts {
		first = append(first, keyLockNames(c)...)
	}
	if len(first) == 0 {
		return nil
	}
	return refresh(ctx, tx, workspaceID, first, nil, contacts, nil)
}

// keyLockNames are the names of the locks of a contact's duplicate keys.
func keyLockNames(c *rubrica.Contact) []string {
	keys := rubrica.DuplicateKeys(c)
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = valueLockName(k.String())
	}
	return names
}

// refresh takes the first locks, then reads the closure of the changed contacts (ids, read
// from the database, and fresh, known) until it holds every lock of what it read, and
// reconciles the suggestions with it.
func refresh(ctx context.Context, tx *sqlx.Tx, workspaceID string, first, ids []string, fresh []*rubrica.Contact, oldValues []string) error {
	locks, err := startDupLocks(ctx, tx, workspaceID, first)
	if err != nil {
		return err
	}
	return refreshHolding(ctx, tx, workspaceID, locks, ids, fresh, oldValues)
}

// refreshHolding is refresh once its first locks are held.
func refreshHolding(ctx context.Context, tx *sqlx.Tx, workspaceID string, locks *dupLocks, ids []string, fresh []*rubrica.Contact, oldValues []string) error {
	for {
		cl, err := readClosure(ctx, tx, workspaceID, ids, fresh, oldValues)
		if err != nil {
			return err
		}
		if missing := locks.missing(cl.lockNames()); len(missing) > 0 {
			if err := locks.take(ctx, tx, missing); err != nil {
				return err
			}
			continue // read again, under every lock of the closure
		}
		return cl.reconcile(ctx, tx, workspaceID)
	}
}

// closure is what a refresh reads: the contacts that count and share values with the changed
// ones, transitively, their keys, and the open suggestions they are in.
type closure struct {
	members     map[string]*rubrica.Contact
	keys        map[string]bool // rubrica.DuplicateKey.String
	suggestions map[string]*suggestionRow
}

// lockNames are the locks a refresh of the closure must hold.
func (cl *closure) lockNames() []string {
	names := make([]string, 0, len(cl.keys)+len(cl.suggestions))
	for k := range cl.keys {
		names = append(names, valueLockName(k))
	}
	for id := range cl.suggestions {
		names = append(names, suggestionLockName(id))
	}
	return names
}

// readClosure reads the closure of the changed contacts and their old values; fresh contacts
// are members as they are, in no suggestion.
func readClosure(ctx context.Context, tx *sqlx.Tx, workspaceID string, contactIDs []string, fresh []*rubrica.Contact, oldValues []string) (*closure, error) {
	cl := &closure{members: map[string]*rubrica.Contact{}, keys: map[string]bool{}, suggestions: map[string]*suggestionRow{}}
	var phones, emails []string
	addKey := func(k rubrica.DuplicateKey) {
		if cl.keys[k.String()] {
			return
		}
		cl.keys[k.String()] = true
		if k.Field == rubrica.DuplicatePhone {
			phones = append(phones, k.LookupValues()...)
		} else {
			emails = append(emails, k.Value)
		}
	}
	for _, v := range oldValues {
		if k, ok := rubrica.ParseDuplicateKey(v); ok {
			addKey(k)
		}
	}
	for _, c := range fresh {
		cl.members[c.ID] = c
		for _, k := range rubrica.DuplicateKeys(c) {
			addKey(k)
		}
	}
	pending := contactIDs // contacts whose current keys and suggestions to read
	for len(pending) > 0 || len(phones)+len(emails) > 0 {
		if len(pending) > 0 {
			// The contacts themselves (if they still count) and the open groups they are in.
			var rows []dupRow
			if err := tx.SelectContext(ctx, &rows, `SELECT `+dupColumns+` FROM contacts c
				WHERE c.id = ANY($1) AND c.workspace_id = $2 AND c.blocked_at IS NULL`, pq.Array(pending), workspaceID); err != nil {
				return nil, fmt.Errorf("db: read duplicate candidates: %w", err)
			}
			for i := range rows {
				c := rows[i].contact()
				cl.members[c.ID] = c
				for _, k := range rubrica.DuplicateKeys(c) {
					addKey(k)
				}
			}
			var sugs []suggestionRow
			if err := tx.SelectContext(ctx, &sugs, `SELECT `+suggestionColumns+` FROM merge_suggestions s
				WHERE s.id IN (SELECT suggestion_id FROM merge_suggestion_contacts WHERE contact_id = ANY($1))
				AND s.workspace_id = $2 AND s.status = 'OPEN'`, pq.Array(pending), workspaceID); err != nil {
				return nil, fmt.Errorf("db: read open suggestions: %w", err)
			}
			pending = nil
			for i := range sugs {
				if cl.suggestions[sugs[i].ID] != nil {
					continue
				}
				cl.suggestions[sugs[i].ID] = &sugs[i]
				for _, id := range sugs[i].ContactIDs {
					if cl.members[id] == nil {
						pending = append(pending, id)
					}
				}
			}
			continue
		}
		// The contacts that hold the keys found so far.
		rows, err := readHolders(ctx, tx, workspaceID, phones, emails)
		if err != nil {
			return nil, err
		}
		phones, emails = nil, nil
		for i := range rows {
			if cl.members[rows[i].ID] != nil {
				continue
			}
			c := rows[i].contact()
			cl.members[c.ID] = c
			pending = append(pending, c.ID)
		}
	}
	return cl, nil
}

// reconcile turns the closure's groups into suggestions.
func (cl *closure) reconcile(ctx context.Context, tx *sqlx.Tx, workspaceID string) error {
	members, seenSuggestions := cl.members, cl.suggestions
	list := make([]*rubrica.Contact, 0, len(members))
	for _, c := range members {
		list = append(list, c)
	}
	groups := rubrica.Groups(list)
	existing := make([]*suggestionRow, 0, len(seenSuggestions))
	for _, s := range seenSuggestions {
		existing = append(existing, s)
	}
	sort.Slice(existing, func(i, j int) bool { return existing[i].CreatedAt.Before(existing[j].CreatedAt) })
	return reconcileSuggestions(ctx, tx, workspaceID, groups, existing)
}

// reconcileSuggestions turns the groups found among some contacts into suggestions: each group
// updates the open suggestion it overlaps most (or becomes a new one, unless a dismissal covers
// its contacts and values), and the open suggestions no group took are resolved.
func reconcileSuggestions(ctx context.Context, tx *sqlx.Tx, workspaceID string, groups []rubrica.DuplicateGroup, existing []*suggestionRow) error {
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].ContactIDs) > len(groups[j].ContactIDs) })
	used := map[string]bool{}
	var events []rubrica.Event
	event := func(typ, id string) {
		events = append(events, newEvent(workspaceID, rubrica.KindMergeSuggestion, typ, "", &id))
	}
	for _, g := range groups {
		var dismissed bool
		if err := tx.GetContext(ctx, &dismissed, `SELECT EXISTS (SELECT 1 FROM merge_suggestions WHERE workspace_id = $1
			AND status = 'DISMISSED' AND contact_ids @> $2::uuid[] AND keys @> $3::text[])`,
			workspaceID, pq.Array(g.ContactIDs), pq.Array(g.Keys)); err != nil {
			return fmt.Errorf("db: check dismissals: %w", err)
		}
		if dismissed {
			continue
		}
		var best *suggestionRow
		bestOverlap := 0
		for _, s := range existing {
			if used[s.ID] {
				continue
			}
			if n := overlap(s.ContactIDs, g.ContactIDs); n > bestOverlap {
				best, bestOverlap = s, n
			}
		}
		if best == nil {
			var id string
			if err := tx.GetContext(ctx, &id, `INSERT INTO merge_suggestions (workspace_id, status, contact_ids, keys)
				VALUES ($1, 'OPEN', $2, $3) RETURNING id`, workspaceID, pq.Array(g.ContactIDs), pq.Array(g.Keys)); err != nil {
				return fmt.Errorf("db: insert suggestion: %w", err)
			}
			if err := setSuggestionMembers(ctx, tx, id, g.ContactIDs); err != nil {
				return err
			}
			event(rubrica.SuggestionCreated, id)
			continue
		}
		used[best.ID] = true
		if strings.Join(best.ContactIDs, ",") == strings.Join(g.ContactIDs, ",") && strings.Join(best.Keys, ",") == strings.Join(g.Keys, ",") {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE merge_suggestions SET contact_ids = $2, keys = $3, updated_at = clock_timestamp() WHERE id = $1`,
			best.ID, pq.Array(g.ContactIDs), pq.Array(g.Keys)); err != nil {
			return fmt.Errorf("db: update suggestion: %w", err)
		}
		if err := setSuggestionMembers(ctx, tx, best.ID, g.ContactIDs); err != nil {
			return err
		}
		event(rubrica.SuggestionUpdated, best.ID)
	}
	for _, s := range existing {
		if used[s.ID] {
			continue
		}
		if err := closeSuggestion(ctx, tx, s.ID, rubrica.SuggestionResolved); err != nil {
			return err
		}
		event(rubrica.SuggestionResolvedEvent, s.ID)
	}
	return publish(ctx, tx, events...)
}

func overlap(a, b []string) int {
	in := make(map[string]bool, len(a))
	for _, x := range a {
		in[x] = true
	}
	n := 0
	for _, x := range b {
		if in[x] {
			n++
		}
	}
	return n
}

func setSuggestionMembers(ctx context.Context, tx *sqlx.Tx, id string, contactIDs []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM merge_suggestion_contacts WHERE suggestion_id = $1 AND contact_id <> ALL($2::uuid[])`, id, pq.Array(contactIDs)); err != nil {
		return fmt.Errorf("db: suggestion members: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO merge_suggestion_contacts (suggestion_id, contact_id)
		SELECT $1, c FROM unnest($2::uuid[]) AS c ON CONFLICT DO NOTHING`, id, pq.Array(contactIDs)); err != nil {
		return fmt.Errorf("db: suggestion members: %w", err)
	}
	return nil
}

// closeSuggestion ends an open suggestion with a status other than OPEN.
func closeSuggestion(ctx context.Context, tx *sqlx.Tx, id string, status rubrica.MergeSuggestionStatus) error {
	if _, err := tx.ExecContext(ctx, `UPDATE merge_suggestions SET status = $2, updated_at = clock_timestamp() WHERE id = $1`, id, string(status)); err != nil {
		return fmt.Errorf("db: close suggestion: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM merge_suggestion_contacts WHERE suggestion_id = $1`, id); err != nil {
		return fmt.Errorf("db: close suggestion: %w", err)
	}
	return nil
}

// contactKeys returns the stored forms of a contact's duplicate keys (for refreshDuplicates'
// oldValues).
func contactKeys(cs ...*rubrica.Contact) []string {
	var out []string
	for _, c := range cs {
		if c == nil {
			continue
		}
		for _, k := range rubrica.DuplicateKeys(c) {
			out = append(out, k.String())
		}
	}
	return out
}

// MergeService implements rubrica.MergeService.
type MergeService struct {
	db *DB
}

var _ rubrica.MergeService = (*MergeService)(nil)

// suggestionOrder is the order of suggestions: most recently changed first.
var suggestionOrder = keyset{key: "s.updated_at", id: "s.id", keyType: keyTimestamp, descending: true}

// FindSuggestions lists the workspace's suggestions with a status, newest change first.
func (s *MergeService) FindSuggestions(ctx context.Context, status rubrica.MergeSuggestionStatus, p rubrica.Page) (*rubrica.Connection[*rubrica.MergeSuggestion], error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var qa args
	where := []string{"s.workspace_id = " + qa.add(a.WorkspaceID), "s.status = " + qa.add(string(status))}
	return listPage(ctx, s.db, p, "SUGGESTION", suggestionOrder, `SELECT `+suggestionColumns+` FROM merge_suggestions s`, where, qa,
		(*suggestionRow).suggestion, func(r *suggestionRow) (string, string) { return timeKey(r.UpdatedAt), r.ID })
}

// CountSuggestions counts the workspace's suggestions with a status.
func (s *MergeService) CountSuggestions(ctx context.Context, status rubrica.MergeSuggestionStatus) (int, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM merge_suggestions WHERE workspace_id = $1 AND status = $2`, a.WorkspaceID, string(status)); err != nil {
		return 0, fmt.Errorf("db: count suggestions: %w", err)
	}
	return n, nil
}

// FindSuggestionByID returns a suggestion of the workspace.
func (s *MergeService) FindSuggestionByID(ctx context.Context, id string) (*rubrica.MergeSuggestion, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findSuggestion(ctx, s.db, a.WorkspaceID, id, false)
}

func findSuggestion(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string, lock bool) (*rubrica.MergeSuggestion, error) {
	row, err := getByID[suggestionRow](ctx, q, "MergeSuggestion", "id",
		`SELECT `+suggestionColumns+` FROM merge_suggestions s WHERE s.id = $1 AND s.workspace_id = $2`+forUpdate(lock), id, workspaceID)
	if err != nil {
		return nil, err
	}
	return row.suggestion(), nil
}

// FindSuggestionsByContactIDs returns each contact's open suggestions.
func (s *MergeService) FindSuggestionsByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*rubrica.MergeSuggestion, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ContactID string `db:"contact_id"`
		suggestionRow
	}
	const q = `SELECT m.contact_id, ` + suggestionColumns + ` FROM merge_suggestion_contacts m JOIN merge_suggestions s ON s.id = m.suggestion_id
		WHERE m.contact_id = ANY($1) AND s.workspace_id = $2 AND s.status = 'OPEN' ORDER BY s.updated_at DESC, s.id`
	if err := s.db.SelectContext(ctx, &rows, q, pq.Array(validIDs(contactIDs)), a.WorkspaceID); err != nil {
		return nil, fmt.Errorf("db: find contact suggestions: %w", err)
	}
	out := map[string][]*rubrica.MergeSuggestion{}
	for i := range rows {
		out[rows[i].ContactID] = append(out[rows[i].ContactID], rows[i].suggestion())
	}
	return out, nil
}

// FindDuplicateValues returns, for each contact that counts, the values it shares with other
// contacts that count.
func (s *MergeService) FindDuplicateValues(ctx context.Context, contactIDs []string) (map[string][]rubrica.DuplicateMatch, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var asked []dupRow
	if err := s.db.SelectContext(ctx, &asked, `SELECT `+dupColumns+` FROM contacts c
		WHERE c.id = ANY($1) AND c.workspace_id = $2 AND c.blocked_at IS NULL`, pq.Array(validIDs(contactIDs)), a.WorkspaceID); err != nil {
		return nil, fmt.Errorf("db: find duplicate values: %w", err)
	}
	keys := map[rubrica.DuplicateKey]bool{}
	var phones, emails []string
	for i := range asked {
		for _, k := range rubrica.DuplicateKeys(asked[i].contact()) {
			if keys[k] {
				continue
			}
			keys[k] = true
			if k.Field == rubrica.DuplicatePhone {
				phones = append(phones, k.LookupValues()...)
			} else {
				emails = append(emails, k.Value)
			}
		}
	}
	out := map[string][]rubrica.DuplicateMatch{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := readHolders(ctx, s.db, a.WorkspaceID, phones, emails)
	if err != nil {
		return nil, err
	}
	holders := make([]*rubrica.Contact, len(rows))
	for i := range rows {
		holders[i] = rows[i].contact()
	}
	for _, m := range rubrica.Matches(holders) {
		if !keys[rubrica.DuplicateKey{Field: m.Field, Value: m.Value}] {
			continue
		}
		for _, id := range m.ContactIDs {
			out[id] = append(out[id], m)
		}
	}
	return out, nil
}

// DismissSuggestion stops offering an open suggestion: the same contacts and values are not
// offered again; a new shared value or a new contact makes a new suggestion.
func (s *MergeService) DismissSuggestion(ctx context.Context, id string) (*rubrica.MergeSuggestion, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var out *rubrica.MergeSuggestion
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockDuplicates(ctx, tx, a.WorkspaceID); err != nil {
			return err
		}
		sug, err := findSuggestion(ctx, tx, a.WorkspaceID, id, true)
		if err != nil {
			return withField(err, "suggestionId")
		}
		if sug.Status != rubrica.SuggestionOpen {
			return &rubrica.Error{Code: rubrica.ECONFLICT, Field: "suggestionId", Message: fmt.Sprintf("The suggestion is %s, not OPEN.", sug.Status)}
		}
		if err := closeSuggestion(ctx, tx, sug.ID, rubrica.SuggestionDismissed); err != nil {
			return err
		}
		if out, err = findSuggestion(ctx, tx, a.WorkspaceID, id, false); err != nil {
			return err
		}
		return publish(ctx, tx, newEvent(a.WorkspaceID, rubrica.KindMergeSuggestion, rubrica.SuggestionResolvedEvent, "", &sug.ID))
	})
	return out, err
}

// RebuildSuggestions recomputes every suggestion of the workspace from scratch with
// set-based reads: every contact that shares a value, grouped, then reconciled with the
// open suggestions exactly as the incremental path does. Owners and managers only.
func (s *MergeService) RebuildSuggestions(ctx context.Context) error {
	a, err := rubrica.RequireManager(ctx, "rebuild merge suggestions")
	if err != nil {
		return err
	}
	return s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := lockDuplicates(ctx, tx, a.WorkspaceID); err != nil {
			return err
		}
		var rows []dupRow
		// Joins and a UNION, not "phone IN (...) OR email IN (...)": PostgreSQL cannot turn
		// an OR of IN subqueries into joins, and once their hash tables outgrow work_mem
		// (some hundred thousand contacts) it runs them once per contact. Same-line forms
		// (rubrica.PhoneLineForm) are a rule in Go: every contact holding a phone of the
		// countries that have them (+52, +54, +55) is read, and Groups finds those pairs.
		const q = `WITH p AS (SELECT k FROM contacts c, unnest(contact_phone_keys(c.phone, c.other_phones)) AS k
				WHERE c.workspace_id = $1 AND c.blocked_at IS NULL AND c.phone IS NOT NULL GROUP BY k HAVING count(DISTINCT c.id) > 1),
			e AS (SELECT k FROM contacts c, unnest(contact_email_keys(c.email, c.other_emails)) AS k
				WHERE c.workspace_id = $1 AND c.blocked_at IS NULL AND c.email IS NOT NULL GROUP BY k HAVING count(DISTINCT c.id) > 1)
			SELECT ` + dupColumns + ` FROM contacts c WHERE c.workspace_id = $1 AND c.blocked_at IS NULL
				AND contact_phone_keys(c.phone, c.other_phones) && ARRAY(SELECT k FROM p)
			UNION
			SELECT ` + dupColumns + ` FROM contacts c WHERE c.workspace_id = $1 AND c.blocked_at IS NULL
				AND contact_email_keys(c.email, c.other_emails) && ARRAY(SELECT k FROM e)
			UNION
			SELECT ` + dupColumns + ` FROM contacts c, unnest(contact_phone_keys(c.phone, c.other_phones)) AS k
				WHERE c.workspace_id = $1 AND c.blocked_at IS NULL AND c.phone IS NOT NULL AND left(k, 3) IN ('+52', '+54', '+55')`
		if err := tx.SelectContext(ctx, &rows, q, a.WorkspaceID); err != nil {
			return fmt.Errorf("db: read duplicates: %w", err)
		}
		list := make([]*rubrica.Contact, len(rows))
		for i := range rows {
			list[i] = rows[i].contact()
		}
		var open []suggestionRow
		if err := tx.SelectContext(ctx, &open, `SELECT `+suggestionColumns+` FROM merge_suggestions s
			WHERE s.workspace_id = $1 AND s.status = 'OPEN' ORDER BY s.created_at`, a.WorkspaceID); err != nil {
			return fmt.Errorf("db: read open suggestions: %w", err)
		}
		existing := make([]*suggestionRow, len(open))
		for i := range open {
			existing[i] = &open[i]
		}
		return reconcileSuggestions(ctx, tx, a.WorkspaceID, rubrica.Groups(list), existing)
	})
}
