package demo_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
	"rubrica/internal/demo"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.MustOpenDB(t)
	s := d.Services()

	res, err := demo.Seed(ctx, s, d.Admin())
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}

	t.Run("Tokens", func(t *testing.T) {
		checkTokens(t, d, res)
	})

	owner := ownerContext(t, d, res)

	t.Run("Workspace", func(t *testing.T) {
		ws, err := s.Workspaces.FindWorkspace(owner)
		if err != nil {
			t.Fatal(err)
		}
		if ws.Name != demo.WorkspaceName {
			t.Errorf("name: got %q, want %q", ws.Name, demo.WorkspaceName)
		}
	})

	t.Run("Contacts", func(t *testing.T) {
		n, err := s.Contacts.CountContacts(owner, rubrica.ContactFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if n < 250 || n > 350 {
			t.Errorf("contacts: got %d, want 250 to 350", n)
		}
		var countries, languages, assigned, scripts int
		q := `SELECT count(DISTINCT country), count(DISTINCT language), count(assignee_id),
			count(*) FILTER (WHERE first_name !~ '^[A-Za-zÀ-ɏ'' .-]+$')
			FROM contacts WHERE workspace_id = $1`
		if err := d.QueryRowContext(ctx, q, res.WorkspaceID).Scan(&countries, &languages, &assigned, &scripts); err != nil {
			t.Fatal(err)
		}
		if countries < 10 || languages < 10 || assigned < 50 || scripts < 20 {
			t.Errorf("variety: got %d countries, %d languages, %d assigned, %d names in non-Latin scripts; want at least 10, 10, 50, 20",
				countries, languages, assigned, scripts)
		}
	})

	t.Run("CustomFields", func(t *testing.T) {
		defs, err := s.Workspaces.FindCustomFieldDefinitions(owner)
		if err != nil {
			t.Fatal(err)
		}
		types := map[rubrica.CustomFieldType]bool{}
		for _, def := range defs {
			types[def.Type] = true
			if def.Type == rubrica.FieldList && len(def.Options) == 0 {
				t.Errorf("LIST field %s has no options", def.Key)
			}
		}
		for _, want := range []rubrica.CustomFieldType{rubrica.FieldText, rubrica.FieldNumber, rubrica.FieldDate,
			rubrica.FieldCheckbox, rubrica.FieldList, rubrica.FieldURL, rubrica.FieldEmail, rubrica.FieldPhone} {
			if !types[want] {
				t.Errorf("no custom field of type %s", want)
			}
		}
		var withValues int
		q := `SELECT count(DISTINCT v.contact_id) FROM contact_custom_values v JOIN contacts c ON c.id = v.contact_id WHERE c.workspace_id = $1`
		if err := d.GetContext(ctx, &withValues, q, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		if withValues < 150 {
			t.Errorf("contacts with custom values: got %d, want at least 150", withValues)
		}
	})

	t.Run("Tags", func(t *testing.T) {
		n, err := s.Tags.CountTags(owner, "")
		if err != nil {
			t.Fatal(err)
		}
		if n < 8 {
			t.Errorf("tags: got %d, want at least 8", n)
		}
		var tagged, over100 int
		q := `SELECT count(DISTINCT ct.contact_id) FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE c.workspace_id = $1`
		if err := d.GetContext(ctx, &tagged, q, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		if tagged < 150 {
			t.Errorf("tagged contacts: got %d, want at least 150", tagged)
		}
		// At least one tag needs more than one batch of AddTagsToContacts.
		q = `SELECT count(*) FROM (SELECT tag_id FROM contact_tags GROUP BY tag_id HAVING count(*) > 100) x`
		if err := d.GetContext(ctx, &over100, q); err != nil {
			t.Fatal(err)
		}
		if over100 == 0 {
			t.Errorf("no tag is on more than 100 contacts")
		}
	})

	t.Run("Duplicates", func(t *testing.T) {
		var phones, emails []string
		if err := d.SelectContext(ctx, &phones, `SELECT phone FROM contacts WHERE workspace_id = $1 AND phone IS NOT NULL
			GROUP BY phone HAVING count(*) > 1`, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		if err := d.SelectContext(ctx, &emails, `SELECT lower(email) FROM contacts WHERE workspace_id = $1 AND email IS NOT NULL
			GROUP BY lower(email) HAVING count(*) > 1`, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		if len(phones)+len(emails) < 10 || len(phones) == 0 || len(emails) == 0 {
			t.Errorf("shared values: got %d phones and %d emails, want at least 10 in all", len(phones), len(emails))
		}
		var recased, chains int
		q := `SELECT count(*) FROM (SELECT lower(email) FROM contacts WHERE workspace_id = $1 AND email IS NOT NULL
			GROUP BY lower(email) HAVING count(DISTINCT email) > 1) x`
		if err := d.GetContext(ctx, &recased, q, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		if recased == 0 {
			t.Errorf("no shared email is written with other capitals")
		}
		// A chain: A shares a phone with B, and B an email with C.
		q = `SELECT count(*) FROM contacts b
			JOIN contacts a ON a.workspace_id = b.workspace_id AND a.phone = b.phone AND a.id <> b.id
			JOIN contacts c ON c.workspace_id = b.workspace_id AND lower(c.email) = lower(b.email) AND c.id <> b.id
			WHERE b.workspace_id = $1 AND a.id <> c.id AND (a.email IS NULL OR lower(a.email) <> lower(b.email))
			AND (c.phone IS NULL OR c.phone <> b.phone)`
		if err := d.GetContext(ctx, &chains, q, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		if chains == 0 {
			t.Errorf("no chain of duplicates (A shares a phone with B, B an email with C)")
		}
	})

	t.Run("Channels", func(t *testing.T) {
		channels, err := s.Channels.FindChannels(owner)
		if err != nil {
			t.Fatal(err)
		}
		types := map[rubrica.ChannelType]int{}
		for _, ch := range channels {
			types[ch.Type]++
			if ch.Type == rubrica.ChannelFacebook {
				if ch.PageID == nil || strings.Trim(*ch.PageID, "0123456789") != "" {
					t.Errorf("FACEBOOK channel %q: page id %v, want a numeric page id", ch.Name, ch.PageID)
				}
			}
		}
		for _, want := range []rubrica.ChannelType{rubrica.ChannelWhatsApp, rubrica.ChannelSMS, rubrica.ChannelEmail,
			rubrica.ChannelFacebook, rubrica.ChannelInstagram, rubrica.ChannelWebchat} {
			if types[want] == 0 {
				t.Errorf("no %s channel (got %v)", want, types)
			}
		}
	})

	t.Run("Conversations", func(t *testing.T) {
		var st struct {
			Contacts     int `db:"contacts"`
			Linked       int `db:"linked"`
			Open         int `db:"open"`
			Closed       int `db:"closed"`
			Inbound      int `db:"inbound"`
			Outbound     int `db:"outbound"`
			Spread       int `db:"spread"` // days between the first and the last inbound message
			Future       int `db:"future"`
			Repeat       int `db:"repeat"`       // contacts with more than one conversation
			Empty        int `db:"empty"`        // conversations without messages
			Pictures     int `db:"pictures"`     // contacts with a profile picture
			KnownWriters int `db:"knownwriters"` // linked contacts that also carry custom values
		}
		const q = `SELECT
			(SELECT count(*) FROM contacts WHERE workspace_id = $1) AS contacts,
			(SELECT count(DISTINCT contact_id) FROM contact_channels WHERE workspace_id = $1) AS linked,
			(SELECT count(*) FROM conversations WHERE workspace_id = $1 AND status = 'OPEN') AS open,
			(SELECT count(*) FROM conversations WHERE workspace_id = $1 AND status = 'CLOSED') AS closed,
			(SELECT count(*) FROM messages WHERE workspace_id = $1 AND direction = 'INBOUND') AS inbound,
			(SELECT count(*) FROM messages WHERE workspace_id = $1 AND direction = 'OUTBOUND') AS outbound,
			(SELECT coalesce(extract(day FROM max(sent_at) - min(sent_at)), 0)::int FROM messages WHERE workspace_id = $1 AND direction = 'INBOUND') AS spread,
			(SELECT count(*) FROM messages WHERE workspace_id = $1 AND sent_at > now() + interval '1 minute') AS future,
			(SELECT count(*) FROM (SELECT contact_id FROM conversations WHERE workspace_id = $1 GROUP BY contact_id HAVING count(*) > 1) x) AS repeat,
			(SELECT count(*) FROM conversations cv WHERE workspace_id = $1 AND NOT EXISTS (SELECT FROM messages m WHERE m.conversation_id = cv.id)) AS empty,
			(SELECT count(*) FROM contacts WHERE workspace_id = $1 AND profile_picture_url IS NOT NULL) AS pictures,
			(SELECT count(DISTINCT l.contact_id) FROM contact_channels l JOIN contact_custom_values v ON v.contact_id = l.contact_id
				WHERE l.workspace_id = $1) AS knownwriters`
		if err := d.GetContext(ctx, &st, q, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", st)
		if st.Linked*10 < st.Contacts*3 {
			t.Errorf("contacts with a channel: got %d of %d, want at least 30%%", st.Linked, st.Contacts)
		}
		if st.Open < 20 || st.Closed < 20 {
			t.Errorf("conversations: got %d open and %d closed, want at least 20 of each", st.Open, st.Closed)
		}
		if st.Inbound < 150 || st.Outbound < 40 {
			t.Errorf("messages: got %d inbound and %d outbound, want at least 150 and 40", st.Inbound, st.Outbound)
		}
		if st.Spread < 14 || st.Future > 0 {
			t.Errorf("inbound messages: spread over %d days, %d in the future; want at least 14 days, none in the future", st.Spread, st.Future)
		}
		if st.Repeat < 5 || st.Empty > 0 {
			t.Errorf("conversations: %d contacts with several, %d empty; want at least 5, none", st.Repeat, st.Empty)
		}
		if st.Pictures < 5 {
			t.Errorf("contacts with a profile picture: got %d, want at least 5", st.Pictures)
		}
		if st.KnownWriters < 30 {
			t.Errorf("linked contacts with custom values: got %d, want at least 30 (people who wrote first keep their planned data)", st.KnownWriters)
		}

		// Links on every channel; the statuses of Contact.channels cover all three values.
		channels, err := s.Channels.FindChannels(owner)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		if err := d.SelectContext(ctx, &ids, `SELECT id FROM contacts WHERE workspace_id = $1 ORDER BY created_at, id`, res.WorkspaceID); err != nil {
			t.Fatal(err)
		}
		contacts, err := s.Contacts.FindContactsByIDs(owner, ids)
		if err != nil {
			t.Fatal(err)
		}
		links, err := s.Channels.FindLinksByContactIDs(owner, ids)
		if err != nil {
			t.Fatal(err)
		}
		active := map[rubrica.ChannelType]int{}
		statuses := map[rubrica.ContactChannelStatus]int{}
		for _, id := range ids {
			for _, ch := range channels {
				var on []*rubrica.ChannelLink
				for _, l := range links[id] {
					if l.ChannelID == ch.ID {
						on = append(on, l)
					}
				}
				cc := rubrica.ContactChannelOf(contacts[id], ch, on)
				statuses[cc.Status]++
				if cc.Status == rubrica.StatusActive {
					active[ch.Type]++
				}
			}
		}
		for _, ch := range channels {
			if active[ch.Type] < 5 {
				t.Errorf("%s: %d contacts ACTIVE, want at least 5 (all: %v)", ch.Type, active[ch.Type], active)
			}
		}
		for _, status := range []rubrica.ContactChannelStatus{rubrica.StatusActive, rubrica.StatusInactive, rubrica.StatusUnavailable} {
			if statuses[status] == 0 {
				t.Errorf("no contact channel is %s (got %v)", status, statuses)
			}
		}
		latest, err := s.Conversations.FindLatestConversationStatus(owner, ids)
		if err != nil {
			t.Fatal(err)
		}
		byStatus := map[rubrica.ConversationStatus]int{}
		for _, id := range ids {
			byStatus[latest[id]]++
		}
		if byStatus[rubrica.ConversationOpen] == 0 || byStatus[rubrica.ConversationClosed] == 0 || byStatus[""] == 0 {
			t.Errorf("conversationStatus: got %v, want some OPEN, some CLOSED and some null", byStatus)
		}
	})

	t.Run("Deterministic", func(t *testing.T) {
		d2 := dbtest.MustOpenDB(t)
		res2, err := demo.Seed(ctx, d2.Services(), d2.Admin())
		if err != nil {
			t.Fatalf("Seed: %v", err)
		}
		got, want := snapshot(t, d2, res2.WorkspaceID), snapshot(t, d, res.WorkspaceID)
		if !slices.Equal(got, want) {
			t.Errorf("a second seed differs from the first: %d contacts against %d", len(got), len(want))
		}
		got, want = inboxSnapshot(t, d2, res2.WorkspaceID), inboxSnapshot(t, d, res.WorkspaceID)
		if !slices.Equal(got, want) {
			t.Errorf("a second seed's conversations differ from the first's: %d messages against %d", len(got), len(want))
		}
	})
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("EmptyDatabase", func(t *testing.T) {
		t.Parallel()
		d := dbtest.MustOpenDB(t)
		first, err := demo.Ensure(ctx, d.Services(), d.Admin())
		if err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		if first == nil {
			t.Fatal("Ensure on an empty database: got nil, want the seeded demo")
		}
		checkTokens(t, d, first)
		owner := ownerContext(t, d, first)
		before, err := d.Services().Contacts.CountContacts(owner, rubrica.ContactFilter{})
		if err != nil {
			t.Fatal(err)
		}

		second, err := demo.Ensure(ctx, d.Services(), d.Admin())
		if err != nil {
			t.Fatalf("second Ensure: %v", err)
		}
		if second == nil || second.WorkspaceID != first.WorkspaceID {
			t.Fatalf("second Ensure: got %+v, want workspace %s", second, first.WorkspaceID)
		}
		checkTokens(t, d, second)
		for role, tok := range second.Tokens {
			if tok == first.Tokens[role] {
				t.Errorf("%s token: got the same token twice, want a new one", role)
			}
		}
		after, err := d.Services().Contacts.CountContacts(owner, rubrica.ContactFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Errorf("contacts after the second Ensure: got %d, want %d", after, before)
		}
		if n, err := d.Admin().CountWorkspaces(ctx); err != nil || n != 1 {
			t.Errorf("workspaces: got %d (%v), want 1", n, err)
		}
	})

	t.Run("OtherWorkspace", func(t *testing.T) {
		t.Parallel()
		d := dbtest.MustOpenDB(t)
		if _, _, err := d.Admin().CreateWorkspace(ctx, "Acme", "boss@acme.example"); err != nil {
			t.Fatal(err)
		}
		res, err := demo.Ensure(ctx, d.Services(), d.Admin())
		if err != nil || res != nil {
			t.Fatalf("Ensure: got (%+v, %v), want (nil, nil)", res, err)
		}
		if n, err := d.Admin().CountWorkspaces(ctx); err != nil || n != 1 {
			t.Errorf("workspaces: got %d (%v), want 1", n, err)
		}
	})
}

func TestTokensUnknownWorkspace(t *testing.T) {
	t.Parallel()
	d := dbtest.MustOpenDB(t)
	_, err := demo.Tokens(context.Background(), d.Admin(), "00000000-0000-0000-0000-000000000000")
	if got := rubrica.ErrorCode(err); got != rubrica.ENOTFOUND {
		t.Errorf("code: got %q (%v), want %s", got, err, rubrica.ENOTFOUND)
	}
}

// checkTokens makes sure each role's token authenticates as that role in the workspace.
func checkTokens(t *testing.T, d *db.DB, res *demo.Result) {
	t.Helper()
	for _, role := range []rubrica.Role{rubrica.RoleOwner, rubrica.RoleManager, rubrica.RoleAgent} {
		tok, ok := res.Tokens[role]
		if !ok {
			t.Errorf("no %s token", role)
			continue
		}
		a, err := d.Services().Auth.Authenticate(context.Background(), tok)
		if err != nil {
			t.Errorf("%s token: %v", role, err)
			continue
		}
		if a.Role != role || a.WorkspaceID != res.WorkspaceID {
			t.Errorf("%s token: got role %s in %s, want %s in %s", role, a.Role, a.WorkspaceID, role, res.WorkspaceID)
		}
	}
}

// ownerContext acts as the owner of res's workspace.
func ownerContext(t *testing.T, d *db.DB, res *demo.Result) context.Context {
	t.Helper()
	a, err := d.Services().Auth.Authenticate(context.Background(), res.Tokens[rubrica.RoleOwner])
	if err != nil {
		t.Fatal(err)
	}
	return rubrica.NewContext(context.Background(), a)
}

// snapshot lists a workspace's contacts with their values, tags and custom values, in an
// order that does not depend on ids or times.
func snapshot(t *testing.T, d *db.DB, workspaceID string) []string {
	t.Helper()
	const q = `SELECT concat_ws('|', c.first_name, c.last_name, c.email, c.phone, c.country, c.language, m.email,
			(SELECT string_agg(tg.name, ',' ORDER BY tg.name) FROM contact_tags ct JOIN tags tg ON tg.id = ct.tag_id WHERE ct.contact_id = c.id),
			(SELECT string_agg(f.key || '=' || v.value, ',' ORDER BY f.key) FROM contact_custom_values v
				JOIN custom_field_definitions f ON f.id = v.definition_id WHERE v.contact_id = c.id))
		FROM contacts c LEFT JOIN members m ON m.id = c.assignee_id
		WHERE c.workspace_id = $1 ORDER BY c.created_at, c.id`
	var rows []string
	if err := d.SelectContext(context.Background(), &rows, q, workspaceID); err != nil {
		t.Fatal(err)
	}
	return rows
}

// inboxSnapshot lists a workspace's messages with their contacts, channels and
// conversations, in an order that does not depend on ids or the clock.
func inboxSnapshot(t *testing.T, d *db.DB, workspaceID string) []string {
	t.Helper()
	const q = `SELECT concat_ws('|', c.first_name, c.last_name, c.email, c.phone, ch.type, ch.name, cv.status, m.direction, m.identifier, m.text,
			(SELECT string_agg(l.identifier, ',' ORDER BY l.identifier) FROM contact_channels l WHERE l.contact_id = c.id))
		FROM messages m JOIN conversations cv ON cv.id = m.conversation_id JOIN contacts c ON c.id = cv.contact_id
		JOIN channels ch ON ch.id = m.channel_id
		WHERE m.workspace_id = $1 ORDER BY m.created_at, m.id`
	var rows []string
	if err := d.SelectContext(context.Background(), &rows, q, workspaceID); err != nil {
		t.Fatal(err)
	}
	return rows
}

// BenchmarkSeed measures how long `make run` waits for the demo on an empty database.
func BenchmarkSeed(b *testing.B) {
	for b.Loop() {
		d := dbtest.MustOpenDB(b)
		if _, err := demo.Seed(context.Background(), d.Services(), d.Admin()); err != nil {
			b.Fatal(err)
		}
	}
}
