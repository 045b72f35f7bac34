package db_test

import (
	"context"
	"reflect"
	"testing"

	"rubrica"
	"rubrica/db/dbtest"
)

// oldSnapshot is a merge snapshot as version 14 wrote it (captured from that code): the
// domain struct under its Go field names, one phone and one email.
const oldSnapshot = `{"addedTags": null, "secondary": {"ID": "38c1006c-5691-4900-9978-84b48130fa5f", "Email": "Bea@Old.test",
	"Phone": "+393331234567", "Country": "IT", "Language": null, "LastName": null, "BlockedAt": null,
	"CreatedAt": "2026-12-02T19:36:01.818346Z", "FirstName": "Bea", "UpdatedAt": "2026-12-02T19:36:01.818346Z",
	"AssigneeID": null, "ProfileName": null, "WorkspaceID": "8dbcfeae-df26-4988-ac57-98e5267b916f",
	"CountryManual": false, "ProfilePictureURL": null}, "primaryCustom": {},
	"primaryFields": {"phone": {"new": "+393331234567", "old": null}, "country": {"new": "IT", "old": null}},
	"secondaryTags": null, "secondaryLinks": null, "mergedBlockedAt": null, "secondaryCustom": {},
	"primaryBlockedAt": null, "secondaryCustomKeys": {}, "secondaryIdentities": null, "primaryCountryManual": false,
	"secondaryConversations": null}`

// TestMigrationPhonesAndSnapshots fills a database of version 14 (a contact with a phone and
// an email, a merge recorded then), migrates it, and checks that nothing is lost: the values
// are the primaries, and the merge still undoes exactly.
func TestMigrationPhonesAndSnapshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.MustOpenEmptyDB(t)
	if err := d.MigrateTo(ctx, 14); err != nil {
		t.Fatal(err)
	}
	const ws, owner = "8dbcfeae-df26-4988-ac57-98e5267b916f", "11111111-1111-4111-8111-111111111111"
	const primary, secondary, other = "22222222-2222-4222-8222-222222222222", "38c1006c-5691-4900-9978-84b48130fa5f", "33333333-3333-4333-8333-333333333333"
	for _, q := range []string{
		`INSERT INTO workspaces (id, name) VALUES ('` + ws + `', 'Old')`,
		`INSERT INTO members (id, workspace_id, email, role) VALUES ('` + owner + `', '` + ws + `', 'owner@old.test', 'OWNER')`,
		// The primary as the merge left it: it gained Bea's phone and country.
		`INSERT INTO contacts (id, workspace_id, first_name, email, phone, country) VALUES
			('` + primary + `', '` + ws + `', 'Ada', 'ada@old.test', '+393331234567', 'IT'),
			('` + other + `', '` + ws + `', 'Carla', 'carla@old.test', '+393339999999', 'IT')`,
		`INSERT INTO merges (workspace_id, primary_contact_id, merged_contact_id, snapshot, merged_by)
			VALUES ('` + ws + `', '` + primary + `', '` + secondary + `', '` + oldSnapshot + `', '` + owner + `')`,
	} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatalf("fill version 14: %v\n%s", err, q)
		}
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	actx := rubrica.NewContext(ctx, rubrica.Actor{MemberID: owner, WorkspaceID: ws, Role: rubrica.RoleOwner})
	s := d.Services()

	c, err := s.Contacts.FindContactByID(actx, other)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Phones(), []string{"+393339999999"}) || !reflect.DeepEqual(c.Emails(), []string{"carla@old.test"}) {
		t.Errorf("contact of version 14: phones %v, emails %v, want its phone and email as the only values", c.Phones(), c.Emails())
	}
	var mergeID string
	if err := d.GetContext(ctx, &mergeID, `SELECT id FROM merges`); err != nil {
		t.Fatal(err)
	}
	m, err := s.Merges.FindMergeByID(actx, mergeID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Merged == nil || *m.Merged.Contact.FirstName != "Bea" || !reflect.DeepEqual(m.Merged.Contact.Phones(), []string{"+393331234567"}) ||
		!reflect.DeepEqual(m.Merged.Contact.Emails(), []string{"Bea@Old.test"}) {
		t.Fatalf("merged contact of the rewritten snapshot: got %+v", m.Merged)
	}
	res, err := s.Merges.UnmergeContacts(actx, mergeID)
	if err != nil {
		t.Fatalf("undo a merge recorded by version 14: %v", err)
	}
	p, b := res.Contact, res.Restored
	if p.Phone != nil || len(p.Phones()) != 0 || p.Country != nil || !reflect.DeepEqual(p.Emails(), []string{"ada@old.test"}) {
		t.Errorf("primary after the undo: phones %v, country %v, emails %v; want no phone, no country, ada@old.test", p.Phones(), p.Country, p.Emails())
	}
	if b.ID != secondary || *b.FirstName != "Bea" || !reflect.DeepEqual(b.Phones(), []string{"+393331234567"}) ||
		!reflect.DeepEqual(b.Emails(), []string{"Bea@Old.test"}) || b.Country == nil || *b.Country != "IT" ||
		b.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999Z") != "2026-12-02T19:36:01.818346Z" {
		t.Errorf("secondary after the undo: got %+v (phones %v, emails %v)", b, b.Phones(), b.Emails())
	}
}
