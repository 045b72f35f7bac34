package server_test

import (
	"bytes"
	"testing"

	"rubrica"
	"rubrica/internal/testenv"
)

// TestIdenticalSubscriptionsShareOneExecution: agents of a workspace subscribing to the same
// document with the same variables, on both protocols, hold one subscription of the event bus
// between them and receive the same bytes for each event; another role, other variables or
// another workspace make groups of their own. Subscribers that leave leave the others be; the
// last one takes the group's bus subscription with it.
func TestIdenticalSubscriptionsShareOneExecution(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Shared")
	other := env.Workspace(t, "Apart")
	agentB, _ := memberToken(t, env, ws, "b@shared.test", rubrica.RoleAgent, nil)

	var same []*testenv.WS
	for _, token := range []string{ws.Agent(), agentB} {
		for _, proto := range testenv.Protocols {
			same = append(same, subscribed(t, env, proto, token))
		}
	}
	owner := subscribed(t, env, testenv.TransportWS, ws.Owner()) // another role
	apart := subscribed(t, env, testenv.TransportWS, other.Agent())
	env.WaitSubscribers(t, len(same)+2)
	if n := env.Bus.Subscribers(); n != 3 {
		t.Fatalf("event bus subscriptions: got %d, want 3 (agents, owner, other workspace)", n)
	}

	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Shared"})
	var first []byte
	for i, c := range same {
		r := c.Next("s")
		if len(r.Errors) > 0 {
			t.Fatalf("subscriber %d: %+v", i, r.Errors)
		}
		if i == 0 {
			first = r.Data
		} else if !bytes.Equal(r.Data, first) {
			t.Errorf("subscriber %d got %s, the first %s", i, r.Data, first)
		}
	}
	wantContactEvent(t, nextContactEvent(t, owner, "s"), "CREATED", id, "Shared")
	apart.ExpectNothing("s", quiet)

	// A subscriber with other variables is a group of its own.
	byID := testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent())
	byID.Subscribe("s", contactEventsQuery, map[string]any{"id": id})
	env.WaitSubscribers(t, len(same)+3)
	if n := env.Bus.Subscribers(); n != 4 {
		t.Fatalf("event bus subscriptions with other variables: got %d, want 4", n)
	}

	// Half the agents leave: the rest still get every event.
	for _, c := range same[:2] {
		c.Unsubscribe("s")
	}
	env.WaitSubscribers(t, len(same)+1)
	mustUpdateContact(t, env, ws.Owner(), map[string]any{"id": id, "firstName": "Still"})
	for _, c := range same[2:] {
		wantContactEvent(t, nextContactEvent(t, c, "s"), "UPDATED", id, "Still")
	}
	wantContactEvent(t, nextContactEvent(t, byID, "s"), "UPDATED", id, "Still")
	for _, c := range same[2:] {
		c.Close()
	}
	waitSubscribers(t, env, 3, testenv.WSWait)
	if n := env.Bus.Subscribers(); n != 3 {
		t.Fatalf("event bus subscriptions once the agents left: got %d, want 3", n)
	}
}
