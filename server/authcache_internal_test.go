package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"rubrica"
	"rubrica/db/dbtest"
)

// cacheFixture is a cache over the real auth service of a fresh database, with a clock the
// test moves, and tokens of one workspace.
type cacheFixture struct {
	cache   *authCache
	counter *dbtest.Counter
	clock   time.Time
	admin   rubrica.Admin
	wsID    string
}

func newCacheFixture(t *testing.T, ttl time.Duration, size int) *cacheFixture {
	t.Helper()
	d, counter, _ := dbtest.MustOpenCountingDB(t)
	ws, _, err := d.Admin().CreateWorkspace(context.Background(), "Cache", "owner@cache.test")
	if err != nil {
		t.Fatal(err)
	}
	f := &cacheFixture{counter: counter, clock: time.Now(), admin: d.Admin(), wsID: ws.ID}
	f.cache = newAuthCache(d.Services().Auth, ttl, size)
	f.cache.now = func() time.Time { return f.clock }
	return f
}

func (f *cacheFixture) token(t *testing.T, email string, expiresAt *time.Time) string {
	t.Helper()
	token, _, err := f.admin.CreateExpiringToken(context.Background(), f.wsID, email, rubrica.RoleAgent, expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// wantLookups authenticates token and fails unless that ran n statements.
func (f *cacheFixture) wantLookups(t *testing.T, what, token string, n int) {
	t.Helper()
	f.counter.Reset()
	if _, err := f.cache.Authenticate(context.Background(), token); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := len(f.counter.Statements()); got != n {
		t.Fatalf("%s: %d statements, want %d", what, got, n)
	}
}

// TestAuthCacheExpiry: an entry is served until its TTL ends, and never at or past its
// token's expiry, even when the TTL is longer.
func TestAuthCacheExpiry(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t, 10*time.Second, 100)
	token := f.token(t, "ttl@cache.test", nil)
	f.wantLookups(t, "first use", token, 1)
	f.clock = f.clock.Add(9 * time.Second)
	f.wantLookups(t, "within the TTL", token, 0)
	f.clock = f.clock.Add(2 * time.Second)
	f.wantLookups(t, "past the TTL", token, 1)

	f.cache.ttl = time.Hour
	expiresAt := time.Now().Add(time.Minute).Truncate(time.Second) // as stored
	f.clock = time.Now()
	expiring := f.token(t, "expiring@cache.test", &expiresAt)
	f.wantLookups(t, "first use of an expiring token", expiring, 1)
	f.clock = expiresAt.Add(-time.Second)
	f.wantLookups(t, "before its expiry", expiring, 0)
	f.clock = expiresAt
	f.wantLookups(t, "at its expiry (the TTL not over)", expiring, 1)
}

// TestAuthCacheBounded: a cache of 3 holds 3 entries however many tokens authenticate, each
// still authenticated rightly; the newest is served from memory.
func TestAuthCacheBounded(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t, time.Minute, 3)
	for i := range 8 {
		email := fmt.Sprintf("agent%d@cache.test", i)
		token := f.token(t, email, nil)
		f.wantLookups(t, email, token, 1)
		if n := f.cache.len(); n > 3 {
			t.Fatalf("after %d tokens: %d entries, want at most 3", i+1, n)
		}
		f.wantLookups(t, email+" again", token, 0)
	}
}

// TestAuthCacheRevokedDuringLookup: a lookup that began before a revocation is not kept (it
// may have read the token before the revocation committed); one that began after is.
func TestAuthCacheRevokedDuringLookup(t *testing.T) {
	t.Parallel()
	c := newAuthCache(nil, time.Minute, 10)
	key := sha256.Sum256([]byte("t"))
	a := rubrica.Actor{MemberID: "m", TokenID: "tok"}
	epoch := c.epoch
	c.revoke(&rubrica.Event{Kind: rubrica.KindAuth, Type: rubrica.TokenRevoked, SubjectID: ptr("other")})
	c.put(key, a, epoch)
	if c.len() != 0 {
		t.Fatal("a lookup begun before a revocation was kept")
	}
	c.put(key, a, c.epoch)
	if c.len() != 1 {
		t.Fatal("a lookup begun after the revocation was not kept")
	}
	c.revoke(&rubrica.Event{Kind: rubrica.KindAuth, Type: rubrica.MemberRemoved, SubjectID: ptr("m")})
	if c.len() != 0 {
		t.Fatal("the removed member's entry was kept")
	}
}

func ptr(s string) *string { return &s }

var _ rubrica.AuthService = (*authCache)(nil)
