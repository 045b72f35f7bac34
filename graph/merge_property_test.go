package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"rubrica"
	"rubrica/internal/testenv"
)

// The property tests of merge and unmerge: random pairs of contacts, merged and unmerged,
// come back exactly as they were. MERGE_SEED=n replays a run (each test logs its seed).

// ppSeed returns the seed of a run: MERGE_SEED when set, else the clock.
func ppSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MERGE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MERGE_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (MERGE_SEED=%d replays it)", seed, seed)
	return seed
}

// ppWorld is a workspace with channels, custom fields, tags and members to draw from.
type ppWorld struct {
	env      *testenv.Env
	ws       *testenv.Workspace
	token    string
	channels map[string]string // type → global id
	members  []string          // global ids
	serial   int               // makes identifiers unique
}

// ppIdentity is one channel identity a contact was linked through.
type ppIdentity struct {
	channel    string // global id
	identifier string
}

// ppContact is a generated contact and the identities it holds.
type ppContact struct {
	id         string
	identities []ppIdentity
}

var (
	ppFirstNames = []string{"Ada", "Bea", "Carla", "Dario", "Elio", "Fabia", "Gino", "Ilaria"}
	ppLastNames  = []string{"Rossi", "Bianchi", "Lovelace", "Verdi", "Neri", "Conti"}
	ppLanguages  = []string{"it", "en", "fr", "de", "es-ES", "pt-BR"}
	ppCountries  = []string{"IT", "FR", "DE", "US", "GB", "ES"}
	ppTags       = []string{"vip", "lead", "churned", "newsletter", "b2b", "support"}
	ppPlans      = []string{"gold", "silver", "bronze"}
	ppCustomKeys = []string{"plan", "score", "since", "vip", "site", "note", "alt_email"}
	ppStandard   = rubrica.MergeableFields
)

func ppNewWorld(t *testing.T, env *testenv.Env, name string) *ppWorld {
	t.Helper()
	ws := env.Workspace(t, name)
	w := &ppWorld{env: env, ws: ws, token: ws.Owner(), channels: map[string]string{}}
	for _, typ := range []string{"WHATSAPP", "EMAIL", "FACEBOOK"} {
		w.channels[typ] = mgChannel(t, env, w.token, typ, typ+" channel")
	}
	fxDefinition(t, env, w.token, "plan", "LIST", ppPlans...)
	fxDefinition(t, env, w.token, "score", "NUMBER")
	fxDefinition(t, env, w.token, "since", "DATE")
	fxDefinition(t, env, w.token, "vip", "CHECKBOX")
	fxDefinition(t, env, w.token, "site", "URL")
	fxDefinition(t, env, w.token, "note", "TEXT")
	fxDefinition(t, env, w.token, "alt_email", "EMAIL")
	for _, tok := range []string{ws.Owner(), ws.Manager(), ws.Agent()} {
		w.members = append(w.members, fxViewerID(t, env, tok))
	}
	return w
}

func ppPick[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

// ppValues returns 0 to n distinct values of a pool of n+1 (value(i) for i in 0..n), in a
// random order: several phones or emails, often shared by the two of a pair.
func ppValues(rng *rand.Rand, n int, value func(int) string) []string {
	out := []string{}
	for _, i := range rng.Perm(n + 1)[:rng.IntN(n+1)] {
		out = append(out, value(i))
	}
	return out
}

// ppMaybe returns v with probability p, else nil.
func ppMaybe(rng *rand.Rand, p float64, v any) any {
	if rng.Float64() < p {
		return v
	}
	return nil
}

// ppCustomValue returns a random valid value for a custom field.
func ppCustomValue(rng *rand.Rand, key string) string {
	switch key {
	case "plan":
		return ppPick(rng, ppPlans)
	case "score":
		return strconv.Itoa(rng.IntN(1000))
	case "since":
		return fmt.Sprintf("20%02d-%02d-%02d", 10+rng.IntN(16), 1+rng.IntN(12), 1+rng.IntN(28))
	case "vip":
		return strconv.FormatBool(rng.IntN(2) == 0)
	case "site":
		return fmt.Sprintf("https://example.com/%d", rng.IntN(100))
	case "note":
		return fmt.Sprintf("note %d", rng.IntN(100))
	}
	return fmt.Sprintf("alt%d@example.net", rng.IntN(100))
}

// identifier returns a fresh identifier for a channel type.
func (w *ppWorld) identifier(typ string) string {
	w.serial++
	switch typ {
	case "WHATSAPP":
		return fmt.Sprintf("+39347%07d", w.serial)
	case "EMAIL":
		return fmt.Sprintf("id%d@example.org", w.serial)
	}
	return fmt.Sprintf("psid-%d", w.serial)
}

// newContact creates a random contact: random fields (several phones and emails from a small
// pool, so the two of a pair often share some), custom values, tags, identities with conversations and
// messages in and out, some conversations closed.
func (w *ppWorld) newContact(t *testing.T, rng *rand.Rand, pool int) *ppContact {
	t.Helper()
	env, tok := w.env, w.token
	in := map[string]any{
		"firstName":         ppMaybe(rng, 0.8, ppPick(rng, ppFirstNames)),
		"lastName":          ppMaybe(rng, 0.6, ppPick(rng, ppLastNames)),
		"emails":            ppValues(rng, 3, func(i int) string { return fmt.Sprintf("p%d.%d@example.com", pool, i) }),
		"phones":            ppValues(rng, 3, func(i int) string { return fmt.Sprintf("+39333%03d%04d", pool, i) }),
		"language":          ppMaybe(rng, 0.5, ppPick(rng, ppLanguages)),
		"country":           ppMaybe(rng, 0.3, ppPick(rng, ppCountries)),
		"assigneeId":        ppMaybe(rng, 0.4, ppPick(rng, w.members)),
		"profilePictureUrl": ppMaybe(rng, 0.3, fmt.Sprintf("https://img.example.com/%d.png", rng.IntN(50))),
	}
	var custom []map[string]any
	for _, k := range ppCustomKeys {
		if rng.IntN(2) == 0 {
			custom = append(custom, map[string]any{"key": k, "value": ppCustomValue(rng, k)})
		}
	}
	in["customFields"] = custom
	c := &ppContact{id: mgCreate(t, env, tok, in)}
	if tags := ppSubset(rng, ppTags); len(tags) > 0 {
		mgTag(t, env, tok, []string{c.id}, tags...)
	}
	// Identities the contact gets by writing, each first a contact of its own, merged in.
	for range rng.IntN(3) {
		typ := ppPick(rng, []string{"WHATSAPP", "EMAIL", "FACEBOOK"})
		id := ppIdentity{channel: w.channels[typ], identifier: w.identifier(typ)}
		var r mgReceived
		for j := range 1 + rng.IntN(3) {
			r = w.receive(t, id, fmt.Sprintf("in %s #%d", id.identifier, j), rng.IntN(3) == 0)
		}
		if rng.IntN(3) == 0 {
			mgClose(t, env, tok, r.ConversationID)
			w.receive(t, id, "in again "+id.identifier, false)
		}
		mgMerge(t, env, tok, c.id, r.ContactID)
		c.identities = append(c.identities, id)
	}
	// Members write: on WhatsApp or email (connecting the contact's phone or email), or on
	// the default channel.
	for range rng.IntN(4) {
		ch := ""
		if rng.IntN(3) > 0 {
			ch = w.channels[ppPick(rng, []string{"WHATSAPP", "EMAIL", "FACEBOOK"})]
		}
		w.trySend(t, c.id, ch, fmt.Sprintf("out %d", rng.IntN(1000)))
	}
	if rng.IntN(4) == 0 {
		var data struct {
			Contact struct {
				Conversations struct {
					Edges []struct{ Node struct{ ID, Status string } }
				}
			}
		}
		env.MustDo(t, tok, `query($id: ID!) { contact(id: $id) { conversations { edges { node { id status } } } } }`, map[string]any{"id": c.id}, &data)
		for _, e := range data.Contact.Conversations.Edges {
			if e.Node.Status == "OPEN" {
				mgClose(t, env, tok, e.Node.ID)
			}
		}
	}
	return c
}

// receive records an inbound message from an identity, with a profile sometimes.
func (w *ppWorld) receive(t *testing.T, id ppIdentity, text string, profile bool) mgReceived {
	t.Helper()
	in := map[string]any{"channelId": id.channel, "identifier": id.identifier, "text": text}
	if profile {
		in["profile"] = map[string]any{"displayName": "Profile " + id.identifier, "language": "pt"}
	}
	var data struct {
		ReceiveMessage struct {
			Contact      struct{ ID string }
			Conversation struct{ ID string }
			Message      struct{ ID string }
		}
	}
	w.env.MustDo(t, w.token, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { contact { id } conversation { id } message { id } } }`,
		map[string]any{"in": in}, &data)
	r := data.ReceiveMessage
	return mgReceived{ContactID: r.Contact.ID, ConversationID: r.Conversation.ID, MessageID: r.Message.ID}
}

// ppSent is an outbound message and the identity it went through.
type ppSent struct {
	messageID string
	identity  ppIdentity
}

// trySend records an outbound message; a channel that cannot reach the contact (or whose
// address another contact holds) sends nothing.
func (w *ppWorld) trySend(t *testing.T, contactID, channelID, text string) *ppSent {
	t.Helper()
	in := map[string]any{"contactId": contactID, "text": text}
	if channelID != "" {
		in["channelId"] = channelID
	}
	r := w.env.Do(t, w.token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) {
		message { id identifier channel { id } } } }`, map[string]any{"in": in})
	if len(r.Errors) > 0 {
		if code := r.Code(); code != "BAD_USER_INPUT" && code != "CONFLICT" {
			t.Fatalf("sendMessage: %+v", r.Errors)
		}
		return nil
	}
	var data struct {
		SendMessage struct {
			Message struct {
				ID         string
				Identifier string
				Channel    struct{ ID string }
			}
		}
	}
	r.Decode(t, &data)
	m := data.SendMessage.Message
	return &ppSent{messageID: m.ID, identity: ppIdentity{channel: m.Channel.ID, identifier: m.Identifier}}
}

func ppSubset[T any](rng *rand.Rand, list []T) []T {
	var out []T
	for _, v := range list {
		if rng.IntN(3) == 0 {
			out = append(out, v)
		}
	}
	return out
}

// ppChoices returns random field choices over the standard and custom fields.
func ppChoices(rng *rand.Rand) []mgChoice {
	var out []mgChoice
	for _, f := range append(slices.Clone(ppStandard), ppCustomKeys...) {
		switch rng.IntN(4) {
		case 0:
			out = append(out, mgChoice{f, "SECONDARY"})
		case 1:
			out = append(out, mgChoice{f, "PRIMARY"})
		}
	}
	return out
}

// ppMessageHomes returns, for every message of the workspace, the conversation and contact
// holding it.
func ppMessageHomes(t *testing.T, env *testenv.Env, workspaceID string) map[string][2]string {
	t.Helper()
	var rows []struct {
		ID           string `db:"id"`
		Conversation string `db:"conversation_id"`
		Contact      string `db:"contact_id"`
	}
	if err := env.DB.SelectContext(context.Background(), &rows, `SELECT m.id, m.conversation_id, cv.contact_id
		FROM messages m JOIN conversations cv ON cv.id = m.conversation_id WHERE m.workspace_id = $1`, workspaceID); err != nil {
		t.Fatal(err)
	}
	out := make(map[string][2]string, len(rows))
	for _, r := range rows {
		out[mgGlobal("Message", r.ID)] = [2]string{r.Conversation, mgGlobalContact(r.Contact)}
	}
	return out
}

// ppLinks returns the contact (global id) of every identity of the workspace.
func ppLinks(t *testing.T, env *testenv.Env, workspaceID string) map[ppIdentity]string {
	t.Helper()
	var rows []struct {
		Channel    string `db:"channel_id"`
		Identifier string `db:"identifier"`
		Contact    string `db:"contact_id"`
	}
	if err := env.DB.SelectContext(context.Background(), &rows, `SELECT channel_id, identifier, contact_id FROM contact_channels WHERE workspace_id = $1`, workspaceID); err != nil {
		t.Fatal(err)
	}
	out := make(map[ppIdentity]string, len(rows))
	for _, r := range rows {
		out[ppIdentity{channel: mgGlobal("Channel", r.Channel), identifier: r.Identifier}] = mgGlobalContact(r.Contact)
	}
	return out
}

// ppIdentityOwner returns the contact (global id) linked through an identity, or "".
func ppIdentityOwner(t *testing.T, env *testenv.Env, id ppIdentity) string {
	t.Helper()
	var owners []string
	if err := env.DB.SelectContext(context.Background(), &owners, `SELECT contact_id FROM contact_channels WHERE channel_id = $1 AND identifier = $2`,
		mgLocal(t, id.channel), id.identifier); err != nil {
		t.Fatal(err)
	}
	if len(owners) == 0 {
		return ""
	}
	return mgGlobalContact(owners[0])
}

func TestMergeUnmergeProperty(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rng := rand.New(rand.NewPCG(ppSeed(t), 1))
	w := ppNewWorld(t, env, "Property")
	const pairs = 25
	for i := range pairs {
		t.Run(fmt.Sprintf("Pair%02d", i), func(t *testing.T) {
			a, b := w.newContact(t, rng, i), w.newContact(t, rng, i)
			beforeA, beforeB := mgSnapshot(t, env, w.token, a.id), mgSnapshot(t, env, w.token, b.id)
			choices := ppChoices(rng)
			m := mgMerge(t, env, w.token, a.id, b.id, choices...)
			merged := mgSnapshot(t, env, w.token, a.id)
			wantMsgs := append(mgMessageIDs(beforeA), mgMessageIDs(beforeB)...)
			sort.Strings(wantMsgs)
			mgWantSlice(t, "messages of the merged contact", mgMessageIDs(merged), wantMsgs)
			mgUnmerge(t, env, w.token, m.ID)
			mgSameSnapshot(t, fmt.Sprintf("primary (choices %v)", choices), mgSnapshot(t, env, w.token, a.id), beforeA, "updatedAt")
			mgSameSnapshot(t, fmt.Sprintf("secondary (choices %v)", choices), mgSnapshot(t, env, w.token, b.id), beforeB)
		})
	}
}

func TestMergeUnmergePropertyWithNewMessages(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rng := rand.New(rand.NewPCG(ppSeed(t), 2))
	w := ppNewWorld(t, env, "PropertyNew")
	const pairs = 25
	for i := range pairs {
		t.Run(fmt.Sprintf("Pair%02d", i), func(t *testing.T) {
			a, b := w.newContact(t, rng, i), w.newContact(t, rng, i)
			homes := ppMessageHomes(t, env, w.ws.ID)
			links := ppLinks(t, env, w.ws.ID)
			m := mgMerge(t, env, w.token, a.id, b.id, ppChoices(rng)...)

			// Messages arrive and leave between the merge and the undo.
			type newMessage struct {
				id    string
				via   ppIdentity
				owner string // the contact whose identity it came through, "" if made since
			}
			var news []newMessage
			for range 1 + rng.IntN(6) {
				switch k := rng.IntN(4); {
				case k < 2 && len(a.identities)+len(b.identities) > 0:
					owner, ids := a.id, a.identities
					if rng.IntN(2) == 0 && len(b.identities) > 0 || len(a.identities) == 0 {
						owner, ids = b.id, b.identities
					}
					via := ppPick(rng, ids)
					r := w.receive(t, via, "after the merge", false)
					mgWant(t, "contact of a message after the merge", r.ContactID, a.id)
					news = append(news, newMessage{id: r.MessageID, via: via, owner: owner})
				case k == 2:
					ch := w.channels[ppPick(rng, []string{"WHATSAPP", "EMAIL", "FACEBOOK"})]
					if s := w.trySend(t, a.id, ch, "answer after the merge"); s != nil {
						news = append(news, newMessage{id: s.messageID, via: s.identity})
					}
				default:
					var data struct {
						Contact struct {
							Conversations struct {
								Edges []struct{ Node struct{ ID, Status string } }
							}
						}
					}
					env.MustDo(t, w.token, `query($id: ID!) { contact(id: $id) { conversations { edges { node { id status } } } } }`,
						map[string]any{"id": a.id}, &data)
					for _, e := range data.Contact.Conversations.Edges {
						if e.Node.Status == "OPEN" {
							mgClose(t, env, w.token, e.Node.ID)
						}
					}
				}
			}
			for i := range news {
				if news[i].owner == "" {
					// Sent through the merged contact's identity on the channel: the contact
					// that brought it, or the primary when the send connected it.
					news[i].owner = a.id
					if o, ok := links[news[i].via]; ok {
						news[i].owner = o
					}
				}
			}
			mgUnmerge(t, env, w.token, m.ID)

			after := ppMessageHomes(t, env, w.ws.ID)
			mgWant(t, "messages in the workspace", len(after), len(homes)+len(news))
			// Messages from before the merge are back in their own conversations.
			for id, home := range homes {
				if after[id] != home {
					t.Errorf("message %s from before the merge: got in %v, want in %v", id, after[id], home)
				}
			}
			// Each new message is with the contact whose identity it came through.
			for _, n := range news {
				owner := n.owner
				if now := ppIdentityOwner(t, env, n.via); now != owner {
					t.Errorf("identity %v: got linked to %s after the undo, want %s", n.via, now, owner)
				}
				if got := after[n.id][1]; got != owner {
					t.Errorf("message %s through %v: got on contact %s, want %s (A %s, B %s)", n.id, n.via, got, owner, a.id, b.id)
				}
			}
			// No conversation left empty by the messages that moved.
			mgWant(t, "empty conversations", mgCount(t, env, `SELECT count(*) FROM conversations cv WHERE workspace_id = $1
				AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = cv.id)`, w.ws.ID), 0)
			// Still at most one open conversation each.
			for _, id := range []string{a.id, b.id} {
				if n := mgCount(t, env, `SELECT count(*) FROM conversations WHERE contact_id = $1 AND status = 'OPEN'`, mgLocal(t, id)); n > 1 {
					t.Errorf("open conversations of %s: got %d, want at most 1", id, n)
				}
			}
		})
	}
}

// ppGroupChoices returns random field choices by contact over the standard and custom fields.
func ppGroupChoices(rng *rand.Rand, ids []string) []gmChoice {
	var out []gmChoice
	for _, f := range append(slices.Clone(ppStandard), ppCustomKeys...) {
		if rng.IntN(2) == 0 {
			out = append(out, gmChoice{f, ppPick(rng, ids)})
		}
	}
	return out
}

// TestGroupMergeUnmergeProperty: random groups of 2 to 6 contacts merged in one call, with
// random choices by contact, and undone: every contact comes back exactly as it was; where
// messages arrived and left between the merge and the undo, each follows the identity it
// came through and the contacts are otherwise exactly as they were.
func TestGroupMergeUnmergeProperty(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rng := rand.New(rand.NewPCG(ppSeed(t), 3))
	w := ppNewWorld(t, env, "GroupProperty")
	const groups = 12
	for i := range groups {
		t.Run(fmt.Sprintf("Group%02d", i), func(t *testing.T) {
			n := 2 + rng.IntN(5)
			cs := make([]*ppContact, n)
			ids := make([]string, n)
			for j := range cs {
				cs[j] = w.newContact(t, rng, 100+i)
				ids[j] = cs[j].id
			}
			before := make([]map[string]any, n)
			var wantMsgs []string
			for j, id := range ids {
				before[j] = mgSnapshot(t, env, w.token, id)
				wantMsgs = append(wantMsgs, mgMessageIDs(before[j])...)
			}
			homes := ppMessageHomes(t, env, w.ws.ID)
			links := ppLinks(t, env, w.ws.ID)
			choices := ppGroupChoices(rng, ids)
			m := gmMerge(t, env, w.token, ids[0], ids[1:], choices...)
			mgWantSlice(t, "mergedContactIds", m.MergedContactIDs, ids[1:])
			mgWantSlice(t, "messages of the merged contact", mgMessageIDs(mgSnapshot(t, env, w.token, ids[0])), mgSorted(wantMsgs...))

			// Half the time, messages arrive and leave between the merge and the undo.
			type newMessage struct {
				id    string
				via   ppIdentity
				owner string // the contact whose identity it came through, "" if sent since
			}
			var news []newMessage
			if rng.IntN(2) == 0 {
				for range 1 + rng.IntN(6) {
					owners := []int{}
					for j, c := range cs {
						if len(c.identities) > 0 {
							owners = append(owners, j)
						}
					}
					switch k := rng.IntN(3); {
					case k < 2 && len(owners) > 0:
						c := cs[ppPick(rng, owners)]
						via := ppPick(rng, c.identities)
						r := w.receive(t, via, "after the group merge", false)
						mgWant(t, "contact of a message after the merge", r.ContactID, ids[0])
						news = append(news, newMessage{id: r.MessageID, via: via, owner: c.id})
					default:
						ch := w.channels[ppPick(rng, []string{"WHATSAPP", "EMAIL", "FACEBOOK"})]
						if s := w.trySend(t, ids[0], ch, "answer after the group merge"); s != nil {
							news = append(news, newMessage{id: s.messageID, via: s.identity})
						}
					}
				}
			}
			for i := range news {
				if news[i].owner == "" {
					news[i].owner = ids[0]
					if o, ok := links[news[i].via]; ok {
						news[i].owner = o
					}
				}
			}
			restored := gmUnmerge(t, env, w.token, m.ID)
			mgWantSlice(t, "restoredContacts", restored, ids[1:])

			what := fmt.Sprintf("group of %d (choices %v, %d new messages)", n, choices, len(news))
			except := []string{}
			if len(news) > 0 {
				except = []string{"conversations", "channels", "conversationStatus"}
			}
			mgSameSnapshot(t, what+": primary", mgSnapshot(t, env, w.token, ids[0]), before[0], append(except, "updatedAt")...)
			for j := 1; j < n; j++ {
				mgSameSnapshot(t, fmt.Sprintf("%s: secondary %d", what, j), mgSnapshot(t, env, w.token, ids[j]), before[j], except...)
			}
			after := ppMessageHomes(t, env, w.ws.ID)
			mgWant(t, "messages in the workspace", len(after), len(homes)+len(news))
			for id, home := range homes {
				if after[id] != home {
					t.Errorf("message %s from before the merge: got in %v, want in %v", id, after[id], home)
				}
			}
			for _, nm := range news {
				if now := ppIdentityOwner(t, env, nm.via); now != nm.owner {
					t.Errorf("identity %v: got linked to %s after the undo, want %s", nm.via, now, nm.owner)
				}
				if got := after[nm.id][1]; got != nm.owner {
					t.Errorf("message %s through %v: got on contact %s, want %s (group %v)", nm.id, nm.via, got, nm.owner, ids)
				}
			}
			mgWant(t, "empty conversations", mgCount(t, env, `SELECT count(*) FROM conversations cv WHERE workspace_id = $1
				AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = cv.id)`, w.ws.ID), 0)
			for _, id := range ids {
				if n := mgCount(t, env, `SELECT count(*) FROM conversations WHERE contact_id = $1 AND status = 'OPEN'`, mgLocal(t, id)); n > 1 {
					t.Errorf("open conversations of %s: got %d, want at most 1", id, n)
				}
			}
		})
	}
}
