package rubrica_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"rubrica"
)

func sp(s string) *string { return &s }

func TestDuplicateKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		c     rubrica.Contact
		want  []string
		wantN int
	}{
		{"None", rubrica.Contact{}, nil, 0},
		{"PhoneOnly", rubrica.Contact{Phone: sp("+393331234567")}, []string{"PHONE:+393331234567"}, 1},
		{"EmailCaseFoldedAndTrimmed", rubrica.Contact{Email: sp("  Ada@Example.COM ")}, []string{"EMAIL:ada@example.com"}, 1},
		{"Both", rubrica.Contact{Phone: sp("+14155550100"), Email: sp("b@x.io")}, []string{"PHONE:+14155550100", "EMAIL:b@x.io"}, 2},
		{"BlankValuesIgnored", rubrica.Contact{Phone: sp(""), Email: sp("   ")}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := rubrica.DuplicateKeys(&tc.c)
			var got []string
			for _, k := range keys {
				got = append(got, k.String())
				back, ok := rubrica.ParseDuplicateKey(k.String())
				if !ok || back != k {
					t.Errorf("ParseDuplicateKey(%q): got %v, %v, want %v, true", k.String(), back, ok, k)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("keys: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseDuplicateKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		want   rubrica.DuplicateKey
		wantOK bool
	}{
		{"PHONE:+39333", rubrica.DuplicateKey{Field: rubrica.DuplicatePhone, Value: "+39333"}, true},
		{"EMAIL:a:b@c.d", rubrica.DuplicateKey{Field: rubrica.DuplicateEmail, Value: "a:b@c.d"}, true},
		{"NAME:ada", rubrica.DuplicateKey{}, false},
		{"PHONE:", rubrica.DuplicateKey{}, false},
		{"PHONE", rubrica.DuplicateKey{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, ok := rubrica.ParseDuplicateKey(tc.in)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("got %v, %v, want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	contacts := []*rubrica.Contact{
		{ID: "c", Phone: sp("+1"), Email: sp("X@y.z")},
		{ID: "a", Phone: sp("+1")},
		{ID: "b", Email: sp(" x@Y.z")},
		{ID: "d", Phone: sp("+2"), Email: sp("only@d.e")},
	}
	got := rubrica.Matches(contacts)
	want := []rubrica.DuplicateMatch{
		{Field: rubrica.DuplicatePhone, Value: "+1", ContactIDs: []string{"a", "c"}},
		{Field: rubrica.DuplicateEmail, Value: "x@y.z", ContactIDs: []string{"b", "c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("matches: got %+v, want %+v", got, want)
	}
	if got := rubrica.Matches(contacts[3:]); len(got) != 0 {
		t.Errorf("matches of one contact: got %+v, want none", got)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		contacts []*rubrica.Contact
		want     []rubrica.DuplicateGroup
	}{
		{"NoneShared", []*rubrica.Contact{{ID: "a", Phone: sp("+1")}, {ID: "b", Phone: sp("+2")}}, nil},
		{"ByPhone", []*rubrica.Contact{{ID: "b", Phone: sp("+1")}, {ID: "a", Phone: sp("+1")}, {ID: "z"}},
			[]rubrica.DuplicateGroup{{ContactIDs: []string{"a", "b"}, Keys: []string{"PHONE:+1"}}}},
		{"ByEmailCaseInsensitive", []*rubrica.Contact{{ID: "a", Email: sp("Ada@X.io")}, {ID: "b", Email: sp("ada@x.io ")}},
			[]rubrica.DuplicateGroup{{ContactIDs: []string{"a", "b"}, Keys: []string{"EMAIL:ada@x.io"}}}},
		{"Chained", []*rubrica.Contact{
			{ID: "a", Phone: sp("+1")},
			{ID: "b", Phone: sp("+1"), Email: sp("b@x.io")},
			{ID: "c", Email: sp("B@x.io")},
		}, []rubrica.DuplicateGroup{{ContactIDs: []string{"a", "b", "c"}, Keys: []string{"EMAIL:b@x.io", "PHONE:+1"}}}},
		{"TwoGroupsSortedByFirstContact", []*rubrica.Contact{
			{ID: "d", Phone: sp("+2")}, {ID: "c", Phone: sp("+2")},
			{ID: "b", Email: sp("e@x.io")}, {ID: "a", Email: sp("e@x.io")},
		}, []rubrica.DuplicateGroup{
			{ContactIDs: []string{"a", "b"}, Keys: []string{"EMAIL:e@x.io"}},
			{ContactIDs: []string{"c", "d"}, Keys: []string{"PHONE:+2"}},
		}},
		{"ChainJoinsLaterRoots", []*rubrica.Contact{
			{ID: "a", Phone: sp("+1")}, {ID: "z", Phone: sp("+1")},
			{ID: "m", Email: sp("m@x.io")}, {ID: "b", Email: sp("m@x.io"), Phone: sp("+1")},
		}, []rubrica.DuplicateGroup{{ContactIDs: []string{"a", "b", "m", "z"}, Keys: []string{"EMAIL:m@x.io", "PHONE:+1"}}}},
		{"AtMostMaxSuggestionContacts", phoneSharers(rubrica.MaxSuggestionContacts, "+1"), []rubrica.DuplicateGroup{{
			ContactIDs: groupIDs(rubrica.MaxSuggestionContacts), Keys: []string{"PHONE:+1"}}}},
		{"LargerGroupLeftOut", append(phoneSharers(rubrica.MaxSuggestionContacts+1, "+1"),
			&rubrica.Contact{ID: "x1", Phone: sp("+2")}, &rubrica.Contact{ID: "x2", Phone: sp("+2")}),
			[]rubrica.DuplicateGroup{{ContactIDs: []string{"x1", "x2"}, Keys: []string{"PHONE:+2"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := rubrica.Groups(tc.contacts); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("groups: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// groupIDs returns n sorted contact ids c00, c01, ...
func groupIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%02d", i)
	}
	return out
}

// phoneSharers returns n contacts (groupIDs(n)) with the same phone.
func phoneSharers(n int, phone string) []*rubrica.Contact {
	var out []*rubrica.Contact
	for _, id := range groupIDs(n) {
		out = append(out, &rubrica.Contact{ID: id, Phone: sp(phone)})
	}
	return out
}

func TestCovers(t *testing.T) {
	t.Parallel()
	if !rubrica.Covers([]string{"a", "b", "c"}, []string{"c", "a"}) {
		t.Errorf("Covers(abc, ca): got false, want true")
	}
	if rubrica.Covers([]string{"a"}, []string{"a", "b"}) {
		t.Errorf("Covers(a, ab): got true, want false")
	}
	if !rubrica.Covers(nil, nil) {
		t.Errorf("Covers(nil, nil): got false, want true")
	}
}

func TestMergeFields(t *testing.T) {
	t.Parallel()
	blockedAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	primary := func() *rubrica.Contact {
		return &rubrica.Contact{ID: "p", FirstName: sp("Ada"), Email: sp("ada@x.io"), Country: sp("IT"), CountryManual: false,
			CreatedAt: blockedAt, UpdatedAt: blockedAt}
	}
	secondary := func() *rubrica.Contact {
		return &rubrica.Contact{ID: "s", FirstName: sp("Adele"), LastName: sp("Lovelace"), Email: sp("ada@x.io"),
			Phone: sp("+447700900123"), Country: sp("GB"), CountryManual: true, Language: sp("en")}
	}
	t.Run("PrimaryKeepsAndGains", func(t *testing.T) {
		t.Parallel()
		got, changes := rubrica.MergeFields(primary(), secondary(), nil)
		if got.ID != "p" || !got.CreatedAt.Equal(blockedAt) {
			t.Errorf("id, createdAt: got %s, %v, want the primary's", got.ID, got.CreatedAt)
		}
		for key, want := range map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@x.io",
			"phone": "+447700900123", "country": "IT", "language": "en"} {
			if v := rubrica.FieldValue(got, key); v == nil || *v != want {
				t.Errorf("%s: got %v, want %q", key, v, want)
			}
		}
		if got.CountryManual {
			t.Errorf("countryManual: got true, want the primary's false")
		}
		// Phones and emails are lists, merged apart (see TestMergeValues): no field change.
		wantChanges := map[string]rubrica.FieldChange{
			"lastName": {Old: nil, New: sp("Lovelace")},
			"language": {Old: nil, New: sp("en")},
		}
		if !reflect.DeepEqual(changes, wantChanges) {
			t.Errorf("changes: got %+v, want %+v", changes, wantChanges)
		}
	})
	t.Run("ChoicesTakeTheSecondary", func(t *testing.T) {
		t.Parallel()
		got, changes := rubrica.MergeFields(primary(), secondary(), map[string]rubrica.MergeSide{
			"firstName": rubrica.SideSecondary, "country": rubrica.SideSecondary, "lastName": rubrica.SidePrimary,
		})
		if v := rubrica.FieldValue(got, "firstName"); v == nil || *v != "Adele" {
			t.Errorf("firstName: got %v, want Adele", v)
		}
		if v := rubrica.FieldValue(got, "country"); v == nil || *v != "GB" || !got.CountryManual {
			t.Errorf("country, manual: got %v, %v, want GB, true (follows its side)", v, got.CountryManual)
		}
		if got.LastName != nil {
			t.Errorf("lastName chosen PRIMARY: got %q, want the primary's null", *got.LastName)
		}
		if ch := changes["firstName"]; ch.Old == nil || *ch.Old != "Ada" || *ch.New != "Adele" {
			t.Errorf("firstName change: got %+v, want Ada → Adele", ch)
		}
		if _, ok := changes["email"]; ok {
			t.Errorf("email: got a change, want none (equal values)")
		}
	})
	t.Run("SecondaryChoiceMayClear", func(t *testing.T) {
		t.Parallel()
		got, changes := rubrica.MergeFields(primary(), secondary(), map[string]rubrica.MergeSide{"assignee": rubrica.SideSecondary})
		if got.AssigneeID != nil {
			t.Errorf("assignee: got %v, want null", *got.AssigneeID)
		}
		if len(changes) != 2 {
			t.Errorf("changes: got %d (%v), want the 2 gained single-valued fields only", len(changes), changes)
		}
	})
	t.Run("BlockedWhenEitherWas", func(t *testing.T) {
		t.Parallel()
		s := secondary()
		s.BlockedAt = &blockedAt
		got, _ := rubrica.MergeFields(primary(), s, nil)
		if got.BlockedAt == nil || !got.BlockedAt.Equal(blockedAt) {
			t.Errorf("blockedAt, secondary blocked: got %v, want %v", got.BlockedAt, blockedAt)
		}
		p := primary()
		other := blockedAt.Add(time.Hour)
		p.BlockedAt = &other
		got, _ = rubrica.MergeFields(p, s, nil)
		if got.BlockedAt == nil || !got.BlockedAt.Equal(other) {
			t.Errorf("blockedAt, both blocked: got %v, want the primary's %v", got.BlockedAt, other)
		}
		got, _ = rubrica.MergeFields(primary(), secondary(), nil)
		if got.BlockedAt != nil {
			t.Errorf("blockedAt, neither blocked: got %v, want null", got.BlockedAt)
		}
	})
	t.Run("InputsUnchanged", func(t *testing.T) {
		t.Parallel()
		p, s := primary(), secondary()
		rubrica.MergeFields(p, s, map[string]rubrica.MergeSide{"firstName": rubrica.SideSecondary})
		if !reflect.DeepEqual(p, primary()) || !reflect.DeepEqual(s, secondary()) {
			t.Errorf("inputs: got %+v, %+v, want them unchanged", p, s)
		}
	})
}

func TestMergeCustomValues(t *testing.T) {
	t.Parallel()
	keyOf := map[string]string{"d1": "plan", "d2": "score", "d3": "vip", "d4": "since"}
	primary := map[string]string{"d1": "gold", "d2": "10"}
	secondary := map[string]string{"d1": "silver", "d2": "10", "d3": "true"}
	t.Run("PrimaryKeepsAndGains", func(t *testing.T) {
		t.Parallel()
		got, changes := rubrica.MergeCustomValues(primary, secondary, keyOf, nil)
		want := map[string]string{"d1": "gold", "d2": "10", "d3": "true"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("values: got %v, want %v", got, want)
		}
		wantChanges := map[string]rubrica.FieldChange{"d3": {Old: nil, New: sp("true")}}
		if !reflect.DeepEqual(changes, wantChanges) {
			t.Errorf("changes: got %+v, want %+v", changes, wantChanges)
		}
	})
	t.Run("ChoicesByKey", func(t *testing.T) {
		t.Parallel()
		got, changes := rubrica.MergeCustomValues(primary, secondary, keyOf, map[string]rubrica.MergeSide{
			"plan": rubrica.SideSecondary, "vip": rubrica.SidePrimary, "since": rubrica.SideSecondary,
		})
		want := map[string]string{"d1": "silver", "d2": "10"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("values: got %v, want %v", got, want)
		}
		wantChanges := map[string]rubrica.FieldChange{"d1": {Old: sp("gold"), New: sp("silver")}}
		if !reflect.DeepEqual(changes, wantChanges) {
			t.Errorf("changes: got %+v, want %+v", changes, wantChanges)
		}
	})
	t.Run("SecondaryChoiceMayClear", func(t *testing.T) {
		t.Parallel()
		// As for a standard field: choosing the secondary's value where it has none clears it.
		got, changes := rubrica.MergeCustomValues(map[string]string{"d1": "gold", "d4": "2020-01-01"}, map[string]string{"d2": "3"}, keyOf,
			map[string]rubrica.MergeSide{"since": rubrica.SideSecondary})
		want := map[string]string{"d1": "gold", "d2": "3"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("values: got %v, want %v", got, want)
		}
		wantChanges := map[string]rubrica.FieldChange{"d2": {Old: nil, New: sp("3")}, "d4": {Old: sp("2020-01-01"), New: nil}}
		if !reflect.DeepEqual(changes, wantChanges) {
			t.Errorf("changes: got %+v, want %+v", changes, wantChanges)
		}
	})
	t.Run("InputsUnchanged", func(t *testing.T) {
		t.Parallel()
		rubrica.MergeCustomValues(primary, secondary, keyOf, map[string]rubrica.MergeSide{"plan": rubrica.SideSecondary})
		if primary["d1"] != "gold" || len(primary) != 2 || len(secondary) != 3 {
			t.Errorf("inputs: got %v, %v, want them unchanged", primary, secondary)
		}
	})
}

func TestMergeUndoBlocker(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	agent := rubrica.Actor{MemberID: "agent", WorkspaceID: "w", Role: rubrica.RoleAgent}
	other := rubrica.Actor{MemberID: "other", WorkspaceID: "w", Role: rubrica.RoleAgent}
	manager := rubrica.Actor{MemberID: "manager", WorkspaceID: "w", Role: rubrica.RoleManager}
	owner := rubrica.Actor{MemberID: "owner", WorkspaceID: "w", Role: rubrica.RoleOwner}
	merge := func(age time.Duration, edit func(*rubrica.Merge)) *rubrica.Merge {
		m := &rubrica.Merge{ID: "m", MergedBy: sp("agent"), MergedAt: now.Add(-age), PrimaryExists: true}
		if edit != nil {
			edit(m)
		}
		return m
	}
	undone := now
	for _, tc := range []struct {
		name    string
		m       *rubrica.Merge
		a       rubrica.Actor
		blocked bool
	}{
		{"OwnMergeWithinWindow", merge(9*time.Minute, nil), agent, false},
		{"OwnMergeAtWindowEnd", merge(rubrica.UndoWindow, nil), agent, false},
		{"OwnMergeAfterWindow", merge(rubrica.UndoWindow+time.Second, nil), agent, true},
		{"AnotherMembersMerge", merge(time.Minute, nil), other, true},
		{"MergerUnknown", merge(time.Minute, func(m *rubrica.Merge) { m.MergedBy = nil }), agent, true},
		{"ManagerAnyTime", merge(1000*time.Hour, nil), manager, false},
		{"OwnerAnyTime", merge(1000*time.Hour, nil), owner, false},
		{"AlreadyUndone", merge(time.Minute, func(m *rubrica.Merge) { m.UndoneAt = &undone }), owner, true},
		{"PrimaryDeleted", merge(time.Minute, func(m *rubrica.Merge) { m.PrimaryExists = false }), owner, true},
		{"LaterMergeFirst", merge(time.Minute, func(m *rubrica.Merge) { m.LaterMergeID = sp("later") }), agent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			why := tc.m.UndoBlocker(tc.a, now)
			if (why != "") != tc.blocked {
				t.Errorf("UndoBlocker: got %q, want blocked=%v", why, tc.blocked)
			}
		})
	}
	t.Run("PrimaryMergedAwayNamesTheLaterMerge", func(t *testing.T) {
		t.Parallel()
		m := merge(time.Minute, func(m *rubrica.Merge) { m.PrimaryExists, m.LaterMergeID = false, sp("later") })
		if why := m.UndoBlocker(owner, now); !strings.Contains(why, "later merge") {
			t.Errorf("UndoBlocker: got %q, want the later merge as the reason (the primary was merged away, not deleted)", why)
		}
	})
}

// TestMergeValues: a merge keeps every phone and email of both contacts, the primary's
// primary first unless the secondary's is chosen, each value once.
func TestMergeValues(t *testing.T) {
	t.Parallel()
	same := func(s string) string { return s }
	for _, tc := range []struct {
		name           string
		p, s           []string
		secondaryFirst bool
		key            func(string) string
		want           []string
	}{
		{"union in order", []string{"p1", "p2"}, []string{"s1", "p2", "s2"}, false, same, []string{"p1", "p2", "s1", "s2"}},
		{"secondary's primary chosen", []string{"p1", "p2"}, []string{"s1", "s2"}, true, same, []string{"s1", "p1", "p2", "s2"}},
		{"secondary chosen but has none", []string{"p1"}, nil, true, same, []string{"p1"}},
		{"primary has none", nil, []string{"s1", "s2"}, false, same, []string{"s1", "s2"}},
		{"emails compare case-insensitively, first writing kept", []string{"Ada@X.io"}, []string{"ada@x.io", "b@x.io"}, false,
			strings.ToLower, []string{"Ada@X.io", "b@x.io"}},
	} {
		if got := rubrica.MergeValues(tc.p, tc.s, tc.secondaryFirst, tc.key); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	p := &rubrica.Contact{ID: "p", Phone: sp("+393331111111"), OtherPhones: []string{"+393332222222"}, Email: sp("a@x.io")}
	s := &rubrica.Contact{ID: "s", Phone: sp("+393332222222"), OtherPhones: []string{"+393333333333"}, Email: sp("b@x.io"), OtherEmails: []string{"A@x.io"}}
	got, _ := rubrica.MergeFields(p, s, map[string]rubrica.MergeSide{"email": rubrica.SideSecondary})
	if want := []string{"+393331111111", "+393332222222", "+393333333333"}; !reflect.DeepEqual(got.Phones(), want) {
		t.Errorf("merged phones: got %v, want %v", got.Phones(), want)
	}
	if want := []string{"b@x.io", "a@x.io"}; !reflect.DeepEqual(got.Emails(), want) {
		t.Errorf("merged emails, the secondary's chosen: got %v, want %v", got.Emails(), want)
	}
}
