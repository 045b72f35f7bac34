package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"rubrica"
	"rubrica/db"
	"rubrica/graph"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// revocationDeadline is how soon a revocation must close the websockets it concerns.
const revocationDeadline = time.Second

// stuckEvents is how many large events fill the socket buffers of a client that stops reading.
const stuckEvents = 150

// memberToken makes a token for the member with email (added if new) and returns it with its
// global id.
func memberToken(t *testing.T, env *testenv.Env, ws *testenv.Workspace, email string, role rubrica.Role, expiresAt *time.Time) (token, id string) {
	t.Helper()
	token, rec, err := env.DB.Admin().CreateExpiringToken(context.Background(), ws.ID, email, role, expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	return token, graph.APITokenID(rec.ID)
}

// subscribed opens a websocket authenticated by token and starts a contactEvents
// subscription "s" on it.
func subscribed(t *testing.T, env *testenv.Env, proto, token string) *testenv.WS {
	t.Helper()
	c := testenv.Dial(t, env.WSURL(), proto, token)
	c.Subscribe("s", contactEventsQuery, nil)
	return c
}

// wantClosedForbidden fails unless the server closes c with 4403 within d.
func wantClosedForbidden(t *testing.T, c *testenv.WS, d time.Duration) {
	t.Helper()
	code, text, err := c.Closed(d)
	if err != nil {
		t.Fatalf("%s websocket: %v, want it closed with 4403 within %v", c.Protocol, err, d)
	}
	if code != server.CloseForbidden {
		t.Fatalf("%s websocket closed with %d %q, want 4403", c.Protocol, code, text)
	}
}

// waitSubscribers fails unless the server holds n subscriptions within d.
func waitSubscribers(t *testing.T, env *testenv.Env, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for env.App.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions after %v: got %d, want %d", d, env.App.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantUnauthenticated(t *testing.T, env *testenv.Env, token string) {
	t.Helper()
	r := env.Do(t, token, `{ viewer { id } }`, nil)
	if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" || len(r.Errors) != 1 || r.Errors[0].Message != "The token is not valid." {
		t.Fatalf("request with the token: got %d %+v, want 401 UNAUTHENTICATED \"The token is not valid.\"", r.Status, r.Errors)
	}
}

const revokeTokenMutation = `mutation($id: ID!) { revokeToken(input: {tokenId: $id}) { apiToken { id revokedAt } } }`
const removeMemberMutation = `mutation($id: ID!) { removeMember(input: {memberId: $id}) { member { id removedAt } } }`

// TestRevokedTokenClosesWebsockets revokes one of a member's two tokens while websockets of
// both are open, on both protocols: those of the revoked token close with 4403 within a second
// and their subscriptions are gone from the bus; those of the other token, and the owner's,
// stay open and keep receiving events; the token authenticates no more.
func TestRevokedTokenClosesWebsockets(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Revoke")
	revoked, revokedID := memberToken(t, env, ws, "agent@revoke.test", rubrica.RoleAgent, nil)
	kept, _ := memberToken(t, env, ws, "agent@revoke.test", rubrica.RoleAgent, nil)

	var doomed, alive []*testenv.WS
	for _, proto := range testenv.Protocols {
		doomed = append(doomed, subscribed(t, env, proto, revoked))
		alive = append(alive, subscribed(t, env, proto, kept), subscribed(t, env, proto, ws.Owner()))
	}
	env.WaitSubscribers(t, len(doomed)+len(alive))

	var data struct {
		RevokeToken struct {
			APIToken struct{ ID, RevokedAt string }
		}
	}
	env.MustDo(t, ws.Owner(), revokeTokenMutation, map[string]any{"id": revokedID}, &data)
	if data.RevokeToken.APIToken.ID != revokedID || data.RevokeToken.APIToken.RevokedAt == "" {
		t.Fatalf("revokeToken: got %+v, want %s with revokedAt", data.RevokeToken, revokedID)
	}
	start := time.Now()
	for _, c := range doomed {
		wantClosedForbidden(t, c, revocationDeadline-time.Since(start))
	}
	waitSubscribers(t, env, len(alive), revocationDeadline-time.Since(start))

	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "After"})
	for _, c := range alive {
		wantContactEvent(t, nextContactEvent(t, c, "s"), "CREATED", id, "After")
	}
	wantUnauthenticated(t, env, revoked)
	env.MustDo(t, kept, `{ viewer { id } }`, nil, nil)
}

// TestRemovedMemberClosesWebsockets removes a member with websockets of two tokens open: all
// close with 4403 within a second, their subscriptions are gone, and the owner's subscription
// sees the member's contact become unassigned (UPDATED).
func TestRemovedMemberClosesWebsockets(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Remove")
	first, _ := memberToken(t, env, ws, "leaver@remove.test", rubrica.RoleManager, nil)
	second, _ := memberToken(t, env, ws, "leaver@remove.test", rubrica.RoleManager, nil)
	var viewer struct{ Viewer struct{ ID string } }
	env.MustDo(t, first, `{ viewer { id } }`, nil, &viewer)

	var doomed []*testenv.WS
	for _, proto := range testenv.Protocols {
		doomed = append(doomed, subscribed(t, env, proto, first), subscribed(t, env, proto, second))
	}
	owner := subscribed(t, env, testenv.TransportWS, ws.Owner())
	env.WaitSubscribers(t, len(doomed)+1)
	contact := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Kept", "assigneeId": viewer.Viewer.ID})
	wantContactEvent(t, nextContactEvent(t, owner, "s"), "CREATED", contact, "Kept")

	env.MustDo(t, ws.Owner(), removeMemberMutation, map[string]any{"id": viewer.Viewer.ID}, nil)
	start := time.Now()
	for _, c := range doomed {
		wantClosedForbidden(t, c, revocationDeadline-time.Since(start))
	}
	waitSubscribers(t, env, 1, revocationDeadline-time.Since(start))

	wantContactEvent(t, nextContactEvent(t, owner, "s"), "UPDATED", contact, "Kept")
	wantUnauthenticated(t, env, first)
	wantUnauthenticated(t, env, second)
}

// TestExpiredTokenClosesWebsocket opens a websocket with a token that expires a moment later:
// at expiry the server closes it with 4403 and drops its subscription, and the token
// authenticates no more.
func TestExpiredTokenClosesWebsocket(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Expiry")
	expiresAt := time.Now().Add(1500 * time.Millisecond)
	token, _ := memberToken(t, env, ws, "brief@expiry.test", rubrica.RoleAgent, &expiresAt)
	c := subscribed(t, env, testenv.TransportWS, token)
	env.WaitSubscribers(t, 1)
	wantClosedForbidden(t, c, time.Until(expiresAt)+revocationDeadline)
	if early := time.Until(expiresAt); early > 0 {
		t.Fatalf("closed %v before the token expired", early)
	}
	waitSubscribers(t, env, 0, revocationDeadline)
	wantUnauthenticated(t, env, token)
}

// TestRevocationReachesEveryInstance runs two server instances on one database: a token
// revoked and a member removed through one close the websockets open on the other, within a
// second, and the other's bus drops their subscriptions.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	peer := env.Peer(t)
	ws := env.Workspace(t, "Instances")
	token, tokenID := memberToken(t, env, ws, "agent@instances.test", rubrica.RoleAgent, nil)

	onPeer := subscribed(t, peer, testenv.TransportWS, token)
	ownerOnPeer := subscribed(t, peer, testenv.LegacyWS, ws.Owner())
	waitSubscribers(t, peer, 2, testenv.WSWait)
	env.MustDo(t, ws.Owner(), revokeTokenMutation, map[string]any{"id": tokenID}, nil)
	start := time.Now()
	wantClosedForbidden(t, onPeer, revocationDeadline)
	waitSubscribers(t, peer, 1, revocationDeadline-time.Since(start))

	var manager struct{ Viewer struct{ ID string } }
	env.MustDo(t, ws.Manager(), `{ viewer { id } }`, nil, &manager)
	managerOnPeer := subscribed(t, peer, testenv.LegacyWS, ws.Manager())
	waitSubscribers(t, peer, 2, testenv.WSWait)
	env.MustDo(t, ws.Owner(), removeMemberMutation, map[string]any{"id": manager.Viewer.ID}, nil)
	start = time.Now()
	wantClosedForbidden(t, managerOnPeer, revocationDeadline)
	waitSubscribers(t, peer, 1, revocationDeadline-time.Since(start))

	id := createContact(t, env, ws.Owner(), map[string]any{"firstName": "Still"})
	wantContactEvent(t, nextContactEvent(t, ownerOnPeer, "s"), "CREATED", id, "Still")
}

// TestRevokedStuckClient revokes the token of a client that stopped reading while the server
// was writing to it (its socket buffers full, the server's write waiting): its subscription
// is still gone from the bus within a second, whatever the close frame waits for.
func TestRevokedStuckClient(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithOptions(t, testenv.Options{Bus: db.BusConfig{Buffer: 10_000}})
	ws := env.Workspace(t, "Stuck")
	token, tokenID := memberToken(t, env, ws, "stuck@stuck.test", rubrica.RoleAgent, nil)
	healthy := subscribed(t, env, testenv.TransportWS, ws.Owner())
	stuck, _, err := testenv.DialWSWith(t, testenv.TinyReadBuffer(), env.WSURL(), testenv.LegacyWS, nil)
	if err != nil {
		t.Fatal(err)
	}
	stuck.Init(testenv.InitPayload(token))
	if err := stuck.WaitAck(); err != nil {
		t.Fatal(err)
	}
	stuck.StopReading()
	stuck.Subscribe("s", heavyQuery(), nil)
	env.WaitSubscribers(t, 2)
	for i := range stuckEvents {
		id := createContact(t, env, ws.Owner(), map[string]any{"firstName": fmt.Sprint("S", i)})
		wantContactEvent(t, nextContactEvent(t, healthy, "s"), "CREATED", id, fmt.Sprint("S", i))
	}
	time.Sleep(quiet) // the server's writes to the stuck client back up
	env.MustDo(t, ws.Owner(), revokeTokenMutation, map[string]any{"id": tokenID}, nil)
	waitSubscribers(t, env, 1, revocationDeadline)
}
