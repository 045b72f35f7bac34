package graph_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"rubrica/internal/testenv"
)

const createTagMutation = `mutation($in: CreateTagInput!) { createTag(input: $in) { tag { id name color contactCount } } }`

func TestCreateTag(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Tags")

	create := func(t *testing.T, token string, in map[string]any) (*testenv.Response, fxTagData) {
		t.Helper()
		r := env.Do(t, token, createTagMutation, map[string]any{"in": in})
		var data struct{ CreateTag *struct{ Tag fxTagData } }
		if len(r.Errors) == 0 {
			r.Decode(t, &data)
			return r, data.CreateTag.Tag
		}
		return r, fxTagData{}
	}

	t.Run("OK", func(t *testing.T) {
		r, tag := create(t, ws.Owner(), map[string]any{"name": "  Hot Lead  ", "color": " #A1B2C3 "})
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		if tag.Name != "Hot Lead" {
			t.Errorf("name: got %q, want %q (trimmed)", tag.Name, "Hot Lead")
		}
		if tag.Color == nil || *tag.Color != "#a1b2c3" {
			t.Errorf("color: got %v, want #a1b2c3 (normalised)", tag.Color)
		}
		if tag.ContactCount != 0 {
			t.Errorf("contactCount: got %d, want 0", tag.ContactCount)
		}
		if tag.ID == "" {
			t.Error("id: got empty, want an id")
		}
	})

	t.Run("OKWithoutColor", func(t *testing.T) {
		r, tag := create(t, ws.Owner(), map[string]any{"name": "No color"})
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		if tag.Color != nil {
			t.Errorf("color: got %q, want null", *tag.Color)
		}
	})

	t.Run("OKAgent", func(t *testing.T) {
		if r, _ := create(t, ws.Agent(), map[string]any{"name": "Made by an agent"}); len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none (agents may create tags)", r.Errors)
		}
	})

	t.Run("OKLongestName", func(t *testing.T) {
		name := strings.Repeat("é", 64)
		r, tag := create(t, ws.Owner(), map[string]any{"name": name})
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none (64 characters are allowed)", r.Errors)
		}
		if tag.Name != name {
			t.Errorf("name: got %q, want %q", tag.Name, name)
		}
	})

	t.Run("ErrDuplicateName", func(t *testing.T) {
		if r, _ := create(t, ws.Owner(), map[string]any{"name": "Customer"}); len(r.Errors) > 0 {
			t.Fatalf("first tag: %+v", r.Errors)
		}
		for _, name := range []string{"Customer", "customer", "  CUSTOMER "} {
			t.Run(name, func(t *testing.T) {
				r, _ := create(t, ws.Manager(), map[string]any{"name": name})
				fxWantError(t, r, "CONFLICT", "name")
			})
		}
		t.Run("NonASCII", func(t *testing.T) {
			if r, _ := create(t, ws.Owner(), map[string]any{"name": "Café"}); len(r.Errors) > 0 {
				t.Fatalf("first tag: %+v", r.Errors)
			}
			r, _ := create(t, ws.Owner(), map[string]any{"name": "CAFÉ"})
			fxWantError(t, r, "CONFLICT", "name")
		})
		n := 0
		for _, tag := range fxAllTags(t, env, ws.Owner()) {
			if strings.EqualFold(tag.Name, "customer") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("tags named customer: got %d, want 1", n)
		}
	})

	t.Run("OKSameNameOtherWorkspace", func(t *testing.T) {
		other := env.Workspace(t, "Tags other")
		fxTag(t, env, other.Owner(), "Shared name")
		if r, _ := create(t, ws.Owner(), map[string]any{"name": "Shared name"}); len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none (names are unique per workspace only)", r.Errors)
		}
	})

	t.Run("ErrEmptyName", func(t *testing.T) {
		for _, name := range []string{"", "   ", "\t\n"} {
			t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
				r, _ := create(t, ws.Owner(), map[string]any{"name": name})
				fxWantError(t, r, "BAD_USER_INPUT", "name")
			})
		}
	})

	t.Run("ErrNameTooLong", func(t *testing.T) {
		r, _ := create(t, ws.Owner(), map[string]any{"name": strings.Repeat("x", 65)})
		fxWantError(t, r, "BAD_USER_INPUT", "name")
	})

	t.Run("ErrBadColor", func(t *testing.T) {
		for _, color := range []string{"red", "#abc", "a1b2c3", "#a1b2c3d4", "#gggggg", ""} {
			t.Run(fmt.Sprintf("%q", color), func(t *testing.T) {
				r, _ := create(t, ws.Owner(), map[string]any{"name": "Colored " + color, "color": color})
				fxWantError(t, r, "BAD_USER_INPUT", "color")
			})
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		r, _ := create(t, "", map[string]any{"name": "Anonymous"})
		fxWantError(t, r, "UNAUTHENTICATED", "-")
	})
}

func TestTags(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Tag list")
	other := env.Workspace(t, "Tag list other")
	fxTag(t, env, other.Owner(), "Other VIP") // never listed in ws

	// 30 tags whose names sort as Tag 00 ... Tag 29, created in a shuffled order, plus a few.
	var want []string
	for i := range 30 {
		want = append(want, fmt.Sprintf("Tag %02d", i))
	}
	for _, i := range []int{7, 3, 29, 0, 15, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28} {
		fxTag(t, env, ws.Owner(), want[i])
	}
	for _, name := range []string{"VIP", "very important", "Not a vip yet", "50% off", "snake_case"} {
		fxTag(t, env, ws.Owner(), name)
	}

	type page struct {
		Tags struct {
			Edges []struct {
				Cursor string
				Node   fxTagData
			}
			PageInfo struct {
				HasNextPage     bool
				HasPreviousPage bool
				EndCursor       *string
			}
			TotalCount int
		}
	}
	const q = `query($search: String, $first: Int, $after: String) {
		tags(search: $search, first: $first, after: $after) {
			edges { cursor node { id name } }
			pageInfo { hasNextPage hasPreviousPage endCursor }
			totalCount
		} }`
	names := func(p page) []string {
		var out []string
		for _, e := range p.Tags.Edges {
			out = append(out, e.Node.Name)
		}
		return out
	}

	t.Run("Search", func(t *testing.T) {
		for _, c := range []struct {
			name, search string
			want         []string
		}{
			{"CaseInsensitive", "vIp", []string{"Not a vip yet", "VIP"}},
			{"Partial", "ery imp", []string{"very important"}},
			{"SpacesTrimmed", "  VIP ", []string{"Not a vip yet", "VIP"}},
			{"PercentIsLiteral", "%", []string{"50% off"}},
			{"UnderscoreIsLiteral", "_", []string{"snake_case"}},
			{"NoMatch", "nothing like this", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				var p page
				env.MustDo(t, ws.Agent(), q, map[string]any{"search": c.search}, &p)
				if got := names(p); !slices.Equal(got, c.want) {
					t.Errorf("tags: got %q, want %q", got, c.want)
				}
				if p.Tags.TotalCount != len(c.want) {
					t.Errorf("totalCount: got %d, want %d", p.Tags.TotalCount, len(c.want))
				}
			})
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		var got []string
		var after any
		pages := 0
		for {
			var p page
			env.MustDo(t, ws.Owner(), q, map[string]any{"search": "tag ", "first": 7, "after": after}, &p)
			pages++
			got = append(got, names(p)...)
			if p.Tags.TotalCount != 30 {
				t.Errorf("page %d: totalCount: got %d, want 30", pages, p.Tags.TotalCount)
			}
			if gotPrev, wantPrev := p.Tags.PageInfo.HasPreviousPage, pages > 1; gotPrev != wantPrev {
				t.Errorf("page %d: hasPreviousPage: got %v, want %v", pages, gotPrev, wantPrev)
			}
			if !p.Tags.PageInfo.HasNextPage {
				break
			}
			if len(p.Tags.Edges) != 7 {
				t.Fatalf("page %d: got %d tags, want 7 on a page with a next page", pages, len(p.Tags.Edges))
			}
			if p.Tags.PageInfo.EndCursor == nil || *p.Tags.PageInfo.EndCursor != p.Tags.Edges[6].Cursor {
				t.Fatalf("page %d: endCursor: got %v, want the last edge's cursor", pages, p.Tags.PageInfo.EndCursor)
			}
			after = *p.Tags.PageInfo.EndCursor
			if pages > 10 {
				t.Fatal("more than 10 pages of 7 for 30 tags")
			}
		}
		if pages != 5 {
			t.Errorf("pages: got %d, want 5 (7+7+7+7+2)", pages)
		}
		if !slices.Equal(got, want) {
			t.Errorf("tags over all pages: got %q, want %q", got, want)
		}
	})

	t.Run("AllTags", func(t *testing.T) {
		var p page
		env.MustDo(t, ws.Owner(), q, map[string]any{"first": 100}, &p)
		if p.Tags.TotalCount != 35 {
			t.Errorf("totalCount: got %d, want 35 (the other workspace's tag excluded)", p.Tags.TotalCount)
		}
		if len(p.Tags.Edges) != 35 {
			t.Errorf("tags: got %d, want 35", len(p.Tags.Edges))
		}
		if slices.Contains(names(p), "Other VIP") {
			t.Error("tags: got the other workspace's tag")
		}
		if p.Tags.PageInfo.HasNextPage {
			t.Error("hasNextPage: got true, want false")
		}
	})

	t.Run("DefaultPageSize", func(t *testing.T) {
		var p page
		env.MustDo(t, ws.Owner(), q, nil, &p)
		if len(p.Tags.Edges) != 20 || !p.Tags.PageInfo.HasNextPage {
			t.Errorf("tags: got %d, hasNextPage %v; want 20, true", len(p.Tags.Edges), p.Tags.PageInfo.HasNextPage)
		}
	})

	t.Run("ErrFirstTooLarge", func(t *testing.T) {
		fxWantError(t, env.Do(t, ws.Owner(), q, map[string]any{"first": 101}), "BAD_USER_INPUT", "first")
	})

	t.Run("ErrBadCursor", func(t *testing.T) {
		fxWantError(t, env.Do(t, ws.Owner(), q, map[string]any{"after": "not-a-cursor"}), "BAD_USER_INPUT", "after")
	})

	t.Run("ErrContactCursor", func(t *testing.T) {
		fxContact(t, env, ws.Owner(), "Cursor")
		var data struct {
			Contacts struct{ Edges []struct{ Cursor string } }
		}
		env.MustDo(t, ws.Owner(), `{ contacts(first: 1) { edges { cursor } } }`, nil, &data)
		if len(data.Contacts.Edges) != 1 {
			t.Fatalf("contacts: got %d, want 1", len(data.Contacts.Edges))
		}
		r := env.Do(t, ws.Owner(), q, map[string]any{"after": data.Contacts.Edges[0].Cursor})
		fxWantError(t, r, "BAD_USER_INPUT", "after")
	})
}

func TestTagContactCount(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Counts")
	other := env.Workspace(t, "Counts other")
	ids := fxContacts(t, env, ws.Owner(), 3, nil)
	hot, cold, none := fxTag(t, env, ws.Owner(), "Hot"), fxTag(t, env, ws.Owner(), "Cold"), fxTag(t, env, ws.Owner(), "None")
	const add = `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { tags { id } } }`
	env.MustDo(t, ws.Owner(), add, map[string]any{"in": map[string]any{"contactIds": ids, "tagIds": []string{hot}}}, nil)
	env.MustDo(t, ws.Owner(), add, map[string]any{"in": map[string]any{"contactIds": ids[:1], "tagIds": []string{cold}}}, nil)
	// Another workspace's tag of the same name carries contacts too; they never count here.
	otherIDs := fxContacts(t, env, other.Owner(), 2, nil)
	env.MustDo(t, other.Owner(), add, map[string]any{"in": map[string]any{"contactIds": otherIDs, "tagNames": []string{"Hot"}}}, nil)

	want := map[string]int{"Hot": 3, "Cold": 1, "None": 0}
	for _, tag := range fxAllTags(t, env, ws.Agent()) {
		if tag.ContactCount != want[tag.Name] {
			t.Errorf("%s.contactCount in tags: got %d, want %d", tag.Name, tag.ContactCount, want[tag.Name])
		}
	}
	for id, n := range map[string]int{hot: 3, cold: 1, none: 0} {
		if got := fxContactCount(t, env, ws.Agent(), id); got != n {
			t.Errorf("node(%s).contactCount: got %d, want %d", id, got, n)
		}
	}
}

const addTagsMutation = `mutation($in: AddTagsToContactsInput!) {
	addTagsToContacts(input: $in) { contacts { id tags { name } } tags { id name contactCount } } }`

type addTagsPayload struct {
	AddTagsToContacts *struct {
		Contacts []struct {
			ID   string
			Tags []struct{ Name string }
		}
		Tags []fxTagData
	}
}

func TestAddTagsToContacts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	add := func(t *testing.T, token string, in map[string]any) (*testenv.Response, addTagsPayload) {
		t.Helper()
		r := env.Do(t, token, addTagsMutation, map[string]any{"in": in})
		var p addTagsPayload
		if len(r.Errors) == 0 {
			r.Decode(t, &p)
		}
		return r, p
	}
	mustAdd := func(t *testing.T, token string, in map[string]any) addTagsPayload {
		t.Helper()
		r, p := add(t, token, in)
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		return p
	}
	// Each subtest has its own workspace, so tags and counts never mix.
	setup := func(t *testing.T, n int) (*testenv.Workspace, []string) {
		ws := env.Workspace(t, t.Name())
		return ws, fxContacts(t, env, ws.Owner(), n, nil)
	}

	t.Run("OKByID", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 3)
		vip, lead := fxTag(t, env, ws.Owner(), "VIP"), fxTag(t, env, ws.Owner(), "Lead")
		p := mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids[:2], "tagIds": []string{vip, lead}})
		if got := len(p.AddTagsToContacts.Contacts); got != 2 {
			t.Errorf("payload contacts: got %d, want 2", got)
		}
		for i, c := range p.AddTagsToContacts.Contacts {
			if c.ID != ids[i] {
				t.Errorf("payload contact %d: got %s, want %s (input order)", i, c.ID, ids[i])
			}
			if len(c.Tags) != 2 || c.Tags[0].Name != "Lead" || c.Tags[1].Name != "VIP" {
				t.Errorf("payload contact %d tags: got %+v, want Lead, VIP", i, c.Tags)
			}
		}
		if got := len(p.AddTagsToContacts.Tags); got != 2 {
			t.Errorf("payload tags: got %d, want 2", got)
		}
		for i, id := range ids {
			want := []string{"Lead", "VIP"}
			if i == 2 {
				want = []string{}
			}
			if got := fxContactTags(t, env, ws.Owner(), id); !slices.Equal(got, want) {
				t.Errorf("contact %d tags: got %q, want %q", i, got, want)
			}
		}
		if got := fxContactCount(t, env, ws.Owner(), vip); got != 2 {
			t.Errorf("VIP contactCount: got %d, want 2", got)
		}
	})

	t.Run("OKByNameExisting", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 2)
		vip := fxTag(t, env, ws.Owner(), "VIP")
		p := mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids, "tagNames": []string{"  vip "}})
		if tags := p.AddTagsToContacts.Tags; len(tags) != 1 || tags[0].ID != vip || tags[0].Name != "VIP" {
			t.Errorf("payload tags: got %+v, want the existing VIP tag %s", tags, vip)
		}
		if got, want := fxTagNames(t, env, ws.Owner()), []string{"VIP"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %q, want %q (no tag created)", got, want)
		}
		if got := fxContactCount(t, env, ws.Owner(), vip); got != 2 {
			t.Errorf("VIP contactCount: got %d, want 2", got)
		}
	})

	t.Run("OKByNameCreates", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 2)
		fxTag(t, env, ws.Owner(), "Existing")
		p := mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids, "tagNames": []string{" Brand New ", "brand new", "existing"}})
		var got []string
		for _, tag := range p.AddTagsToContacts.Tags {
			got = append(got, tag.Name)
			if tag.ContactCount != 2 {
				t.Errorf("payload %s.contactCount: got %d, want 2", tag.Name, tag.ContactCount)
			}
		}
		slices.Sort(got)
		if want := []string{"Brand New", "Existing"}; !slices.Equal(got, want) {
			t.Errorf("payload tags: got %q, want %q", got, want)
		}
		if got, want := fxTagNames(t, env, ws.Owner()), []string{"Brand New", "Existing"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %q, want %q (one tag created, trimmed, once)", got, want)
		}
		for i, id := range ids {
			if got, want := fxContactTags(t, env, ws.Owner(), id), []string{"Brand New", "Existing"}; !slices.Equal(got, want) {
				t.Errorf("contact %d tags: got %q, want %q", i, got, want)
			}
		}
	})

	t.Run("OKByIDAndName", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 1)
		vip := fxTag(t, env, ws.Owner(), "VIP")
		p := mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids, "tagIds": []string{vip, vip}, "tagNames": []string{"VIP"}})
		if tags := p.AddTagsToContacts.Tags; len(tags) != 1 || tags[0].ID != vip {
			t.Errorf("payload tags: got %+v, want VIP once", tags)
		}
		if got, want := fxContactTags(t, env, ws.Owner(), ids[0]), []string{"VIP"}; !slices.Equal(got, want) {
			t.Errorf("contact tags: got %q, want %q", got, want)
		}
	})

	t.Run("OKIdempotent", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 2)
		vip := fxTag(t, env, ws.Owner(), "VIP")
		mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids[:1], "tagIds": []string{vip}})
		mustAdd(t, ws.Owner(), map[string]any{"contactIds": []string{ids[0], ids[1], ids[0]}, "tagIds": []string{vip}})
		mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids, "tagNames": []string{"VIP"}})
		for i, id := range ids {
			if got, want := fxContactTags(t, env, ws.Owner(), id), []string{"VIP"}; !slices.Equal(got, want) {
				t.Errorf("contact %d tags: got %q, want %q (once)", i, got, want)
			}
		}
		if got := fxContactCount(t, env, ws.Owner(), vip); got != 2 {
			t.Errorf("VIP contactCount: got %d, want 2", got)
		}
	})

	t.Run("OKAgent", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 1)
		mustAdd(t, ws.Agent(), map[string]any{"contactIds": ids, "tagNames": []string{"By agent"}})
		if got, want := fxContactTags(t, env, ws.Agent(), ids[0]), []string{"By agent"}; !slices.Equal(got, want) {
			t.Errorf("contact tags: got %q, want %q", got, want)
		}
	})

	t.Run("OKHundredContacts", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 100)
		p := mustAdd(t, ws.Owner(), map[string]any{"contactIds": ids, "tagNames": []string{"Bulk"}})
		if got := len(p.AddTagsToContacts.Contacts); got != 100 {
			t.Errorf("payload contacts: got %d, want 100", got)
		}
		if tags := p.AddTagsToContacts.Tags; len(tags) != 1 || tags[0].ContactCount != 100 {
			t.Errorf("payload tags: got %+v, want Bulk on 100 contacts", tags)
		}
	})

	t.Run("ErrLimitExceeded", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 101)
		vip := fxTag(t, env, ws.Owner(), "VIP")
		r, _ := add(t, ws.Owner(), map[string]any{"contactIds": ids, "tagIds": []string{vip}, "tagNames": []string{"Too many"}})
		fxWantError(t, r, "LIMIT_EXCEEDED", "contactIds")
		if got := fxContactCount(t, env, ws.Owner(), vip); got != 0 {
			t.Errorf("VIP contactCount: got %d, want 0 (nothing applied)", got)
		}
		if got, want := fxTagNames(t, env, ws.Owner()), []string{"VIP"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %q, want %q (no tag created)", got, want)
		}
	})

	t.Run("ErrUnknownContact", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 2)
		other := env.Workspace(t, t.Name()+" other")
		foreign := fxContact(t, env, other.Owner(), "Foreign")
		vip := fxTag(t, env, ws.Owner(), "VIP")
		unknown := base64.RawURLEncoding.EncodeToString([]byte("Contact:00000000-0000-4000-8000-000000000000"))
		for _, c := range []struct{ name, id string }{
			{"Foreign", foreign},
			{"Unknown", unknown},
			{"Garbage", "garbage"},
			{"TagID", vip},
		} {
			t.Run(c.name, func(t *testing.T) {
				r, _ := add(t, ws.Owner(), map[string]any{
					"contactIds": []string{ids[0], c.id, ids[1]}, "tagIds": []string{vip}, "tagNames": []string{"Fresh " + c.name},
				})
				fxWantError(t, r, "NOT_FOUND", "contactIds")
			})
		}
		// Atomic: no tag applied, no tag created from a name.
		if got := fxContactCount(t, env, ws.Owner(), vip); got != 0 {
			t.Errorf("VIP contactCount: got %d, want 0 (nothing applied)", got)
		}
		if got, want := fxTagNames(t, env, ws.Owner()), []string{"VIP"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %q, want %q (no tag created)", got, want)
		}
		for i, id := range ids {
			if got := fxContactTags(t, env, ws.Owner(), id); len(got) != 0 {
				t.Errorf("contact %d tags: got %q, want none", i, got)
			}
		}
		if got := fxContactTags(t, env, other.Owner(), foreign); len(got) != 0 {
			t.Errorf("foreign contact tags: got %q, want none", got)
		}
	})

	t.Run("ErrForeignTag", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 1)
		other := env.Workspace(t, t.Name()+" other")
		foreign := fxTag(t, env, other.Owner(), "Foreign")
		mine := fxTag(t, env, ws.Owner(), "Mine")
		unknown := base64.RawURLEncoding.EncodeToString([]byte("Tag:00000000-0000-4000-8000-000000000000"))
		for _, c := range []struct{ name, id string }{
			{"Foreign", foreign},
			{"Unknown", unknown},
			{"Garbage", "garbage"},
			{"ContactID", ids[0]},
		} {
			t.Run(c.name, func(t *testing.T) {
				r, _ := add(t, ws.Owner(), map[string]any{"contactIds": ids, "tagIds": []string{mine, c.id}, "tagNames": []string{"Fresh"}})
				fxWantError(t, r, "NOT_FOUND", "tagIds")
			})
		}
		if got := fxContactTags(t, env, ws.Owner(), ids[0]); len(got) != 0 {
			t.Errorf("contact tags: got %q, want none (nothing applied)", got)
		}
		if got, want := fxTagNames(t, env, ws.Owner()), []string{"Mine"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %q, want %q (no tag created)", got, want)
		}
		if got := fxContactCount(t, env, other.Owner(), foreign); got != 0 {
			t.Errorf("foreign tag contactCount: got %d, want 0", got)
		}
	})

	t.Run("ErrNoContacts", func(t *testing.T) {
		t.Parallel()
		ws, _ := setup(t, 0)
		r, _ := add(t, ws.Owner(), map[string]any{"contactIds": []string{}, "tagNames": []string{"Lonely"}})
		fxWantError(t, r, "BAD_USER_INPUT", "contactIds")
		if got := fxTagNames(t, env, ws.Owner()); len(got) != 0 {
			t.Errorf("tags: got %q, want none", got)
		}
	})

	t.Run("ErrNoTags", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 1)
		for _, in := range []map[string]any{
			{"contactIds": ids},
			{"contactIds": ids, "tagIds": []string{}, "tagNames": []string{}},
		} {
			r, _ := add(t, ws.Owner(), in)
			fxWantError(t, r, "BAD_USER_INPUT", "tagIds")
		}
	})

	t.Run("ErrBadTagName", func(t *testing.T) {
		t.Parallel()
		ws, ids := setup(t, 1)
		for _, name := range []string{"  ", strings.Repeat("n", 65)} {
			r, _ := add(t, ws.Owner(), map[string]any{"contactIds": ids, "tagNames": []string{"Good", name}})
			fxWantError(t, r, "BAD_USER_INPUT", "tagNames")
		}
		if got := fxTagNames(t, env, ws.Owner()); len(got) != 0 {
			t.Errorf("tags: got %q, want none", got)
		}
	})
}

const removeTagMutation = `mutation($in: RemoveTagFromContactInput!) {
	removeTagFromContact(input: $in) { contact { id tags { name } } tag { id name contactCount } } }`

func TestRemoveTagFromContact(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Remove")
	other := env.Workspace(t, "Remove other")
	ids := fxContacts(t, env, ws.Owner(), 2, nil)
	vip, lead := fxTag(t, env, ws.Owner(), "VIP"), fxTag(t, env, ws.Owner(), "Lead")
	env.MustDo(t, ws.Owner(), addTagsMutation, map[string]any{"in": map[string]any{"contactIds": ids, "tagIds": []string{vip, lead}}}, nil)
	foreignContact := fxContact(t, env, other.Owner(), "Foreign")
	foreignTag := fxTag(t, env, other.Owner(), "VIP")
	env.MustDo(t, other.Owner(), addTagsMutation, map[string]any{"in": map[string]any{"contactIds": []string{foreignContact}, "tagIds": []string{foreignTag}}}, nil)

	remove := func(t *testing.T, token, contactID, tagID string) *testenv.Response {
		t.Helper()
		return env.Do(t, token, removeTagMutation, map[string]any{"in": map[string]any{"contactId": contactID, "tagId": tagID}})
	}

	t.Run("OK", func(t *testing.T) {
		r := remove(t, ws.Agent(), ids[0], vip)
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
		var p struct {
			RemoveTagFromContact struct {
				Contact struct {
					ID   string
					Tags []struct{ Name string }
				}
				Tag fxTagData
			}
		}
		r.Decode(t, &p)
		if tags := p.RemoveTagFromContact.Contact.Tags; len(tags) != 1 || tags[0].Name != "Lead" {
			t.Errorf("payload contact tags: got %+v, want Lead", tags)
		}
		if tag := p.RemoveTagFromContact.Tag; tag.ID != vip || tag.ContactCount != 1 {
			t.Errorf("payload tag: got %+v, want VIP with contactCount 1", tag)
		}
		if got, want := fxContactTags(t, env, ws.Owner(), ids[0]), []string{"Lead"}; !slices.Equal(got, want) {
			t.Errorf("contact 0 tags: got %q, want %q", got, want)
		}
		if got, want := fxContactTags(t, env, ws.Owner(), ids[1]), []string{"Lead", "VIP"}; !slices.Equal(got, want) {
			t.Errorf("contact 1 tags: got %q, want %q (untouched)", got, want)
		}
		if got, want := fxTagNames(t, env, ws.Owner()), []string{"Lead", "VIP"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %q, want %q (the tag stays)", got, want)
		}
		if got := fxContactCount(t, env, ws.Owner(), vip); got != 1 {
			t.Errorf("VIP contactCount: got %d, want 1", got)
		}
	})

	t.Run("OKLastContactTagStays", func(t *testing.T) {
		for _, id := range ids {
			r := remove(t, ws.Owner(), id, lead)
			if len(r.Errors) > 0 {
				t.Fatalf("errors: got %+v, want none", r.Errors)
			}
		}
		if got := fxContactCount(t, env, ws.Owner(), lead); got != 0 {
			t.Errorf("Lead contactCount: got %d, want 0", got)
		}
		if got := fxTagNames(t, env, ws.Owner()); !slices.Contains(got, "Lead") {
			t.Errorf("tags: got %q, want Lead still there", got)
		}
	})

	t.Run("OKNotTagged", func(t *testing.T) {
		// Removing a tag a contact does not carry changes nothing and is not an error.
		r := remove(t, ws.Owner(), ids[0], lead)
		if len(r.Errors) > 0 {
			t.Fatalf("errors: got %+v, want none", r.Errors)
		}
	})

	t.Run("ErrForeignContact", func(t *testing.T) {
		fxWantError(t, remove(t, ws.Owner(), foreignContact, vip), "NOT_FOUND", "contactId")
		if got, want := fxContactTags(t, env, other.Owner(), foreignContact), []string{"VIP"}; !slices.Equal(got, want) {
			t.Errorf("foreign contact tags: got %q, want %q (untouched)", got, want)
		}
	})

	t.Run("ErrForeignTag", func(t *testing.T) {
		fxWantError(t, remove(t, ws.Owner(), ids[1], foreignTag), "NOT_FOUND", "tagId")
		fxWantError(t, remove(t, ws.Owner(), foreignContact, foreignTag), "NOT_FOUND", "contactId")
		if got := fxContactCount(t, env, other.Owner(), foreignTag); got != 1 {
			t.Errorf("foreign tag contactCount: got %d, want 1 (untouched)", got)
		}
	})

	t.Run("ErrUnknownIDs", func(t *testing.T) {
		fxWantError(t, remove(t, ws.Owner(), "garbage", vip), "NOT_FOUND", "contactId")
		fxWantError(t, remove(t, ws.Owner(), ids[1], "garbage"), "NOT_FOUND", "tagId")
		fxWantError(t, remove(t, ws.Owner(), vip, vip), "NOT_FOUND", "contactId")
		fxWantError(t, remove(t, ws.Owner(), ids[1], ids[1]), "NOT_FOUND", "tagId")
		unknown := base64.RawURLEncoding.EncodeToString([]byte("Tag:00000000-0000-4000-8000-000000000000"))
		fxWantError(t, remove(t, ws.Owner(), ids[1], unknown), "NOT_FOUND", "tagId")
	})
}
