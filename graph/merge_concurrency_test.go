package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"rubrica"
	"rubrica/internal/testenv"
)

// ccState is what the concurrency test checks: who holds each message, link, tag and custom
// value (local ids).
type ccState struct {
	messages map[string]string            // message → contact
	links    map[string]string            // channel/identifier → contact
	tags     map[string]bool              // contact/tag
	custom   map[string]map[string]string // contact → definition → value
	contacts []string
}

func ccRead(t *testing.T, env *testenv.Env, workspaceID string) ccState {
	t.Helper()
	ctx := context.Background()
	s := ccState{messages: map[string]string{}, links: map[string]string{}, tags: map[string]bool{}, custom: map[string]map[string]string{}}
	var pairs []struct {
		K string `db:"k"`
		V string `db:"v"`
	}
	read := func(q string) {
		pairs = nil
		if err := env.DB.SelectContext(ctx, &pairs, q, workspaceID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	read(`SELECT m.id AS k, cv.contact_id AS v FROM messages m JOIN conversations cv ON cv.id = m.conversation_id WHERE m.workspace_id = $1`)
	for _, p := range pairs {
		s.messages[p.K] = p.V
	}
	read(`SELECT channel_id || '/' || identifier AS k, contact_id AS v FROM contact_channels WHERE workspace_id = $1`)
	for _, p := range pairs {
		if _, dup := s.links[p.K]; dup {
			t.Errorf("link %s: got twice", p.K)
		}
		s.links[p.K] = p.V
	}
	read(`SELECT ct.contact_id AS k, ct.tag_id AS v FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE c.workspace_id = $1`)
	for _, p := range pairs {
		s.tags[p.K+"/"+p.V] = true
	}
	var values []struct {
		C string `db:"contact_id"`
		D string `db:"definition_id"`
		V string `db:"value"`
	}
	if err := env.DB.SelectContext(ctx, &values, `SELECT v.contact_id, v.definition_id, v.value FROM contact_custom_values v
		JOIN contacts c ON c.id = v.contact_id WHERE c.workspace_id = $1`, workspaceID); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if s.custom[v.C] == nil {
			s.custom[v.C] = map[string]string{}
		}
		s.custom[v.C][v.D] = v.V
	}
	if err := env.DB.SelectContext(ctx, &s.contacts, `SELECT id FROM contacts WHERE workspace_id = $1 ORDER BY id`, workspaceID); err != nil {
		t.Fatal(err)
	}
	return s
}

// ccMerge is a merge that succeeded, as recorded.
type ccMerge struct {
	ID        string `db:"id"`
	Primary   string `db:"primary_contact_id"`
	Secondary string `db:"merged_contact_id"`
}

// ccExpect replays the merges, in the order they were made, over the initial state: what
// every contact should hold if nothing was lost or duplicated.
func ccExpect(t *testing.T, initial ccState, merges []ccMerge) ccState {
	t.Helper()
	root := map[string]string{}
	for _, c := range initial.contacts {
		root[c] = c
	}
	custom := map[string]map[string]string{}
	for c, vals := range initial.custom {
		custom[c] = vals
	}
	for _, m := range merges {
		if root[m.Primary] != m.Primary || root[m.Secondary] != m.Secondary {
			t.Errorf("merge %s of %s into %s: one of them was already merged away when it ran", m.ID, m.Secondary, m.Primary)
		}
		for c, r := range root {
			if r == m.Secondary {
				root[c] = m.Primary
			}
		}
		custom[m.Primary], _ = rubrica.MergeCustomValues(custom[m.Primary], custom[m.Secondary], nil, nil)
		delete(custom, m.Secondary)
	}
	want := ccState{messages: map[string]string{}, links: map[string]string{}, tags: map[string]bool{}, custom: map[string]map[string]string{}}
	for k, c := range initial.messages {
		want.messages[k] = root[c]
	}
	for k, c := range initial.links {
		want.links[k] = root[c]
	}
	for k := range initial.tags {
		c, tag := k[:36], k[37:]
		want.tags[root[c]+"/"+tag] = true
	}
	for c, vals := range custom {
		if len(vals) > 0 {
			want.custom[c] = vals
		}
	}
	for _, c := range initial.contacts {
		if root[c] == c {
			want.contacts = append(want.contacts, c)
		}
	}
	return want
}

// ccCompare fails where got and want differ, with a count of each kind of difference.
func ccCompare(t *testing.T, what string, got, want ccState) {
	t.Helper()
	mgWant(t, what+": messages", len(got.messages), len(want.messages))
	for k, c := range want.messages {
		if got.messages[k] != c {
			t.Errorf("%s: message %s: got with %q, want %q", what, k, got.messages[k], c)
		}
	}
	mgWant(t, what+": links", len(got.links), len(want.links))
	for k, c := range want.links {
		if got.links[k] != c {
			t.Errorf("%s: link %s: got with %q, want %q", what, k, got.links[k], c)
		}
	}
	mgWant(t, what+": tag links", len(got.tags), len(want.tags))
	for k := range want.tags {
		if !got.tags[k] {
			t.Errorf("%s: tag link %s: got none, want it", what, k)
		}
	}
	mgWant(t, what+": contacts with custom values", len(got.custom), len(want.custom))
	for c, vals := range want.custom {
		for d, v := range vals {
			if got.custom[c][d] != v {
				t.Errorf("%s: custom value %s of %s: got %q, want %q", what, d, c, got.custom[c][d], v)
			}
		}
		if len(got.custom[c]) != len(vals) {
			t.Errorf("%s: custom values of %s: got %v, want %v", what, c, got.custom[c], vals)
		}
	}
	mgWantSlice(t, what+": contacts", got.contacts, want.contacts)
}

// ccRun runs fn in n goroutines at once and fails the test if they do not all end in time.
func ccRun(t *testing.T, n int, timeout time.Duration, fn func(g int)) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			<-start
			fn(g)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	close(start)
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("%d goroutines still running after %v: deadlock?", n, timeout)
	}
}

func TestMergeConcurrency(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	ws := env.Workspace(t, "Race")
	tok := ws.Owner()
	wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
	mail := mgChannel(t, env, tok, "EMAIL", "Mailbox")
	fxDefinition(t, env, tok, "plan", "LIST", "gold", "silver", "bronze")
	fxDefinition(t, env, tok, "score", "NUMBER")
	fxDefinition(t, env, tok, "note", "TEXT")

	// Ten contacts with links, messages, tags and custom values, most sharing a phone or an
	// email with another.
	const n = 10
	var ids []string
	for i := range n {
		r := mgReceive(t, env, tok, wa, fmt.Sprintf("+3934700000%02d", i), fmt.Sprintf("hello from %d", i))
		ids = append(ids, r.ContactID)
		for j := range rng.IntN(4) {
			mgReceive(t, env, tok, wa, fmt.Sprintf("+3934700000%02d", i), fmt.Sprintf("more from %d #%d", i, j))
		}
		change := map[string]any{"email": fmt.Sprintf("shared%d@example.com", i/3)}
		var custom []map[string]any
		for _, k := range []string{"plan", "score", "note"} {
			if rng.IntN(2) == 0 {
				custom = append(custom, map[string]any{"key": k, "value": map[string]string{"plan": "gold", "score": fmt.Sprint(i), "note": fmt.Sprintf("note %d", i)}[k]})
			}
		}
		change["customFields"] = custom
		mgUpdate(t, env, tok, r.ContactID, change)
		if i%3 == 0 { // the first of those sharing the email connects it
			mgSend(t, env, tok, r.ContactID, mail, fmt.Sprintf("answer to %d", i))
		}
		if tags := ppSubset(rng, ppTags); len(tags) > 0 {
			mgTag(t, env, tok, []string{r.ContactID}, tags...)
		}
	}
	initial := ccRead(t, env, ws.ID)

	// Thirty goroutines race to merge random pairs.
	tokens := []string{ws.Owner(), ws.Manager(), ws.Agent()}
	type attempt struct{ p, s, code string }
	var mu sync.Mutex
	var attempts []attempt
	pairs := make([][2]int, 30)
	for g := range pairs {
		i, j := rng.IntN(n), rng.IntN(n-1)
		if j >= i {
			j++
		}
		pairs[g] = [2]int{i, j}
	}
	ccRun(t, len(pairs), 2*time.Minute, func(g int) {
		p, s := ids[pairs[g][0]], ids[pairs[g][1]]
		r := mgTryMerge(t, env, tokens[g%len(tokens)], p, s)
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, attempt{p, s, r.Code()})
		if len(r.Errors) > 0 {
			t.Logf("merge %s into %s: %s %s", s, p, r.Code(), r.Errors[0].Message)
		}
	})
	won := 0
	for _, a := range attempts {
		switch a.code {
		case "":
			won++
		case "CONFLICT", "NOT_FOUND":
		default:
			t.Errorf("merge %s into %s: got %s, want success, CONFLICT or NOT_FOUND", a.s, a.p, a.code)
		}
	}
	var merges []ccMerge
	if err := env.DB.SelectContext(context.Background(), &merges, `SELECT id, primary_contact_id, merged_contact_id FROM merges
		WHERE workspace_id = $1 ORDER BY merged_at, id`, ws.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d merges of %d attempts succeeded", won, len(attempts))
	mgWant(t, "merges recorded", len(merges), won)
	if won == 0 {
		t.Fatalf("merges: got none, want some to win")
	}
	ccCompare(t, "after the racing merges", ccRead(t, env, ws.ID), ccExpect(t, initial, merges))
	want := mgExpectedGroups(t, env, ws.ID)
	got, _ := mgOpenGroups(t, env, tok)
	mgWantSlice(t, "open suggestions after the racing merges", got, want)
	mgWant(t, "contact MERGED events", mgCount(t, env, `SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'contact' AND type = 'MERGED'`, ws.ID), 2*won)

	// Then every merge is undone by racing undos, newest first where they touch the same
	// contact: each round, an undo wins or gets CONFLICT.
	remaining := make([]string, len(merges))
	for i, m := range merges {
		remaining[i] = mgGlobal("Merge", m.ID)
	}
	for round := 0; len(remaining) > 0; round++ {
		if round > len(merges) {
			t.Fatalf("undos: %d merges still standing after %d rounds", len(remaining), round)
		}
		rng.Shuffle(len(remaining), func(i, j int) { remaining[i], remaining[j] = remaining[j], remaining[i] })
		var next []string
		ccRun(t, len(remaining), 2*time.Minute, func(g int) {
			r := mgTryUnmerge(t, env, ws.Manager(), remaining[g])
			mu.Lock()
			defer mu.Unlock()
			switch r.Code() {
			case "":
			case "CONFLICT":
				next = append(next, remaining[g])
			default:
				t.Errorf("undo %s: got %s (%+v), want success or CONFLICT", remaining[g], r.Code(), r.Errors)
			}
		})
		if len(next) == len(remaining) {
			t.Fatalf("undos: none of %d won a round", len(remaining))
		}
		remaining = next
	}
	after := ccRead(t, env, ws.ID)
	ccCompare(t, "after undoing every merge", after, initial)
	want = mgExpectedGroups(t, env, ws.ID)
	got, _ = mgOpenGroups(t, env, tok)
	mgWantSlice(t, "open suggestions after the undos", got, want)
	sort.Strings(ids)
	var back []string
	for _, c := range after.contacts {
		back = append(back, mgGlobalContact(c))
	}
	sort.Strings(back)
	if !slices.Equal(back, ids) {
		t.Errorf("contacts after the undos: got %v, want %v", back, ids)
	}
}

func TestMergeConcurrencyWithTraffic(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	ws := env.Workspace(t, "Traffic")
	tok := ws.Owner()
	wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
	const n = 10
	var ids, numbers []string
	for i := range n {
		num := fmt.Sprintf("+3934700000%02d", i)
		r := mgReceive(t, env, tok, wa, num, fmt.Sprintf("hello from %d", i))
		ids, numbers = append(ids, r.ContactID), append(numbers, num)
	}
	before := mgCount(t, env, `SELECT count(*) FROM messages WHERE workspace_id = $1`, ws.ID)
	var mu sync.Mutex
	codes := map[string]int{}
	received := 0
	const merges, receives, sends = 20, 30, 10
	// The random pairs are drawn before the race: a *rand.Rand is not safe for goroutines.
	pairs := make([][2]int, merges)
	for g := range pairs {
		pairs[g] = [2]int{rng.IntN(n), rng.IntN(n)}
	}
	ccRun(t, merges+receives+sends, 2*time.Minute, func(g int) {
		var r *testenv.Response
		kind := "merge"
		switch {
		case g < merges:
			i, j := pairs[g][0], pairs[g][1]
			if i == j {
				return
			}
			r = mgTryMerge(t, env, tok, ids[i], ids[j])
		case g < merges+receives:
			kind = "receive"
			r = env.Do(t, tok, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { message { id } } }`,
				map[string]any{"in": map[string]any{"channelId": wa, "identifier": numbers[g%n], "text": fmt.Sprint("racing ", g)}})
		default:
			kind = "send"
			r = env.Do(t, tok, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }`,
				map[string]any{"in": map[string]any{"contactId": ids[g%n], "channelId": wa, "text": fmt.Sprint("racing ", g)}})
		}
		mu.Lock()
		defer mu.Unlock()
		codes[kind+" "+r.Code()]++
		if kind != "merge" && r.Code() == "" {
			received++
		}
		if len(r.Errors) > 0 && r.Code() != "NOT_FOUND" {
			t.Logf("%s: %s %s", kind, r.Code(), r.Errors[0].Message)
		}
	})
	t.Logf("outcomes: %v", codes)
	for k, c := range codes {
		switch k {
		case "merge ", "merge CONFLICT", "merge NOT_FOUND", "receive ", "send ", "send NOT_FOUND":
		default:
			t.Errorf("%s: got %d, want none (a merge wins or gets CONFLICT or NOT_FOUND; a message is always recorded unless its contact is gone)", k, c)
		}
	}
	mgWant(t, "messages", mgCount(t, env, `SELECT count(*) FROM messages WHERE workspace_id = $1`, ws.ID), before+received)
	// Every identity's messages are with the contact that holds it.
	awayQuery := `SELECT count(*) FROM messages m
		JOIN conversations cv ON cv.id = m.conversation_id
		JOIN contact_channels l ON l.channel_id = m.channel_id AND l.identifier = m.identifier
		WHERE m.workspace_id = $1 AND l.contact_id <> cv.contact_id`
	mgWant(t, "messages away from their identity's contact", mgCount(t, env, awayQuery, ws.ID), 0)

	// Then the merges are undone, newest first, while messages keep arriving and leaving.
	var standing []string
	if err := env.DB.SelectContext(context.Background(), &standing, `SELECT id FROM merges WHERE workspace_id = $1 ORDER BY merged_at, id`, ws.ID); err != nil {
		t.Fatal(err)
	}
	before = mgCount(t, env, `SELECT count(*) FROM messages WHERE workspace_id = $1`, ws.ID)
	received, codes = 0, map[string]int{}
	for len(standing) > 0 {
		remaining := standing
		standing = nil
		ccRun(t, len(remaining)+receives+sends, 2*time.Minute, func(g int) {
			var r *testenv.Response
			kind := "undo"
			switch {
			case g < len(remaining):
				r = mgTryUnmerge(t, env, tok, mgGlobal("Merge", remaining[g]))
			case g < len(remaining)+receives:
				kind = "receive"
				r = env.Do(t, tok, `mutation($in: ReceiveMessageInput!) { receiveMessage(input: $in) { message { id } } }`,
					map[string]any{"in": map[string]any{"channelId": wa, "identifier": numbers[g%n], "text": fmt.Sprint("racing undo ", g)}})
			default:
				kind = "send"
				r = env.Do(t, tok, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }`,
					map[string]any{"in": map[string]any{"contactId": ids[g%n], "channelId": wa, "text": fmt.Sprint("racing undo ", g)}})
			}
			mu.Lock()
			defer mu.Unlock()
			codes[kind+" "+r.Code()]++
			if kind != "undo" && r.Code() == "" {
				received++
			}
			if kind == "undo" && r.Code() == "CONFLICT" {
				standing = append(standing, remaining[g])
			}
		})
		if len(standing) == len(remaining) {
			t.Fatalf("undos: none of %d won a round", len(remaining))
		}
	}
	t.Logf("outcomes with undos: %v", codes)
	for k, c := range codes {
		switch k {
		case "undo ", "undo CONFLICT", "receive ", "send ", "send NOT_FOUND":
		default:
			t.Errorf("%s: got %d, want none", k, c)
		}
	}
	mgWant(t, "messages after the undos", mgCount(t, env, `SELECT count(*) FROM messages WHERE workspace_id = $1`, ws.ID), before+received)
	mgWant(t, "messages away from their identity's contact after the undos", mgCount(t, env, awayQuery, ws.ID), 0)
	mgWant(t, "contacts after the undos", mgCount(t, env, `SELECT count(*) FROM contacts WHERE workspace_id = $1`, ws.ID), n)
}

// TestUnmergeRacingMerge races the undo of a merge into A with another merge into A: either
// the undo goes first, or it gets CONFLICT naming the new merge; never both in the wrong
// order. Undoing what stands then gives back the three contacts exactly.
func TestUnmergeRacingMerge(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for i := range 12 {
		t.Run(fmt.Sprintf("Race%02d", i), func(t *testing.T) {
			t.Parallel()
			ws := env.Workspace(t, fmt.Sprintf("UndoRace%d", i))
			tok := ws.Owner()
			wa := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
			a := mgCreate(t, env, tok, map[string]any{"firstName": "A"})
			b := mgReceive(t, env, tok, wa, "+393470000001", "B writes").ContactID
			c := mgReceive(t, env, tok, wa, "+393470000002", "C writes").ContactID
			mgTag(t, env, tok, []string{b}, "from-b")
			mgTag(t, env, tok, []string{c}, "from-c")
			before := map[string]map[string]any{}
			for _, id := range []string{a, b, c} {
				before[id] = mgSnapshot(t, env, tok, id)
			}
			m1 := mgMerge(t, env, tok, a, b) // A gains B's phone and tag
			var undo, merge *testenv.Response
			ccRun(t, 2, time.Minute, func(g int) {
				if g == 0 {
					undo = mgTryUnmerge(t, env, tok, m1.ID)
				} else {
					merge = mgTryMerge(t, env, tok, a, c, mgChoice{"phone", "SECONDARY"})
				}
			})
			if merge.Code() != "" {
				t.Fatalf("merge of C into A: got %s %+v, want success", merge.Code(), merge.Errors)
			}
			var m2 struct{ MergeContacts struct{ Merge mgMergeData } }
			merge.Decode(t, &m2)
			switch undo.Code() {
			case "":
				// The undo went first; the merge came after it.
				mgWant(t, "undo went first", mgCount(t, env, `SELECT count(*) FROM merges m1, merges m2 WHERE m1.id = $1 AND m2.id = $2
					AND m2.merged_at > m1.undone_at`, mgLocal(t, m1.ID), mgLocal(t, m2.MergeContacts.Merge.ID)), 1)
				mgUnmerge(t, env, tok, m2.MergeContacts.Merge.ID)
			case "CONFLICT":
				mgUnmerge(t, env, tok, m2.MergeContacts.Merge.ID)
				mgUnmerge(t, env, tok, m1.ID)
			default:
				t.Fatalf("undo: got %s %+v, want success or CONFLICT", undo.Code(), undo.Errors)
			}
			for id, snap := range before {
				except := []string{}
				if id == a {
					except = append(except, "updatedAt")
				}
				mgSameSnapshot(t, "contact "+id, mgSnapshot(t, env, tok, id), snap, except...)
			}
		})
	}
}
