package db_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
)

// listsEnv is a workspace whose contacts have every kind of list, and another workspace's
// contact with lists of its own.
type listsEnv struct {
	d       *db.DB
	counter *dbtest.Counter
	s       rubrica.Services
	ctx     context.Context // the first workspace's owner
	ids     []string        // the first workspace's c1..c4, the other's contact, a non-uuid
	many    []string        // 40 tagged, linked, assigned contacts of the first workspace
}

func newListsEnv(t *testing.T) *listsEnv {
	t.Helper()
	bg := context.Background()
	d, counter := oneConnection(t)
	s := d.Services()
	actor := func(name string) (context.Context, string) {
		ws, token, err := d.Admin().CreateWorkspace(bg, name, "owner@"+name+".test")
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Auth.Authenticate(bg, token)
		if err != nil {
			t.Fatal(err)
		}
		return rubrica.NewContext(bg, a), ws.ID
	}
	ctx, wsID := actor("lists")
	other, _ := actor("other")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	owner := actorOf(ctx).MemberID
	agentToken, err := d.Admin().CreateToken(bg, wsID, "agent@lists.test", rubrica.RoleAgent)
	must(err)
	agent, err := s.Auth.Authenticate(bg, agentToken)
	must(err)

	contact := func(ctx context.Context, name string, assignee *string) string {
		t.Helper()
		c, err := s.Contacts.CreateContact(ctx, rubrica.ContactChanges{FirstName: rubrica.SetTo(name), AssigneeID: rubrica.Opt[string]{Set: true, Value: assignee}})
		must(err)
		return c.ID
	}
	c1, c2, c3, c4 := contact(ctx, "One", &owner), contact(ctx, "Two", &agent.MemberID), contact(ctx, "Three", nil), contact(ctx, "Four", nil)
	b1 := contact(other, "Other", ptr(actorOf(other).MemberID))

	_, err = s.Tags.CreateTag(ctx, rubrica.TagInput{Name: "beta", Color: ptr("#00ff00")})
	must(err)
	tag := func(ctx context.Context, ids []string, names ...string) {
		t.Helper()
		_, err := s.Tags.AddTagsToContacts(ctx, rubrica.ContactSelection{IDs: ids}, nil, names)
		must(err)
	}
	tag(ctx, []string{c1}, "beta", "Alpha", "gamma")
	tag(ctx, []string{c2}, "Beta")
	tag(other, []string{b1}, "alpha")

	for _, in := range []rubrica.CustomFieldInput{
		{Key: "plan", Label: "Plan", Type: rubrica.FieldList, Options: []string{"Free", "Pro"}},
		{Key: "score", Label: "Score", Type: rubrica.FieldNumber},
		{Key: "since", Label: "Since", Type: rubrica.FieldDate},
	} {
		_, err := s.Workspaces.CreateCustomFieldDefinition(ctx, in)
		must(err)
	}
	// score before the others: the workspace's order, not the definitions' age.
	_, err = s.Workspaces.SetContactFieldOrder(ctx, append([]string{"score"}, rubrica.StandardFieldKeys...))
	must(err)
	_, err = s.Workspaces.CreateCustomFieldDefinition(other, rubrica.CustomFieldInput{Key: "plan", Label: "Plan", Type: rubrica.FieldText})
	must(err)
	values := func(ctx context.Context, id string, kv ...string) {
		t.Helper()
		var in []rubrica.CustomValueInput
		for i := 0; i < len(kv); i += 2 {
			in = append(in, rubrica.CustomValueInput{Key: kv[i], Value: ptr(kv[i+1])})
		}
		_, err := s.Contacts.UpdateContact(ctx, id, rubrica.ContactChanges{CustomFields: in})
		must(err)
	}
	values(ctx, c1, "plan", "Pro", "since", "2024-01-31", "score", "7")
	values(ctx, c2, "plan", "Free")
	values(other, b1, "plan", "elsewhere")

	channel := func(ctx context.Context, in rubrica.ChannelInput) string {
		t.Helper()
		ch, err := s.Channels.CreateChannel(ctx, in)
		must(err)
		return ch.ID
	}
	wa := channel(ctx, rubrica.ChannelInput{Type: rubrica.ChannelWhatsApp, Name: "WhatsApp"})
	fb := channel(ctx, rubrica.ChannelInput{Type: rubrica.ChannelFacebook, Name: "Page", PageID: ptr("1234")})
	ob := channel(other, rubrica.ChannelInput{Type: rubrica.ChannelWhatsApp, Name: "Theirs"})
	base := time.Date(2026, 3, 1, 10, 30, 15, 123456000, time.UTC)
	link := func(ws, contact, channel, identifier string, ago time.Duration) {
		t.Helper()
		_, err := d.Exec(`INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, ws, contact, channel, identifier, base.Add(-48*time.Hour), base.Add(-ago))
		must(err)
	}
	otherWS := actorOf(other).WorkspaceID
	link(wsID, c1, wa, "+393331111111", time.Hour)
	link(wsID, c1, fb, "psid-1", time.Minute)
	link(wsID, c1, fb, "psid-2", time.Minute) // a tie on last_interaction_at: by id
	link(wsID, c4, wa, "+393334444444", 0)
	link(otherWS, b1, ob, "+393339999999", 0)

	e := &listsEnv{d: d, counter: counter, s: s, ctx: ctx, ids: []string{c1, c2, c3, c4, b1, "not-a-uuid"}}
	for i := range 40 {
		id := contact(ctx, fmt.Sprintf("Many %d", i), &agent.MemberID)
		link(wsID, id, wa, fmt.Sprintf("+39333500%04d", i), time.Duration(i)*time.Second)
		e.many = append(e.many, id)
	}
	tag(ctx, e.many, "beta", "many")
	return e
}

// actorOf is the actor of ctx.
func actorOf(ctx context.Context) rubrica.Actor {
	a, _ := rubrica.ActorFromContext(ctx)
	return a
}

func ptr[T any](v T) *T { return &v }

// allSets are the 32 combinations of a ContactListSet.
func allSets() []rubrica.ContactListSet {
	var out []rubrica.ContactListSet
	for i := range 32 {
		out = append(out, rubrica.ContactListSet{Tags: i&1 != 0, CustomValues: i&2 != 0, Links: i&4 != 0, Assignees: i&8 != 0,
			TagCounts: i&16 != 0})
	}
	return out
}

// separately reads what FindContactLists should return with the separate finders.
func (e *listsEnv) separately(t *testing.T, ids []string, set rubrica.ContactListSet) rubrica.ContactLists {
	t.Helper()
	ctx := e.ctx
	var want rubrica.ContactLists
	var err error
	if set.Tags {
		if want.Tags, err = e.s.Tags.FindTagsByContactIDs(ctx, ids); err != nil {
			t.Fatal(err)
		}
		var tagIDs []string
		for _, list := range want.Tags {
			for _, tg := range list {
				tagIDs = append(tagIDs, tg.ID)
			}
		}
		if set.TagCounts {
			want.TagCounts = map[string]int{}
		}
		if set.TagCounts && len(tagIDs) > 0 {
			if want.TagCounts, err = e.s.Tags.CountContactsByTagIDs(ctx, tagIDs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if set.CustomValues {
		if want.CustomValues, err = e.s.Contacts.FindCustomValuesByContactIDs(ctx, ids); err != nil {
			t.Fatal(err)
		}
	}
	if set.Links {
		if want.Links, err = e.s.Channels.FindLinksByContactIDs(ctx, ids); err != nil {
			t.Fatal(err)
		}
		if want.Channels, err = e.s.Channels.FindChannels(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if set.Assignees {
		contacts, err := e.s.Contacts.FindContactsByIDs(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		var assignees []string
		for _, c := range contacts {
			if c.AssigneeID != nil {
				assignees = append(assignees, *c.AssigneeID)
			}
		}
		if want.Members, err = e.s.Workspaces.FindMembersByIDs(ctx, assignees); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// TestFindContactListsAsTheFinders: for every set, in sessions of three time zones,
// FindContactLists returns exactly (reflect.DeepEqual: times with their location, nullable
// columns, enums, order) what the separate finders return; the other workspace's contact
// and the non-uuid get nothing.
func TestFindContactListsAsTheFinders(t *testing.T) {
	t.Parallel()
	e := newListsEnv(t)
	c1, c2, b1 := e.ids[0], e.ids[1], e.ids[4]
	for _, zone := range []string{"UTC", "Europe/Rome", "America/St_Johns"} {
		// One connection: the session keeps the zone.
		if _, err := e.d.Exec(`SELECT set_config('TimeZone', $1, false)`, zone); err != nil {
			t.Fatal(err)
		}
		for _, set := range allSets() {
			got, err := e.s.Contacts.FindContactLists(e.ctx, e.ids, set)
			if err != nil {
				t.Fatalf("%s %+v: %v", zone, set, err)
			}
			want := e.separately(t, e.ids, set)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %+v:\ngot  %s\nwant %s", zone, set, dump(got), dump(want))
			}
			all := rubrica.ContactListSet{Tags: true, CustomValues: true, Links: true, Assignees: true}
			if set != all {
				continue
			}
			// The fixture is what the test means: not every list empty, and nothing of the
			// other workspace.
			if len(got.Tags[c1]) != 3 || len(got.Tags[c2]) != 1 || len(got.CustomValues[c1]) != 3 || len(got.Links[c1]) != 3 ||
				len(got.Channels) != 2 || len(got.Members) != 2 {
				t.Fatalf("%s: the fixture's lists are missing: %s", zone, dump(got))
			}
			if got.Tags[b1] != nil || got.CustomValues[b1] != nil || got.Links[b1] != nil || got.Members[actorOf(e.ctx).MemberID] == nil {
				t.Errorf("%s: the other workspace's contact has lists: %s", zone, dump(got))
			}
			if got.CustomValues[c1][0].Definition.Key != "score" || got.Tags[c1][0].Name != "Alpha" || got.Links[c1][2].Identifier != "+393331111111" {
				t.Errorf("%s: lists out of order: %s", zone, dump(got))
			}
			if _, off := got.Channels[0].CreatedAt.Zone(); zone != "UTC" && off == 0 {
				t.Errorf("%s: the channels' times are not in the session's zone", zone)
			}
		}
	}
}

func dump(l rubrica.ContactLists) string {
	s := fmt.Sprintf("TagCounts=%v Channels=[", l.TagCounts)
	for _, ch := range l.Channels {
		s += fmt.Sprintf("%+v ", *ch)
	}
	s += "] Tags={"
	for id, list := range l.Tags {
		s += id + ":["
		for _, tg := range list {
			s += fmt.Sprintf("%+v ", *tg)
		}
		s += "] "
	}
	s += "} CustomValues={"
	for id, list := range l.CustomValues {
		s += id + ":["
		for _, v := range list {
			s += fmt.Sprintf("%s=%s %+v ", v.ContactID, *v.Value, *v.Definition)
		}
		s += "] "
	}
	s += "} Links={"
	for id, list := range l.Links {
		s += id + ":["
		for _, v := range list {
			s += fmt.Sprintf("%+v ", *v)
		}
		s += "] "
	}
	s += "} Members={"
	for id, m := range l.Members {
		s += fmt.Sprintf("%s:%+v ", id, *m)
	}
	return s + "}"
}

// TestFindContactListsOneStatement: whatever the set and however many contacts, the lists
// are one statement, one round trip once the connection has prepared it (with tags of the
// contacts, one more counts the tags); no ids, or an empty set, run none.
func TestFindContactListsOneStatement(t *testing.T) {
	t.Parallel()
	e := newListsEnv(t)
	for _, set := range allSets() {
		for _, ids := range [][]string{e.many[:1], e.many, append(e.many, e.ids...)} {
			if _, err := e.s.Contacts.FindContactLists(e.ctx, ids, set); err != nil { // prepares
				t.Fatal(err)
			}
			e.counter.Reset()
			got, err := e.s.Contacts.FindContactLists(e.ctx, ids, set)
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			switch {
			case set == rubrica.ContactListSet{} || set == rubrica.ContactListSet{TagCounts: true}:
				want = 0
			case set.Tags && set.TagCounts:
				want = 2
			}
			if n := len(e.counter.Statements()); n != want {
				t.Errorf("%+v, %d ids: %d statements %q, want %d", set, len(ids), n, e.counter.Statements(), want)
			}
			wantRoundTrips(t, e.counter, fmt.Sprintf("%+v, %d ids", set, len(ids)), want)
			if set.Tags && len(got.Tags) != min(len(ids), len(e.many)+2) {
				t.Errorf("%+v, %d ids: tags of %d contacts", set, len(ids), len(got.Tags))
			}
		}
	}
	e.counter.Reset()
	if got, err := e.s.Contacts.FindContactLists(e.ctx, nil, rubrica.ContactListSet{Tags: true, Links: true}); err != nil || !reflect.DeepEqual(got, rubrica.ContactLists{}) {
		t.Errorf("no ids: got %+v, %v; want nothing", got, err)
	}
	wantRoundTrips(t, e.counter, "no ids", 0)
}

// TestMutationListsHaveAssignees: the mutations whose payloads show contacts read the
// contacts' assignees with their lists, in their transaction, and only those.
func TestMutationListsHaveAssignees(t *testing.T) {
	t.Parallel()
	e := newListsEnv(t)
	c1, c2, c3 := e.ids[0], e.ids[1], e.ids[2]
	owner := actorOf(e.ctx).MemberID
	tags, err := e.s.Tags.FindTagsByContactIDs(e.ctx, []string{c1})
	if err != nil {
		t.Fatal(err)
	}
	links, err := e.s.Channels.FindLinksByContactIDs(e.ctx, []string{c1})
	if err != nil {
		t.Fatal(err)
	}
	only := func(what string, members map[string]*rubrica.Member, ids ...string) {
		t.Helper()
		if len(members) != len(ids) {
			t.Errorf("%s: %d members, want %v", what, len(members), ids)
		}
		for _, id := range ids {
			if m := members[id]; m == nil || m.ID != id {
				t.Errorf("%s: member %s missing from %v", what, id, members)
			}
		}
	}
	removed, err := e.s.Tags.RemoveTagFromContact(e.ctx, c1, tags[c1][0].ID)
	if err != nil {
		t.Fatal(err)
	}
	only("removeTagFromContact", removed.Lists.Members, owner)
	added, err := e.s.Tags.AddTagsToContacts(e.ctx, rubrica.ContactSelection{IDs: []string{c1, c2, c3}}, nil, []string{"new"})
	if err != nil {
		t.Fatal(err)
	}
	contacts, err := e.s.Contacts.FindContactsByIDs(e.ctx, []string{c2})
	if err != nil {
		t.Fatal(err)
	}
	only("addTagsToContacts", added.Lists.Members, owner, *contacts[c2].AssigneeID)
	unlinked, err := e.s.Channels.RemoveContactChannel(e.ctx, c1, links[c1][0].ChannelID)
	if err != nil {
		t.Fatal(err)
	}
	only("removeContactChannel", unlinked.Lists.Members, owner)

	// An unmerge's Members are the contacts' assignees and the merge's members.
	m, err := e.s.Merges.MergeContacts(e.ctx, c3, c2, nil)
	if err != nil {
		t.Fatal(err)
	}
	managerToken, err := e.d.Admin().CreateToken(context.Background(), actorOf(e.ctx).WorkspaceID, "manager@lists.test", rubrica.RoleManager)
	if err != nil {
		t.Fatal(err)
	}
	manager, err := e.s.Auth.Authenticate(context.Background(), managerToken)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.s.Merges.UnmergeContacts(rubrica.NewContext(context.Background(), manager), m.Merge.ID)
	if err != nil {
		t.Fatal(err)
	}
	assignee := *contacts[c2].AssigneeID
	only("unmergeContacts lists", res.Lists.Members, assignee)
	only("unmergeContacts", res.Members, owner, manager.MemberID, assignee)
}

// TestFindContactWithListsAsTheFinders: for every set, FindContactWithLists returns the
// contact FindContactByID returns and the lists the separate finders return, in one statement
// (counts of its tags: one more); another workspace's contact and a non-uuid are NOT_FOUND.
func TestFindContactWithListsAsTheFinders(t *testing.T) {
	t.Parallel()
	e := newListsEnv(t)
	for _, id := range e.ids[:4] {
		want, err := e.s.Contacts.FindContactByID(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range allSets() {
			if _, _, err := e.s.Contacts.FindContactWithLists(e.ctx, id, set); err != nil { // prepares
				t.Fatal(err)
			}
			e.counter.Reset()
			got, lists, err := e.s.Contacts.FindContactWithLists(e.ctx, id, set)
			if err != nil {
				t.Fatalf("%+v: %v", set, err)
			}
			statements := 1
			if set.Tags && set.TagCounts && len(lists.Tags[id]) > 0 { // counts of the tags it has
				statements = 2
			}
			if n := len(e.counter.Statements()); n != statements {
				t.Errorf("%+v: %d statements, want %d", set, n, statements)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: contact %+v, want %+v", set, got, want)
			}
			if wantLists := e.separately(t, []string{id}, set); !reflect.DeepEqual(lists, wantLists) {
				t.Errorf("%+v:\ngot  %s\nwant %s", set, dump(lists), dump(wantLists))
			}
		}
	}
	for _, id := range e.ids[4:] {
		_, _, err := e.s.Contacts.FindContactWithLists(e.ctx, id, rubrica.ContactListSet{Tags: true, Links: true})
		if rubrica.ErrorCode(err) != rubrica.ENOTFOUND {
			t.Errorf("%q: got %v, want NOT_FOUND", id, err)
		}
	}
}
