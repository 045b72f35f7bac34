package graph_test

// Mutation payloads read in the transaction that made them: for each mutation, the payload
// shows exactly what it committed (the same as a fresh read afterwards), and the request runs
// no statement after the mutation's transaction committed. Helpers start with pl.

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"rubrica/db/dbtest"
	"rubrica/internal/testenv"
)

// plDo runs one mutation with counted statements, fails on errors, and checks that its
// payload needed no statement after its transaction: the request's statements are the
// token lookup (at most one, before the transaction), then those of exactly one transaction,
// and nothing after that transaction's commit. It returns the data as generic JSON.
func plDo(t *testing.T, env *testenv.Env, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	env.Counter.Reset()
	r := env.Do(t, token, query, vars)
	steps := env.Counter.Steps()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: got %+v, want none", r.Errors)
	}
	plWantOneTransaction(t, steps)
	var data map[string]any
	r.Decode(t, &data)
	return data
}

// plWantOneTransaction checks the statements of a request against the shape plDo describes.
func plWantOneTransaction(t *testing.T, steps []dbtest.Step) {
	t.Helper()
	var before, inside, commits, after int
	for _, s := range steps {
		switch {
		case s.Statement == "":
			commits++
		case commits > 0:
			after++
		case s.InTx:
			inside++
		case inside == 0:
			before++
		default:
			after++ // outside the transaction, after it began: not the token lookup
		}
	}
	if commits != 1 || inside == 0 || before > 1 || after != 0 {
		t.Errorf("statements: got %d before the transaction, %d inside, %d commits, %d after; "+
			"want at most 1 (the token lookup), some, 1 and 0:\n%s", before, inside, commits, after, plSteps(steps))
	}
}

func plSteps(steps []dbtest.Step) string {
	var b strings.Builder
	for _, s := range steps {
		switch {
		case s.Statement == "":
			b.WriteString("COMMIT\n")
		case s.InTx:
			b.WriteString("  tx: " + strings.Join(strings.Fields(s.Statement), " ") + "\n")
		default:
			b.WriteString("  " + strings.Join(strings.Fields(s.Statement), " ") + "\n")
		}
	}
	return b.String()
}

// plField walks a generic JSON value down a path of object keys.
func plField(v any, path ...string) any {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// plRead runs a query and returns the value at path of its data.
func plRead(t *testing.T, env *testenv.Env, token, query string, vars map[string]any, path ...string) any {
	t.Helper()
	var data map[string]any
	env.MustDo(t, token, query, vars, &data)
	return plField(data, path...)
}

// plWantSame fails unless the payload's value equals a fresh read of it.
func plWantSame(t *testing.T, what string, payload, fresh any) {
	t.Helper()
	if !reflect.DeepEqual(payload, fresh) {
		p, _ := json.Marshal(payload)
		f, _ := json.Marshal(fresh)
		t.Errorf("%s: the payload shows %s, a fresh read %s", what, p, f)
	}
}

// plJSON is v as compact JSON, to compare against an expected shape.
func plJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The fields of a contact the payload tests compare: the contact itself and the batched
// lists a mutation changes (the lists it does not change load after it, through the loaders).
const (
	plTagFields     = `id updatedAt firstName tags { id name contactCount }`
	plChannelFields = `id updatedAt firstName channels { channel { id } status identifier }`
	plContactFields = `id updatedAt firstName assignee { id name }
		tags { id name contactCount }
		customFields { definition { key } value }
		channels { channel { id } status identifier }`
)

// plContactQuery reads a contact with the fields.
func plContactQuery(fields string) string {
	return `query($id: ID!) { contact(id: $id) { ` + fields + ` } }`
}

// plTagNames returns "name:count" for each tag of a contact, in API order.
func plTagNames(contact any) []string {
	var out []string
	list, _ := plField(contact, "tags").([]any)
	for _, tag := range list {
		out = append(out, plField(tag, "name").(string)+":"+plJSON(plField(tag, "contactCount")))
	}
	return out
}

// plStatus returns a contact's status on a channel.
func plStatus(contact any, channelID string) string {
	list, _ := plField(contact, "channels").([]any)
	for _, cc := range list {
		if plField(cc, "channel", "id") == channelID {
			s, _ := plField(cc, "status").(string)
			return s
		}
	}
	return "(no such channel)"
}

func TestAddTagsToContactsPayloadInTransaction(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Payload add")
	a := fxContact(t, env, ws.Agent(), "Ada")
	b := fxContact(t, env, ws.Agent(), "Bea")
	lead := fxTag(t, env, ws.Agent(), "Lead")
	mgTag(t, env, ws.Agent(), []string{a}, "Lead")

	data := plDo(t, env, ws.Agent(), `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) {
		contacts { `+plTagFields+` } tags { id name contactCount } } }`,
		map[string]any{"in": map[string]any{"contactIds": []string{b, a}, "tagIds": []string{lead}, "tagNames": []string{"VIP"}}})
	contacts, _ := plField(data, "addTagsToContacts", "contacts").([]any)
	if len(contacts) != 2 || plField(contacts[0], "id") != b || plField(contacts[1], "id") != a {
		t.Fatalf("contacts: got %s, want %s then %s", plJSON(contacts), b, a)
	}
	for i, want := range [][]string{{"Lead:2", "VIP:2"}, {"Lead:2", "VIP:2"}} {
		if got := plTagNames(contacts[i]); !reflect.DeepEqual(got, want) {
			t.Errorf("contact %d tags: got %v, want %v", i, got, want)
		}
		id := plField(contacts[i], "id")
		plWantSame(t, "contact", contacts[i], plRead(t, env, ws.Agent(), plContactQuery(plTagFields), map[string]any{"id": id}, "contact"))
	}
	tags, _ := plField(data, "addTagsToContacts", "tags").([]any)
	if len(tags) != 2 {
		t.Fatalf("tags: got %s, want Lead and VIP", plJSON(tags))
	}
	for _, tag := range tags {
		if n := plField(tag, "contactCount"); n != 2.0 {
			t.Errorf("tag %v: contactCount %v, want 2", plField(tag, "name"), n)
		}
	}
}

func TestRemoveTagFromContactPayloadInTransaction(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Payload remove tag")
	a := fxContact(t, env, ws.Agent(), "Ada")
	b := fxContact(t, env, ws.Agent(), "Bea")
	mgTag(t, env, ws.Agent(), []string{a, b}, "VIP", "Lead")
	other := fxTag(t, env, ws.Agent(), "Other") // a tag on no contact
	var tags struct {
		Tags struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	env.MustDo(t, ws.Agent(), `{ tags(search: "vip") { edges { node { id name } } } }`, nil, &tags)
	if len(tags.Tags.Edges) != 1 {
		t.Fatalf("tags: got %+v, want VIP", tags)
	}
	vip := tags.Tags.Edges[0].Node.ID

	const remove = `mutation($in: RemoveTagFromContactInput!) { removeTagFromContact(input: $in) {
		contact { ` + plTagFields + ` } tag { id name contactCount } } }`
	data := plDo(t, env, ws.Agent(), remove, map[string]any{"in": map[string]any{"contactId": a, "tagId": vip}})
	contact := plField(data, "removeTagFromContact", "contact")
	if got, want := plTagNames(contact), []string{"Lead:2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("contact tags: got %v, want %v", got, want)
	}
	plWantSame(t, "contact", contact, plRead(t, env, ws.Agent(), plContactQuery(plTagFields), map[string]any{"id": a}, "contact"))
	if tag := plField(data, "removeTagFromContact", "tag"); plField(tag, "id") != vip || plField(tag, "contactCount") != 1.0 {
		t.Errorf("tag: got %s, want VIP on 1 contact", plJSON(tag))
	}

	// A tag the contact does not carry changes nothing, and says so the same way.
	data = plDo(t, env, ws.Agent(), remove, map[string]any{"in": map[string]any{"contactId": a, "tagId": other}})
	if tag := plField(data, "removeTagFromContact", "tag"); plField(tag, "id") != other || plField(tag, "contactCount") != 0.0 {
		t.Errorf("tag on no contact: got %s, want it on 0 contacts", plJSON(tag))
	}
	plWantSame(t, "contact", plField(data, "removeTagFromContact", "contact"),
		plRead(t, env, ws.Agent(), plContactQuery(plTagFields), map[string]any{"id": a}, "contact"))
}

func TestRemoveContactChannelPayloadInTransaction(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Payload remove channel")
	channels := chChannelsByType(t, env, ws.Owner(), "WHATSAPP", "SMS")
	id := mgReceive(t, env, ws.Agent(), channels["WHATSAPP"], "+393331234567", "hello").ContactID
	if got := plStatus(plRead(t, env, ws.Agent(), plContactQuery(plChannelFields), map[string]any{"id": id}, "contact"), channels["WHATSAPP"]); got != "ACTIVE" {
		t.Fatalf("WhatsApp before: got %s, want ACTIVE", got)
	}

	data := plDo(t, env, ws.Manager(), `mutation($in: RemoveContactChannelInput!) { removeContactChannel(input: $in) {
		contact { `+plChannelFields+` } contactChannel { channel { id } status identifier } } }`,
		map[string]any{"in": map[string]any{"contactId": id, "channelId": channels["WHATSAPP"]}})
	contact := plField(data, "removeContactChannel", "contact")
	// The contact keeps the phone its first message gave: WhatsApp falls back to INACTIVE.
	if got := plStatus(contact, channels["WHATSAPP"]); got != "INACTIVE" {
		t.Errorf("WhatsApp: got %s, want INACTIVE", got)
	}
	cc := plField(data, "removeContactChannel", "contactChannel")
	if plField(cc, "channel", "id") != channels["WHATSAPP"] || plField(cc, "status") != plStatus(contact, channels["WHATSAPP"]) {
		t.Errorf("contactChannel: got %s, want WhatsApp as the contact's channels show it", plJSON(cc))
	}
	plWantSame(t, "contact", contact, plRead(t, env, ws.Agent(), plContactQuery(plChannelFields), map[string]any{"id": id}, "contact"))
}

func TestUnmergeContactsPayloadInTransaction(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Payload unmerge")
	fxDefinition(t, env, ws.Owner(), "plan", "TEXT")
	channels := chChannelsByType(t, env, ws.Owner(), "WHATSAPP")
	primary := mgCreate(t, env, ws.Agent(), map[string]any{"firstName": "Ada",
		"customFields": []map[string]any{{"key": "plan", "value": "gold"}}})
	secondary := mgReceive(t, env, ws.Agent(), channels["WHATSAPP"], "+393339876543", "hi").ContactID
	mgTag(t, env, ws.Agent(), []string{primary}, "Lead")
	mgTag(t, env, ws.Agent(), []string{secondary}, "VIP")
	viewer := fxViewerID(t, env, ws.Agent())
	mgUpdate(t, env, ws.Agent(), secondary, map[string]any{"assigneeId": viewer})
	merge := mgMerge(t, env, ws.Agent(), primary, secondary)

	data := plDo(t, env, ws.Agent(), `mutation($id: ID!) { unmergeContacts(input: {mergeId: $id}) {
		primaryContact { `+plContactFields+` } restoredContact { `+plContactFields+` }
		merge { `+mgMergeFields+` } } }`, map[string]any{"id": merge.ID})
	p := plField(data, "unmergeContacts", "primaryContact")
	s := plField(data, "unmergeContacts", "restoredContact")
	if plField(p, "id") != primary || plField(s, "id") != secondary {
		t.Fatalf("contacts: got %v and %v, want %s and %s", plField(p, "id"), plField(s, "id"), primary, secondary)
	}
	if got := plTagNames(p); !reflect.DeepEqual(got, []string{"Lead:1"}) {
		t.Errorf("primary tags: got %v, want [Lead:1]", got)
	}
	if got := plTagNames(s); !reflect.DeepEqual(got, []string{"VIP:1"}) {
		t.Errorf("restored tags: got %v, want [VIP:1]", got)
	}
	if got := plJSON(plField(p, "customFields")); got != `[{"definition":{"key":"plan"},"value":"gold"}]` {
		t.Errorf("primary custom fields: got %s, want plan gold", got)
	}
	if plStatus(p, channels["WHATSAPP"]) == "ACTIVE" || plStatus(s, channels["WHATSAPP"]) != "ACTIVE" {
		t.Errorf("WhatsApp: primary %s, restored %s; want the link back on the restored contact",
			plStatus(p, channels["WHATSAPP"]), plStatus(s, channels["WHATSAPP"]))
	}
	if plField(p, "assignee") != nil || plField(s, "assignee", "id") != viewer {
		t.Errorf("assignees: primary %s, restored %s; want the primary's back (none) and %s on the restored",
			plJSON(plField(p, "assignee")), plJSON(plField(s, "assignee")), viewer)
	}
	m := plField(data, "unmergeContacts", "merge")
	if plField(m, "undoneAt") == nil || plField(m, "primaryContact", "id") != primary ||
		plField(m, "mergedBy", "id") != viewer || plField(m, "undoneBy", "id") != viewer {
		t.Errorf("merge: got %s, want it undone by %s, into the primary", plJSON(m), viewer)
	}
	for _, c := range []any{p, s} {
		plWantSame(t, "contact", c, plRead(t, env, ws.Agent(), plContactQuery(plContactFields), map[string]any{"id": plField(c, "id")}, "contact"))
	}
}

func TestCreateCustomFieldDefinitionPayloadInTransaction(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Payload definition")
	fxDefinition(t, env, ws.Owner(), "plan", "TEXT")

	const fields = `id contactFieldOrder customFieldDefinitions { id key label type }`
	data := plDo(t, env, ws.Manager(), `mutation($in: CreateCustomFieldDefinitionInput!) { createCustomFieldDefinition(input: $in) {
		customFieldDefinition { id key } workspace { `+fields+` } } }`,
		map[string]any{"in": map[string]any{"key": "tier", "label": "Tier", "type": "TEXT"}})
	w := plField(data, "createCustomFieldDefinition", "workspace")
	order, _ := plField(w, "contactFieldOrder").([]any)
	if len(order) < 2 || order[len(order)-2] != "plan" || order[len(order)-1] != "tier" {
		t.Errorf("contactFieldOrder: got %v, want it to end with plan, tier", order)
	}
	defs, _ := plField(w, "customFieldDefinitions").([]any)
	if len(defs) != 2 || plField(defs[1], "id") != plField(data, "createCustomFieldDefinition", "customFieldDefinition", "id") {
		t.Errorf("customFieldDefinitions: got %s, want plan then the new tier", plJSON(defs))
	}
	plWantSame(t, "workspace", w, plRead(t, env, ws.Agent(), `{ workspace { `+fields+` } }`, nil, "workspace"))
}

// Two mutations in one request: each payload shows what its own transaction committed, not
// what the loaders kept from the one before.
func TestPayloadsOfTwoMutationsInOneRequest(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Payload twice")

	t.Run("CreateCustomFieldDefinition", func(t *testing.T) {
		var data map[string]struct {
			Workspace struct{ CustomFieldDefinitions []struct{ Key string } }
		}
		env.MustDo(t, ws.Manager(), `mutation {
			a: createCustomFieldDefinition(input: {key: "first", label: "First", type: TEXT}) { workspace { customFieldDefinitions { key } } }
			b: createCustomFieldDefinition(input: {key: "second", label: "Second", type: TEXT}) { workspace { customFieldDefinitions { key } } }
		}`, nil, &data)
		for alias, want := range map[string]string{"a": `[{"Key":"first"}]`, "b": `[{"Key":"first"},{"Key":"second"}]`} {
			if got := plJSON(data[alias].Workspace.CustomFieldDefinitions); got != want {
				t.Errorf("%s: got %s, want %s", alias, got, want)
			}
		}
	})

	t.Run("Tags", func(t *testing.T) {
		id := fxContact(t, env, ws.Agent(), "Ada")
		tag := fxTag(t, env, ws.Agent(), "VIP")
		var data struct {
			A struct{ Contacts []struct{ Tags []fxTagData } }
			B struct{ Contact struct{ Tags []fxTagData } }
		}
		env.MustDo(t, ws.Agent(), `mutation($c: ID!, $t: ID!) {
			a: addTagsToContacts(input: {contactIds: [$c], tagIds: [$t]}) { contacts { tags { name contactCount } } }
			b: removeTagFromContact(input: {contactId: $c, tagId: $t}) { contact { tags { name contactCount } } }
		}`, map[string]any{"c": id, "t": tag}, &data)
		if len(data.A.Contacts) != 1 || plJSON(data.A.Contacts[0].Tags) != `[{"ID":"","Name":"VIP","Color":null,"ContactCount":1}]` {
			t.Errorf("a: got %s, want the contact with VIP on 1 contact", plJSON(data.A.Contacts))
		}
		if got := data.B.Contact.Tags; len(got) != 0 {
			t.Errorf("b: got %s, want no tags", plJSON(got))
		}
	})
}
