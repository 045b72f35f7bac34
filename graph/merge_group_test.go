package graph_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"rubrica/internal/testenv"
)

// The tests of group merges (mergeContacts with secondaryContactIds) are prefixed gm.

// gmChoice is one field choice by contact.
type gmChoice struct{ Field, ContactID string }

const gmMergeFields = mgMergeFields + ` mergedContactIds automatic`

// gmMergeData is a group Merge as the tests read it.
type gmMergeData struct {
	mgMergeData
	MergedContactIDs []string
	Automatic        bool
}

// gmTryMerge merges the secondaries into the primary in one call and returns the response.
func gmTryMerge(tb testing.TB, env *testenv.Env, token, primary string, secondaries []string, choices ...gmChoice) *testenv.Response {
	tb.Helper()
	in := map[string]any{"primaryContactId": primary, "secondaryContactIds": secondaries}
	if choices != nil {
		var cs []map[string]any
		for _, c := range choices {
			cs = append(cs, map[string]any{"field": c.Field, "contactId": c.ContactID})
		}
		in["fieldChoices"] = cs
	}
	return env.Do(tb, token, `mutation($in: MergeContactsInput!) { mergeContacts(input: $in) {
		contact { id } merge { `+gmMergeFields+` } } }`, map[string]any{"in": in})
}

// gmMerge merges the secondaries into the primary and returns the merge.
func gmMerge(tb testing.TB, env *testenv.Env, token, primary string, secondaries []string, choices ...gmChoice) gmMergeData {
	tb.Helper()
	r := gmTryMerge(tb, env, token, primary, secondaries, choices...)
	if len(r.Errors) > 0 {
		tb.Fatalf("mergeContacts: unexpected errors %+v", r.Errors)
	}
	var data struct {
		MergeContacts struct {
			Contact struct{ ID string }
			Merge   gmMergeData
		}
	}
	r.Decode(tb, &data)
	if data.MergeContacts.Contact.ID != primary {
		tb.Fatalf("merged contact: got %s, want the primary %s", data.MergeContacts.Contact.ID, primary)
	}
	return data.MergeContacts.Merge
}

// gmUnmerge undoes a merge and returns the ids of the contacts it brought back.
func gmUnmerge(tb testing.TB, env *testenv.Env, token, mergeID string) []string {
	tb.Helper()
	var data struct {
		UnmergeContacts struct {
			RestoredContact  struct{ ID string }
			RestoredContacts []struct{ ID string }
			Merge            struct{ UndoneAt *string }
		}
	}
	env.MustDo(tb, token, `mutation($id: ID!) { unmergeContacts(input: {mergeId: $id}) {
		restoredContact { id } restoredContacts { id } merge { undoneAt } } }`, map[string]any{"id": mergeID}, &data)
	u := data.UnmergeContacts
	if u.Merge.UndoneAt == nil {
		tb.Fatalf("unmerge: undoneAt not set")
	}
	var ids []string
	for _, c := range u.RestoredContacts {
		ids = append(ids, c.ID)
	}
	if len(ids) == 0 || ids[0] != u.RestoredContact.ID {
		tb.Fatalf("unmerge: restoredContacts %v, restoredContact %s: want the same first", ids, u.RestoredContact.ID)
	}
	return ids
}

// gmFour makes a workspace with four contacts that one suggestion joins (A–B by phone, B–C
// by email, C–D by phone), each with a message of its own.
type gmFour struct {
	ws       *testenv.Workspace
	token    string
	ids      []string // A, B, C, D
	facebook string
}

func gmSetupFour(t *testing.T, env *testenv.Env, name string) *gmFour {
	t.Helper()
	ws := env.Workspace(t, name)
	g := &gmFour{ws: ws, token: ws.Owner()}
	fxDefinition(t, env, g.token, "plan", "LIST", "gold", "silver", "bronze")
	g.facebook = mgChannel(t, env, g.token, "FACEBOOK", "Page")
	ins := []map[string]any{
		{"firstName": "Ada", "phone": "+393331110001"},
		{"lastName": "Lovelace", "phone": "+393331110001", "email": "ada@example.com", "language": "en",
			"customFields": []map[string]any{{"key": "plan", "value": "silver"}}},
		{"firstName": "Augusta", "lastName": "King", "email": "ada@example.com", "phones": []string{"+393331110003"}, "language": "it",
			"customFields": []map[string]any{{"key": "plan", "value": "gold"}}},
		{"firstName": "Countess", "phones": []string{"+393331110003", "+393331110004"}, "country": "GB"},
	}
	for i, in := range ins {
		id := mgCreate(t, env, g.token, in)
		mgTag(t, env, g.token, []string{id}, fmt.Sprintf("tag%d", i))
		g.ids = append(g.ids, id)
	}
	// Each writes on the page from an identity of its own, merged into it.
	for i, id := range g.ids {
		r := mgReceive(t, env, g.token, g.facebook, fmt.Sprintf("psid-%s-%d", name, i), fmt.Sprintf("hello %d", i))
		mgMerge(t, env, g.token, id, r.ContactID)
	}
	return g
}

func TestMergeGroup(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("FourInOneCallUndoneExactly", func(t *testing.T) {
		g := gmSetupFour(t, env, "Four")
		sugs := mgOpenSuggestions(t, env, g.token)
		if len(sugs) != 1 || len(sugs[0].Contacts) != 4 {
			t.Fatalf("open suggestions: got %+v, want one of the four", sugs)
		}
		before := make([]map[string]any, 4)
		for i, id := range g.ids {
			before[i] = mgSnapshot(t, env, g.token, id)
		}
		merges := mgCount(t, env, `SELECT count(*) FROM merges WHERE workspace_id = $1`, g.ws.ID)
		last := mgLastSeq(t, env, g.ws.ID)
		m := gmMerge(t, env, g.token, g.ids[0], []string{g.ids[2], g.ids[1], g.ids[3]})
		mgWant(t, "merges recorded", mgCount(t, env, `SELECT count(*) FROM merges WHERE workspace_id = $1`, g.ws.ID), merges+1)
		mgWantSlice(t, "mergedContactIds", m.MergedContactIDs, []string{g.ids[2], g.ids[1], g.ids[3]})
		mgWant(t, "mergedContactId", m.MergedContactID, g.ids[2])
		mgWant(t, "automatic", m.Automatic, false)
		for _, id := range g.ids[1:] {
			if mgSnapshot(t, env, g.token, id) != nil {
				t.Errorf("contact %s: still there after the merge", id)
			}
		}
		merged := mgSnapshot(t, env, g.token, g.ids[0])
		// The primary's own values stay; a field it lacks takes the first secondary's, in the
		// order given (C before B), that has one.
		mgWant(t, "firstName", mgStr(merged, "firstName"), "Ada")
		mgWant(t, "lastName", mgStr(merged, "lastName"), "King")
		mgWant(t, "language", mgStr(merged, "language"), "it")
		mgWant(t, "plan", mgCustom(merged)["plan"], "gold")
		mgWant(t, "phones", fmt.Sprint(merged["phones"]), "[+393331110001 +393331110003 +393331110004]")
		mgWant(t, "emails", fmt.Sprint(merged["emails"]), "[ada@example.com]")
		mgWantSlice(t, "tags", mgTagNames(merged), []string{"tag0", "tag1", "tag2", "tag3"})
		var wantMsgs []string
		for _, b := range before {
			wantMsgs = append(wantMsgs, mgMessageIDs(b)...)
		}
		mgWantSlice(t, "messages", mgMessageIDs(merged), mgSorted(wantMsgs...))
		if n := mgCount(t, env, `SELECT count(*) FROM conversations WHERE contact_id = $1 AND status = 'OPEN'`, mgLocal(t, g.ids[0])); n != 1 {
			t.Errorf("open conversations of the merged contact: got %d, want 1", n)
		}
		// The suggestion of the four is MERGED, none is open.
		mgWant(t, "open suggestions", len(mgOpenSuggestions(t, env, g.token)), 0)
		if s := mgSuggestion(t, env, g.token, sugs[0].ID); s.Status != "MERGED" {
			t.Errorf("suggestion: got %s, want MERGED", s.Status)
		}
		events, _ := mgEvents(t, env, g.ws.ID, last)
		for _, id := range g.ids {
			if !mgHasEvent(events, "contact", "MERGED", mgLocal(t, id), "") {
				t.Errorf("events: no MERGED for %s in %+v", id, events)
			}
		}
		if !mgHasEvent(events, "mergeSuggestion", "RESOLVED", "", mgLocal(t, sugs[0].ID)) {
			t.Errorf("events: no RESOLVED for the suggestion in %+v", events)
		}

		restored := gmUnmerge(t, env, g.token, m.ID)
		mgWantSlice(t, "restoredContacts", restored, []string{g.ids[2], g.ids[1], g.ids[3]})
		mgSameSnapshot(t, "primary", mgSnapshot(t, env, g.token, g.ids[0]), before[0], "updatedAt")
		for i := 1; i < 4; i++ {
			mgSameSnapshot(t, fmt.Sprintf("secondary %d", i), mgSnapshot(t, env, g.token, g.ids[i]), before[i])
		}
		if open := mgOpenSuggestions(t, env, g.token); len(open) != 1 || len(open[0].Contacts) != 4 {
			t.Errorf("open suggestions after the undo: got %+v, want the four again", open)
		}
	})

	t.Run("FieldChoicesByContactID", func(t *testing.T) {
		g := gmSetupFour(t, env, "Choices")
		a, b, c, d := g.ids[0], g.ids[1], g.ids[2], g.ids[3]
		gmMerge(t, env, g.token, a, []string{b, c, d},
			gmChoice{"firstName", d}, // a later secondary over the primary's own value
			gmChoice{"lastName", b},  // the first secondary over a later one
			gmChoice{"language", c},
			gmChoice{"country", a}, // the primary's (from its phone), not D's GB
			gmChoice{"phone", d},   // D's first number becomes the primary one
			gmChoice{"plan", d},    // D has no plan: cleared
			gmChoice{"email", a})   // A has none: the merged list keeps B's (phones and emails are never dropped)
		merged := mgSnapshot(t, env, g.token, a)
		mgWant(t, "firstName", mgStr(merged, "firstName"), "Countess")
		mgWant(t, "lastName", mgStr(merged, "lastName"), "Lovelace")
		mgWant(t, "language", mgStr(merged, "language"), "it")
		mgWant(t, "phone", mgStr(merged, "phone"), "+393331110003")
		mgWant(t, "phones", fmt.Sprint(merged["phones"]), "[+393331110003 +393331110001 +393331110004]")
		mgWant(t, "email", mgStr(merged, "email"), "ada@example.com")
		if _, ok := mgCustom(merged)["plan"]; ok {
			t.Errorf("plan: got %q, want cleared (D has none)", mgCustom(merged)["plan"])
		}
		// The country follows the primary's phone (A's is set by no hand).
		mgWant(t, "country", mgStr(merged, "country"), "IT")
	})

	t.Run("Preview", func(t *testing.T) {
		g := gmSetupFour(t, env, "Preview")
		var data struct {
			MergePreview struct {
				FirstName, LastName string
				Phones              []string
				Tags                []struct{ Name string }
			}
		}
		env.MustDo(t, g.token, `query($p: ID!, $s: [ID!], $c: [MergeFieldChoice!]) { mergePreview(primaryContactId: $p, secondaryContactIds: $s, fieldChoices: $c) {
			firstName lastName phones tags { name } } }`,
			map[string]any{"p": g.ids[0], "s": g.ids[1:], "c": []map[string]any{{"field": "firstName", "contactId": g.ids[2]}}}, &data)
		p := data.MergePreview
		mgWant(t, "firstName", p.FirstName, "Augusta")
		mgWant(t, "lastName", p.LastName, "Lovelace")
		mgWant(t, "phones", fmt.Sprint(p.Phones), "[+393331110001 +393331110003 +393331110004]")
		mgWant(t, "tags", len(p.Tags), 4)
		mgWant(t, "merges", mgCount(t, env, `SELECT count(*) FROM merges WHERE workspace_id = $1 AND cardinality(merged_contact_ids) > 1`, g.ws.ID), 0)
	})

	t.Run("BadInput", func(t *testing.T) {
		g := gmSetupFour(t, env, "Bad")
		a, b, c := g.ids[0], g.ids[1], g.ids[2]
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{}), "BAD_USER_INPUT", "secondaryContactIds")
		ten := make([]string, 10)
		for i := range ten {
			ten[i] = mgGlobalContact(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		}
		fxWantError(t, gmTryMerge(t, env, g.token, a, ten), "BAD_USER_INPUT", "secondaryContactIds")
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{b, b}), "BAD_USER_INPUT", "secondaryContactIds")
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{b, a}), "BAD_USER_INPUT", "secondaryContactIds")
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{b, "bm90LWFuLWlk"}), "NOT_FOUND", "secondaryContactIds")
		other := env.Workspace(t, "Bad other")
		stranger := mgCreate(t, env, other.Owner(), map[string]any{"firstName": "Stranger"})
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{b, stranger}), "NOT_FOUND", "secondaryContactIds")
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{b, c}, gmChoice{"firstName", stranger}), "BAD_USER_INPUT", "fieldChoices")
		fxWantError(t, gmTryMerge(t, env, g.token, a, []string{b, c}, gmChoice{"nope", b}), "BAD_USER_INPUT", "fieldChoices")
		both := env.Do(t, g.token, `mutation($in: MergeContactsInput!) { mergeContacts(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"primaryContactId": a, "secondaryContactId": b, "secondaryContactIds": []string{c}}})
		fxWantError(t, both, "BAD_USER_INPUT", "secondaryContactIds")
		neither := env.Do(t, g.token, `mutation($in: MergeContactsInput!) { mergeContacts(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"primaryContactId": a}})
		fxWantError(t, neither, "BAD_USER_INPUT", "secondaryContactIds")
		// use: SECONDARY names no one contact among several.
		sec := env.Do(t, g.token, `mutation($in: MergeContactsInput!) { mergeContacts(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"primaryContactId": a, "secondaryContactIds": []string{b, c},
				"fieldChoices": []map[string]any{{"field": "firstName", "use": "SECONDARY"}}}})
		fxWantError(t, sec, "BAD_USER_INPUT", "fieldChoices")
		// Nothing merged.
		for _, id := range g.ids {
			if mgSnapshot(t, env, g.token, id) == nil {
				t.Fatalf("contact %s gone after refused merges", id)
			}
		}
		// use keeps working for two contacts, and contactId too.
		mgMerge(t, env, g.token, a, b, mgChoice{"firstName", "SECONDARY"})
		mgWant(t, "firstName", mgStr(mgSnapshot(t, env, g.token, a), "firstName"), "<nil>")
		gmMerge(t, env, g.token, a, []string{c}, gmChoice{"firstName", c})
		mgWant(t, "firstName", mgStr(mgSnapshot(t, env, g.token, a), "firstName"), "Augusta")
	})

	t.Run("UndoNewestFirst", func(t *testing.T) {
		g := gmSetupFour(t, env, "Order")
		a, b, c, d := g.ids[0], g.ids[1], g.ids[2], g.ids[3]
		first := gmMerge(t, env, g.token, b, []string{c, d})
		second := mgMerge(t, env, g.token, a, b) // merges the first merge's primary away
		r := mgTryUnmerge(t, env, g.token, first.ID)
		fxWantError(t, r, "CONFLICT", "mergeId")
		if !strings.Contains(r.Errors[0].Message, second.ID) {
			t.Errorf("CONFLICT message: got %q, want it to name %s", r.Errors[0].Message, second.ID)
		}
		mgUnmerge(t, env, g.token, second.ID)
		gmUnmerge(t, env, g.token, first.ID)
		for _, id := range g.ids {
			if mgSnapshot(t, env, g.token, id) == nil {
				t.Errorf("contact %s: not back after both undos", id)
			}
		}
	})
}

// TestMergeGroupRace: group merges racing over shared contacts, their contacts named in
// opposite orders: one wins, the others get CONFLICT, none deadlocks, and what stands is
// exactly the winner's merge.
func TestMergeGroupRace(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Race")
	tok := ws.Owner()
	for round := range 8 {
		var ids, locals []string
		for i := range 5 {
			ids = append(ids, mgCreate(t, env, tok, map[string]any{"firstName": fmt.Sprintf("R%d-%d", round, i)}))
			locals = append(locals, mgLocal(t, ids[i]))
		}
		// Three merges, each sharing contacts with the others, in different orders.
		groups := [][]string{
			{ids[0], ids[1], ids[2], ids[3]},
			{ids[4], ids[3], ids[2], ids[1]},
			{ids[2], ids[4], ids[0]},
		}
		codes := make([]string, len(groups))
		var mu sync.Mutex
		ccRun(t, len(groups), 30*time.Second, func(g int) {
			r := gmTryMerge(t, env, tok, groups[g][0], groups[g][1:])
			mu.Lock()
			defer mu.Unlock()
			if len(r.Errors) == 0 {
				codes[g] = "OK"
			} else {
				codes[g] = r.Code()
			}
		})
		wins := 0
		for g, code := range codes {
			switch code {
			case "OK":
				wins++
				for _, id := range groups[g][1:] {
					if mgSnapshot(t, env, tok, id) != nil {
						t.Errorf("round %d: winner %d's secondary %s still there", round, g, id)
					}
				}
			case "CONFLICT", "NOT_FOUND":
			default:
				t.Errorf("round %d: merge %d got %s, want OK or CONFLICT", round, g, code)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d merges won (%v), want exactly 1", round, wins, codes)
		}
		mgWant(t, "standing merges of the round", mgCount(t, env, `SELECT count(*) FROM merges WHERE workspace_id = $1 AND undone_at IS NULL
			AND primary_contact_id = ANY($2)`, ws.ID, pq.Array(locals)), 1)
	}
}
