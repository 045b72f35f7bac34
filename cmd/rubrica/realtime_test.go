package main_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"rubrica/db/dbtest"
	"rubrica/internal/testenv"
)

// createContact creates a contact over HTTP on the server at base and returns its id.
func createContact(t *testing.T, base, token, firstName string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
		"variables": map[string]any{"in": map[string]any{"firstName": firstName}},
	})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			CreateContact struct{ Contact struct{ ID string } }
		}
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Errors) > 0 || out.Data.CreateContact.Contact.ID == "" {
		t.Errorf("createContact %s on %s: %v %v", firstName, base, err, out.Errors)
	}
	return out.Data.CreateContact.Contact.ID
}

const createdQuery = `subscription { contactEvents { type contactId contact { firstName } } }`

type created struct {
	ContactEvents struct {
		Type, ContactID string
		Contact         struct{ FirstName string }
	}
}

// syncSubscribers creates contacts on the server at base until each subscriber has received one, then
// reads on until all have received the same last one: a subscribe has no acknowledgement, so
// this is how a test knows that every subscription runs. Afterwards every subscriber has
// read up to the same event.
func syncSubscribers(t *testing.T, base, token string, subs []*testenv.WS) {
	t.Helper()
	deadline := time.Now().Add(testenv.WSWait)
	for i := 0; ; i++ {
		id := createContact(t, base, token, fmt.Sprint("Probe", i))
		ok := true
		for _, c := range subs {
			for {
				m, err := c.Message("s", 300*time.Millisecond)
				if err != nil {
					ok = false
					break
				}
				var ev created
				if !m.IsData() {
					t.Fatalf("probe: got %s %s, want a result", m.Type, m.Payload)
				}
				if err := json.Unmarshal(m.Response(t).Data, &ev); err != nil {
					t.Fatalf("probe: got %s: %v", m.Payload, err)
				}
				if ev.ContactEvents.ContactID == id {
					break
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers not receiving probe events after %v", testenv.WSWait)
		}
	}
}

// instances builds the binary, creates a database and a workspace, and starts n `rubrica
// serve` on that one database. It returns their base URLs, the owner's token and the
// database's URL.
func instances(t *testing.T, n int) ([]string, string, string) {
	t.Helper()
	bin := buildBinary(t)
	dsn := dbtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dsn, "LOG_LEVEL=warn"}
	var ws struct{ WorkspaceID, Token string }
	runJSON(t, bin, env, &ws, "workspace", "create", "--name", "Realtime", "--owner-email", "owner@realtime.test")
	bases := make([]string, n)
	for i := range bases {
		bases[i] = startServer(t, bin, env).base
	}
	return bases, ws.Token, dsn
}

// TestTwoInstances runs two `rubrica serve` on one database: a mutation on either reaches the
// subscribers of both, each event exactly once. (Events of different contacts committed at
// once may reach the two in either order: writers of different contacts share no lock. The
// order per contact is TestListenerKilledEndToEnd's and db's TestBusTwoInstances'.)
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	bases, token, _ := instances(t, 2)
	subs := []*testenv.WS{
		testenv.Dial(t, testenv.WSURL(bases[1]), testenv.TransportWS, token),
		testenv.Dial(t, testenv.WSURL(bases[0]), testenv.LegacyWS, token),
	}
	for _, c := range subs {
		c.Subscribe("s", createdQuery, nil)
	}
	syncSubscribers(t, bases[0], token, subs)

	// On the first instance only: it reaches the subscriber of the second.
	id := createContact(t, bases[0], token, "FromFirst")
	for _, c := range subs {
		var ev created
		c.NextData("s", &ev)
		if ev.ContactEvents.Type != "CREATED" || ev.ContactEvents.ContactID != id || ev.ContactEvents.Contact.FirstName != "FromFirst" {
			t.Fatalf("%s subscriber: got %+v, want CREATED of FromFirst %s", c.Protocol, ev, id)
		}
	}
	// Mutations on both instances at once: each subscriber sees all, in one same order.
	const perInstance = 20
	var wg sync.WaitGroup
	ids := make(chan string, 2*perInstance)
	for i, base := range bases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perInstance {
				ids <- createContact(t, base, token, fmt.Sprintf("I%d-%02d", i, j))
			}
		}()
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	for _, c := range subs {
		seen := map[string]bool{}
		for range 2 * perInstance {
			var ev created
			c.NextData("s", &ev)
			if !want[ev.ContactEvents.ContactID] || seen[ev.ContactEvents.ContactID] {
				t.Fatalf("%s subscriber: got %+v, not one of the contacts created or twice", c.Protocol, ev)
			}
			seen[ev.ContactEvents.ContactID] = true
		}
		c.ExpectNothing("s", 300*time.Millisecond)
	}
}

// TestListenerKilledEndToEnd kills the LISTEN connections of two instances over and over while
// contacts are created through the first: the subscribers of both receive every CREATED
// event exactly once, in creation order.
func TestListenerKilledEndToEnd(t *testing.T) {
	t.Parallel()
	bases, token, dsn := instances(t, 2)
	subs := []*testenv.WS{
		testenv.Dial(t, testenv.WSURL(bases[0]), testenv.TransportWS, token),
		testenv.Dial(t, testenv.WSURL(bases[1]), testenv.LegacyWS, token),
	}
	for _, c := range subs {
		c.Subscribe("s", createdQuery, nil)
	}
	syncSubscribers(t, bases[0], token, subs)

	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const n = 200
	ids := make([]string, 0, n)
	var kills atomic.Int64
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var k int64
			const q = `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = 'rubrica-listener' AND datname = current_database()`
			if err := admin.QueryRow(q).Scan(&k); err != nil {
				t.Errorf("terminate listeners: %v", err)
				return
			}
			kills.Add(k)
		}
	}()
	// At least n, and on until several listeners were killed: under load a listener may take
	// a while to come back, and the events must have crossed several drops.
	for i := 0; i < n || (kills.Load() < 4 && i < 10*n); i++ {
		ids = append(ids, createContact(t, bases[0], token, fmt.Sprintf("K%04d", i)))
	}
	close(stop)
	<-killed
	if t.Failed() {
		t.FailNow()
	}
	for _, c := range subs {
		seen := map[string]bool{}
		for i, id := range ids {
			var ev created
			c.NextData("s", &ev)
			got := ev.ContactEvents.ContactID
			if seen[got] {
				t.Fatalf("%s subscriber, event %d: %s again, want every event once", c.Protocol, i, got)
			}
			seen[got] = true
			if ev.ContactEvents.Type != "CREATED" || got != id {
				t.Fatalf("%s subscriber, event %d: got %+v, want CREATED of %s", c.Protocol, i, ev, id)
			}
		}
		c.ExpectNothing("s", 300*time.Millisecond)
	}
	t.Logf("%d events on 2 instances with %d listener connections killed", len(ids), kills.Load())
	if kills.Load() < 4 {
		t.Fatalf("killed %d listener connections, want several per instance", kills.Load())
	}
}
