package graph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"rubrica"
	"rubrica/graph"
	"rubrica/internal/testenv"
	"rubrica/server"
)

var standardKeys = []string{"firstName", "lastName", "email", "phone", "country", "language", "assignee"}

const createDefinitionMutation = `mutation($in: CreateCustomFieldDefinitionInput!) {
	createCustomFieldDefinition(input: $in) {
		customFieldDefinition { id key label type options }
		workspace { contactFieldOrder customFieldDefinitions { key } }
	} }`

type definitionData struct {
	ID      string
	Key     string
	Label   string
	Type    string
	Options []string
}

type createDefinitionPayload struct {
	CreateCustomFieldDefinition *struct {
		CustomFieldDefinition definitionData
		Workspace             struct {
			ContactFieldOrder      []string
			CustomFieldDefinitions []struct{ Key string }
		}
	}
}

// fxDefinitions returns the keys of the workspace's custom field definitions, in API order.
func fxDefinitions(tb testing.TB, env *testenv.Env, token string) []string {
	tb.Helper()
	var data struct {
		Workspace struct{ CustomFieldDefinitions []definitionData }
	}
	env.MustDo(tb, token, `{ workspace { customFieldDefinitions { key } } }`, nil, &data)
	var keys []string
	for _, d := range data.Workspace.CustomFieldDefinitions {
		keys = append(keys, d.Key)
	}
	return keys
}

// fxFieldOrder returns the workspace's contactFieldOrder.
func fxFieldOrder(tb testing.TB, env *testenv.Env, token string) []string {
	tb.Helper()
	var data struct {
		Workspace struct{ ContactFieldOrder []string }
	}
	env.MustDo(tb, token, `{ workspace { contactFieldOrder } }`, nil, &data)
	return data.Workspace.ContactFieldOrder
}

func TestCreateCustomFieldDefinition(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Fields")

	create := func(t *testing.T, token string, in map[string]any) (*testenv.Response, createDefinitionPayload) {
		t.Helper()
		r := env.Do(t, token, createDefinitionMutation, map[string]any{"in": in})
		var p createDefinitionPayload
		if len(r.Errors) == 0 {
			r.Decode(t, &p)
		}
		return r, p
	}

	t.Run("OKEveryType", func(t *testing.T) {
		for _, typ := range []string{"TEXT", "NUMBER", "DATE", "CHECKBOX", "LIST", "URL", "EMAIL", "PHONE"} {
			t.Run(typ, func(t *testing.T) {
				key := "type" + strings.ToLower(typ)
				in := map[string]any{"key": key, "label": "  The " + typ + " field ", "type": typ}
				if typ == "LIST" {
					in["options"] = []string{" Gold ", "Silver", "Bronze"}
				}
				r, p := create(t, ws.Owner(), in)
				if len(r.Errors) > 0 {
					t.Fatalf("errors: got %+v, want none", r.Errors)
				}
				d := p.CreateCustomFieldDefinition.CustomFieldDefinition
				if d.ID == "" || d.Key != key || d.Type != typ || d.Label != "The "+typ+" field" {
					t.Errorf("definition: got %+v, want key %s, type %s, label trimmed", d, key, typ)
				}
				var wantOptions []string
				if typ == "LIST" {
					wantOptions = []string{"Gold", "Silver", "Bronze"}
				}
				if !slices.Equal(d.Options, wantOptions) || (typ != "LIST") != (d.Options == nil) {
					t.Errorf("options: got %#v, want %#v", d.Options, wantOptions)
				}
				order := p.CreateCustomFieldDefinition.Workspace.ContactFieldOrder
				if len(order) == 0 || order[len(order)-1] != key {
					t.Errorf("payload contactFieldOrder: got %q, want %s last", order, key)
				}
			})
		}
		want := []string{"typetext", "typenumber", "typedate", "typecheckbox", "typelist", "typeurl", "typeemail", "typephone"}
		if got := fxDefinitions(t, env, ws.Agent()); !slices.Equal(got, want) {
			t.Errorf("customFieldDefinitions: got %q, want %q (oldest first)", got, want)
		}
	})

	t.Run("OKRoles", func(t *testing.T) {
		for role, token := range map[string]string{"OWNER": ws.Owner(), "MANAGER": ws.Manager()} {
			t.Run(role, func(t *testing.T) {
				key := "by" + strings.ToLower(role)
				if r, _ := create(t, token, map[string]any{"key": key, "label": "By " + role, "type": "TEXT"}); len(r.Errors) > 0 {
					t.Fatalf("errors: got %+v, want none", r.Errors)
				}
				if got := fxDefinitions(t, env, ws.Owner()); !slices.Contains(got, key) {
					t.Errorf("customFieldDefinitions: got %q, want %s among them", got, key)
				}
			})
		}
	})

	t.Run("ErrAgentForbidden", func(t *testing.T) {
		r, _ := create(t, ws.Agent(), map[string]any{"key": "byagent", "label": "By agent", "type": "TEXT"})
		fxWantError(t, r, "FORBIDDEN", "-")
		if got := fxDefinitions(t, env, ws.Owner()); slices.Contains(got, "byagent") {
			t.Errorf("customFieldDefinitions: got %q, want no byagent", got)
		}
	})

	t.Run("OKKeyShapes", func(t *testing.T) {
		for _, key := range []string{"a", "camelCase", "snake_case_2", "x" + strings.Repeat("9", 63)} {
			t.Run(key, func(t *testing.T) {
				if r, _ := create(t, ws.Owner(), map[string]any{"key": key, "label": "Shape", "type": "TEXT"}); len(r.Errors) > 0 {
					t.Fatalf("errors: got %+v, want none", r.Errors)
				}
			})
		}
	})

	t.Run("ErrBadKey", func(t *testing.T) {
		for _, key := range []string{"", "   ", "1abc", "Abc", "_abc", "a-b", "a b", "àbc", "x" + strings.Repeat("9", 64)} {
			t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
				r, _ := create(t, ws.Owner(), map[string]any{"key": key, "label": "Bad", "type": "TEXT"})
				fxWantError(t, r, "BAD_USER_INPUT", "key")
			})
		}
	})

	t.Run("ErrStandardKey", func(t *testing.T) {
		for _, key := range append(slices.Clone(standardKeys), "firstname", "eMAIL", "assignEE") {
			t.Run(key, func(t *testing.T) {
				r, _ := create(t, ws.Owner(), map[string]any{"key": key, "label": "Standard", "type": "TEXT"})
				fxWantError(t, r, "BAD_USER_INPUT", "key")
			})
		}
	})

	t.Run("ErrDuplicateKey", func(t *testing.T) {
		if r, _ := create(t, ws.Owner(), map[string]any{"key": "loyalty", "label": "Loyalty", "type": "NUMBER"}); len(r.Errors) > 0 {
			t.Fatalf("first definition: %+v", r.Errors)
		}
		r, _ := create(t, ws.Manager(), map[string]any{"key": "loyalty", "label": "Loyalty again", "type": "TEXT"})
		fxWantError(t, r, "CONFLICT", "key")
		n := 0
		for _, k := range fxDefinitions(t, env, ws.Owner()) {
			if k == "loyalty" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("definitions with key loyalty: got %d, want 1", n)
		}
	})

	t.Run("OKSameKeyOtherWorkspace", func(t *testing.T) {
		other := env.Workspace(t, "Fields other")
		fxDefinition(t, env, other.Owner(), "shared", "TEXT")
		if r, _ := create(t, ws.Owner(), map[string]any{"key": "shared", "label": "Shared", "type": "TEXT"}); len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none (keys are unique per workspace only)", r.Errors)
		}
		if got := fxDefinitions(t, env, other.Owner()); !slices.Equal(got, []string{"shared"}) {
			t.Errorf("other workspace's definitions: got %q, want [shared]", got)
		}
	})

	t.Run("ErrBadLabel", func(t *testing.T) {
		for name, label := range map[string]string{"Empty": "", "Blank": "  ", "TooLong": strings.Repeat("l", 256)} {
			t.Run(name, func(t *testing.T) {
				r, _ := create(t, ws.Owner(), map[string]any{"key": "label" + strings.ToLower(name), "label": label, "type": "TEXT"})
				fxWantError(t, r, "BAD_USER_INPUT", "label")
			})
		}
	})

	t.Run("ErrOptions", func(t *testing.T) {
		for _, c := range []struct {
			name, typ string
			options   any
		}{
			{"ListWithoutOptions", "LIST", nil},
			{"ListEmptyOptions", "LIST", []string{}},
			{"ListBlankOption", "LIST", []string{"Gold", " "}},
			{"ListDuplicateOption", "LIST", []string{"Gold", "gold"}},
			{"ListOptionTooLong", "LIST", []string{strings.Repeat("o", 256)}},
			{"TextWithOptions", "TEXT", []string{"Gold"}},
			{"NumberWithOptions", "NUMBER", []string{"1", "2"}},
			{"CheckboxWithOptions", "CHECKBOX", []string{"true"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				in := map[string]any{"key": "opt" + strings.ToLower(c.name), "label": "Options", "type": c.typ}
				if c.options != nil {
					in["options"] = c.options
				}
				r, _ := create(t, ws.Owner(), in)
				fxWantError(t, r, "BAD_USER_INPUT", "options")
			})
		}
		for _, k := range fxDefinitions(t, env, ws.Owner()) {
			if strings.HasPrefix(k, "opt") {
				t.Errorf("customFieldDefinitions: got %s, want no definition from a refused input", k)
			}
		}
	})

	t.Run("ErrUnknownType", func(t *testing.T) {
		r, _ := create(t, ws.Owner(), map[string]any{"key": "weird", "label": "Weird", "type": "COLOR"})
		fxWantError(t, r, "BAD_USER_INPUT", "-")
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		r, _ := create(t, "", map[string]any{"key": "anon", "label": "Anon", "type": "TEXT"})
		fxWantError(t, r, "UNAUTHENTICATED", "-")
	})
}

func TestCustomFieldDefinitionsOldestFirst(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Oldest")
	other := env.Workspace(t, "Oldest other")
	fxDefinition(t, env, other.Owner(), "elsewhere", "TEXT")
	if got := fxDefinitions(t, env, ws.Owner()); len(got) != 0 {
		t.Fatalf("customFieldDefinitions: got %q, want none", got)
	}
	want := []string{"zeta", "alpha", "mid", "beta"}
	for _, k := range want {
		fxDefinition(t, env, ws.Manager(), k, "TEXT")
	}
	if got := fxDefinitions(t, env, ws.Agent()); !slices.Equal(got, want) {
		t.Errorf("customFieldDefinitions: got %q, want %q (oldest first)", got, want)
	}
}

const setOrderMutation = `mutation($keys: [String!]!) { setContactFieldOrder(input: { keys: $keys }) { workspace { contactFieldOrder } } }`

func TestSetContactFieldOrder(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	// setup makes a workspace with custom fields alpha (TEXT), beta (NUMBER) and gamma (LIST).
	setup := func(t *testing.T) *testenv.Workspace {
		ws := env.Workspace(t, t.Name())
		fxDefinition(t, env, ws.Owner(), "alpha", "TEXT")
		fxDefinition(t, env, ws.Owner(), "beta", "NUMBER")
		fxDefinition(t, env, ws.Owner(), "gamma", "LIST", "Gold", "Silver")
		return ws
	}
	set := func(t *testing.T, token string, keys ...string) (*testenv.Response, []string) {
		t.Helper()
		if keys == nil {
			keys = []string{}
		}
		r := env.Do(t, token, setOrderMutation, map[string]any{"keys": keys})
		var p struct {
			SetContactFieldOrder struct {
				Workspace struct{ ContactFieldOrder []string }
			}
		}
		if len(r.Errors) == 0 {
			r.Decode(t, &p)
		}
		return r, p.SetContactFieldOrder.Workspace.ContactFieldOrder
	}
	defaultOrder := append(slices.Clone(standardKeys), "alpha", "beta", "gamma")

	t.Run("DefaultOrder", func(t *testing.T) {
		t.Parallel()
		ws := env.Workspace(t, t.Name())
		if got := fxFieldOrder(t, env, ws.Agent()); !slices.Equal(got, standardKeys) {
			t.Errorf("contactFieldOrder with no custom fields: got %q, want %q", got, standardKeys)
		}
		fxDefinition(t, env, ws.Owner(), "alpha", "TEXT")
		fxDefinition(t, env, ws.Owner(), "beta", "NUMBER")
		fxDefinition(t, env, ws.Owner(), "gamma", "LIST", "Gold", "Silver")
		if got := fxFieldOrder(t, env, ws.Agent()); !slices.Equal(got, defaultOrder) {
			t.Errorf("contactFieldOrder: got %q, want %q (standard keys, then custom keys oldest first)", got, defaultOrder)
		}
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		for role, token := range map[string]func(*testenv.Workspace) string{
			"OWNER": (*testenv.Workspace).Owner, "MANAGER": (*testenv.Workspace).Manager,
		} {
			t.Run(role, func(t *testing.T) {
				ws := setup(t)
				all := []string{"gamma", "email", "phone", "firstName", "lastName", "alpha", "country", "language", "assignee", "beta"}
				r, got := set(t, token(ws), all...)
				if len(r.Errors) > 0 {
					t.Fatalf("errors: got %+v, want none", r.Errors)
				}
				if !slices.Equal(got, all) {
					t.Errorf("payload contactFieldOrder: got %q, want %q", got, all)
				}
				if got := fxFieldOrder(t, env, ws.Agent()); !slices.Equal(got, all) {
					t.Errorf("contactFieldOrder: got %q, want %q", got, all)
				}
			})
		}
	})

	t.Run("ErrAgentForbidden", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		r, _ := set(t, ws.Agent(), "gamma", "alpha")
		fxWantError(t, r, "FORBIDDEN", "-")
		if got := fxFieldOrder(t, env, ws.Owner()); !slices.Equal(got, defaultOrder) {
			t.Errorf("contactFieldOrder: got %q, want %q (unchanged)", got, defaultOrder)
		}
	})

	t.Run("OKKeysLeftOutAppended", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		r, got := set(t, ws.Manager(), "beta", "phone")
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		want := []string{"beta", "phone", "firstName", "lastName", "email", "country", "language", "assignee", "alpha", "gamma"}
		if !slices.Equal(got, want) {
			t.Errorf("contactFieldOrder: got %q, want %q (keys left out follow in their current order)", got, want)
		}
		// Left-out keys follow in their current order, not the default one.
		_, got = set(t, ws.Manager(), "gamma")
		want = []string{"gamma", "beta", "phone", "firstName", "lastName", "email", "country", "language", "assignee", "alpha"}
		if !slices.Equal(got, want) {
			t.Errorf("second contactFieldOrder: got %q, want %q (keys left out follow in their current order)", got, want)
		}
	})

	t.Run("OKEmpty", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		r, got := set(t, ws.Owner())
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		if !slices.Equal(got, defaultOrder) {
			t.Errorf("contactFieldOrder: got %q, want %q", got, defaultOrder)
		}
	})

	t.Run("ErrUnknownKey", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		other := env.Workspace(t, t.Name()+" other")
		fxDefinition(t, env, other.Owner(), "elsewhere", "TEXT")
		for _, key := range []string{"nope", "Alpha", "FIRSTNAME", "", "elsewhere", "displayName"} {
			t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
				r, _ := set(t, ws.Owner(), "alpha", key)
				fxWantError(t, r, "BAD_USER_INPUT", "keys")
			})
		}
		if got := fxFieldOrder(t, env, ws.Owner()); !slices.Equal(got, defaultOrder) {
			t.Errorf("contactFieldOrder: got %q, want %q (unchanged)", got, defaultOrder)
		}
	})

	t.Run("ErrDuplicateKey", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		for _, keys := range [][]string{{"alpha", "beta", "alpha"}, {"email", "email"}} {
			r, _ := set(t, ws.Owner(), keys...)
			fxWantError(t, r, "BAD_USER_INPUT", "keys")
		}
		if got := fxFieldOrder(t, env, ws.Owner()); !slices.Equal(got, defaultOrder) {
			t.Errorf("contactFieldOrder: got %q, want %q (unchanged)", got, defaultOrder)
		}
	})

	t.Run("OKNewFieldAppended", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		set(t, ws.Owner(), "gamma", "assignee", "alpha")
		var p createDefinitionPayload
		env.MustDo(t, ws.Manager(), createDefinitionMutation,
			map[string]any{"in": map[string]any{"key": "delta", "label": "Delta", "type": "DATE"}}, &p)
		want := []string{"gamma", "assignee", "alpha", "firstName", "lastName", "email", "phone", "country", "language", "beta", "delta"}
		if got := p.CreateCustomFieldDefinition.Workspace.ContactFieldOrder; !slices.Equal(got, want) {
			t.Errorf("payload contactFieldOrder: got %q, want %q (delta last)", got, want)
		}
		if got := fxFieldOrder(t, env, ws.Agent()); !slices.Equal(got, want) {
			t.Errorf("contactFieldOrder: got %q, want %q (delta last)", got, want)
		}
	})

	t.Run("OKCustomFieldsFollowOrder", func(t *testing.T) {
		t.Parallel()
		ws := setup(t)
		var created struct {
			CreateContact struct{ Contact struct{ ID string } }
		}
		env.MustDo(t, ws.Agent(), `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"firstName": "Ordered", "customFields": []map[string]any{
				{"key": "gamma", "value": "Gold"}, {"key": "alpha", "value": "text"}, {"key": "beta", "value": "42"},
			}}}, &created)
		id := created.CreateContact.Contact.ID
		customKeys := func(t *testing.T) []string {
			t.Helper()
			var data struct {
				Contact struct {
					CustomFields []struct {
						Definition struct{ Key string }
						Value      *string
					}
				}
			}
			env.MustDo(t, ws.Agent(), `query($id: ID!) { contact(id: $id) { customFields { definition { key } value } } }`,
				map[string]any{"id": id}, &data)
			var keys []string
			for _, f := range data.Contact.CustomFields {
				keys = append(keys, f.Definition.Key)
			}
			// The contacts list reads them through the loader: the same order.
			var list struct {
				Contacts struct {
					Edges []struct {
						Node struct {
							CustomFields []struct{ Definition struct{ Key string } }
						}
					}
				}
			}
			env.MustDo(t, ws.Agent(), `{ contacts { edges { node { customFields { definition { key } } } } } }`, nil, &list)
			var listed []string
			for _, f := range list.Contacts.Edges[0].Node.CustomFields {
				listed = append(listed, f.Definition.Key)
			}
			if !slices.Equal(listed, keys) {
				t.Errorf("customFields in contacts: got %q, want %q as in contact", listed, keys)
			}
			return keys
		}
		if got, want := customKeys(t), []string{"alpha", "beta", "gamma"}; !slices.Equal(got, want) {
			t.Errorf("customFields by default: got %q, want %q", got, want)
		}
		set(t, ws.Owner(), "gamma", "email", "alpha")
		if got, want := customKeys(t), []string{"gamma", "alpha", "beta"}; !slices.Equal(got, want) {
			t.Errorf("customFields after setContactFieldOrder: got %q, want %q", got, want)
		}
		fxDefinition(t, env, ws.Owner(), "delta", "CHECKBOX")
		fxDefinition(t, env, ws.Owner(), "epsilon", "URL")
		set(t, ws.Owner(), "epsilon", "gamma")
		env.MustDo(t, ws.Agent(), `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"id": id, "customFields": []map[string]any{
				{"key": "delta", "value": "true"}, {"key": "epsilon", "value": "https://example.com"},
			}}}, nil)
		// epsilon, gamma, then the old order (alpha, beta) and delta, appended when created.
		if got, want := customKeys(t), []string{"epsilon", "gamma", "alpha", "beta", "delta"}; !slices.Equal(got, want) {
			t.Errorf("customFields after a new field: got %q, want %q", got, want)
		}
	})
}

func TestViewer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Viewer Co")
	other := env.Workspace(t, "Viewer other")
	const q = `{ viewer { id name email role } }`
	type member struct{ ID, Name, Email, Role string }
	ids := map[string]bool{}
	for _, c := range []struct {
		name, token, role, email string
	}{
		{"Owner", ws.Owner(), "OWNER", "owner@viewerco.test"},
		{"Manager", ws.Manager(), "MANAGER", "MANAGER@viewerco.test"},
		{"Agent", ws.Agent(), "AGENT", "AGENT@viewerco.test"},
		{"OtherWorkspaceOwner", other.Owner(), "OWNER", "owner@viewerother.test"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var data struct{ Viewer member }
			env.MustDo(t, c.token, q, nil, &data)
			v := data.Viewer
			if v.Role != c.role {
				t.Errorf("role: got %q, want %q", v.Role, c.role)
			}
			if !strings.EqualFold(v.Email, c.email) {
				t.Errorf("email: got %q, want %q", v.Email, c.email)
			}
			if wantName, _, _ := strings.Cut(c.email, "@"); v.Name != wantName {
				t.Errorf("name: got %q, want %q", v.Name, wantName)
			}
			if v.ID == "" || ids[v.ID] {
				t.Errorf("id: got %q, want a new id", v.ID)
			}
			ids[v.ID] = true
		})
	}
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		fxWantError(t, env.Do(t, "", q, nil), "UNAUTHENTICATED", "-")
	})
}

func TestWorkspace(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Acme Inc")
	other := env.Workspace(t, "Other Inc")
	type data struct{ Workspace struct{ ID, Name string } }
	var a, m, g, o data
	env.MustDo(t, ws.Owner(), `{ workspace { id name } }`, nil, &a)
	env.MustDo(t, ws.Manager(), `{ workspace { id name } }`, nil, &m)
	env.MustDo(t, ws.Agent(), `{ workspace { id name } }`, nil, &g)
	env.MustDo(t, other.Agent(), `{ workspace { id name } }`, nil, &o)
	if a.Workspace.Name != "Acme Inc" || o.Workspace.Name != "Other Inc" {
		t.Errorf("names: got %q and %q, want Acme Inc and Other Inc", a.Workspace.Name, o.Workspace.Name)
	}
	if a.Workspace.ID == "" || a != m || a != g {
		t.Errorf("workspace per role: got %+v, %+v, %+v; want the same for every token of the workspace", a, m, g)
	}
	if a.Workspace.ID == o.Workspace.ID {
		t.Errorf("ids: got %q for both workspaces, want different", a.Workspace.ID)
	}
	if strings.Contains(a.Workspace.ID, ws.ID) {
		t.Errorf("id: got %q, want an opaque id, not the local id %s", a.Workspace.ID, ws.ID)
	}
	fxWantError(t, env.Do(t, "", `{ workspace { id } }`, nil), "UNAUTHENTICATED", "-")
}

func TestNode(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Nodes")
	other := env.Workspace(t, "Nodes other")

	type objects struct{ contact, tag, member, workspace, definition string }
	objectsOf := func(w *testenv.Workspace, prefix string) objects {
		var wsData struct{ Workspace struct{ ID string } }
		env.MustDo(t, w.Owner(), `{ workspace { id } }`, nil, &wsData)
		return objects{
			contact:    fxContact(t, env, w.Owner(), prefix+" contact"),
			tag:        fxTag(t, env, w.Owner(), prefix+" tag"),
			member:     fxViewerID(t, env, w.Agent()),
			workspace:  wsData.Workspace.ID,
			definition: fxDefinition(t, env, w.Owner(), strings.ToLower(prefix)+"field", "TEXT"),
		}
	}
	mine, theirs := objectsOf(ws, "Mine"), objectsOf(other, "Theirs")

	const q = `query($id: ID!) { node(id: $id) {
		__typename id
		... on Contact { displayName }
		... on Tag { name }
		... on Member { role }
		... on Workspace { name }
		... on CustomFieldDefinition { key }
	} }`
	type node struct {
		Typename    string `json:"__typename"`
		ID          string
		DisplayName string
		Name        string
		Role        string
		Key         string
	}
	cases := []struct {
		typ, id string
		check   func(node) string
	}{
		{"Contact", mine.contact, func(n node) string { return n.DisplayName }},
		{"Tag", mine.tag, func(n node) string { return n.Name }},
		{"Member", mine.member, func(n node) string { return n.Role }},
		{"Workspace", mine.workspace, func(n node) string { return n.Name }},
		{"CustomFieldDefinition", mine.definition, func(n node) string { return n.Key }},
	}
	wants := map[string]string{"Contact": "Mine contact", "Tag": "Mine tag", "Member": "AGENT", "Workspace": "Nodes", "CustomFieldDefinition": "minefield"}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			for role, token := range map[string]string{"OWNER": ws.Owner(), "AGENT": ws.Agent()} {
				var data struct{ Node *node }
				env.MustDo(t, token, q, map[string]any{"id": c.id}, &data)
				if data.Node == nil {
					t.Fatalf("%s: node: got null, want a %s", role, c.typ)
				}
				if data.Node.Typename != c.typ || data.Node.ID != c.id {
					t.Errorf("%s: node: got %s %s, want %s %s", role, data.Node.Typename, data.Node.ID, c.typ, c.id)
				}
				if got := c.check(*data.Node); got != wants[c.typ] {
					t.Errorf("%s: node field: got %q, want %q", role, got, wants[c.typ])
				}
			}
		})
	}

	t.Run("ErrOtherWorkspace", func(t *testing.T) {
		for typ, id := range map[string]string{
			"Contact": theirs.contact, "Tag": theirs.tag, "Member": theirs.member,
			"Workspace": theirs.workspace, "CustomFieldDefinition": theirs.definition,
		} {
			t.Run(typ, func(t *testing.T) {
				r := env.Do(t, ws.Owner(), q, map[string]any{"id": id})
				fxWantError(t, r, "NOT_FOUND", "-")
				if string(r.Data) != `{"node":null}` && string(r.Data) != "null" {
					t.Errorf("data: got %s, want node null", r.Data)
				}
			})
		}
	})

	t.Run("ErrGarbage", func(t *testing.T) {
		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		const uuid = "00000000-0000-4000-8000-000000000000"
		for name, id := range map[string]string{
			"Empty":         "",
			"NotBase64":     "!!!",
			"NoType":        enc(":" + uuid),
			"NoLocalID":     enc("Contact:"),
			"UnknownType":   enc("Spaceship:" + uuid),
			"NotUUID":       enc("Contact:42"),
			"MemberNotUUID": enc("Member:42"),
			"TagNotUUID":    enc("Tag:'; DROP TABLE tags; --"),
			"UnknownUUID":   enc("Contact:" + uuid),
			"UnknownTag":    enc("Tag:" + uuid),
			"UnknownMember": enc("Member:" + uuid),
			"UnknownWS":     enc("Workspace:" + uuid),
			"UnknownDef":    enc("CustomFieldDefinition:" + uuid),
			"LocalID":       ws.ID,
		} {
			t.Run(name, func(t *testing.T) {
				fxWantError(t, env.Do(t, ws.Owner(), q, map[string]any{"id": id}), "NOT_FOUND", "-")
			})
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		fxWantError(t, env.Do(t, "", q, map[string]any{"id": mine.contact}), "UNAUTHENTICATED", "-")
	})
}

// contactsPageQuery is a full page of contacts with their lists and assignee.
const contactsPageQuery = `contacts(first: 100) { edges { node { id displayName tags { name } customFields { value } assignee { name } } } }`

func TestErrors(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Errors")

	for _, c := range []struct {
		name, token, query, code string
		vars                     map[string]any
	}{
		{"UnknownField", ws.Owner(), `{ viewer { id shoeSize } }`, "BAD_USER_INPUT", nil},
		{"UnknownQuery", ws.Owner(), `{ everything }`, "BAD_USER_INPUT", nil},
		{"SyntaxError", ws.Owner(), `{ viewer { id `, "BAD_USER_INPUT", nil},
		{"MissingArgument", ws.Owner(), `{ node { id } }`, "BAD_USER_INPUT", nil},
		{"WrongArgumentType", ws.Owner(), `{ contacts(first: "many") { totalCount } }`, "BAD_USER_INPUT", nil},
		{"MissingVariable", ws.Owner(), `query($id: ID!) { node(id: $id) { id } }`, "BAD_USER_INPUT", nil},
		{"BadVariable", ws.Owner(), `query($n: Int) { contacts(first: $n) { totalCount } }`, "BAD_USER_INPUT", map[string]any{"n": "x"}},
		{"BadEnumVariable", ws.Owner(), `query($o: ContactOrder) { contacts(orderBy: $o) { totalCount } }`, "BAD_USER_INPUT",
			map[string]any{"o": map[string]any{"field": "SHOE_SIZE", "direction": "ASC"}}},
		{"PageTooLarge", ws.Owner(), `{ contacts(first: 101) { totalCount } }`, "BAD_USER_INPUT", nil},
		{"Unauthenticated", "", `{ viewer { id } }`, "UNAUTHENTICATED", nil},
		{"UnauthenticatedMutation", "", `mutation { createTag(input: { name: "x" }) { tag { id } } }`, "UNAUTHENTICATED", nil},
		{"BadToken", "rbk_not-a-real-token", `{ viewer { id } }`, "UNAUTHENTICATED", nil},
		{"Forbidden", ws.Agent(), `mutation { setContactFieldOrder(input: { keys: [] }) { workspace { id } } }`, "FORBIDDEN", nil},
		{"ComplexityLimit", ws.Owner(), "{\n" + aliased(contactsPageQuery, 10) + "}", "LIMIT_EXCEEDED", nil},
		{"ComplexityLimitVariable", ws.Owner(), "query($n: Int) {\n" + aliased(strings.Replace(contactsPageQuery, "first: 100", "first: $n", 1), 10) + "}",
			"LIMIT_EXCEEDED", map[string]any{"n": 100}},
		{"ComplexityLimitLast", ws.Owner(), "{\n" + aliased(strings.Replace(contactsPageQuery, "first: 100", "last: 100", 1), 10) + "}", "LIMIT_EXCEEDED", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do(t, c.token, c.query, c.vars)
			fxWantError(t, r, c.code, "-")
			for _, e := range r.Errors {
				if e.Extensions.Code == "" {
					t.Errorf("error %q: no extensions.code", e.Message)
				}
			}
		})
	}

	t.Run("OKComplexityUnderLimit", func(t *testing.T) {
		// One full page is well under the limit: the limit refuses only the abuse.
		var data map[string]any
		env.MustDo(t, ws.Owner(), "{\n"+aliased(contactsPageQuery, 1)+"}", nil, &data)
	})

	t.Run("BadTokenStatus", func(t *testing.T) {
		if r := env.Do(t, "rbk_not-a-real-token", `{ viewer { id } }`, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("status: got %d, want 401", r.Status)
		}
	})

	t.Run("Transport", func(t *testing.T) {
		// Errors the transports write themselves carry codes too.
		enc := url.QueryEscape
		for _, c := range []struct {
			name, method, target, contentType, body string
			status                                  int
			code, auth                              string
		}{
			{"GETMutation", http.MethodGet, "?query=" + enc(`mutation { createTag(input: { name: "by GET" }) { tag { id } } }`), "", "", 405, "", ""},
			{"GETBadVariables", http.MethodGet, "?query=" + enc(`{ viewer { id } }`) + "&variables=" + enc("{not json"), "", "", 400, "", ""},
			{"GETBadExtensions", http.MethodGet, "?query=" + enc(`{ viewer { id } }`) + "&extensions=" + enc("[1"), "", "", 400, "", ""},
			{"GETBadQueryString", http.MethodGet, "?query=%zz", "", "", 400, "", ""},
			{"GETNoQuery", http.MethodGet, "", "", "", 400, "", ""},
			{"POSTBadJSON", http.MethodPost, "", "application/json", `{"query": `, 400, "", ""},
			{"POSTNotJSON", http.MethodPost, "", "text/plain", `{ viewer { id } }`, 415, "", ""},
			{"PUT", http.MethodPut, "", "application/json", `{"query": "{ viewer { id } }"}`, 405, "", ""},
			{"BasicAuth", http.MethodPost, "", "application/json", `{"query": "{ viewer { id } }"}`, 401, "UNAUTHENTICATED", "Basic dXNlcjpwYXNz"},
			{"UnknownToken", http.MethodPost, "", "application/json", `{"query": "{ viewer { id } }"}`, 401, "UNAUTHENTICATED", "Bearer rbk_" + strings.Repeat("A", 43)},
			{"BearerWithoutToken", http.MethodPost, "", "application/json", `{"query": "{ viewer { id } }"}`, 200, "UNAUTHENTICATED", "Bearer"},
		} {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, env.Server.URL+"/graphql"+c.target, strings.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+ws.Owner())
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				if c.contentType != "" {
					req.Header.Set("Content-Type", c.contentType)
				}
				res, err := env.Server.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var r testenv.Response
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatalf("body: got %q, want a GraphQL response: %v", body, err)
				}
				code := c.code
				if code == "" {
					code = "BAD_USER_INPUT"
				}
				fxWantError(t, &r, code, "-")
				if res.StatusCode != c.status {
					t.Errorf("status: got %d, want %d", res.StatusCode, c.status)
				}
			})
		}
		if got := fxTagNames(t, env, ws.Owner()); slices.Contains(got, "by GET") {
			t.Error("tags: got the tag of a GET mutation, want none")
		}
	})

	t.Run("GETQuery", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, env.Server.URL+"/graphql?query="+url.QueryEscape(`{ workspace { name } }`), nil)
		req.Header.Set("Authorization", "Bearer "+ws.Owner())
		res, err := env.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"Errors"`) {
			t.Errorf("GET query: got %d %s, want 200 with the workspace", res.StatusCode, body)
		}
	})

	t.Run("IntrospectionWithoutToken", func(t *testing.T) {
		var data struct {
			Schema struct{ QueryType struct{ Name string } } `json:"__schema"`
		}
		env.MustDo(t, "", `{ __schema { queryType { name } } }`, nil, &data)
		if data.Schema.QueryType.Name != "Query" {
			t.Errorf("queryType: got %q, want Query", data.Schema.QueryType.Name)
		}
	})

	t.Run("FullIntrospectionWithoutToken", func(t *testing.T) {
		// What the explorer sends: it must pass the complexity limit too.
		var data struct {
			Schema struct {
				Types []struct{ Name string }
			} `json:"__schema"`
		}
		env.MustDo(t, "", introspectionQuery, nil, &data)
		var names []string
		for _, typ := range data.Schema.Types {
			names = append(names, typ.Name)
		}
		for _, want := range []string{"Contact", "Tag", "Workspace", "CustomFieldDefinition", "Member", "Node"} {
			if !slices.Contains(names, want) {
				t.Errorf("types: got %q, want %s among them", names, want)
			}
		}
	})

	t.Run("IntrospectionAndDataWithoutToken", func(t *testing.T) {
		r := env.Do(t, "", `{ __typename viewer { id } }`, nil)
		fxWantError(t, r, "UNAUTHENTICATED", "-")
	})
}

func TestIntrospectionDisabled(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithConfig(t, func(cfg *server.Config) { cfg.Introspection = false })
	ws := env.Workspace(t, "Closed")
	for _, c := range []struct{ name, token, query string }{
		{"WithoutToken", "", `{ __schema { queryType { name } } }`},
		{"WithToken", ws.Owner(), `{ __schema { queryType { name } } }`},
		{"Type", ws.Owner(), `{ __type(name: "Contact") { name } }`},
		{"InFragment", ws.Owner(), `{ ...F } fragment F on Query { __schema { types { name } } }`},
		{"Full", "", introspectionQuery},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do(t, c.token, c.query, nil)
			fxWantError(t, r, "BAD_USER_INPUT", "-")
			if strings.Contains(string(r.Data), "Contact") {
				t.Errorf("data: got %s, want no schema", r.Data)
			}
		})
	}
	t.Run("TypenameAllowed", func(t *testing.T) {
		var data struct {
			Typename string `json:"__typename"`
		}
		env.MustDo(t, "", `{ __typename }`, nil, &data)
		if data.Typename != "Query" {
			t.Errorf("__typename: got %q, want Query", data.Typename)
		}
	})
	t.Run("DataStillServed", func(t *testing.T) {
		var data struct{ Workspace struct{ Name string } }
		env.MustDo(t, ws.Owner(), `{ workspace { name } }`, nil, &data)
		if data.Workspace.Name != "Closed" {
			t.Errorf("workspace name: got %q, want Closed", data.Workspace.Name)
		}
	})
}

// aliased repeats a top-level field n times under aliases a0, a1, ...
func aliased(field string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s\n", i, field)
	}
	return b.String()
}

func TestPresentErrorHidesInternalErrors(t *testing.T) {
	t.Parallel()
	var logged strings.Builder
	present := graph.PresentError(slog.New(slog.NewTextHandler(&logged, nil)))
	ctx := context.Background()

	t.Run("Internal", func(t *testing.T) {
		secret := fmt.Errorf("db: find contact: %w", errors.New(`pq: relation "contacts" does not exist`))
		e := present(ctx, secret)
		if e.Message != "Internal error." {
			t.Errorf("message: got %q, want %q", e.Message, "Internal error.")
		}
		if got := e.Extensions["code"]; got != "INTERNAL" {
			t.Errorf("code: got %v, want INTERNAL", got)
		}
		if strings.Contains(fmt.Sprint(e.Extensions), "pq") || e.Unwrap() != nil {
			t.Errorf("error: got %+v, want no database detail", e)
		}
		if !strings.Contains(logged.String(), "does not exist") {
			t.Errorf("log: got %q, want the internal error logged", logged.String())
		}
	})

	t.Run("Domain", func(t *testing.T) {
		e := present(ctx, fmt.Errorf("wrapped: %w", rubrica.InvalidField("phone", "bad phone")))
		if e.Message != "bad phone" || e.Extensions["code"] != "BAD_USER_INPUT" || e.Extensions["field"] != "phone" {
			t.Errorf("error: got %q %v, want bad phone, BAD_USER_INPUT, field phone", e.Message, e.Extensions)
		}
	})
}

// introspectionQuery is graphql-js's getIntrospectionQuery(), as GraphiQL sends it.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`
