package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"rubrica/graph/globalid"
	"rubrica/internal/testenv"
)

// The helpers of this file are prefixed ct so they never clash with those of the other
// test files of the package.

// ctFields are the contact fields the tests read back.
const ctFields = `id displayName firstName lastName email phone country language profilePictureUrl
	blocked blockedAt createdAt updatedAt assignee { id } tags { id name }
	customFields { definition { key } value }`

// ctContact is a contact as the API returns it.
type ctContact struct {
	ID                string  `json:"id"`
	DisplayName       string  `json:"displayName"`
	FirstName         *string `json:"firstName"`
	LastName          *string `json:"lastName"`
	Email             *string `json:"email"`
	Phone             *string `json:"phone"`
	Country           *string `json:"country"`
	Language          *string `json:"language"`
	ProfilePictureURL *string `json:"profilePictureUrl"`
	Blocked           bool    `json:"blocked"`
	BlockedAt         *string `json:"blockedAt"`
	CreatedAt         string  `json:"createdAt"`
	UpdatedAt         string  `json:"updatedAt"`
	Assignee          *struct {
		ID string `json:"id"`
	} `json:"assignee"`
	Tags []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"tags"`
	CustomFields []struct {
		Definition struct {
			Key string `json:"key"`
		} `json:"definition"`
		Value *string `json:"value"`
	} `json:"customFields"`
}

// assigneeID returns the assignee's id, or "" when there is none.
func (c ctContact) assigneeID() string {
	if c.Assignee == nil {
		return ""
	}
	return c.Assignee.ID
}

// custom returns the custom values by key.
func (c ctContact) custom() map[string]string {
	out := map[string]string{}
	for _, v := range c.CustomFields {
		out[v.Definition.Key] = ctDeref(v.Value)
	}
	return out
}

func ctDeref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func ctPtr(s string) *string { return &s }

// ctWantString checks a nullable string field; want nil means null.
func ctWantString(t *testing.T, name string, got, want *string) {
	t.Helper()
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		t.Errorf("%s: got %s, want %s", name, ctDeref(got), ctDeref(want))
	}
}

// ctWantError checks that a response failed with the code and extensions.field.
func ctWantError(t *testing.T, r *testenv.Response, code, field string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("errors: got none (data %s), want %s about %q", r.Data, code, field)
	}
	if got := r.Code(); got != code {
		t.Errorf("extensions.code: got %q, want %q (message %q)", got, code, r.Errors[0].Message)
	}
	if got := r.Field(); got != field {
		t.Errorf("extensions.field: got %q, want %q (message %q)", got, field, r.Errors[0].Message)
	}
}

const ctCreateMutation = `mutation($input: CreateContactInput!) { createContact(input: $input) { contact { ` + ctFields + ` } } }`

const ctUpdateMutation = `mutation($input: UpdateContactInput!) { updateContact(input: $input) { contact { ` + ctFields + ` } } }`

// ctCreate creates a contact and fails the test on any error.
func ctCreate(t *testing.T, env *testenv.Env, token string, input map[string]any) ctContact {
	t.Helper()
	var out struct {
		CreateContact struct{ Contact ctContact } `json:"createContact"`
	}
	env.MustDo(t, token, ctCreateMutation, map[string]any{"input": input}, &out)
	return out.CreateContact.Contact
}

// ctUpdate updates a contact and fails the test on any error.
func ctUpdate(t *testing.T, env *testenv.Env, token string, input map[string]any) ctContact {
	t.Helper()
	var out struct {
		UpdateContact struct{ Contact ctContact } `json:"updateContact"`
	}
	env.MustDo(t, token, ctUpdateMutation, map[string]any{"input": input}, &out)
	return out.UpdateContact.Contact
}

// ctGet reads a contact back with contact(id).
func ctGet(t *testing.T, env *testenv.Env, token, id string) ctContact {
	t.Helper()
	var out struct{ Contact *ctContact }
	env.MustDo(t, token, `query($id: ID!) { contact(id: $id) { `+ctFields+` } }`, map[string]any{"id": id}, &out)
	if out.Contact == nil {
		t.Fatalf("contact(%s): got null, want the contact", id)
	}
	return *out.Contact
}

// ctGetRaw reads a contact back as raw JSON, to compare it whole.
func ctGetRaw(t *testing.T, env *testenv.Env, token, id string) string {
	t.Helper()
	r := env.Do(t, token, `query($id: ID!) { contact(id: $id) { `+ctFields+` } }`, map[string]any{"id": id})
	if len(r.Errors) > 0 {
		t.Fatalf("contact(%s): unexpected errors %+v", id, r.Errors)
	}
	return string(r.Data)
}

// ctStored counts the contacts stored for a workspace, straight from the database.
func ctStored(t *testing.T, env *testenv.Env, ws *testenv.Workspace) int {
	t.Helper()
	var n int
	if err := env.DB.GetContext(context.Background(), &n, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, ws.ID); err != nil {
		t.Fatal(err)
	}
	return n
}

// ctMemberID returns the member id of a token's member.
func ctMemberID(t *testing.T, env *testenv.Env, token string) string {
	t.Helper()
	var out struct{ Viewer struct{ ID string } }
	env.MustDo(t, token, `{ viewer { id } }`, nil, &out)
	if out.Viewer.ID == "" {
		t.Fatal("viewer.id: got empty, want an id")
	}
	return out.Viewer.ID
}

// ctLocal returns the local id inside a global id.
func ctLocal(t *testing.T, gid string) string {
	t.Helper()
	_, id, ok := globalid.Decode(gid)
	if !ok {
		t.Fatalf("global id %q: cannot decode", gid)
	}
	return id
}

// ctDefineAll creates one custom field of every type, as owner, in this order.
func ctDefineAll(t *testing.T, env *testenv.Env, ws *testenv.Workspace) {
	t.Helper()
	defs := []map[string]any{
		{"key": "note", "label": "Note", "type": "TEXT"},
		{"key": "score", "label": "Score", "type": "NUMBER"},
		{"key": "birthday", "label": "Birthday", "type": "DATE"},
		{"key": "vip", "label": "VIP", "type": "CHECKBOX"},
		{"key": "tier", "label": "Tier", "type": "LIST", "options": []string{"Gold", "Silver"}},
		{"key": "website", "label": "Website", "type": "URL"},
		{"key": "workEmail", "label": "Work email", "type": "EMAIL"},
		{"key": "workPhone", "label": "Work phone", "type": "PHONE"},
	}
	for _, d := range defs {
		env.MustDo(t, ws.Owner(), `mutation($input: CreateCustomFieldDefinitionInput!) {
			createCustomFieldDefinition(input: $input) { customFieldDefinition { id } } }`, map[string]any{"input": d}, nil)
	}
}

// ctCustomKeys are the keys ctDefineAll creates, in order.
var ctCustomKeys = []string{"note", "score", "birthday", "vip", "tier", "website", "workEmail", "workPhone"}

func TestCreateContact(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create OK")
		ctDefineAll(t, env, ws)
		agent := ctMemberID(t, env, ws.Agent())
		c := ctCreate(t, env, ws.Owner(), map[string]any{
			"firstName":         "  Ada ",
			"lastName":          "\tLovelace  ",
			"email":             "  Ada.Lovelace@Example.com ",
			"phone":             "+393331234567",
			"language":          "pt-br",
			"profilePictureUrl": "https://example.com/ada.png",
			"assigneeId":        agent,
			"customFields": []map[string]any{
				{"key": "workPhone", "value": "+14155552671"},
				{"key": "note", "value": "  first programmer  "},
				{"key": "score", "value": "42.50"},
				{"key": "birthday", "value": "1815-12-10"},
				{"key": "vip", "value": "TRUE"},
				{"key": "tier", "value": "Gold"},
				{"key": "website", "value": "https://ada.example.com/about"},
				{"key": "workEmail", "value": " ada@work.example "},
			},
		})
		check := func(t *testing.T, c ctContact) {
			t.Helper()
			ctWantString(t, "firstName", c.FirstName, ctPtr("Ada"))
			ctWantString(t, "lastName", c.LastName, ctPtr("Lovelace"))
			ctWantString(t, "email", c.Email, ctPtr("Ada.Lovelace@Example.com"))
			ctWantString(t, "phone", c.Phone, ctPtr("+393331234567"))
			ctWantString(t, "country", c.Country, ctPtr("IT"))
			ctWantString(t, "language", c.Language, ctPtr("pt-BR"))
			ctWantString(t, "profilePictureUrl", c.ProfilePictureURL, ctPtr("https://example.com/ada.png"))
			if c.DisplayName != "Ada Lovelace" {
				t.Errorf("displayName: got %q, want %q", c.DisplayName, "Ada Lovelace")
			}
			if got := c.assigneeID(); got != agent {
				t.Errorf("assignee.id: got %q, want %q", got, agent)
			}
			if c.Blocked || c.BlockedAt != nil {
				t.Errorf("blocked, blockedAt: got %v, %s, want false, null", c.Blocked, ctDeref(c.BlockedAt))
			}
			if c.CreatedAt == "" || c.UpdatedAt == "" {
				t.Errorf("createdAt, updatedAt: got %q, %q, want times", c.CreatedAt, c.UpdatedAt)
			}
			want := map[string]string{
				"note": "first programmer", "score": "42.5", "birthday": "1815-12-10", "vip": "true", "tier": "Gold",
				"website": "https://ada.example.com/about", "workEmail": "ada@work.example", "workPhone": "+14155552671",
			}
			if got := c.custom(); !reflect.DeepEqual(got, want) {
				t.Errorf("customFields: got %v, want %v", got, want)
			}
			// In the workspace's field order, which by default is the definitions' order.
			var keys []string
			for _, v := range c.CustomFields {
				keys = append(keys, v.Definition.Key)
			}
			if !reflect.DeepEqual(keys, ctCustomKeys) {
				t.Errorf("customFields order: got %v, want %v", keys, ctCustomKeys)
			}
		}
		t.Run("Payload", func(t *testing.T) { check(t, c) })
		t.Run("Stored", func(t *testing.T) { check(t, ctGet(t, env, ws.Owner(), c.ID)) })
	})

	t.Run("CountryFromPhone", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create country")
		for phone, want := range map[string]*string{
			"+393331234567":  ctPtr("IT"),
			"+14155552671":   ctPtr("US"),
			"+33612345678":   ctPtr("FR"),
			"+4915112345678": ctPtr("DE"),
			"+80012345678":   nil, // international freephone: no country
		} {
			c := ctCreate(t, env, ws.Agent(), map[string]any{"phone": phone})
			ctWantString(t, "country of "+phone, c.Country, want)
		}
	})

	t.Run("CountryByHand", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create country by hand")
		c := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567", "country": " fr "})
		ctWantString(t, "country", c.Country, ctPtr("FR"))
		c = ctCreate(t, env, ws.Owner(), map[string]any{"country": "de"})
		ctWantString(t, "country without phone", c.Country, ctPtr("DE"))
	})

	t.Run("DisplayName", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create display name")
		for _, tc := range []struct {
			name  string
			input map[string]any
			want  string
		}{
			{"FirstAndLast", map[string]any{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+393331234567"}, "Ada Lovelace"},
			{"FirstOnly", map[string]any{"firstName": " Ada ", "email": "ada@example.com"}, "Ada"},
			{"LastOnly", map[string]any{"lastName": "Lovelace", "phone": "+393331234567"}, "Lovelace"},
			{"Email", map[string]any{"email": " ada@example.com ", "phone": "+393331234567"}, "ada@example.com"},
			{"BlankNamesEmail", map[string]any{"firstName": "   ", "lastName": "", "email": "ada@example.com"}, "ada@example.com"},
			{"Phone", map[string]any{"phone": "+393331234567"}, "+393331234567"},
			{"Unknown", map[string]any{}, "Unknown contact"},
			{"UnknownBlankNames", map[string]any{"firstName": " ", "lastName": "\t"}, "Unknown contact"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := ctCreate(t, env, ws.Owner(), tc.input)
				if c.DisplayName != tc.want {
					t.Errorf("displayName: got %q, want %q", c.DisplayName, tc.want)
				}
				if got := ctGet(t, env, ws.Owner(), c.ID).DisplayName; got != tc.want {
					t.Errorf("stored displayName: got %q, want %q", got, tc.want)
				}
			})
		}
	})

	t.Run("BlankNamesAreNull", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create blank names")
		c := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "  ", "lastName": "", "email": "  ", "language": " "})
		ctWantString(t, "firstName", c.FirstName, nil)
		ctWantString(t, "lastName", c.LastName, nil)
		ctWantString(t, "email", c.Email, nil)
		ctWantString(t, "language", c.Language, nil)
	})

	t.Run("LongestNames", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create longest names")
		// 255 characters, more than 255 bytes: the limit counts characters.
		name := strings.Repeat("é", 255)
		c := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": name, "lastName": " " + name + " "})
		ctWantString(t, "firstName", c.FirstName, &name)
		ctWantString(t, "lastName", c.LastName, &name)
	})

	t.Run("AssigneeEveryRole", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create assignee roles")
		for _, token := range []string{ws.Owner(), ws.Manager(), ws.Agent()} {
			member := ctMemberID(t, env, token)
			// Every role may create contacts, and every member may be an assignee.
			c := ctCreate(t, env, token, map[string]any{"firstName": "Assigned", "assigneeId": member})
			if got := c.assigneeID(); got != member {
				t.Errorf("assignee.id: got %q, want %q", got, member)
			}
		}
	})

	t.Run("ErrAssigneeOtherWorkspaceNotFoundByPolicy", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create foreign assignee")
		other := env.Workspace(t, "Create foreign assignee other")
		// A member of another workspace is NOT_FOUND (never FORBIDDEN): its existence is not revealed.
		foreign := ctMemberID(t, env, other.Agent())
		r := env.Do(t, ws.Owner(), ctCreateMutation, map[string]any{"input": map[string]any{"firstName": "Ada", "assigneeId": foreign}})
		ctWantError(t, r, "NOT_FOUND", "assigneeId")
		if n := ctStored(t, env, ws); n != 0 {
			t.Errorf("contacts stored: got %d, want 0", n)
		}
	})

	t.Run("ErrAssigneeMalformedNotFound", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Create malformed assignee")
		contact := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Not a member"})
		for name, id := range map[string]string{
			"Garbage":       "not-an-id",
			"Empty":         "",
			"ContactID":     contact.ID,
			"UnknownMember": globalid.Encode("Member", uuid.NewString()),
			"NotUUID":       globalid.Encode("Member", "42"),
		} {
			t.Run(name, func(t *testing.T) {
				r := env.Do(t, ws.Owner(), ctCreateMutation, map[string]any{"input": map[string]any{"firstName": "Ada", "assigneeId": id}})
				ctWantError(t, r, "NOT_FOUND", "assigneeId")
			})
		}
		if n := ctStored(t, env, ws); n != 1 {
			t.Errorf("contacts stored: got %d, want 1", n)
		}
	})
}

// ctInvalidCases are inputs that must be refused, each with the field the error names. Each
// is merged into a valid input, so that a partial write would show.
var ctInvalidCases = []struct {
	name  string
	input map[string]any
	field string
}{
	{"ErrPhoneNotE164", map[string]any{"phone": "3331234567"}, "phone"},
	{"ErrPhoneNotE164Spaces", map[string]any{"phone": "+39 333 1234567"}, "phone"},
	{"ErrPhoneNotE164Dashes", map[string]any{"phone": "+39-333-1234567"}, "phone"},
	{"ErrPhoneTooShort", map[string]any{"phone": "+12"}, "phone"},
	{"ErrPhoneInvalidNumber", map[string]any{"phone": "+15550000000"}, "phone"},
	{"ErrPhoneUnknownCountryCode", map[string]any{"phone": "+999123456789"}, "phone"},
	{"ErrPhoneLeadingZero", map[string]any{"phone": "+3903331234567"}, "phone"},
	{"ErrEmail", map[string]any{"email": "not-an-email"}, "email"},
	{"ErrEmailWithName", map[string]any{"email": "Ada <ada@example.com>"}, "email"},
	{"ErrEmailNoDomainDot", map[string]any{"email": "ada@localhost"}, "email"},
	{"ErrLanguage", map[string]any{"language": "xx-invalid-!!"}, "language"},
	{"ErrCountry", map[string]any{"country": "ZZZ"}, "country"},
	{"ErrCountryUnknown", map[string]any{"country": "ZZ"}, "country"},
	{"ErrCountryNumeric", map[string]any{"country": "39"}, "country"},
	{"ErrFirstNameTooLong", map[string]any{"firstName": strings.Repeat("a", 256)}, "firstName"},
	{"ErrLastNameTooLong", map[string]any{"lastName": strings.Repeat("é", 256)}, "lastName"},
	{"ErrFirstNameNUL", map[string]any{"firstName": "Ada\x00"}, "firstName"},
	{"ErrLastNameNUL", map[string]any{"lastName": "\x00"}, "lastName"},
	{"ErrProfilePictureURL", map[string]any{"profilePictureUrl": "ftp://x"}, "profilePictureUrl"},
	{"ErrProfilePictureURLRelative", map[string]any{"profilePictureUrl": "/ada.png"}, "profilePictureUrl"},
	{"ErrCustomNumber", ctCustom("score", "abc"), "customFields.score"},
	{"ErrCustomNumberInfinite", ctCustom("score", "1e999"), "customFields.score"},
	{"ErrCustomDate", ctCustom("birthday", "2026-13-01"), "customFields.birthday"},
	{"ErrCustomDateFormat", ctCustom("birthday", "01/02/2026"), "customFields.birthday"},
	{"ErrCustomCheckbox", ctCustom("vip", "maybe"), "customFields.vip"},
	{"ErrCustomList", ctCustom("tier", "Platinum"), "customFields.tier"},
	{"ErrCustomURL", ctCustom("website", "ftp://x"), "customFields.website"},
	{"ErrCustomEmail", ctCustom("workEmail", "not-an-email"), "customFields.workEmail"},
	{"ErrCustomPhone", ctCustom("workPhone", "333 1234567"), "customFields.workPhone"},
	{"ErrCustomTextTooLong", ctCustom("note", strings.Repeat("x", 10001)), "customFields.note"},
	{"ErrCustomTextNUL", map[string]any{"customFields": []map[string]any{{"key": "note", "value": "a\x00b"}}}, "customFields.note"},
	{"ErrCustomUnknownKey", ctCustom("shoeSize", "42"), "customFields.shoeSize"},
	{"ErrCustomKeyTwice", map[string]any{"customFields": []map[string]any{
		{"key": "score", "value": "1"}, {"key": "score", "value": "2"}}}, "customFields.score"},
	{"ErrCustomStandardKey", ctCustom("firstName", "Ada"), "customFields.firstName"},
}

// ctCustom is an input that sets one custom field, after a valid one.
func ctCustom(key, value string) map[string]any {
	return map[string]any{"customFields": []map[string]any{{"key": "note", "value": "valid"}, {"key": key, "value": value}}}
}

func ctMerge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func TestCreateContactValidation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	valid := map[string]any{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+393331234567",
		"language": "en", "country": "GB", "profilePictureUrl": "https://example.com/ada.png",
		"customFields": []map[string]any{{"key": "score", "value": "1"}},
	}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Validation OK")
		ctDefineAll(t, env, ws)
		ctCreate(t, env, ws.Owner(), valid)
		if n := ctStored(t, env, ws); n != 1 {
			t.Errorf("contacts stored: got %d, want 1", n)
		}
	})
	for _, tc := range ctInvalidCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ws := env.Workspace(t, "Validation "+tc.name)
			ctDefineAll(t, env, ws)
			r := env.Do(t, ws.Owner(), ctCreateMutation, map[string]any{"input": ctMerge(valid, tc.input)})
			ctWantError(t, r, "BAD_USER_INPUT", tc.field)
			if n := ctStored(t, env, ws); n != 0 {
				t.Errorf("contacts stored: got %d, want 0", n)
			}
			if got := ctTotal(t, env, ws.Owner(), nil); got != 0 {
				t.Errorf("contacts.totalCount: got %d, want 0", got)
			}
		})
	}
	t.Run("ErrCustomKeyOfOtherWorkspace", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, "Validation foreign key")
		other := env.Workspace(t, "Validation foreign key other")
		ctDefineAll(t, env, other)
		r := env.Do(t, ws.Owner(), ctCreateMutation, map[string]any{"input": map[string]any{
			"firstName": "Ada", "customFields": []map[string]any{{"key": "score", "value": "1"}}}})
		ctWantError(t, r, "BAD_USER_INPUT", "customFields.score")
		if n := ctStored(t, env, ws); n != 0 {
			t.Errorf("contacts stored: got %d, want 0", n)
		}
	})
}

func TestUpdateContact(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Update")
	ctDefineAll(t, env, ws)
	agent := ctMemberID(t, env, ws.Agent())
	manager := ctMemberID(t, env, ws.Manager())
	full := map[string]any{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+393331234567",
		"language": "it", "profilePictureUrl": "https://example.com/ada.png", "assigneeId": agent,
		"customFields": []map[string]any{{"key": "note", "value": "hello"}, {"key": "score", "value": "7"}},
	}

	t.Run("OmittedFieldsUnchanged", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), full)
		c := ctUpdate(t, env, ws.Agent(), map[string]any{"id": before.ID, "firstName": "  Augusta "})
		ctWantString(t, "firstName", c.FirstName, ctPtr("Augusta"))
		if c.DisplayName != "Augusta Lovelace" {
			t.Errorf("displayName: got %q, want %q", c.DisplayName, "Augusta Lovelace")
		}
		got := ctGet(t, env, ws.Owner(), before.ID)
		ctWantString(t, "stored firstName", got.FirstName, ctPtr("Augusta"))
		ctWantString(t, "lastName", got.LastName, before.LastName)
		ctWantString(t, "email", got.Email, before.Email)
		ctWantString(t, "phone", got.Phone, before.Phone)
		ctWantString(t, "country", got.Country, ctPtr("IT"))
		ctWantString(t, "language", got.Language, before.Language)
		ctWantString(t, "profilePictureUrl", got.ProfilePictureURL, before.ProfilePictureURL)
		if got.assigneeID() != agent {
			t.Errorf("assignee.id: got %q, want %q", got.assigneeID(), agent)
		}
		if want := map[string]string{"note": "hello", "score": "7"}; !reflect.DeepEqual(got.custom(), want) {
			t.Errorf("customFields: got %v, want %v", got.custom(), want)
		}
		if got.CreatedAt != before.CreatedAt {
			t.Errorf("createdAt: got %s, want %s", got.CreatedAt, before.CreatedAt)
		}
	})

	t.Run("NullClears", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), full)
		c := ctUpdate(t, env, ws.Owner(), map[string]any{
			"id": before.ID, "lastName": nil, "email": nil, "language": nil, "profilePictureUrl": nil,
			"assigneeId": nil, "customFields": []map[string]any{{"key": "note", "value": nil}},
		})
		for _, got := range []ctContact{c, ctGet(t, env, ws.Owner(), before.ID)} {
			ctWantString(t, "firstName", got.FirstName, ctPtr("Ada"))
			ctWantString(t, "lastName", got.LastName, nil)
			ctWantString(t, "email", got.Email, nil)
			ctWantString(t, "language", got.Language, nil)
			ctWantString(t, "profilePictureUrl", got.ProfilePictureURL, nil)
			ctWantString(t, "phone", got.Phone, ctPtr("+393331234567"))
			if got.Assignee != nil {
				t.Errorf("assignee: got %q, want null", got.assigneeID())
			}
			if want := map[string]string{"score": "7"}; !reflect.DeepEqual(got.custom(), want) {
				t.Errorf("customFields: got %v, want %v", got.custom(), want)
			}
		}
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "firstName": nil, "phone": nil})
		ctWantString(t, "firstName", c.FirstName, nil)
		ctWantString(t, "phone", c.Phone, nil)
		ctWantString(t, "country", c.Country, nil)
		if c.DisplayName != "Unknown contact" {
			t.Errorf("displayName: got %q, want %q", c.DisplayName, "Unknown contact")
		}
	})

	t.Run("EmptyStringClearsCustomField", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), full)
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "customFields": []map[string]any{{"key": "score", "value": "  "}}})
		if want := map[string]string{"note": "hello"}; !reflect.DeepEqual(c.custom(), want) {
			t.Errorf("customFields: got %v, want %v", c.custom(), want)
		}
	})

	t.Run("CustomFieldsOthersStay", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), full)
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "customFields": []map[string]any{
			{"key": "score", "value": "8"}, {"key": "tier", "value": "Silver"}}})
		want := map[string]string{"note": "hello", "score": "8", "tier": "Silver"}
		if got := ctGet(t, env, ws.Owner(), before.ID).custom(); !reflect.DeepEqual(got, want) {
			t.Errorf("customFields: got %v, want %v", got, want)
		}
		if !reflect.DeepEqual(c.custom(), want) {
			t.Errorf("payload customFields: got %v, want %v", c.custom(), want)
		}
	})

	t.Run("PhoneChangeMovesCountry", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567"})
		ctWantString(t, "country", before.Country, ctPtr("IT"))
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+14155552671"})
		ctWantString(t, "phone", c.Phone, ctPtr("+14155552671"))
		ctWantString(t, "country", c.Country, ctPtr("US"))
		ctWantString(t, "stored country", ctGet(t, env, ws.Owner(), before.ID).Country, ctPtr("US"))
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": nil})
		ctWantString(t, "country after clearing the phone", c.Country, nil)
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+33612345678"})
		ctWantString(t, "country after a new phone", c.Country, ctPtr("FR"))
	})

	t.Run("OtherChangesKeepDerivedCountry", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "firstName": "Ada"})
		ctWantString(t, "country", c.Country, ctPtr("IT"))
	})

	t.Run("HandSetCountryKeptOnPhoneChange", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "country": "ch"})
		ctWantString(t, "country", c.Country, ctPtr("CH"))
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+14155552671"})
		ctWantString(t, "country after the phone changed", c.Country, ctPtr("CH"))
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": nil})
		ctWantString(t, "country after the phone was cleared", c.Country, ctPtr("CH"))
		ctWantString(t, "stored country", ctGet(t, env, ws.Owner(), before.ID).Country, ctPtr("CH"))
	})

	t.Run("HandSetCountryAtCreateKept", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567", "country": "SM"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+14155552671"})
		ctWantString(t, "country", c.Country, ctPtr("SM"))
	})

	t.Run("HandSetCountryAndPhoneTogether", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+14155552671", "country": "MX"})
		ctWantString(t, "country", c.Country, ctPtr("MX"))
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+33612345678"})
		ctWantString(t, "country after the next phone", c.Country, ctPtr("MX"))
	})

	t.Run("ClearCountryFollowsPhoneAgain", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567", "country": "FR"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "country": nil})
		ctWantString(t, "country after clearing it", c.Country, ctPtr("IT"))
		ctWantString(t, "stored country", ctGet(t, env, ws.Owner(), before.ID).Country, ctPtr("IT"))
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+14155552671"})
		ctWantString(t, "country after the phone changed", c.Country, ctPtr("US"))
	})

	t.Run("ClearCountryAndChangePhone", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"phone": "+393331234567", "country": "FR"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "country": nil, "phone": "+14155552671"})
		ctWantString(t, "country", c.Country, ctPtr("US"))
	})

	t.Run("ClearCountryWithoutPhone", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"country": "FR"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "country": nil})
		ctWantString(t, "country", c.Country, nil)
		c = ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "phone": "+393331234567"})
		ctWantString(t, "country after a phone", c.Country, ctPtr("IT"))
	})

	t.Run("UpdatedAtAdvances", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
		c := ctUpdate(t, env, ws.Owner(), map[string]any{"id": before.ID, "lastName": "Lovelace"})
		created, err1 := time.Parse(time.RFC3339Nano, before.UpdatedAt)
		updated, err2 := time.Parse(time.RFC3339Nano, c.UpdatedAt)
		if err1 != nil || err2 != nil {
			t.Fatalf("updatedAt: cannot parse %q, %q: %v %v", before.UpdatedAt, c.UpdatedAt, err1, err2)
		}
		if !updated.After(created) {
			t.Errorf("updatedAt: got %s, want after %s", c.UpdatedAt, before.UpdatedAt)
		}
		if c.CreatedAt != before.CreatedAt {
			t.Errorf("createdAt: got %s, want %s (unchanged)", c.CreatedAt, before.CreatedAt)
		}
		if got := ctGet(t, env, ws.Owner(), before.ID).UpdatedAt; got != c.UpdatedAt {
			t.Errorf("stored updatedAt: got %s, want %s", got, c.UpdatedAt)
		}
	})

	t.Run("AssigneeSetAndUnset", func(t *testing.T) {
		t.Parallel()
		before := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
		if before.Assignee != nil {
			t.Fatalf("assignee: got %q, want null", before.assigneeID())
		}
		c := ctUpdate(t, env, ws.Agent(), map[string]any{"id": before.ID, "assigneeId": manager})
		if c.assigneeID() != manager {
			t.Errorf("assignee.id: got %q, want %q", c.assigneeID(), manager)
		}
		c = ctUpdate(t, env, ws.Agent(), map[string]any{"id": before.ID, "assigneeId": agent})
		if c.assigneeID() != agent {
			t.Errorf("assignee.id: got %q, want %q", c.assigneeID(), agent)
		}
		c = ctUpdate(t, env, ws.Agent(), map[string]any{"id": before.ID, "firstName": "Augusta"})
		if c.assigneeID() != agent {
			t.Errorf("assignee.id after an unrelated change: got %q, want %q", c.assigneeID(), agent)
		}
		c = ctUpdate(t, env, ws.Agent(), map[string]any{"id": before.ID, "assigneeId": nil})
		if c.Assignee != nil {
			t.Errorf("assignee: got %q, want null", c.assigneeID())
		}
		if got := ctGet(t, env, ws.Owner(), before.ID); got.Assignee != nil {
			t.Errorf("stored assignee: got %q, want null", got.assigneeID())
		}
	})

	for _, tc := range ctInvalidCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ctCreate(t, env, ws.Owner(), full)
			before := ctGetRaw(t, env, ws.Owner(), c.ID)
			// A valid change next to the invalid one: neither may be applied.
			input := ctMerge(map[string]any{"id": c.ID, "firstName": "Changed", "assigneeId": manager}, tc.input)
			r := env.Do(t, ws.Owner(), ctUpdateMutation, map[string]any{"input": input})
			ctWantError(t, r, "BAD_USER_INPUT", tc.field)
			if after := ctGetRaw(t, env, ws.Owner(), c.ID); after != before {
				t.Errorf("contact after the refused update:\ngot  %s\nwant %s", after, before)
			}
		})
	}

	t.Run("ErrAssigneeOtherWorkspaceNotFoundByPolicy", func(t *testing.T) {
		t.Parallel()
		other := env.Workspace(t, "Update foreign assignee")
		foreign := ctMemberID(t, env, other.Owner())
		c := ctCreate(t, env, ws.Owner(), full)
		before := ctGetRaw(t, env, ws.Owner(), c.ID)
		r := env.Do(t, ws.Owner(), ctUpdateMutation, map[string]any{"input": map[string]any{"id": c.ID, "firstName": "Changed", "assigneeId": foreign}})
		ctWantError(t, r, "NOT_FOUND", "assigneeId")
		if after := ctGetRaw(t, env, ws.Owner(), c.ID); after != before {
			t.Errorf("contact after the refused update:\ngot  %s\nwant %s", after, before)
		}
	})

	t.Run("ErrAssigneeMalformedNotFound", func(t *testing.T) {
		t.Parallel()
		c := ctCreate(t, env, ws.Owner(), full)
		before := ctGetRaw(t, env, ws.Owner(), c.ID)
		r := env.Do(t, ws.Owner(), ctUpdateMutation, map[string]any{"input": map[string]any{"id": c.ID, "assigneeId": "not-an-id"}})
		ctWantError(t, r, "NOT_FOUND", "assigneeId")
		if after := ctGetRaw(t, env, ws.Owner(), c.ID); after != before {
			t.Errorf("contact after the refused update:\ngot  %s\nwant %s", after, before)
		}
	})

	t.Run("ErrIDMalformedNotFound", func(t *testing.T) {
		t.Parallel()
		for name, id := range map[string]string{
			"Garbage": "not-an-id",
			"Unknown": globalid.Encode("Contact", uuid.NewString()),
			"NotUUID": globalid.Encode("Contact", "1"),
			"Member":  agent,
		} {
			t.Run(name, func(t *testing.T) {
				r := env.Do(t, ws.Owner(), ctUpdateMutation, map[string]any{"input": map[string]any{"id": id, "firstName": "X"}})
				ctWantError(t, r, "NOT_FOUND", "id")
			})
		}
	})
}

// ctPage is one page of the contacts connection.
type ctPage struct {
	Edges []struct {
		Cursor string
		Node   struct {
			ID          string
			DisplayName string
		}
	}
	PageInfo struct {
		HasNextPage     bool
		HasPreviousPage bool
		StartCursor     *string
		EndCursor       *string
	}
	TotalCount int
}

const ctContactsQuery = `query($first: Int, $after: String, $last: Int, $before: String, $filter: ContactFilter, $orderBy: ContactOrder) {
	contacts(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
		edges { cursor node { id displayName } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		totalCount
	}
}`

// ctContacts runs the contacts query with the variables that are not nil.
func ctContacts(t *testing.T, env *testenv.Env, token string, vars map[string]any) ctPage {
	t.Helper()
	clean := map[string]any{}
	for k, v := range vars {
		if v != nil {
			clean[k] = v
		}
	}
	var out struct{ Contacts ctPage }
	env.MustDo(t, token, ctContactsQuery, clean, &out)
	return out.Contacts
}

// ctIDs returns a page's contact ids in order.
func (p ctPage) ids() []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.ID
	}
	return out
}

// ctTotal returns contacts.totalCount for a filter.
func ctTotal(t *testing.T, env *testenv.Env, token string, filter map[string]any) int {
	t.Helper()
	var vars map[string]any
	if filter != nil {
		vars = map[string]any{"filter": filter}
	}
	var out struct{ Contacts struct{ TotalCount int } }
	env.MustDo(t, token, `query($filter: ContactFilter) { contacts(filter: $filter) { totalCount } }`, vars, &out)
	return out.Contacts.TotalCount
}

// ctWalk pages through the whole list, forward with first/after or backward with
// last/before, checks every page's pageInfo, and returns the ids in list order.
func ctWalk(t *testing.T, env *testenv.Env, token string, orderBy any, size int, backward bool, total int) []string {
	t.Helper()
	var ids []string
	var cursor any
	pages := (total + size - 1) / size
	for i := 0; ; i++ {
		if i > pages+1 {
			t.Fatalf("page %d: the list does not end, want %d pages", i, pages)
		}
		vars := map[string]any{"orderBy": orderBy}
		if backward {
			vars["last"], vars["before"] = size, cursor
		} else {
			vars["first"], vars["after"] = size, cursor
		}
		p := ctContacts(t, env, token, vars)
		if p.TotalCount != total {
			t.Errorf("page %d: totalCount: got %d, want %d", i, p.TotalCount, total)
		}
		last := i == pages-1
		if want := size; last {
			want = total - size*(pages-1)
			if len(p.Edges) != want {
				t.Fatalf("page %d: got %d edges, want %d", i, len(p.Edges), want)
			}
		} else if len(p.Edges) != want {
			t.Fatalf("page %d: got %d edges, want %d", i, len(p.Edges), want)
		}
		more, before := p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage
		if backward {
			more, before = before, more
		}
		if more == last {
			t.Errorf("page %d of %d: more pages to come (hasNextPage forward, hasPreviousPage backward): got %v, want %v", i, pages, more, !last)
		}
		if before != (i > 0) {
			t.Errorf("page %d of %d: pages already seen (hasPreviousPage forward, hasNextPage backward): got %v, want %v", i, pages, before, i > 0)
		}
		if ctDeref(p.PageInfo.StartCursor) != p.Edges[0].Cursor || ctDeref(p.PageInfo.EndCursor) != p.Edges[len(p.Edges)-1].Cursor {
			t.Errorf("page %d: startCursor, endCursor: got %s, %s, want the first and last edges' cursors %s, %s", i,
				ctDeref(p.PageInfo.StartCursor), ctDeref(p.PageInfo.EndCursor), p.Edges[0].Cursor, p.Edges[len(p.Edges)-1].Cursor)
		}
		if backward {
			ids = append(p.ids(), ids...)
			cursor = ctDeref(p.PageInfo.StartCursor)
		} else {
			ids = append(ids, p.ids()...)
			cursor = ctDeref(p.PageInfo.EndCursor)
		}
		if last {
			return ids
		}
	}
}

func ctReversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestContactsPagination(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Pagination")
	// Names in no particular order, with ties (only case differs) for the id to break, and
	// contacts named by their email, their phone or nothing.
	inputs := []map[string]any{
		{"firstName": "Mara", "lastName": "Rossi"}, {"firstName": "bruno"}, {"firstName": "Zeno", "lastName": "Adami"},
		{"firstName": "Carla"}, {"firstName": "same", "lastName": "name"}, {"email": "nina@example.com"},
		{"firstName": "Elio"}, {"firstName": "Same", "lastName": "Name"}, {"lastName": "Quarta"},
		{"firstName": "dario"}, {"phone": "+393331234567"}, {"firstName": "Ugo"}, {"firstName": "SAME", "lastName": "NAME"},
		{"firstName": "Fabio"}, {}, {"firstName": "Gina"}, {"firstName": "Aldo"}, {"email": "bea@example.com"},
		{"firstName": "Ivo"}, {"firstName": "Lia"}, {"firstName": "Olga"}, {"firstName": "Pia"}, {"firstName": "Teo"},
		{"firstName": "Vera"}, {"firstName": "Hugo"},
	}
	var created []string
	names := map[string]string{}
	for _, in := range inputs {
		c := ctCreate(t, env, ws.Owner(), in)
		created = append(created, c.ID)
		names[c.ID] = c.DisplayName
	}
	// Update them all in another order: the UPDATED_AT order.
	var updated []string
	for i := range created {
		id := created[(i*7+3)%len(created)]
		ctUpdate(t, env, ws.Owner(), map[string]any{"id": id, "language": "it"})
		updated = append(updated, id)
	}
	byName := append([]string(nil), created...)
	sort.Slice(byName, func(i, j int) bool {
		a, b := strings.ToLower(names[byName[i]]), strings.ToLower(names[byName[j]])
		if a != b {
			return a < b
		}
		return ctLocal(t, byName[i]) < ctLocal(t, byName[j])
	})

	orders := []struct {
		name    string
		orderBy any
		want    []string
	}{
		{"Default", nil, ctReversed(created)},
		{"CreatedAtDesc", map[string]any{"field": "CREATED_AT", "direction": "DESC"}, ctReversed(created)},
		{"CreatedAtAsc", map[string]any{"field": "CREATED_AT", "direction": "ASC"}, created},
		{"UpdatedAtAsc", map[string]any{"field": "UPDATED_AT", "direction": "ASC"}, updated},
		{"UpdatedAtDesc", map[string]any{"field": "UPDATED_AT", "direction": "DESC"}, ctReversed(updated)},
		{"NameAsc", map[string]any{"field": "NAME", "direction": "ASC"}, byName},
		{"NameDesc", map[string]any{"field": "NAME", "direction": "DESC"}, ctReversed(byName)},
	}
	show := func(ids []string) string {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = names[id]
		}
		return strings.Join(s, ", ")
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{1, 7, 25, 100} {
				for _, backward := range []bool{false, true} {
					dir := "Forward"
					if backward {
						dir = "Backward"
					}
					t.Run(fmt.Sprintf("%sSize%d", dir, size), func(t *testing.T) {
						got := ctWalk(t, env, ws.Agent(), o.orderBy, size, backward, len(created))
						if !reflect.DeepEqual(got, o.want) {
							t.Errorf("order:\ngot  %s\nwant %s", show(got), show(o.want))
						}
					})
				}
			}
		})
	}

	t.Run("BackwardFromMiddle", func(t *testing.T) {
		t.Parallel()
		first := ctContacts(t, env, ws.Owner(), map[string]any{"first": 10})
		back := ctContacts(t, env, ws.Owner(), map[string]any{"last": 4, "before": first.Edges[9].Cursor})
		if want := ctReversed(created)[5:9]; !reflect.DeepEqual(back.ids(), want) {
			t.Errorf("last 4 before the 10th: got %s, want %s", show(back.ids()), show(want))
		}
		if !back.PageInfo.HasNextPage || !back.PageInfo.HasPreviousPage {
			t.Errorf("hasNextPage, hasPreviousPage: got %v, %v, want true, true", back.PageInfo.HasNextPage, back.PageInfo.HasPreviousPage)
		}
		between := ctContacts(t, env, ws.Owner(), map[string]any{"first": 100, "after": first.Edges[2].Cursor, "before": first.Edges[6].Cursor})
		if want := ctReversed(created)[3:6]; !reflect.DeepEqual(between.ids(), want) {
			t.Errorf("between the 3rd and the 7th: got %s, want %s", show(between.ids()), show(want))
		}
	})

	t.Run("DefaultPageSize", func(t *testing.T) {
		t.Parallel()
		p := ctContacts(t, env, ws.Owner(), nil)
		if len(p.Edges) != 20 || !p.PageInfo.HasNextPage || p.TotalCount != 25 {
			t.Errorf("edges, hasNextPage, totalCount: got %d, %v, %d, want 20, true, 25", len(p.Edges), p.PageInfo.HasNextPage, p.TotalCount)
		}
	})

	t.Run("FirstZero", func(t *testing.T) {
		t.Parallel()
		p := ctContacts(t, env, ws.Owner(), map[string]any{"first": 0})
		if len(p.Edges) != 0 || p.TotalCount != 25 {
			t.Errorf("edges, totalCount: got %d, %d, want 0, 25", len(p.Edges), p.TotalCount)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		byNameCursor := ctContacts(t, env, ws.Owner(), map[string]any{"first": 1, "orderBy": map[string]any{"field": "NAME", "direction": "ASC"}}).Edges[0].Cursor
		byCreatedCursor := ctContacts(t, env, ws.Owner(), map[string]any{"first": 1}).Edges[0].Cursor
		for _, tc := range []struct {
			name  string
			vars  map[string]any
			field string
		}{
			{"ErrFirstTooLarge", map[string]any{"first": 101}, "first"},
			{"ErrFirstNegative", map[string]any{"first": -1}, "first"},
			{"ErrLastTooLarge", map[string]any{"last": 101}, "last"},
			{"ErrLastNegative", map[string]any{"last": -1}, "last"},
			{"ErrFirstAndLast", map[string]any{"first": 5, "last": 5}, "last"},
			{"ErrAfterCursorOfOtherOrder", map[string]any{"first": 5, "after": byNameCursor}, "after"},
			{"ErrBeforeCursorOfOtherOrder", map[string]any{"last": 5, "before": byNameCursor}, "before"},
			{"ErrAfterCursorOfOtherOrderName", map[string]any{"first": 5, "after": byCreatedCursor,
				"orderBy": map[string]any{"field": "NAME", "direction": "ASC"}}, "after"},
			{"ErrAfterGarbage", map[string]any{"first": 5, "after": "garbage"}, "after"},
			{"ErrBeforeGarbage", map[string]any{"last": 5, "before": "!!!"}, "before"},
			{"ErrSearchNUL", map[string]any{"filter": map[string]any{"search": "ada\x00"}}, "filter.search"},
			{"ErrCountryNUL", map[string]any{"filter": map[string]any{"country": "I\x00"}}, "filter.country"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := env.Do(t, ws.Owner(), ctContactsQuery, tc.vars)
				ctWantError(t, r, "BAD_USER_INPUT", tc.field)
			})
		}
	})
}

func TestContactsFilter(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Filter")
	other := env.Workspace(t, "Filter other")
	agent := ctMemberID(t, env, ws.Agent())
	manager := ctMemberID(t, env, ws.Manager())
	foreignMember := ctMemberID(t, env, other.Agent())

	ada := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
		"phone": "+393331234567", "assigneeId": agent})
	grace := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Grace", "lastName": "Hopper", "email": "grace.hopper@navy.mil",
		"phone": "+14155552671", "assigneeId": manager})
	alan := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Alan", "lastName": "Turing", "email": "alan@bletchley.example",
		"phone": "+33612345678"})
	odd := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "100% Real", "email": "under_score@example.com"})
	mixed := ctCreate(t, env, ws.Owner(), map[string]any{"email": "MiXeD@Case.ORG"})
	all := []string{mixed.ID, odd.ID, alan.ID, grace.ID, ada.ID} // newest first
	// A contact of another workspace that every filter below would match.
	foreign := ctCreate(t, env, other.Owner(), map[string]any{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
		"phone": "+393331234567"})

	var tagged struct {
		AddTagsToContacts struct{ Tags []struct{ ID, Name string } } `json:"addTagsToContacts"`
	}
	const addTags = `mutation($input: AddTagsToContactsInput!) { addTagsToContacts(input: $input) { tags { id name } } }`
	env.MustDo(t, ws.Owner(), addTags, map[string]any{"input": map[string]any{"contactIds": []string{ada.ID, grace.ID}, "tagNames": []string{"vip"}}}, &tagged)
	vip := tagged.AddTagsToContacts.Tags[0].ID
	env.MustDo(t, ws.Owner(), addTags, map[string]any{"input": map[string]any{"contactIds": []string{grace.ID, alan.ID}, "tagNames": []string{"lead"}}}, &tagged)
	lead := tagged.AddTagsToContacts.Tags[0].ID
	env.MustDo(t, ws.Owner(), addTags, map[string]any{"input": map[string]any{"contactIds": []string{odd.ID}, "tagNames": []string{"unused elsewhere"}}}, &tagged)
	env.MustDo(t, other.Owner(), addTags, map[string]any{"input": map[string]any{"contactIds": []string{foreign.ID}, "tagNames": []string{"vip"}}}, &tagged)
	foreignTag := tagged.AddTagsToContacts.Tags[0].ID

	names := map[string]string{ada.ID: "ada", grace.ID: "grace", alan.ID: "alan", odd.ID: "odd", mixed.ID: "mixed", foreign.ID: "foreign"}
	show := func(ids []string) string {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = names[id]
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	cases := []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"Empty", map[string]any{}, all},
		{"SearchFirstName", map[string]any{"search": "ada"}, []string{ada.ID}},
		{"SearchCaseInsensitive", map[string]any{"search": "LOVE"}, []string{ada.ID}},
		{"SearchPartialLastName", map[string]any{"search": "urin"}, []string{alan.ID}},
		{"SearchEmail", map[string]any{"search": "navy.mil"}, []string{grace.ID}},
		{"SearchEmailCaseInsensitive", map[string]any{"search": "mixed@case.org"}, []string{mixed.ID}},
		{"SearchFullName", map[string]any{"search": "grace hop"}, []string{grace.ID}},
		{"SearchPhone", map[string]any{"search": "+39333"}, []string{ada.ID}},
		{"SearchPhoneWithSpaces", map[string]any{"search": "+39 333"}, []string{ada.ID}},
		{"SearchPhoneFormatted", map[string]any{"search": "(415) 555-2671"}, []string{grace.ID}},
		{"SearchPhoneDigits", map[string]any{"search": "3331234"}, []string{ada.ID}},
		{"SearchTrimmed", map[string]any{"search": "  turing  "}, []string{alan.ID}},
		{"SearchBlank", map[string]any{"search": "   "}, all},
		{"SearchPercentLiteral", map[string]any{"search": "%"}, []string{odd.ID}},
		{"SearchPercentInside", map[string]any{"search": "a%e"}, nil},
		{"SearchUnderscoreLiteral", map[string]any{"search": "_"}, []string{odd.ID}},
		{"SearchUnderscoreInside", map[string]any{"search": "a_a"}, nil},
		{"SearchBackslash", map[string]any{"search": `\`}, nil},
		{"SearchNoMatch", map[string]any{"search": "zzz"}, nil},
		{"TagAnyDefault", map[string]any{"tagIds": []string{vip, lead}}, []string{alan.ID, grace.ID, ada.ID}},
		{"TagAny", map[string]any{"tagIds": []string{vip, lead}, "tagMatch": "ANY"}, []string{alan.ID, grace.ID, ada.ID}},
		{"TagAll", map[string]any{"tagIds": []string{vip, lead}, "tagMatch": "ALL"}, []string{grace.ID}},
		{"TagAllOne", map[string]any{"tagIds": []string{vip}, "tagMatch": "ALL"}, []string{grace.ID, ada.ID}},
		{"TagAllRepeated", map[string]any{"tagIds": []string{lead, lead}, "tagMatch": "ALL"}, []string{alan.ID, grace.ID}},
		{"TagOtherWorkspaceAny", map[string]any{"tagIds": []string{foreignTag}}, nil},
		{"TagOtherWorkspaceAll", map[string]any{"tagIds": []string{foreignTag}, "tagMatch": "ALL"}, nil},
		{"TagOtherWorkspaceAllWithOwn", map[string]any{"tagIds": []string{vip, foreignTag}, "tagMatch": "ALL"}, nil},
		{"TagOtherWorkspaceAnyWithOwn", map[string]any{"tagIds": []string{vip, foreignTag}, "tagMatch": "ANY"}, []string{grace.ID, ada.ID}},
		{"Unblocked", map[string]any{"blocked": false}, all},
		{"Blocked", map[string]any{"blocked": true}, nil},
		{"AssigneeAgent", map[string]any{"assigneeId": agent}, []string{ada.ID}},
		{"AssigneeManager", map[string]any{"assigneeId": manager}, []string{grace.ID}},
		{"AssigneeOtherWorkspace", map[string]any{"assigneeId": foreignMember}, nil},
		{"CountryIT", map[string]any{"country": "IT"}, []string{ada.ID}},
		{"CountryLowerCase", map[string]any{"country": "us"}, []string{grace.ID}},
		{"CountryNone", map[string]any{"country": "DE"}, nil},
		{"Combined", map[string]any{"search": "a", "tagIds": []string{vip, lead}, "country": "FR"}, []string{alan.ID}},
		{"CombinedNone", map[string]any{"search": "ada", "assigneeId": manager}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := ctContacts(t, env, ws.Agent(), map[string]any{"filter": tc.filter, "first": 100})
			got := p.ids()
			if len(got) == 0 && len(tc.want) == 0 {
				got = tc.want
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("contacts: got %s, want %s", show(got), show(tc.want))
			}
			if p.TotalCount != len(tc.want) {
				t.Errorf("totalCount: got %d, want %d", p.TotalCount, len(tc.want))
			}
			// totalCount counts the whole filter, not the page.
			if len(tc.want) > 1 {
				p := ctContacts(t, env, ws.Agent(), map[string]any{"filter": tc.filter, "first": 1})
				if p.TotalCount != len(tc.want) || len(p.Edges) != 1 {
					t.Errorf("first 1: totalCount, edges: got %d, %d, want %d, 1", p.TotalCount, len(p.Edges), len(tc.want))
				}
			}
		})
	}

	t.Run("BlockedContact", func(t *testing.T) {
		t.Parallel()
		bws := env.Workspace(t, "Filter blocked")
		open := ctCreate(t, env, bws.Owner(), map[string]any{"firstName": "Open"})
		blocked := ctCreate(t, env, bws.Owner(), map[string]any{"firstName": "Blocked"})
		names[open.ID], names[blocked.ID] = "open", "blocked"
		if _, err := env.DB.ExecContext(context.Background(), `UPDATE contacts SET blocked_at = now() WHERE id = $1`, ctLocal(t, blocked.ID)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			filter map[string]any
			want   []string
		}{
			{"Blocked", map[string]any{"blocked": true}, []string{blocked.ID}},
			{"Unblocked", map[string]any{"blocked": false}, []string{open.ID}},
			{"Either", map[string]any{}, []string{blocked.ID, open.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := ctContacts(t, env, bws.Owner(), map[string]any{"filter": tc.filter})
				if !reflect.DeepEqual(p.ids(), tc.want) || p.TotalCount != len(tc.want) {
					t.Errorf("contacts, totalCount: got %s, %d, want %s, %d", show(p.ids()), p.TotalCount, show(tc.want), len(tc.want))
				}
			})
		}
		c := ctGet(t, env, bws.Owner(), blocked.ID)
		if !c.Blocked || c.BlockedAt == nil {
			t.Errorf("blocked, blockedAt: got %v, %s, want true, a time", c.Blocked, ctDeref(c.BlockedAt))
		}
	})
}

func TestContactCrossWorkspace(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Cross")
	other := env.Workspace(t, "Cross other")
	mine := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Mine", "email": "shared@example.com"})
	theirs := ctCreate(t, env, other.Owner(), map[string]any{"firstName": "Theirs", "email": "shared@example.com", "phone": "+393331234567"})
	theirsBefore := ctGetRaw(t, env, other.Owner(), theirs.ID)
	unknown := globalid.Encode("Contact", uuid.NewString())

	// An object of another workspace is NOT_FOUND, exactly like one that does not exist.
	for _, token := range []struct{ role, token string }{{"Owner", ws.Owner()}, {"Manager", ws.Manager()}, {"Agent", ws.Agent()}} {
		t.Run(token.role, func(t *testing.T) {
			t.Run("ContactNotFound", func(t *testing.T) {
				t.Parallel()
				r := env.Do(t, token.token, `query($id: ID!) { contact(id: $id) { id firstName } }`, map[string]any{"id": theirs.ID})
				ctWantError(t, r, "NOT_FOUND", "id")
				if string(r.Data) != `{"contact":null}` {
					t.Errorf("data: got %s, want {\"contact\":null}", r.Data)
				}
				u := env.Do(t, token.token, `query($id: ID!) { contact(id: $id) { id firstName } }`, map[string]any{"id": unknown})
				if len(u.Errors) == 0 || u.Errors[0].Message != r.Errors[0].Message {
					t.Errorf("message: got %+v for another workspace's contact, want the same as for an unknown one %+v", r.Errors, u.Errors)
				}
			})
			t.Run("NodeNotFound", func(t *testing.T) {
				t.Parallel()
				r := env.Do(t, token.token, `query($id: ID!) { node(id: $id) { id ... on Contact { firstName } } }`, map[string]any{"id": theirs.ID})
				ctWantError(t, r, "NOT_FOUND", "id")
				if string(r.Data) != `{"node":null}` {
					t.Errorf("data: got %s, want {\"node\":null}", r.Data)
				}
			})
			t.Run("UpdateContactNotFound", func(t *testing.T) {
				t.Parallel()
				r := env.Do(t, token.token, ctUpdateMutation, map[string]any{"input": map[string]any{"id": theirs.ID, "firstName": "Hijacked", "phone": nil}})
				ctWantError(t, r, "NOT_FOUND", "id")
				if after := ctGetRaw(t, env, other.Owner(), theirs.ID); after != theirsBefore {
					t.Errorf("the other workspace's contact after the update:\ngot  %s\nwant %s", after, theirsBefore)
				}
			})
		})
	}

	t.Run("ContactsListOwnOnly", func(t *testing.T) {
		t.Parallel()
		for _, filter := range []map[string]any{nil, {"search": "shared"}, {"search": "theirs"}, {"country": "IT"}} {
			p := ctContacts(t, env, ws.Owner(), map[string]any{"filter": filter, "first": 100})
			for _, id := range p.ids() {
				if id != mine.ID {
					t.Errorf("contacts(filter: %v): got %s, want only this workspace's contacts", filter, id)
				}
			}
		}
		if got := ctTotal(t, env, ws.Owner(), map[string]any{"search": "shared"}); got != 1 {
			t.Errorf("totalCount: got %d, want 1", got)
		}
		if got := ctTotal(t, env, ws.Owner(), map[string]any{"search": "theirs"}); got != 0 {
			t.Errorf("totalCount: got %d, want 0", got)
		}
	})

	t.Run("OwnNodeFound", func(t *testing.T) {
		t.Parallel()
		var out struct {
			Node struct{ ID, FirstName string }
		}
		env.MustDo(t, ws.Agent(), `query($id: ID!) { node(id: $id) { id ... on Contact { firstName } } }`, map[string]any{"id": mine.ID}, &out)
		if out.Node.ID != mine.ID || out.Node.FirstName != "Mine" {
			t.Errorf("node: got %+v, want %s Mine", out.Node, mine.ID)
		}
	})
}

func TestContactUnauthenticated(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Unauthenticated")
	c := ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})

	t.Run("NoTokenContacts", func(t *testing.T) {
		t.Parallel()
		r := env.Do(t, "", `{ contacts { totalCount edges { node { id } } } }`, nil)
		ctWantError(t, r, "UNAUTHENTICATED", "")
		if strings.Contains(string(r.Data), c.ID) {
			t.Errorf("data: got %s, want no contact", r.Data)
		}
	})
	t.Run("NoTokenContact", func(t *testing.T) {
		t.Parallel()
		r := env.Do(t, "", `query($id: ID!) { contact(id: $id) { id firstName } }`, map[string]any{"id": c.ID})
		ctWantError(t, r, "UNAUTHENTICATED", "")
		if strings.Contains(string(r.Data), "Ada") {
			t.Errorf("data: got %s, want no contact", r.Data)
		}
	})
	t.Run("NoTokenCreateContact", func(t *testing.T) {
		t.Parallel()
		r := env.Do(t, "", ctCreateMutation, map[string]any{"input": map[string]any{"firstName": "Intruder"}})
		ctWantError(t, r, "UNAUTHENTICATED", "")
		if n := ctStored(t, env, ws); n != 1 {
			t.Errorf("contacts stored: got %d, want 1", n)
		}
	})
	t.Run("NoTokenUpdateContact", func(t *testing.T) {
		t.Parallel()
		r := env.Do(t, "", ctUpdateMutation, map[string]any{"input": map[string]any{"id": c.ID, "lastName": "Intruder"}})
		ctWantError(t, r, "UNAUTHENTICATED", "")
		if got := ctGet(t, env, ws.Owner(), c.ID); got.LastName != nil {
			t.Errorf("lastName: got %s, want null", ctDeref(got.LastName))
		}
	})
	for name, token := range map[string]string{
		"BadToken":     "not-a-real-token",
		"UnknownToken": strings.Repeat("a", 43),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := env.Do(t, token, `{ contacts { totalCount } }`, nil)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("status: got %d, want %d", r.Status, http.StatusUnauthorized)
			}
			ctWantError(t, r, "UNAUTHENTICATED", "")
			if r.Data != nil && string(r.Data) != "null" {
				t.Errorf("data: got %s, want none", r.Data)
			}
		})
	}
}

func TestContactInternalError(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Internal")
	ctCreate(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
	// Break this test's own database under the server: every contact statement now fails.
	if _, err := env.DB.ExecContext(context.Background(), `ALTER TABLE contacts RENAME TO contacts_gone`); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{
		"Contacts":      `{ contacts { totalCount edges { node { id } } } }`,
		"CreateContact": `mutation { createContact(input: {firstName: "Ada"}) { contact { id } } }`,
	} {
		t.Run(name, func(t *testing.T) {
			r, raw := ctRawDo(t, env, ws.Owner(), q)
			if len(r.Errors) == 0 {
				t.Fatalf("errors: got none (data %s), want INTERNAL", r.Data)
			}
			for _, e := range r.Errors {
				if e.Extensions.Code != "INTERNAL" {
					t.Errorf("extensions.code: got %q, want INTERNAL", e.Extensions.Code)
				}
				if e.Message != "Internal error." {
					t.Errorf("message: got %q, want %q", e.Message, "Internal error.")
				}
			}
			for _, leak := range []string{"relation", "exist", "contacts_gone", "pq:", "SELECT", "INSERT", "db:", "goroutine"} {
				if strings.Contains(raw, leak) {
					t.Errorf("errors: got %s, want nothing of the database (%q)", raw, leak)
				}
			}
		})
	}
}

// ctRawDo POSTs a query and returns the response both decoded and as the raw body, to look
// for anything the decoded form would drop.
func ctRawDo(t *testing.T, env *testenv.Env, token, query string) (*testenv.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.Response{Status: res.StatusCode}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("response %d %q: %v", res.StatusCode, b, err)
	}
	return out, string(b)
}
