package dbtest_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
)

// TestFill checks fill.sql against the migrations (it runs on a migrated database, whose
// constraints hold) and against the rules the services apply to the same data: every phone,
// email, channel identifier, channel and custom value is one the API would have accepted
// and stored unchanged. 400 contacts hold every pair of first and last name once.
func TestFill(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDatabase(t)
	ctx := context.Background()
	d, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ws, _, err := d.Admin().CreateWorkspace(ctx, "Fill", "owner@fill.test")
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	dbtest.Fill(t, dsn, ws.ID, dbtest.FillOptions{Contacts: n, Offset: 1000})

	counts := map[string]int{
		"SELECT count(*) FROM members WHERE workspace_id = $1 AND role = 'AGENT'":                                 20,
		"SELECT count(DISTINCT assignee_id) FROM contacts WHERE workspace_id = $1":                                20,
		"SELECT count(*) FROM channels WHERE workspace_id = $1":                                                   6,
		"SELECT count(*) FROM tags WHERE workspace_id = $1":                                                       50,
		"SELECT count(*) FROM custom_field_definitions WHERE workspace_id = $1":                                   3,
		"SELECT count(*) FROM contacts WHERE workspace_id = $1":                                                   n,
		"SELECT count(DISTINCT phone) FROM contacts WHERE workspace_id = $1":                                      n,
		"SELECT count(DISTINCT lower(email)) FROM contacts WHERE workspace_id = $1":                               n,
		"SELECT count(*) FROM contacts WHERE workspace_id = $1 AND search_text LIKE '%mar%'":                      n * 145 / 1000,
		"SELECT count(*) FROM contact_channels WHERE workspace_id = $1":                                           3 * n,
		"SELECT count(DISTINCT (contact_id, channel_id)) FROM contact_channels WHERE workspace_id = $1":           3 * n,
		"SELECT count(*) FROM contact_tags JOIN tags t ON t.id = tag_id WHERE t.workspace_id = $1":                3 * n,
		"SELECT count(*) FROM contact_custom_values JOIN contacts c ON c.id = contact_id WHERE workspace_id = $1": n * 5 / 2,
		"SELECT count(*) FROM conversations WHERE workspace_id = $1":                                              0,
		"SELECT count(*) FROM events WHERE workspace_id = $1":                                                     0,
	}
	for q, want := range counts {
		var got int
		if err := d.GetContext(ctx, &got, q, ws.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got != want {
			t.Errorf("%s: got %d, want %d", q, got, want)
		}
	}
	checkContacts(t, d.DB, ws.ID)
	checkChannels(t, d.DB, ws.ID)
	checkCustomValues(t, d.DB, ws.ID)
}

func checkContacts(t *testing.T, d *sqlx.DB, ws string) {
	t.Helper()
	var rows []struct {
		Email, Phone, Country string
	}
	if err := d.Select(&rows, `SELECT email, phone, country FROM contacts WHERE workspace_id = $1`, ws); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if e, err := rubrica.NormalizeEmail("email", &r.Email); err != nil || *e != r.Email {
			t.Errorf("email %q: %v", r.Email, err)
		}
		if p, region, err := rubrica.NormalizePhone("phone", &r.Phone); err != nil || *p != r.Phone || region != r.Country {
			t.Errorf("phone %q (country %s): region %q, %v", r.Phone, r.Country, region, err)
		}
	}
}

func checkChannels(t *testing.T, d *sqlx.DB, ws string) {
	t.Helper()
	var channels []struct {
		Type, Name string
		PageID     *string `db:"page_id"`
	}
	if err := d.Select(&channels, `SELECT type, name, page_id FROM channels WHERE workspace_id = $1`, ws); err != nil {
		t.Fatal(err)
	}
	for _, c := range channels {
		in := rubrica.ChannelInput{Type: rubrica.ChannelType(c.Type), Name: c.Name, PageID: c.PageID}
		if err := rubrica.ValidateChannelInput(&in); err != nil {
			t.Errorf("channel %+v: %v", c, err)
		}
	}
	var links []struct{ Type, Identifier string }
	if err := d.Select(&links, `SELECT ch.type, l.identifier FROM contact_channels l JOIN channels ch ON ch.id = l.channel_id
		WHERE l.workspace_id = $1`, ws); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if got, err := rubrica.NormalizeIdentifier(rubrica.ChannelType(l.Type), l.Identifier); err != nil || got != l.Identifier {
			t.Errorf("%s identifier %q: got %q, %v", l.Type, l.Identifier, got, err)
		}
	}
}

func checkCustomValues(t *testing.T, d *sqlx.DB, ws string) {
	t.Helper()
	var defs []struct {
		ID, Key, Label, Type string
		Options              pq.StringArray
	}
	if err := d.Select(&defs, `SELECT id, key, label, type, options FROM custom_field_definitions WHERE workspace_id = $1`, ws); err != nil {
		t.Fatal(err)
	}
	for _, def := range defs {
		in := rubrica.CustomFieldInput{Key: def.Key, Label: def.Label, Type: rubrica.CustomFieldType(def.Type), Options: def.Options}
		if err := rubrica.ValidateCustomFieldInput(&in); err != nil {
			t.Errorf("definition %s: %v", def.Key, err)
		}
		var values []string
		if err := d.Select(&values, `SELECT value FROM contact_custom_values WHERE definition_id = $1`, def.ID); err != nil {
			t.Fatal(err)
		}
		rd := rubrica.CustomFieldDefinition{Key: def.Key, Type: rubrica.CustomFieldType(def.Type), Options: def.Options}
		for _, v := range values {
			if got, err := rubrica.NormalizeCustomValue(&rd, &v); err != nil || got == nil || *got != v {
				t.Errorf("%s value %q: %v", def.Key, v, err)
			}
		}
	}
}
