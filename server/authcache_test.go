package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"rubrica"
	"rubrica/db"
	"rubrica/graph"
	"rubrica/internal/testenv"
	"rubrica/server"
)

// cachingEnv is a test server with the authentication cache of production (testenv's have
// none), as are its peers.
func cachingEnv(t *testing.T) *testenv.Env {
	t.Helper()
	return testenv.NewWithConfig(t, func(c *server.Config) { c.AuthCacheTTL = server.DefaultAuthCacheTTL })
}

// TestAuthCacheRunsNoSQL: the first request with a token looks it up (one statement, one
// round trip once the connection has prepared the lookup); a second within the TTL runs no
// SQL at all. A token that is not valid is looked up every time and refused every time.
func TestAuthCacheRunsNoSQL(t *testing.T) {
	t.Parallel()
	env := cachingEnv(t)
	ws := env.Workspace(t, "Cached")
	token := ws.Agent()
	unknown := db.TokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	env.Do(t, unknown, `{ __typename }`, nil) // the connection prepares the lookup

	for i, want := range []int{1, 0, 0} {
		env.Counter.Reset()
		env.MustDo(t, token, `{ __typename }`, nil, nil)
		if got := env.Counter.Statements(); len(got) != want {
			t.Fatalf("request %d with the token: %d statements %q, want %d", i+1, len(got), got, want)
		}
		if got := env.Counter.RoundTrips(); got != want {
			t.Fatalf("request %d with the token: %d round trips, want %d", i+1, got, want)
		}
	}
	for i := range 2 {
		env.Counter.Reset()
		if r := env.Do(t, unknown, `{ __typename }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("unknown token, request %d: got %d, want 401", i+1, r.Status)
		}
		if got := env.Counter.Statements(); len(got) != 1 {
			t.Fatalf("unknown token, request %d: %d statements, want the lookup", i+1, len(got))
		}
	}
}

// eventWait is how long a test waits for an event to reach an instance (no measure of speed:
// revocationDeadline is).
const eventWait = 10 * time.Second

// watchAuthEvent returns a function that waits until bus has delivered the auth event of
// type typ about subject, to every watcher: the watchers run under the bus's lock, which
// Subscribers takes after them.
func watchAuthEvent(t *testing.T, bus *db.Bus, typ, subject string) (wait func()) {
	t.Helper()
	seen := make(chan struct{}, 1)
	stop := bus.WatchRevocations(func(e *rubrica.Event) {
		if e.Type == typ && e.SubjectID != nil && *e.SubjectID == subject {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})
	t.Cleanup(stop)
	return func() {
		t.Helper()
		select {
		case <-seen:
			bus.Subscribers()
		case <-time.After(eventWait):
			t.Fatalf("no %s event about %s within %v", typ, subject, eventWait)
		}
	}
}

// TestAuthCacheRevocation runs two instances on one database, each having served the tokens
// once (so each has them cached): a token revoked and a member removed through one instance
// are refused by that instance on the very next request, and by the other as soon as the
// event reaches it; a token revoked outside both (as the command line does) is refused by
// both once the event reaches them. Other tokens still authenticate.
func TestAuthCacheRevocation(t *testing.T) {
	t.Parallel()
	env := cachingEnv(t)
	peer := env.Peer(t)
	ws := env.Workspace(t, "Revocation")
	ctx := context.Background()
	newToken := func(email string, role rubrica.Role) (string, *rubrica.APIToken) {
		token, rec, err := env.DB.Admin().CreateExpiringToken(ctx, ws.ID, email, role, nil)
		if err != nil {
			t.Fatal(err)
		}
		return token, rec
	}
	revoked, revokedRec := newToken("agent@revocation.test", rubrica.RoleAgent)
	kept, _ := newToken("agent@revocation.test", rubrica.RoleAgent)
	byAdmin, byAdminRec := newToken("other@revocation.test", rubrica.RoleAgent)
	manager, managerRec := newToken("manager@revocation.test", rubrica.RoleManager)
	both := []*testenv.Env{env, peer}
	for _, e := range both {
		for _, token := range []string{revoked, kept, byAdmin, manager} {
			e.MustDo(t, token, `{ __typename }`, nil, nil)
		}
	}

	waitPeer := watchAuthEvent(t, peer.Bus, rubrica.TokenRevoked, revokedRec.ID)
	env.MustDo(t, ws.Owner(), revokeTokenMutation, map[string]any{"id": graph.APITokenID(revokedRec.ID)}, nil)
	wantUnauthenticated(t, env, revoked)
	waitPeer()
	wantUnauthenticated(t, peer, revoked)

	waitPeer = watchAuthEvent(t, peer.Bus, rubrica.MemberRemoved, managerRec.Member.ID)
	env.MustDo(t, ws.Owner(), removeMemberMutation, map[string]any{"id": graph.MemberID(managerRec.Member.ID)}, nil)
	wantUnauthenticated(t, env, manager)
	waitPeer()
	wantUnauthenticated(t, peer, manager)

	waits := []func(){watchAuthEvent(t, env.Bus, rubrica.TokenRevoked, byAdminRec.ID), watchAuthEvent(t, peer.Bus, rubrica.TokenRevoked, byAdminRec.ID)}
	if _, err := env.DB.Admin().RevokeWorkspaceToken(ctx, ws.ID, byAdminRec.ID); err != nil {
		t.Fatal(err)
	}
	for i, e := range both {
		waits[i]()
		wantUnauthenticated(t, e, byAdmin)
		e.MustDo(t, kept, `{ __typename }`, nil, nil)
	}
}

// heldWatcher passes the bus's auth events on only when released, as a slow bus would.
type heldWatcher struct {
	bus  *db.Bus
	mu   sync.Mutex
	held []*rubrica.Event
	fns  []func(*rubrica.Event)
}

func (w *heldWatcher) WatchRevocations(fn func(*rubrica.Event)) (stop func()) {
	w.mu.Lock()
	w.fns = append(w.fns, fn)
	w.mu.Unlock()
	return func() {}
}

// hold keeps every event from now on; release hands them on.
func (w *heldWatcher) hold() {
	w.bus.WatchRevocations(func(e *rubrica.Event) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.held = append(w.held, e)
	})
}

func (w *heldWatcher) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.held {
		for _, fn := range w.fns {
			fn(e)
		}
	}
	w.held = nil
}

// TestAuthCacheOwnRevocationFirst: a token revoked or a member removed through an instance is
// refused by it on the next request even while the revocation's event has not come back
// from the bus (held here): the instance forgot them when its own mutation returned.
func TestAuthCacheOwnRevocationFirst(t *testing.T) {
	t.Parallel()
	held := &heldWatcher{}
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.Revocations, c.AuthCacheTTL = held, server.DefaultAuthCacheTTL })
	held.bus = env.Bus
	held.hold()
	t.Cleanup(held.release)
	ws := env.Workspace(t, "Own")
	token, rec, err := env.DB.Admin().CreateExpiringToken(context.Background(), ws.ID, "agent@own.test", rubrica.RoleAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token, ws.Manager()} {
		env.MustDo(t, tok, `{ __typename }`, nil, nil)
	}
	env.MustDo(t, ws.Owner(), revokeTokenMutation, map[string]any{"id": graph.APITokenID(rec.ID)}, nil)
	wantUnauthenticated(t, env, token)
	var manager struct{ Viewer struct{ ID string } }
	env.MustDo(t, ws.Manager(), `{ viewer { id } }`, nil, &manager)
	env.MustDo(t, ws.Owner(), removeMemberMutation, map[string]any{"id": manager.Viewer.ID}, nil)
	wantUnauthenticated(t, env, ws.Manager())
}
