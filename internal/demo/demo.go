// Package demo seeds the demo workspace that `rubrica seed --demo` and `make run` offer: a
// few hundred international contacts with custom fields, tags, assignees and, on purpose,
// duplicates that share a phone or an email; channels of six kinds, and the conversations
// that brought many of the contacts in (see inbox.go).
//
// Everything goes through the domain services, acting as the demo owner, so every value
// passes the same validation as an API request. The data come from a fixed random seed: the
// demo is the same every time.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"rubrica"
)

// WorkspaceName names the demo workspace.
const WorkspaceName = "Rubrica Demo"

// The demo members' emails, one per role.
const (
	OwnerEmail   = "owner@demo.rubrica.dev"
	ManagerEmail = "manager@demo.rubrica.dev"
	AgentEmail   = "agent@demo.rubrica.dev"
)

// roles lists the demo members in a fixed order.
var roles = []struct {
	role  rubrica.Role
	email string
}{
	{rubrica.RoleOwner, OwnerEmail},
	{rubrica.RoleManager, ManagerEmail},
	{rubrica.RoleAgent, AgentEmail},
}

// Result is what `rubrica seed --demo` prints: the demo workspace and a new token for each
// role.
type Result struct {
	WorkspaceID string                  `json:"workspaceId"`
	Tokens      map[rubrica.Role]string `json:"tokens"`
}

// Seed creates the demo workspace and returns a new token for each role. It always creates a
// new workspace; Ensure is the idempotent form.
func Seed(ctx context.Context, s rubrica.Services, admin rubrica.Admin) (*Result, error) {
	ws, ownerToken, err := admin.CreateWorkspace(ctx, WorkspaceName, OwnerEmail)
	if err != nil {
		return nil, fmt.Errorf("demo: create workspace: %w", err)
	}
	res := &Result{WorkspaceID: ws.ID, Tokens: map[rubrica.Role]string{rubrica.RoleOwner: ownerToken}}
	members := make([]string, len(roles)) // member ids, in the order of roles
	for i, r := range roles {
		if r.role != rubrica.RoleOwner {
			if res.Tokens[r.role], err = admin.CreateToken(ctx, ws.ID, r.email, r.role); err != nil {
				return nil, fmt.Errorf("demo: create %s token: %w", r.role, err)
			}
		}
		actor, err := s.Auth.Authenticate(ctx, res.Tokens[r.role])
		if err != nil {
			return nil, fmt.Errorf("demo: authenticate %s: %w", r.role, err)
		}
		members[i] = actor.MemberID
	}
	ctx = rubrica.NewContext(ctx, rubrica.Actor{MemberID: members[0], WorkspaceID: ws.ID, Role: rubrica.RoleOwner})
	if err := populate(ctx, s, members); err != nil {
		return nil, err
	}
	return res, nil
}

// Tokens returns new tokens for the members of the existing demo workspace.
func Tokens(ctx context.Context, admin rubrica.Admin, workspaceID string) (*Result, error) {
	res := &Result{WorkspaceID: workspaceID, Tokens: map[rubrica.Role]string{}}
	for _, r := range roles {
		token, err := admin.CreateToken(ctx, workspaceID, r.email, r.role)
		if err != nil {
			return nil, fmt.Errorf("demo: create %s token: %w", r.role, err)
		}
		res.Tokens[r.role] = token
	}
	return res, nil
}

// Ensure seeds the demo when the database holds no workspace at all and returns new tokens
// for the demo workspace when it exists. It returns (nil, nil) when the database holds other
// workspaces but no demo: a real installation is never given one.
func Ensure(ctx context.Context, s rubrica.Services, admin rubrica.Admin) (*Result, error) {
	ws, err := admin.FindWorkspaceByName(ctx, WorkspaceName)
	if err == nil {
		return Tokens(ctx, admin, ws.ID)
	}
	if rubrica.ErrorCode(err) != rubrica.ENOTFOUND {
		return nil, fmt.Errorf("demo: find workspace: %w", err)
	}
	n, err := admin.CountWorkspaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: count workspaces: %w", err)
	}
	if n > 0 {
		return nil, nil
	}
	return Seed(ctx, s, admin)
}

// The custom fields of the demo, one of each type.
var definitions = []rubrica.CustomFieldInput{
	{Key: "company", Label: "Company", Type: rubrica.FieldText},
	{Key: "orderCount", Label: "Orders", Type: rubrica.FieldNumber},
	{Key: "birthday", Label: "Birthday", Type: rubrica.FieldDate},
	{Key: "newsletter", Label: "Newsletter opt-in", Type: rubrica.FieldCheckbox},
	{Key: "plan", Label: "Plan", Type: rubrica.FieldList, Options: []string{"Free", "Pro", "Enterprise"}},
	{Key: "website", Label: "Website", Type: rubrica.FieldURL},
	{Key: "billingEmail", Label: "Billing email", Type: rubrica.FieldEmail},
	{Key: "altPhone", Label: "Other phone", Type: rubrica.FieldPhone},
}

// The tags of the demo.
const (
	tagVIP        = "VIP"
	tagLead       = "Lead"
	tagCustomer   = "Customer"
	tagSupport    = "Support"
	tagSpam       = "Spam-suspect"
	tagNewsletter = "Newsletter"
	tagItaly      = "Italy"
	tagWholesale  = "Wholesale"
)

var tags = []rubrica.TagInput{
	{Name: tagVIP, Color: ptr("#d4a017")},
	{Name: tagLead, Color: ptr("#3b82f6")},
	{Name: tagCustomer, Color: ptr("#16a34a")},
	{Name: tagSupport, Color: ptr("#f97316")},
	{Name: tagSpam, Color: ptr("#dc2626")},
	{Name: tagNewsletter, Color: ptr("#8b5cf6")},
	{Name: tagItaly, Color: ptr("#009246")},
	{Name: tagWholesale, Color: ptr("#0d9488")},
}

// populate fills the new workspace of ctx's actor; members are the owner, manager and agent.
func populate(ctx context.Context, s rubrica.Services, members []string) error {
	for _, d := range definitions {
		d.Options = append([]string(nil), d.Options...)
		if _, err := s.Workspaces.CreateCustomFieldDefinition(ctx, d); err != nil {
			return fmt.Errorf("demo: create custom field %s: %w", d.Key, err)
		}
	}
	tagIDs := map[string]string{}
	for _, t := range tags {
		created, err := s.Tags.CreateTag(ctx, t)
		if err != nil {
			return fmt.Errorf("demo: create tag %s: %w", t.Name, err)
		}
		tagIDs[t.Name] = created.ID
	}
	people, err := plan()
	if err != nil {
		return err
	}
	b, err := newInbox(ctx, s)
	if err != nil {
		return err
	}
	tagged := map[string][]string{} // tag name → contact ids
	for _, p := range people {
		in := p.changes
		if p.assignee >= 0 {
			in.AssigneeID = rubrica.SetTo(members[p.assignee])
		}
		c, err := b.arrive(ctx, p, in)
		if err != nil {
			return fmt.Errorf("demo: create contact %s: %w", p.describe(), err)
		}
		if p.phones != nil || p.emails != nil {
			var more rubrica.ContactChanges
			if p.phones != nil {
				more.Phones = rubrica.SetTo(p.phones)
			}
			if p.emails != nil {
				more.Emails = rubrica.SetTo(p.emails)
			}
			if _, err := s.Contacts.UpdateContact(ctx, c.ID, more); err != nil {
				return fmt.Errorf("demo: second values of %s: %w", p.describe(), err)
			}
		}
		for _, t := range p.tags {
			tagged[t] = append(tagged[t], c.ID)
		}
	}
	if err := b.welcome(ctx); err != nil {
		return err
	}
	for _, t := range tags {
		ids := tagged[t.Name]
		for len(ids) > 0 {
			n := min(len(ids), rubrica.MaxBulkContacts)
			if _, err := s.Tags.AddTagsToContacts(ctx, rubrica.ContactSelection{IDs: ids[:n]}, []string{tagIDs[t.Name]}, nil); err != nil {
				return fmt.Errorf("demo: tag contacts %s: %w", t.Name, err)
			}
			ids = ids[n:]
		}
	}
	return nil
}

// person is one contact to create.
type person struct {
	changes  rubrica.ContactChanges
	assignee int      // index in roles, -1 for none
	tags     []string // tag names
	loc      *locale
	female   bool
	roman    [2]string // first and last name in Latin letters, for addresses
	// The values the person gave later: a second phone or email, added after the contact
	// arrived (the whole lists, primary first).
	phones, emails []string
}

func (p *person) describe() string {
	var parts []string
	for _, o := range []rubrica.Opt[string]{p.changes.FirstName, p.changes.LastName, p.changes.Email, p.changes.Phone} {
		if o.Value != nil {
			parts = append(parts, *o.Value)
		}
	}
	return strings.Join(parts, " ")
}

func (p *person) email() string { return deref(p.changes.Email.Value) }
func (p *person) phone() string { return deref(p.changes.Phone.Value) }

// The size of the demo.
const (
	baseContacts = 283 // distinct people; the duplicate groups add 17 more
	seed1        = 20240611
	seed2        = 727274
)

// planner draws the demo's people from a fixed random sequence.
type planner struct {
	r      *rand.Rand
	phones map[string]bool
	emails map[string]bool // lower-cased
	total  int             // sum of locale weights
}

// plan returns the contacts of the demo, the same every time.
func plan() ([]*person, error) {
	g := &planner{r: rand.New(rand.NewPCG(seed1, seed2)), phones: map[string]bool{}, emails: map[string]bool{}}
	for _, l := range locales {
		g.total += l.weight
	}
	people := make([]*person, 0, baseContacts+20)
	for range baseContacts {
		p, err := g.person()
		if err != nil {
			return nil, err
		}
		people = append(people, p)
	}
	dups, err := g.duplicates(people)
	if err != nil {
		return nil, err
	}
	people = append(people, dups...)
	if err := g.secondValues(people); err != nil {
		return nil, err
	}
	// Duplicates turn up among the others, as they would in a real inbox.
	g.r.Shuffle(len(people), func(i, j int) { people[i], people[j] = people[j], people[i] })
	return people, nil
}

// secondValues gives some people a second phone (a work line) or a second email, so that
// the demo shows contacts with several values.
func (g *planner) secondValues(people []*person) error {
	for i, p := range people {
		if i%9 != 4 {
			continue
		}
		if p.phone() != "" {
			alt, err := g.newPhone(p.loc)
			if err != nil {
				return err
			}
			p.phones = []string{p.phone(), alt}
		}
		if p.email() != "" && i%2 == 0 {
			p.emails = []string{p.email(), g.newEmail(p.roman[0], p.roman[1]+"work")}
		}
	}
	return nil
}

func (g *planner) chance(p float64) bool { return g.r.Float64() < p }

func (g *planner) locale() *locale {
	n := g.r.IntN(g.total)
	for _, l := range locales {
		if n < l.weight {
			return l
		}
		n -= l.weight
	}
	return locales[0]
}

// newPhone returns a valid phone of the locale that no other contact has.
func (g *planner) newPhone(l *locale) (string, error) {
	for range 1000 {
		s := l.phone(g.r)
		if g.phones[s] {
			continue
		}
		if _, _, err := rubrica.NormalizePhone("phone", &s); err != nil {
			continue
		}
		g.phones[s] = true
		return s, nil
	}
	return "", errors.New("demo: no valid phone number found for a locale; check its phone plan")
}

var emailDomains = []string{"example.com", "example.com", "example.org", "example.net"}

// newEmail returns an address made of the roman names that no other contact has.
func (g *planner) newEmail(first, last string) string {
	f, l := fold(first), fold(last)
	var local string
	switch {
	case f == "" && l == "":
		local = "contact" + strconv.Itoa(100+g.r.IntN(900))
	case l == "":
		local = f + strconv.Itoa(10+g.r.IntN(90))
	default:
		switch g.r.IntN(7) {
		case 0, 1:
			local = f + "." + l
		case 2:
			local = f + l
		case 3:
			local = f[:1] + "." + l
		case 4:
			local = f + "_" + l
		case 5:
			local = l + "." + f
		default:
			local = f + "." + l + strconv.Itoa(1960+g.r.IntN(46))
		}
	}
	domain := pick(g.r, emailDomains)
	addr := local + "@" + domain
	for g.emails[addr] {
		addr = local + strconv.Itoa(g.r.IntN(1000)) + "@" + domain
	}
	g.emails[addr] = true
	return addr
}

// person draws one person with a unique phone and email.
func (g *planner) person() (*person, error) {
	l := g.locale()
	p := &person{loc: l, assignee: -1, female: g.chance(0.5)}
	given := l.male
	if p.female {
		given = l.female
	}
	first, romanFirst := nameForm(pick(g.r, given), p.female)
	last, romanLast := nameForm(pick(g.r, l.last), p.female)
	if g.chance(l.doubleSurname) {
		l2, r2 := nameForm(pick(g.r, l.last), p.female)
		if l2 != last {
			last, romanLast = last+" "+l2, romanLast+" "+r2
		}
	}
	if first != romanFirst && g.chance(0.15) {
		// Some people write their name in Latin letters.
		first, last = romanFirst, romanLast
	}
	p.roman = [2]string{romanFirst, romanLast}
	switch x := g.r.Float64(); {
	case x < 0.03: // no name at all: only a phone or an email
	case x < 0.11:
		p.changes.FirstName = rubrica.SetTo(first)
		p.roman[1] = ""
	default:
		p.changes.FirstName = rubrica.SetTo(first)
		p.changes.LastName = rubrica.SetTo(last)
	}
	hasPhone, hasEmail := true, true
	switch x := g.r.Float64(); {
	case x < 0.12:
		hasPhone = false
	case x < 0.30:
		hasEmail = false
	}
	if hasPhone {
		phone, err := g.newPhone(l)
		if err != nil {
			return nil, err
		}
		p.changes.Phone = rubrica.SetTo(phone)
	} else if g.chance(0.6) {
		p.changes.Country = rubrica.SetTo(l.country)
	}
	if hasEmail {
		p.changes.Email = rubrica.SetTo(g.newEmail(p.roman[0], p.roman[1]))
	}
	if lang := pick(g.r, l.languages); lang != "" {
		p.changes.Language = rubrica.SetTo(lang)
	}
	if g.chance(0.35) {
		switch x := g.r.Float64(); {
		case x < 0.6:
			p.assignee = 2
		case x < 0.9:
			p.assignee = 1
		default:
			p.assignee = 0
		}
	}
	return p, g.details(p)
}

// details draws a person's custom values and tags.
func (g *planner) details(p *person) error {
	l := p.loc
	set := func(key, value string) {
		p.changes.CustomFields = append(p.changes.CustomFields, rubrica.CustomValueInput{Key: key, Value: ptr(value)})
	}
	orders := 0
	if g.chance(0.45) {
		orders = 1 + g.r.IntN(40)
		if g.chance(0.12) {
			orders = 100 + g.r.IntN(300)
		}
		set("orderCount", strconv.Itoa(orders))
	}
	plan := ""
	if g.chance(0.55) {
		switch x := g.r.Float64(); {
		case x < 0.5:
			plan = "Free"
		case x < 0.85:
			plan = "Pro"
		default:
			plan = "Enterprise"
		}
		set("plan", plan)
	}
	newsletter := false
	if g.chance(0.5) {
		newsletter = g.chance(0.6)
		set("newsletter", strconv.FormatBool(newsletter))
	}
	if g.chance(0.3) {
		set("birthday", fmt.Sprintf("%d-%02d-%02d", 1950+g.r.IntN(57), 1+g.r.IntN(12), 1+g.r.IntN(28)))
	}
	company := false
	if g.chance(0.35) {
		company = true
		name, slug, ok := strings.Cut(pick(g.r, l.companies), "|")
		if !ok {
			slug = fold(name)
		}
		set("company", name)
		if g.chance(0.6) {
			set("website", "https://www."+slug+".example")
		}
		if g.chance(0.5) {
			set("billingEmail", pick(g.r, l.billing)+"@"+slug+".example")
		}
	}
	if g.chance(0.08) {
		alt, err := g.newPhone(l)
		if err != nil {
			return err
		}
		set("altPhone", alt)
	}
	if orders > 0 {
		p.tags = append(p.tags, tagCustomer)
	}
	if orders >= 100 || plan == "Enterprise" {
		p.tags = append(p.tags, tagVIP)
	}
	if orders == 0 && plan != "Enterprise" && (plan == "Free" || g.chance(0.3)) {
		p.tags = append(p.tags, tagLead)
	}
	if newsletter {
		p.tags = append(p.tags, tagNewsletter)
	}
	if l.country == "IT" {
		p.tags = append(p.tags, tagItaly)
	}
	if company && g.chance(0.35) {
		p.tags = append(p.tags, tagWholesale)
	}
	if g.chance(0.12) {
		p.tags = append(p.tags, tagSupport)
	}
	if orders == 0 && g.chance(0.04) {
		p.tags = append(p.tags, tagSpam)
	}
	return nil
}

// duplicates returns the contacts that repeat someone of people, in 15 groups: 6 pairs
// sharing a phone, 6 sharing an email (most written with other capitals), 1 trio sharing a
// phone, 1 pair sharing both, and 1 chain where A shares a phone with B and B an email with C.
func (g *planner) duplicates(people []*person) ([]*person, error) {
	var withPhone, withEmail, withBoth []*person
	for _, p := range people {
		if p.changes.FirstName.Value == nil {
			continue // a duplicate is easier to recognise by a name
		}
		switch {
		case p.phone() != "" && p.email() != "":
			withBoth = append(withBoth, p)
		case p.phone() != "":
			withPhone = append(withPhone, p)
		case p.email() != "":
			withEmail = append(withEmail, p)
		}
	}
	// Each original is used once, drawn from its own shuffled list.
	for _, s := range [][]*person{withPhone, withEmail, withBoth} {
		g.r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	}
	next := func(lists ...*[]*person) *person {
		for _, l := range lists {
			if len(*l) > 0 {
				p := (*l)[0]
				*l = (*l)[1:]
				return p
			}
		}
		panic("demo: not enough contacts for the duplicates")
	}
	var out []*person
	// The same person writing on WhatsApp with a shorter or no name: same phone.
	for range 6 {
		a := next(&withPhone, &withBoth)
		b := g.echo(a)
		b.changes.Phone = a.changes.Phone
		if a.changes.LastName.Value != nil && g.chance(0.5) {
			b.changes.LastName = rubrica.Opt[string]{}
		}
		out = append(out, b)
	}
	// The same person writing by email and on a form: same address, other capitals on most.
	for i := range 6 {
		a := next(&withEmail, &withBoth)
		b := g.echo(a)
		b.changes.Email = rubrica.SetTo(a.email())
		if i < 4 {
			b.changes.Email = rubrica.SetTo(recase(a.email(), i))
		}
		if g.chance(0.5) {
			phone, err := g.newPhone(a.loc)
			if err != nil {
				return nil, err
			}
			b.changes.Phone = rubrica.SetTo(phone)
		}
		out = append(out, b)
	}
	// A shared family phone: three contacts, one of them without a name.
	a := next(&withPhone, &withBoth)
	b, c := g.echo(a), g.echo(a)
	b.changes.Phone, c.changes.Phone = a.changes.Phone, a.changes.Phone
	c.changes.FirstName, c.changes.LastName = rubrica.Opt[string]{}, rubrica.Opt[string]{}
	out = append(out, b, c)
	// Imported twice: same phone and same email.
	a = next(&withBoth)
	b = g.echo(a)
	b.changes.Phone, b.changes.Email = a.changes.Phone, a.changes.Email
	out = append(out, b)
	// The chain: A and B share a phone, B and C share an email (in other capitals).
	a = next(&withBoth, &withPhone)
	b, c = g.echo(a), g.echo(a)
	b.changes.Phone = a.changes.Phone
	b.changes.Email = rubrica.SetTo(g.newEmail(b.roman[0], b.roman[1]))
	c.changes.Email = rubrica.SetTo(strings.ToUpper(b.email()))
	out = append(out, b, c)
	return out, nil
}

// echo returns another contact for the same person as a: the same names and language, no
// phone or email yet, and custom values and tags of its own.
func (g *planner) echo(a *person) *person {
	b := &person{loc: a.loc, female: a.female, roman: a.roman, assignee: -1}
	b.changes.FirstName, b.changes.LastName = a.changes.FirstName, a.changes.LastName
	if g.chance(0.7) {
		b.changes.Language = a.changes.Language
	}
	if g.chance(0.3) {
		b.assignee = a.assignee
	}
	if g.chance(0.5) {
		set := func(key, value string) {
			b.changes.CustomFields = append(b.changes.CustomFields, rubrica.CustomValueInput{Key: key, Value: ptr(value)})
		}
		set("newsletter", "false")
		if a.loc.country == "IT" {
			b.tags = append(b.tags, tagItaly)
		}
	}
	return b
}

// recase writes an address with other capitals, in one of a few ways people do.
func recase(addr string, variant int) string {
	local, domain, _ := strings.Cut(addr, "@")
	switch variant % 3 {
	case 0: // Marco.Rossi@Example.com
		return title(local) + "@" + title(domain)
	case 1: // MARCO.ROSSI@EXAMPLE.COM
		return strings.ToUpper(addr)
	}
	return title(local) + "@" + domain // Marco.Rossi@example.com
}

// title upper-cases the first letter of each part between dots, dashes and underscores.
func title(s string) string {
	b := []byte(s)
	start := true
	for i, c := range b {
		if start && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		start = c == '.' || c == '_' || c == '-'
	}
	return string(b)
}

var foldReplacer = strings.NewReplacer("ß", "ss", "æ", "ae", "ø", "o", "œ", "oe", "ł", "l", "đ", "d")

// fold turns a Latin name into lower-case ASCII letters and digits for an address:
// "D'Angelo" → "dangelo", "Ibáñez" → "ibanez".
func fold(s string) string {
	s = foldReplacer.Replace(strings.ToLower(s))
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
