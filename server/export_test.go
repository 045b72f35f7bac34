package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
)

// exportGet fetches /export/contacts.csv with the query and token ("" for none).
func exportGet(t *testing.T, env *testenv.Env, token string, q url.Values) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.Server.URL+"/export/contacts.csv?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// exportCSV fetches an export that must succeed and parses it with encoding/csv.
func exportCSV(t *testing.T, env *testenv.Env, token string, q url.Values) [][]string {
	t.Helper()
	res, b := exportGet(t, env, token, q)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /export/contacts.csv?%s: got %d %s, want 200", q.Encode(), res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type: got %q, want text/csv; charset=utf-8", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, `filename="contacts.csv"`) {
		t.Errorf("Content-Disposition: got %q, want an attachment named contacts.csv", cd)
	}
	records, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read the export: %v\n%s", err, b)
	}
	return records
}

// exportWantError checks an export refused with the status, code and field.
func exportWantError(t *testing.T, env *testenv.Env, token string, q url.Values, status int, code, field string) string {
	t.Helper()
	res, b := exportGet(t, env, token, q)
	var body struct {
		Errors []struct {
			Message    string
			Extensions struct{ Code, Field string }
		}
	}
	if err := json.Unmarshal(b, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("GET ?%s: got %d %q, want a JSON error", q.Encode(), res.StatusCode, b)
	}
	e := body.Errors[0]
	if res.StatusCode != status || e.Extensions.Code != code || e.Extensions.Field != field {
		t.Errorf("GET ?%s: got %d %s field %q (%s), want %d %s field %q", q.Encode(), res.StatusCode, e.Extensions.Code, e.Extensions.Field,
			e.Message, status, code, field)
	}
	return e.Message
}

func mustCreate(t *testing.T, env *testenv.Env, token string, in map[string]any) string {
	t.Helper()
	var data struct {
		CreateContact struct{ Contact struct{ ID string } }
	}
	env.MustDo(t, token, `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`, map[string]any{"in": in}, &data)
	return data.CreateContact.Contact.ID
}

func localID(t *testing.T, gid string) string {
	t.Helper()
	_, id, ok := globalid.Decode(gid)
	if !ok {
		t.Fatalf("cannot decode %q", gid)
	}
	return id
}

// rowsByID indexes the records under the header by their id column.
func rowsByID(t *testing.T, records [][]string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, r := range records[1:] {
		if len(r) != len(records[0]) {
			t.Fatalf("row %v: %d cells under a header of %d", r, len(r), len(records[0]))
		}
		row := map[string]string{}
		for i, h := range records[0] {
			row[h] = r[i]
		}
		out[row["id"]] = row
	}
	return out
}

func TestExportContacts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Export")
	other := env.Workspace(t, "Export other")
	for _, d := range []map[string]any{
		{"key": "note", "label": "Note", "type": "TEXT"},
		{"key": "score", "label": "Score", "type": "NUMBER"},
		{"key": "tier", "label": "Tier", "type": "LIST", "options": []string{"Gold", "Silver"}},
	} {
		env.MustDo(t, ws.Owner(), `mutation($in: CreateCustomFieldDefinitionInput!) { createCustomFieldDefinition(input: $in) { customFieldDefinition { id } } }`,
			map[string]any{"in": d}, nil)
	}
	env.MustDo(t, ws.Owner(), `mutation { setContactFieldOrder(input: {keys: ["note", "email", "firstName", "tier"]}) { workspace { id } } }`, nil, nil)
	var viewer struct{ Viewer struct{ ID, Email string } }
	env.MustDo(t, ws.Manager(), `{ viewer { id email } }`, nil, &viewer)

	zoe := mustCreate(t, env, ws.Owner(), map[string]any{
		"firstName": `Zoë, "the" Great`, "lastName": "李小龙", "emails": []string{"zoe@example.com", "zoe@work.example"},
		"phones":     []string{"+393331234567", "+447911123456", "+33612345678"},
		"assigneeId": viewer.Viewer.ID,
		"customFields": []map[string]any{
			{"key": "note", "value": "line one\nline two, with a comma and \"quotes\""},
			{"key": "score", "value": "-3.5"},
		},
	})
	formula := mustCreate(t, env, ws.Owner(), map[string]any{
		"firstName": `=HYPERLINK("http://evil.example","click")`, "lastName": "@SUM(1+1)",
		"customFields": []map[string]any{{"key": "note", "value": "+cmd|' /C calc'!A0"}, {"key": "tier", "value": "Gold"}},
	})
	arabic := mustCreate(t, env, ws.Owner(), map[string]any{"firstName": "محمد", "lastName": "-minus", "country": "EG"})
	// Tab and CR lead no value the API stores (it trims), but a cell may still start with them.
	var control string
	if err := env.DB.GetContext(context.Background(), &control, `INSERT INTO contacts (workspace_id, first_name, last_name)
		VALUES ($1, E'\tTabbed', E'\rCarriage') RETURNING id`, ws.ID); err != nil {
		t.Fatal(err)
	}
	control = globalid.Encode("Contact", control)
	env.MustDo(t, ws.Owner(), `mutation($ids: [ID!]) { addTagsToContacts(input: {contactIds: $ids, tagNames: ["VIP", "Ελληνικά"]}) { tags { id } } }`,
		map[string]any{"ids": []string{zoe}}, nil)
	foreign := mustCreate(t, env, other.Owner(), map[string]any{"firstName": "Foreign"})
	// A contact linked on a channel, for the channelIds filter.
	var ch struct {
		CreateChannel struct{ Channel struct{ ID string } }
	}
	env.MustDo(t, ws.Owner(), `mutation { createChannel(input: {type: WHATSAPP, name: "WA"}) { channel { id } } }`, nil, &ch)
	wa := ch.CreateChannel.Channel.ID
	var rec struct {
		ReceiveMessage struct{ Contact struct{ ID string } }
	}
	env.MustDo(t, ws.Agent(), `mutation($ch: ID!) { receiveMessage(input: {channelId: $ch, identifier: "+393339998877", text: "hi"}) { contact { id } } }`,
		map[string]any{"ch": wa}, &rec)
	linked := rec.ReceiveMessage.Contact.ID

	var order struct {
		Workspace struct{ ContactFieldOrder []string }
	}
	env.MustDo(t, ws.Agent(), `{ workspace { contactFieldOrder } }`, nil, &order)
	// The other phones and emails follow their primary's column.
	wantHeader := []string{"id"}
	for _, k := range order.Workspace.ContactFieldOrder {
		wantHeader = append(wantHeader, k)
		switch k {
		case "email":
			wantHeader = append(wantHeader, "otherEmails")
		case "phone":
			wantHeader = append(wantHeader, "otherPhones")
		}
	}
	wantHeader = append(wantHeader, "tags")
	if !slices.Equal(wantHeader[:6], []string{"id", "note", "email", "otherEmails", "firstName", "tier"}) {
		t.Fatalf("field order: got %v, want note, email, otherEmails, firstName, tier first", wantHeader)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, token := range []string{ws.Owner(), ws.Manager(), ws.Agent()} {
			records := exportCSV(t, env, token, url.Values{"ids": {zoe, formula, arabic, control}})
			if !slices.Equal(records[0], wantHeader) {
				t.Errorf("header: got %q, want %q", records[0], wantHeader)
			}
			if len(records) != 5 {
				t.Fatalf("records: got %d, want a header and 4 rows", len(records))
			}
			var ids []string
			for _, r := range records[1:] {
				ids = append(ids, r[0])
			}
			if !slices.Equal(ids, []string{zoe, formula, arabic, control}) {
				t.Errorf("row order: got %v, want the order of ids", ids)
			}
			rows := rowsByID(t, records)
			want := map[string]map[string]string{
				zoe: {"firstName": `Zoë, "the" Great`, "lastName": "李小龙", "email": "zoe@example.com", "phone": "'+393331234567",
					"otherEmails": "zoe@work.example", "otherPhones": "'+447911123456, +33612345678",
					"country": "IT", "assignee": viewer.Viewer.Email, "note": "line one\nline two, with a comma and \"quotes\"",
					"score": "'-3.5", "tier": "", "tags": "VIP, Ελληνικά"},
				formula: {"firstName": `'=HYPERLINK("http://evil.example","click")`, "lastName": "'@SUM(1+1)", "note": "'+cmd|' /C calc'!A0",
					"tier": "Gold", "email": "", "phone": "", "otherEmails": "", "otherPhones": "", "tags": ""},
				arabic:  {"firstName": "محمد", "lastName": "'-minus", "country": "EG"},
				control: {"firstName": "'\tTabbed", "lastName": "'\rCarriage"},
			}
			for id, fields := range want {
				for k, v := range fields {
					if got := rows[id][k]; got != v {
						t.Errorf("contact %s, %s: got %q, want %q", id, k, got, v)
					}
				}
			}
		}
	})

	t.Run("Filter", func(t *testing.T) {
		var tag struct {
			Tags struct {
				Edges []struct{ Node struct{ ID, Name string } }
			}
		}
		env.MustDo(t, ws.Owner(), `{ tags(search: "VIP") { edges { node { id name } } } }`, nil, &tag)
		for _, tc := range []struct {
			name string
			q    url.Values
			want []string
		}{
			{"All", url.Values{}, []string{zoe, formula, arabic, control, linked}},
			{"Search", url.Values{"search": {"zoë"}}, []string{zoe}},
			{"Tag", url.Values{"tagIds": {tag.Tags.Edges[0].Node.ID}}, []string{zoe}},
			{"TagAll", url.Values{"tagIds": {tag.Tags.Edges[0].Node.ID}, "tagMatch": {"ALL"}}, []string{zoe}},
			{"Country", url.Values{"country": {"eg"}}, []string{arabic}},
			{"Assignee", url.Values{"assigneeId": {viewer.Viewer.ID}}, []string{zoe}},
			{"NotBlocked", url.Values{"blocked": {"false"}}, []string{zoe, formula, arabic, control, linked}},
			{"Blocked", url.Values{"blocked": {"true"}}, nil},
			{"Channel", url.Values{"channelIds": {wa}}, []string{linked}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				records := exportCSV(t, env, ws.Agent(), tc.q)
				var got []string
				for _, r := range records[1:] {
					got = append(got, r[0])
				}
				if !sameSet(got, tc.want) {
					t.Errorf("ids: got %v, want %v", got, tc.want)
				}
				if !slices.Equal(records[0], wantHeader) {
					t.Errorf("header: got %v, want %v", records[0], wantHeader)
				}
			})
		}
	})

	t.Run("BOM", func(t *testing.T) {
		_, b := exportGet(t, env, ws.Owner(), url.Values{"ids": {zoe}, "bom": {"true"}})
		if !strings.HasPrefix(string(b), "\uFEFFid,") {
			t.Errorf("bom=true: got %q..., want a byte order mark then the header", string(b[:min(10, len(b))]))
		}
		_, b = exportGet(t, env, ws.Owner(), url.Values{"ids": {zoe}})
		if !strings.HasPrefix(string(b), "id,") {
			t.Errorf("default: got %q..., want the header first", string(b[:min(10, len(b))]))
		}
	})

	t.Run("ErrAuth", func(t *testing.T) {
		exportWantError(t, env, "", url.Values{}, http.StatusUnauthorized, "UNAUTHENTICATED", "")
		exportWantError(t, env, "rbk_not_a_token", url.Values{}, http.StatusUnauthorized, "UNAUTHENTICATED", "")
	})

	t.Run("ErrOtherWorkspaceNotFound", func(t *testing.T) {
		exportWantError(t, env, ws.Owner(), url.Values{"ids": {zoe, foreign}}, http.StatusNotFound, "NOT_FOUND", "ids")
		exportWantError(t, env, ws.Owner(), url.Values{"ids": {"bogus"}}, http.StatusNotFound, "NOT_FOUND", "ids")
		// The other workspace's export holds its own contact only.
		records := exportCSV(t, env, other.Agent(), url.Values{})
		if len(records) != 2 || records[1][0] != foreign {
			t.Errorf("other workspace's export: got %v, want its one contact", records)
		}
	})

	t.Run("ErrBadParameters", func(t *testing.T) {
		exportWantError(t, env, ws.Owner(), url.Values{"blocked": {"maybe"}}, http.StatusBadRequest, "BAD_USER_INPUT", "blocked")
		exportWantError(t, env, ws.Owner(), url.Values{"tagMatch": {"SOME"}}, http.StatusBadRequest, "BAD_USER_INPUT", "tagMatch")
		exportWantError(t, env, ws.Owner(), url.Values{"ids": {zoe}, "search": {"x"}}, http.StatusBadRequest, "BAD_USER_INPUT", "ids")
		exportWantError(t, env, ws.Owner(), url.Values{"assigneeId": {zoe}}, http.StatusNotFound, "NOT_FOUND", "assigneeId")
	})

	t.Run("ErrLimit", func(t *testing.T) {
		lws := env.Workspace(t, "Export limit")
		var ids []string
		for i := range 101 {
			ids = append(ids, mustCreate(t, env, lws.Owner(), map[string]any{"firstName": fmt.Sprintf("Many %03d", i)}))
		}
		msg := exportWantError(t, env, lws.Owner(), url.Values{}, http.StatusBadRequest, "LIMIT_EXCEEDED", "filter")
		if !strings.Contains(msg, "101") || !strings.Contains(msg, "100") {
			t.Errorf("message: got %q, want it to say 101 matched and the limit is 100", msg)
		}
		exportWantError(t, env, lws.Owner(), url.Values{"ids": ids}, http.StatusBadRequest, "LIMIT_EXCEEDED", "ids")
		if records := exportCSV(t, env, lws.Owner(), url.Values{"ids": ids[:100]}); len(records) != 101 {
			t.Errorf("100 ids: got %d records, want a header and 100 rows", len(records))
		}
		if records := exportCSV(t, env, lws.Owner(), url.Values{"search": {"many 0"}}); len(records) != 101 {
			t.Errorf("a filter matching 100: got %d records, want a header and 100 rows", len(records))
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
