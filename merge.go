package rubrica

import (
	"context"
	"sort"
	"strings"
	"time"
)

// DuplicateField is the kind of value contacts can share.
type DuplicateField string

// The duplicate keys.
const (
	DuplicatePhone DuplicateField = "PHONE"
	DuplicateEmail DuplicateField = "EMAIL"
)

// DuplicateKey is one value that makes contacts duplicates: an E.164 phone or a case-folded,
// trimmed email.
type DuplicateKey struct {
	Field DuplicateField
	Value string
}

// String is the key's stored form, "PHONE:+39..." or "EMAIL:ada@example.com".
func (k DuplicateKey) String() string { return string(k.Field) + ":" + k.Value }

// ParseDuplicateKey reads a key's stored form.
func ParseDuplicateKey(s string) (DuplicateKey, bool) {
	f, v, ok := strings.Cut(s, ":")
	if !ok || (f != string(DuplicatePhone) && f != string(DuplicateEmail)) || v == "" {
		return DuplicateKey{}, false
	}
	return DuplicateKey{Field: DuplicateField(f), Value: v}, true
}

// DuplicateKeys returns the keys of a contact: every phone, in its current same-line form
// (see PhoneLineForm), and every email, case-folded and trimmed; each once.
func DuplicateKeys(c *Contact) []DuplicateKey {
	var keys []DuplicateKey
	seen := map[DuplicateKey]bool{}
	add := func(k DuplicateKey) {
		if k.Value != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, p := range c.Phones() {
		add(DuplicateKey{DuplicatePhone, PhoneLineForm(p)})
	}
	for _, e := range c.Emails() {
		add(DuplicateKey{DuplicateEmail, strings.ToLower(strings.TrimSpace(e))})
	}
	return keys
}

// LookupValues returns the stored values that hold a key: for a phone, every form of its line
// (see PhoneLineForms); for an email, the key itself (compared case-folded and trimmed).
func (k DuplicateKey) LookupValues() []string {
	if k.Field == DuplicatePhone {
		return PhoneLineForms(k.Value)
	}
	return []string{k.Value}
}

// DuplicateMatch is one value shared by two or more contacts.
type DuplicateMatch struct {
	Field      DuplicateField
	Value      string
	ContactIDs []string
}

// Matches returns the values shared by two or more of the contacts, with the contacts holding
// each, in a stable order (field, value; contact ids sorted).
func Matches(contacts []*Contact) []DuplicateMatch {
	holders := map[DuplicateKey][]string{}
	for _, c := range contacts {
		for _, k := range DuplicateKeys(c) {
			holders[k] = append(holders[k], c.ID)
		}
	}
	var out []DuplicateMatch
	for k, ids := range holders {
		if len(ids) < 2 {
			continue
		}
		sort.Strings(ids)
		out = append(out, DuplicateMatch{Field: k.Field, Value: k.Value, ContactIDs: ids})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field > out[j].Field // PHONE before EMAIL
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// DuplicateGroup is a set of two or more contacts joined by shared values.
type DuplicateGroup struct {
	ContactIDs []string // sorted
	Keys       []string // the shared keys' stored forms, sorted
}

// MaxSuggestionContacts is the most contacts a merge suggestion holds. So many contacts
// joined by shared values are not one person but a shared line or mailbox (a switchboard,
// info@), and the bound keeps what a suggestion's contacts cost to read bounded.
const MaxSuggestionContacts = 20

// Groups splits contacts into groups joined by shared keys (A shares a phone with B, B an
// email with C: one group of three). Contacts that share nothing are in no group, nor are
// those of a group of more than MaxSuggestionContacts. The result is sorted by each group's
// first contact id.
func Groups(contacts []*Contact) []DuplicateGroup {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	owner := map[DuplicateKey]string{}
	shared := map[DuplicateKey]bool{}
	for _, c := range contacts {
		parent[c.ID] = c.ID
	}
	for _, c := range contacts {
		for _, k := range DuplicateKeys(c) {
			if o, ok := owner[k]; ok {
				shared[k] = true
				a, b := find(o), find(c.ID)
				if a != b {
					if a < b {
						parent[b] = a
					} else {
						parent[a] = b
					}
				}
			} else {
				owner[k] = c.ID
			}
		}
	}
	byRoot := map[string]*DuplicateGroup{}
	for _, c := range contacts {
		r := find(c.ID)
		if byRoot[r] == nil {
			byRoot[r] = &DuplicateGroup{}
		}
		byRoot[r].ContactIDs = append(byRoot[r].ContactIDs, c.ID)
	}
	for k := range shared {
		g := byRoot[find(owner[k])]
		g.Keys = append(g.Keys, k.String())
	}
	var out []DuplicateGroup
	for _, g := range byRoot {
		if len(g.ContactIDs) < 2 || len(g.ContactIDs) > MaxSuggestionContacts {
			continue
		}
		sort.Strings(g.ContactIDs)
		sort.Strings(g.Keys)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContactIDs[0] < out[j].ContactIDs[0] })
	return out
}

// Covers reports whether every element of sub is in set (both sorted or not).
func Covers(set, sub []string) bool {
	in := make(map[string]bool, len(set))
	for _, s := range set {
		in[s] = true
	}
	for _, s := range sub {
		if !in[s] {
			return false
		}
	}
	return true
}

// MergeSuggestionStatus is where a suggestion stands.
type MergeSuggestionStatus string

// The suggestion statuses.
const (
	SuggestionOpen      MergeSuggestionStatus = "OPEN"
	SuggestionDismissed MergeSuggestionStatus = "DISMISSED"
	SuggestionMerged    MergeSuggestionStatus = "MERGED"
	SuggestionResolved  MergeSuggestionStatus = "RESOLVED"
)

// The types of merge suggestion events.
const (
	SuggestionCreated       = "CREATED"
	SuggestionUpdated       = "UPDATED"
	SuggestionResolvedEvent = "RESOLVED"
)

// MergeSuggestion proposes merging a group of duplicate contacts.
type MergeSuggestion struct {
	ID          string
	WorkspaceID string
	Status      MergeSuggestionStatus
	ContactIDs  []string
	Keys        []string // the shared values when it was last updated
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// MergeSide says which contact a merged field's value comes from.
type MergeSide string

// The sides of a merge.
const (
	SidePrimary   MergeSide = "PRIMARY"
	SideSecondary MergeSide = "SECONDARY"
)

// FieldChoice picks whose value a merged field takes; Field is a standard field key (see
// MergeableFields) or a custom field's key. ContactID names one contact of the merge (the
// primary or a secondary); Side, for a merge of two, says which of the two. One of them is set.
type FieldChoice struct {
	Field     string
	Side      MergeSide
	ContactID string
}

// MaxMergeSecondaries is the most contacts one merge merges into its primary.
const MaxMergeSecondaries = 9

// ValidateMergeGroup checks the contacts of a merge: 1 to MaxMergeSecondaries secondaries,
// each once, none of them the primary. field names the secondaries' input field.
func ValidateMergeGroup(primaryID string, secondaryIDs []string, field string) error {
	if len(secondaryIDs) == 0 || len(secondaryIDs) > MaxMergeSecondaries {
		return InvalidField(field, "merge 1 to %d contacts into the primary, not %d.", MaxMergeSecondaries, len(secondaryIDs))
	}
	seen := map[string]bool{primaryID: true}
	for _, id := range secondaryIDs {
		if id == primaryID {
			return InvalidField(field, "A contact cannot be merged with itself.")
		}
		if seen[id] {
			return InvalidField(field, "each contact may be named once.")
		}
		seen[id] = true
	}
	return nil
}

// stepChoices turns choices by contact (field → id of the contact whose value it takes) into
// the sides of step i of a group merge, which merges secondaries[i] into what the steps before
// made of the primary: SECONDARY where the chosen contact is secondaries[i], PRIMARY where it
// is the primary or an earlier secondary (whose value the merge already took), and no choice
// where it is a later one (whose step takes it).
func stepChoices(primaryID string, secondaries []*Contact, i int, choices map[string]string) map[string]MergeSide {
	out := make(map[string]MergeSide, len(choices))
	for field, id := range choices {
		switch {
		case id == secondaries[i].ID:
			out[field] = SideSecondary
		case id == primaryID:
			out[field] = SidePrimary
		default:
			for _, s := range secondaries[:i] {
				if s.ID == id {
					out[field] = SidePrimary
				}
			}
		}
	}
	return out
}

// MergeGroup combines a primary with secondaries, in their order, as MergeFields combines two:
// a field the primary lacks takes the value of the first secondary that has one, unless
// choices (field → id of one of the contacts) pick whose value it takes; phones and emails
// are the union of all. It returns the merged contact and the changes made to the primary's
// single-valued fields (its value before, the merged one after).
func MergeGroup(primary *Contact, secondaries []*Contact, choices map[string]string) (*Contact, map[string]FieldChange) {
	out := primary
	for i, s := range secondaries {
		out, _ = MergeFields(out, s, stepChoices(primary.ID, secondaries, i, choices))
	}
	changes := map[string]FieldChange{}
	for _, key := range MergeableFields {
		if key == "phone" || key == "email" {
			continue
		}
		if p, m := FieldValue(primary, key), FieldValue(out, key); !equalPtr(p, m) {
			changes[key] = FieldChange{Old: p, New: m}
		}
	}
	return out, changes
}

// MergeGroupCustomValues combines custom values (definition id → value) of a primary and its
// secondaries (ids in the same order) as MergeGroup combines fields, and returns the merged
// values and the changes to the primary's.
func MergeGroupCustomValues(primaryID string, primary map[string]string, secondaryIDs []string, secondaries []map[string]string,
	keyOf map[string]string, choices map[string]string) (map[string]string, map[string]FieldChange) {
	steps := make([]*Contact, len(secondaryIDs))
	for i, id := range secondaryIDs {
		steps[i] = &Contact{ID: id}
	}
	out := primary
	for i, s := range secondaries {
		out, _ = MergeCustomValues(out, s, keyOf, stepChoices(primaryID, steps, i, choices))
	}
	changes := map[string]FieldChange{}
	defs := map[string]bool{}
	for d := range primary {
		defs[d] = true
	}
	for d := range out {
		defs[d] = true
	}
	for d := range defs {
		p, hasP := primary[d]
		m, hasM := out[d]
		if hasP == hasM && p == m {
			continue
		}
		var ch FieldChange
		if hasP {
			ch.Old = &p
		}
		if hasM {
			ch.New = &m
		}
		changes[d] = ch
	}
	return out, changes
}

// MergeableFields are the standard fields a merge combines, by key: every standard field
// (see StandardFields).
var MergeableFields = standardKeys(false)

// contactField returns a pointer to the contact's value of a standard field.
func contactField(c *Contact, key string) **string {
	if f := standardFieldByKey[key]; f != nil {
		return f.Value(c)
	}
	return nil
}

// FieldValue returns a contact's value of a standard field (see MergeableFields).
func FieldValue(c *Contact, key string) *string {
	if p := contactField(c, key); p != nil {
		return *p
	}
	return nil
}

// SetFieldValue sets a contact's value of a standard field.
func SetFieldValue(c *Contact, key string, v *string) {
	if p := contactField(c, key); p != nil {
		*p = v
	}
}

// FieldChange is one value a merge changed on the primary: Old before, New after.
type FieldChange struct {
	Old *string `json:"old"`
	New *string `json:"new"`
}

// MergeFields combines two contacts' standard fields: each keeps the primary's value where it
// has one and takes the secondary's otherwise, unless choices pick the secondary's. Phones and
// emails are never dropped: the merged contact holds both contacts' (see MergeValues). It
// returns the merged contact (the primary's id and times) and the changes it made to the
// primary's single-valued fields.
// A country follows the side its value came from, with its set-by-hand flag. The result is
// blocked when either contact is blocked: a merge never silently unblocks.
func MergeFields(primary, secondary *Contact, choices map[string]MergeSide) (*Contact, map[string]FieldChange) {
	out := *primary
	changes := map[string]FieldChange{}
	out.SetPhones(MergeValues(primary.Phones(), secondary.Phones(), choices["phone"] == SideSecondary, func(s string) string { return s }))
	out.SetEmails(MergeValues(primary.Emails(), secondary.Emails(), choices["email"] == SideSecondary, strings.ToLower))
	for _, key := range MergeableFields {
		if key == "phone" || key == "email" {
			continue // lists, merged above
		}
		p, s := FieldValue(primary, key), FieldValue(secondary, key)
		take := p == nil && s != nil
		if side, ok := choices[key]; ok {
			take = side == SideSecondary
		}
		if !take || equalPtr(p, s) {
			continue
		}
		SetFieldValue(&out, key, s)
		changes[key] = FieldChange{Old: p, New: s}
		if key == "country" {
			out.CountryManual = secondary.CountryManual
		}
	}
	if out.BlockedAt == nil && secondary.BlockedAt != nil {
		out.BlockedAt = secondary.BlockedAt
	}
	return &out, changes
}

// MergeCustomValues combines custom values (definition id → value) the same way as
// MergeFields: each keeps the primary's value where it has one and takes the secondary's
// otherwise, unless choices (by field key, see keyOf) pick the secondary's, which clears the
// value where the secondary has none, exactly as for a standard field.
func MergeCustomValues(primary, secondary map[string]string, keyOf map[string]string, choices map[string]MergeSide) (map[string]string, map[string]FieldChange) {
	out := make(map[string]string, len(primary)+len(secondary))
	for k, v := range primary {
		out[k] = v
	}
	changes := map[string]FieldChange{}
	defs := make(map[string]bool, len(primary)+len(secondary))
	for def := range primary {
		defs[def] = true
	}
	for def := range secondary {
		defs[def] = true
	}
	for def := range defs {
		p, hasP := primary[def]
		s, hasS := secondary[def]
		take := !hasP && hasS
		if side, ok := choices[keyOf[def]]; ok {
			take = side == SideSecondary
		}
		if !take || (hasP == hasS && p == s) {
			continue
		}
		var old, val *string
		if hasP {
			old = &p
		}
		if hasS {
			val = &s
			out[def] = s
		} else {
			delete(out, def)
		}
		changes[def] = FieldChange{Old: old, New: val}
	}
	return out, changes
}

// MergeValues is the union of two contacts' phones or emails in a stable order: the primary's
// primary first (the secondary's when secondaryFirst and it has one), then the rest of the
// primary's, then the rest of the secondary's; a value both hold (as key compares them) once,
// as the first holder wrote it.
func MergeValues(primary, secondary []string, secondaryFirst bool, key func(string) string) []string {
	var order []string
	if secondaryFirst && len(secondary) > 0 {
		order = append(append(append(order, secondary[0]), primary...), secondary[1:]...)
	} else {
		order = append(append(order, primary...), secondary...)
	}
	out := make([]string, 0, len(order))
	seen := map[string]bool{}
	for _, v := range order {
		if !seen[key(v)] {
			seen[key(v)] = true
			out = append(out, v)
		}
	}
	return out
}

func equalPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// UndoWindow is how long the member who merged may undo a merge; owners and managers may undo
// any merge at any time.
const UndoWindow = 10 * time.Minute

// MergedContact is the contact a merge took away, as it was then (what the merge history
// shows of it).
type MergedContact struct {
	Contact         Contact
	CustomValues    map[string]string // by field key
	TagIDs          []string
	Identities      []Identity // its channel identities
	ConversationIDs []string
}

// Identity is a contact's address on a channel.
type Identity struct {
	ChannelID  string `json:"channelId"`
	Identifier string `json:"identifier"`
}

// Merge records one merge and everything needed to undo it.
type Merge struct {
	ID               string
	WorkspaceID      string
	PrimaryContactID string
	MergedContactID  string         // the first contact merged away
	MergedContactIDs []string       // every contact merged away, in the order given
	Automatic        bool           // made by an automatic merge (see AutoMergeSettings), by no member
	Snapshot         []byte         // everything needed to undo it, in the store's own form
	Merged           *MergedContact // the secondary as it was, read from the snapshot
	MergedBy         *string
	MergedAt         time.Time
	UndoneAt         *time.Time
	UndoneBy         *string
	PrimaryExists    bool    // the contact it merged into still exists
	LaterMergeID     *string // a later merge touching the primary, to undo first
}

// UndoBlocker says why an actor may not undo a merge now, or "" when it may.
func (m *Merge) UndoBlocker(a Actor, now time.Time) string {
	switch {
	case m.UndoneAt != nil:
		return "The merge was already undone."
	case m.LaterMergeID != nil: // before the primary's existence: a later merge may have merged it away
		return "A later merge into the same contact must be undone first."
	case !m.PrimaryExists:
		return "The contact it merged into was deleted."
	case a.Role.CanManage():
		return ""
	case m.MergedBy == nil || *m.MergedBy != a.MemberID:
		return "Only owners and managers may undo another member's merge."
	case now.Sub(m.MergedAt) > UndoWindow:
		return "The 10 minutes to undo your own merge are over: ask an owner or a manager."
	}
	return ""
}

// MergePreview is what a merge would produce, changing nothing.
type MergePreview struct {
	Contact      *Contact
	Tags         []*Tag
	CustomValues []*CustomFieldValue
	Links        []*ChannelLink
}

// MergeResult is what a merge or an unmerge did, read in its transaction.
type MergeResult struct {
	Contact *Contact // the primary
	Merge   *Merge
	// For an unmerge: the contact brought back, the lists (tags with their counts, custom
	// values, links) of both contacts, and the members the payload names (the merge's and
	// the contacts' assignees), by id.
	Restored    *Contact
	RestoredAll []*Contact // every contact brought back, in the merge's order (Restored first)
	Lists       ContactLists
	Members     map[string]*Member
}

// MergeService finds duplicates and merges them.
type MergeService interface {
	// FindSuggestions lists suggestions by status, newest change first.
	FindSuggestions(ctx context.Context, status MergeSuggestionStatus, page Page) (*Connection[*MergeSuggestion], error)
	// CountSuggestions counts the suggestions with a status.
	CountSuggestions(ctx context.Context, status MergeSuggestionStatus) (int, error)
	// FindSuggestionByID returns a suggestion, or NOT_FOUND.
	FindSuggestionByID(ctx context.Context, id string) (*MergeSuggestion, error)
	// FindSuggestionsByContactIDs returns the open suggestions of each contact.
	FindSuggestionsByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*MergeSuggestion, error)
	// FindDuplicateValues returns the values each contact shares with other contacts.
	FindDuplicateValues(ctx context.Context, contactIDs []string) (map[string][]DuplicateMatch, error)
	// DismissSuggestion stops offering a suggestion for the same contacts and values.
	DismissSuggestion(ctx context.Context, id string) (*MergeSuggestion, error)
	// RebuildSuggestions recomputes every suggestion of the workspace (owners and managers).
	RebuildSuggestions(ctx context.Context) error
	// PreviewMerge returns what merging would produce, changing nothing.
	PreviewMerge(ctx context.Context, primaryID, secondaryID string, choices []FieldChoice) (*MergePreview, error)
	// MergeContacts merges the secondary into the primary.
	MergeContacts(ctx context.Context, primaryID, secondaryID string, choices []FieldChoice) (*MergeResult, error)
	// PreviewGroupMerge returns what merging the secondaries into the primary would produce.
	PreviewGroupMerge(ctx context.Context, primaryID string, secondaryIDs []string, choices []FieldChoice) (*MergePreview, error)
	// MergeGroup merges 1 to MaxMergeSecondaries secondaries into the primary, in one
	// transaction and one Merge.
	MergeGroup(ctx context.Context, primaryID string, secondaryIDs []string, choices []FieldChoice) (*MergeResult, error)
	// UnmergeContacts undoes a merge and returns what its transaction committed, both contacts
	// and their lists included.
	UnmergeContacts(ctx context.Context, mergeID string) (*MergeResult, error)
	// FindMerges lists the merge history, newest first (owners and managers).
	FindMerges(ctx context.Context, page Page) (*Connection[*Merge], error)
	// CountMerges counts the merges (owners and managers).
	CountMerges(ctx context.Context) (int, error)
	// FindMergeByID returns a merge, or NOT_FOUND.
	FindMergeByID(ctx context.Context, id string) (*Merge, error)
}
