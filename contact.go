package rubrica

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
)

// Contact is a person who writes to the workspace.
type Contact struct {
	ID                string
	WorkspaceID       string
	FirstName         *string
	LastName          *string
	ProfileName       *string // the name the person's channel profile shows
	ProfilePictureURL *string
	Email             *string  // the primary email, or nil when the contact has none
	OtherEmails       []string // the emails after the primary, in order (none without a primary)
	Phone             *string  // the primary phone (E.164), or nil when the contact has none
	OtherPhones       []string // the phones after the primary, in order (none without a primary)
	Country           *string  // ISO 3166-1 alpha-2
	CountryManual     bool     // the country was set by hand and no longer follows the phone
	Language          *string  // BCP 47
	AssigneeID        *string
	BlockedAt         *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// DisplayName is what the inbox shows for a contact: the channel profile name where there is
// one, else first and last name, else the email, else the phone, else "Unknown contact".
func (c *Contact) DisplayName() string {
	if c.ProfileName != nil && strings.TrimSpace(*c.ProfileName) != "" {
		return strings.TrimSpace(*c.ProfileName)
	}
	name := strings.TrimSpace(deref(c.FirstName) + " " + deref(c.LastName))
	switch {
	case name != "":
		return name
	case c.Email != nil:
		return *c.Email
	case c.Phone != nil:
		return *c.Phone
	}
	return "Unknown contact"
}

// Phones returns every phone of the contact, the primary first.
func (c *Contact) Phones() []string { return withPrimary(c.Phone, c.OtherPhones) }

// Emails returns every email of the contact, the primary first.
func (c *Contact) Emails() []string { return withPrimary(c.Email, c.OtherEmails) }

// SetPhones makes list the contact's phones: the first is the primary.
func (c *Contact) SetPhones(list []string) { c.Phone, c.OtherPhones = splitPrimary(list) }

// SetEmails makes list the contact's emails: the first is the primary.
func (c *Contact) SetEmails(list []string) { c.Email, c.OtherEmails = splitPrimary(list) }

func withPrimary(primary *string, others []string) []string {
	if primary == nil {
		return []string{}
	}
	return append([]string{*primary}, others...)
}

func splitPrimary(list []string) (*string, []string) {
	if len(list) == 0 {
		return nil, nil
	}
	p := list[0]
	return &p, append([]string(nil), list[1:]...)
}

// Blocked reports whether the contact is blocked.
func (c *Contact) Blocked() bool { return c.BlockedAt != nil }

// Opt is an optional change of one value in an update: Set says the input named the field;
// a nil Value then clears it.
type Opt[T any] struct {
	Set   bool
	Value *T
}

// SetTo returns an Opt that sets the value v.
func SetTo[T any](v T) Opt[T] { return Opt[T]{Set: true, Value: &v} }

// CustomValueInput sets (Value non-nil) or clears (Value nil) one custom field by key.
type CustomValueInput struct {
	Key   string
	Value *string
}

// ContactChanges are the fields createContact and updateContact may set.
type ContactChanges struct {
	FirstName         Opt[string]
	LastName          Opt[string]
	ProfilePictureURL Opt[string]
	Email             Opt[string]   // replaces the primary email, keeping the others
	Phone             Opt[string]   // replaces the primary phone, keeping the others
	Emails            Opt[[]string] // the whole list of emails, primary first
	Phones            Opt[[]string] // the whole list of phones, primary first
	Country           Opt[string]
	Language          Opt[string]
	AssigneeID        Opt[string]
	CustomFields      []CustomValueInput
}

// OwnFieldsOnly reports whether the changes set only fields whose new value needs nothing
// else of the contact and that no other rule reads (duplicates, channel standing, the country
// from the phone, the assignee check, custom fields): names, picture and language. Such an
// edit is stored without reading the contact first.
func (in ContactChanges) OwnFieldsOnly() bool {
	return !in.Email.Set && !in.Phone.Set && !in.Emails.Set && !in.Phones.Set && !in.Country.Set &&
		!in.AssigneeID.Set && len(in.CustomFields) == 0
}

// ContactOrderField is what a contact list is sorted by.
type ContactOrderField string

// The orders of a contact list.
const (
	ContactOrderCreatedAt ContactOrderField = "CREATED_AT"
	ContactOrderUpdatedAt ContactOrderField = "UPDATED_AT"
	ContactOrderName      ContactOrderField = "NAME"
)

// ContactOrder sorts a contact list; ties are broken by id, so keyset paging is stable.
type ContactOrder struct {
	Field      ContactOrderField
	Descending bool
}

// TagMatch says whether a contact needs any or all of the filter's tags.
type TagMatch string

// The tag matches of a filter.
const (
	TagMatchAny TagMatch = "ANY"
	TagMatchAll TagMatch = "ALL"
)

// ContactFilter selects contacts; the zero value selects all.
type ContactFilter struct {
	Search     string
	TagIDs     []string
	TagMatch   TagMatch
	Blocked    *bool
	AssigneeID *string
	Country    *string
	ChannelIDs []string // contacts linked on any of these channels
}

// ContactService reads and changes contacts. Every method acts as the actor of ctx and
// only ever sees that actor's workspace.
type ContactService interface {
	// FindContactByID returns a contact of the workspace, or NOT_FOUND.
	FindContactByID(ctx context.Context, id string) (*Contact, error)
	// FindContactWithLists is FindContactByID with the lists set names of the contact, read
	// in the same statement (tag counts in one more).
	FindContactWithLists(ctx context.Context, id string, set ContactListSet) (*Contact, ContactLists, error)
	// FindContactsByIDs returns the contacts with those ids that the workspace has.
	FindContactsByIDs(ctx context.Context, ids []string) (map[string]*Contact, error)
	// FindContacts returns one page of contacts.
	FindContacts(ctx context.Context, filter ContactFilter, order ContactOrder, page Page) (*Connection[*Contact], error)
	// CountContacts counts the contacts a filter selects.
	CountContacts(ctx context.Context, filter ContactFilter) (int, error)
	// CreateContact validates and stores a new contact.
	CreateContact(ctx context.Context, in ContactChanges) (*Contact, error)
	// UpdateContact validates and applies the fields the input sets.
	UpdateContact(ctx context.Context, id string, in ContactChanges) (*Contact, error)
	// FindCustomValuesByContactIDs returns each contact's custom field values.
	FindCustomValuesByContactIDs(ctx context.Context, ids []string) (map[string][]*CustomFieldValue, error)
	// FindContactLists returns the lists set names of those contacts of the workspace, in
	// one statement (with tag counts, one more); ids of other workspaces or not uuids have
	// nothing.
	FindContactLists(ctx context.Context, ids []string, set ContactListSet) (ContactLists, error)
}

// MaxNameLength is the longest first or last name, in characters.
const MaxNameLength = 255

// NormalizeName trims a name and checks its length; an empty name becomes nil.
func NormalizeName(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*v)
	if s == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(s) > MaxNameLength {
		return nil, InvalidField(field, "%s is longer than %d characters.", field, MaxNameLength)
	}
	if !ValidText(s) {
		return nil, InvalidField(field, "%s may not contain NUL characters.", field)
	}
	return &s, nil
}

// ValidText reports whether s can be stored as text: PostgreSQL text holds UTF-8 without NUL,
// so other input is refused as invalid instead of failing in the database.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// MaxSearchLength is the longest search text, in characters: more finds nothing a shorter
// one does not, and costs more.
const MaxSearchLength = 200

// ValidateSearch checks a search text (its length, and that it can be text); field names the
// argument for the error.
func ValidateSearch(field, s string) error {
	if utf8.RuneCountInString(strings.TrimSpace(s)) > MaxSearchLength {
		return InvalidField(field, "%s is longer than %d characters.", field, MaxSearchLength)
	}
	if !ValidText(s) {
		return InvalidField(field, "%s may not contain NUL characters.", field)
	}
	return nil
}

// NormalizeEmail trims and parses an email address. It keeps the address as written;
// comparisons are case-insensitive.
func NormalizeEmail(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*v)
	if s == "" {
		return nil, nil
	}
	if len(s) > 320 {
		return nil, InvalidField(field, "%s is not a valid email address.", Quoted(s))
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return nil, InvalidField(field, "%s is not a valid email address.", Quoted(s))
	}
	return &s, nil
}

// NormalizePhone checks that a phone number is a valid number in E.164 form
// (+ then country code and number, no spaces) and returns it with its region.
func NormalizePhone(field string, v *string) (phone *string, region string, err error) {
	if v == nil {
		return nil, "", nil
	}
	s := strings.TrimSpace(*v)
	if s == "" {
		return nil, "", nil
	}
	if !strings.HasPrefix(s, "+") || len(s) > 16 || !allDigits(s[1:]) {
		return nil, "", badPhone(field, s)
	}
	check := checkPhone(s)
	if !check.valid {
		return nil, "", badPhone(field, s)
	}
	return &s, check.region, nil
}

func badPhone(field, s string) error {
	return InvalidField(field, "%s is not a valid phone number in E.164 form, such as +393331234567.", Quoted(s))
}

// phoneCheck is what libphonenumber says of a number in E.164 form: whether it is a valid
// number written in its E.164 form, and its region.
type phoneCheck struct {
	valid  bool
	region string
}

// phoneChecks remembers the checks of recent numbers. Parsing and validating one costs tens
// of microseconds, and a first message checks its number several times (as its identifier,
// as its contact's phone, for the contact's country). Two generations of at most
// maxPhoneChecks each: when the current one is full it becomes the previous one, so a number
// checked in either stays known.
var phoneChecks = struct {
	sync.Mutex
	cur, prev map[string]phoneCheck
}{cur: map[string]phoneCheck{}}

const maxPhoneChecks = 4096

func checkPhone(s string) phoneCheck {
	phoneChecks.Lock()
	c, ok := phoneChecks.cur[s]
	if !ok {
		c, ok = phoneChecks.prev[s]
	}
	phoneChecks.Unlock()
	if ok {
		return c
	}
	if num, err := phonenumbers.Parse(s, ""); err == nil && phonenumbers.IsValidNumber(num) &&
		phonenumbers.Format(num, phonenumbers.E164) == s {
		c = phoneCheck{valid: true, region: phonenumbers.GetRegionCodeForNumber(num)}
	}
	phoneChecks.Lock()
	if len(phoneChecks.cur) >= maxPhoneChecks {
		phoneChecks.prev, phoneChecks.cur = phoneChecks.cur, make(map[string]phoneCheck, maxPhoneChecks)
	}
	phoneChecks.cur[s] = c
	phoneChecks.Unlock()
	return c
}

// NormalizeCountry checks an ISO 3166-1 alpha-2 code and returns it upper-cased.
func NormalizeCountry(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.ToUpper(strings.TrimSpace(*v))
	if s == "" {
		return nil, nil
	}
	if len(s) != 2 {
		return nil, InvalidField(field, "%s is not an ISO 3166-1 alpha-2 country code, such as IT.", Quoted(*v))
	}
	if r, err := language.ParseRegion(s); err != nil || !r.IsCountry() || r.String() != s {
		return nil, InvalidField(field, "%s is not an ISO 3166-1 alpha-2 country code, such as IT.", Quoted(*v))
	}
	return &s, nil
}

// MaxLanguageLength is the longest language tag, in bytes (RFC 5646 asks every implementation
// to take tags of at least 35 characters).
const MaxLanguageLength = 35

// NormalizeLanguage checks a BCP 47 language tag and returns it in canonical form.
func NormalizeLanguage(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*v)
	if s == "" {
		return nil, nil
	}
	bad := InvalidField(field, "%s is not a BCP 47 language tag of at most %d characters, such as it or pt-BR.", Quoted(s), MaxLanguageLength)
	if len(s) > MaxLanguageLength {
		return nil, bad
	}
	tag, err := language.Parse(s)
	if err != nil || tag == language.Und {
		return nil, bad
	}
	out := tag.String()
	// The canonical form must be one: x/text/language makes of a tag that repeats an
	// extension ("aa-u-00-00-u-00-00", which BCP 47 forbids) a form that canonicalises again
	// differently.
	if again, err := language.Parse(out); err != nil || again.String() != out || len(out) > MaxLanguageLength {
		return nil, bad
	}
	return &out, nil
}

// NormalizeURL checks an http(s) URL.
func NormalizeURL(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.TrimSpace(*v)
	if s == "" {
		return nil, nil
	}
	if !validHTTPURL(s) {
		return nil, InvalidField(field, "%s is not an http or https URL.", Quoted(s))
	}
	return &s, nil
}

// ApplyContactChanges validates in and applies it to c, the contact before the change (a zero
// Contact for a new one). It leaves assignee membership and custom fields to the caller,
// which needs the database for them.
func ApplyContactChanges(c *Contact, in ContactChanges) error {
	var err error
	if in.FirstName.Set {
		if c.FirstName, err = NormalizeName("firstName", in.FirstName.Value); err != nil {
			return err
		}
	}
	if in.LastName.Set {
		if c.LastName, err = NormalizeName("lastName", in.LastName.Value); err != nil {
			return err
		}
	}
	if in.ProfilePictureURL.Set {
		if c.ProfilePictureURL, err = NormalizeURL("profilePictureUrl", in.ProfilePictureURL.Value); err != nil {
			return err
		}
	}
	if err := applyEmails(c, in); err != nil {
		return err
	}
	if in.Language.Set {
		if c.Language, err = NormalizeLanguage("language", in.Language.Value); err != nil {
			return err
		}
	}
	if in.Country.Set {
		if c.Country, err = NormalizeCountry("country", in.Country.Value); err != nil {
			return err
		}
		// A country set by hand stays; clearing it hands it back to the phone.
		c.CountryManual = c.Country != nil
	}
	if in.Phone.Set || in.Phones.Set {
		if err := applyPhones(c, in); err != nil {
			return err
		}
		if !c.CountryManual {
			c.Country = nil
			if _, region, _ := NormalizePhone("phone", c.Phone); region != "" && region != "001" {
				c.Country = &region
			}
		}
	}
	if !c.CountryManual && in.Country.Set && c.Phone != nil {
		// Country cleared: follow the phone again.
		if _, region, _ := NormalizePhone("phone", c.Phone); region != "" && region != "001" {
			c.Country = &region
		}
	}
	if in.AssigneeID.Set {
		c.AssigneeID = in.AssigneeID.Value
	}
	return nil
}

// MaxContactValues is the most phones, and the most emails, a client may give a contact. A
// merge never drops a value, so a merged contact may hold more.
const MaxContactValues = 10

// applyPhones applies phones (the whole list) or phone (the primary alone, the others kept;
// null drops it and the next phone becomes the primary).
func applyPhones(c *Contact, in ContactChanges) error {
	if in.Phone.Set && in.Phones.Set {
		return InvalidField("phones", "give phone or phones, not both.")
	}
	if in.Phones.Set {
		list, err := normalizeList("phones", in.Phones.Value, func(field string, v *string) (*string, error) {
			p, _, err := NormalizePhone(field, v)
			return p, err
		}, func(s string) string { return s })
		if err != nil {
			return err
		}
		c.SetPhones(list)
		return nil
	}
	p, _, err := NormalizePhone("phone", in.Phone.Value)
	if err != nil {
		return err
	}
	c.SetPhones(replacePrimary(c.Phones(), p, func(s string) string { return s }))
	return nil
}

// applyEmails applies emails or email as applyPhones does phones; emails compare
// case-insensitively.
func applyEmails(c *Contact, in ContactChanges) error {
	if !in.Email.Set && !in.Emails.Set {
		return nil
	}
	if in.Email.Set && in.Emails.Set {
		return InvalidField("emails", "give email or emails, not both.")
	}
	if in.Emails.Set {
		list, err := normalizeList("emails", in.Emails.Value, NormalizeEmail, strings.ToLower)
		if err != nil {
			return err
		}
		c.SetEmails(list)
		return nil
	}
	e, err := NormalizeEmail("email", in.Email.Value)
	if err != nil {
		return err
	}
	c.SetEmails(replacePrimary(c.Emails(), e, strings.ToLower))
	return nil
}

// normalizeList checks a whole list of values: at most MaxContactValues, each valid (errors
// name field.N), none given twice (as key compares them). A nil list is empty.
func normalizeList(field string, in *[]string, norm func(string, *string) (*string, error), key func(string) string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	if len(*in) > MaxContactValues {
		return nil, InvalidField(field, "a contact takes at most %d %s; %d were given.", MaxContactValues, field, len(*in))
	}
	out := make([]string, 0, len(*in))
	seen := map[string]int{}
	for i, v := range *in {
		name := fmt.Sprintf("%s.%d", field, i)
		n, err := norm(name, &v)
		if err != nil {
			return nil, err
		}
		if n == nil {
			return nil, InvalidField(name, "%s is empty.", name)
		}
		if j, dup := seen[key(*n)]; dup {
			return nil, InvalidField(name, "%s repeats %s.%d.", Quoted(*n), field, j)
		}
		seen[key(*n)] = i
		out = append(out, *n)
	}
	return out, nil
}

// replacePrimary returns list with its first value replaced by v (a copy of v further down
// the list moves up instead); a nil v drops the first value, so the next becomes the primary.
func replacePrimary(list []string, v *string, key func(string) string) []string {
	if len(list) > 0 {
		list = list[1:]
	}
	if v == nil {
		return list
	}
	out := []string{*v}
	for _, x := range list {
		if key(x) != key(*v) {
			out = append(out, x)
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ContactLists are the batched lists of some contacts, read in the transaction that changed
// them, so that a mutation's payload shows them as that transaction committed them. A nil
// map (or Channels) was not read; a contact missing from a read map has an empty list.
type ContactLists struct {
	Tags         map[string][]*Tag              // contact id → its tags, by name
	TagCounts    map[string]int                 // tag id → how many contacts carry it
	CustomValues map[string][]*CustomFieldValue // contact id → its custom values
	Links        map[string][]*ChannelLink      // contact id → its channel links
	Channels     []*Channel                     // the workspace's channels, when Links were read
	Members      map[string]*Member             // member id → member: the contacts' assignees, when Assignees were read
}

// ContactListSet names the lists of some contacts to read.
type ContactListSet struct {
	Tags         bool // the contacts' tags
	TagCounts    bool // with Tags, the counts of those tags (one more statement)
	CustomValues bool // the contacts' custom values
	Links        bool // the contacts' channel links, with the workspace's channels
	Assignees    bool // the contacts' assignees
}
