package server

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"rubrica"
)

// DefaultAuthCacheTTL is how long a successful authentication is served from memory: a token
// used again within it costs no database round trip.
const DefaultAuthCacheTTL = 10 * time.Second

// DefaultAuthCacheSize is how many tokens the authentication cache holds at most.
const DefaultAuthCacheSize = 10_000

// authCache remembers the actors of tokens that authenticated a moment ago, by the token's
// hash (the token itself is never kept). An entry lives for the TTL and never past its
// token's expiry; a revocation forgets its token's or member's entries at once: every
// instance hears of it through the revocation watcher, and this instance also from its own
// RevokeToken and RemoveMember as soon as they return (see revokingWorkspaces). Only
// successes are kept: an unknown token always asks the database.
type authCache struct {
	next rubrica.AuthService
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]authEntry
	// epoch counts revocations: a lookup that began before one may have read the token
	// before the revocation committed, so its result is served but not kept.
	epoch uint64
}

type authEntry struct {
	actor rubrica.Actor
	until time.Time // the TTL's end or the token's expiry, whichever is first
}

func newAuthCache(next rubrica.AuthService, ttl time.Duration, size int) *authCache {
	return &authCache{next: next, ttl: ttl, size: size, now: time.Now, entries: map[[sha256.Size]byte]authEntry{}}
}

// Authenticate returns the remembered actor of token, or asks the next service and
// remembers a success.
func (c *authCache) Authenticate(ctx context.Context, token string) (rubrica.Actor, error) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	e, ok := c.entries[key]
	now := c.now()
	if ok && now.Before(e.until) {
		c.mu.Unlock()
		return e.actor, nil
	}
	if ok {
		delete(c.entries, key)
	}
	epoch := c.epoch
	c.mu.Unlock()

	a, err := c.next.Authenticate(ctx, token)
	if err != nil {
		return a, err
	}
	c.put(key, a, epoch)
	return a, nil
}

// put remembers a, unless a revocation came since epoch; a full cache first drops an
// entry.
func (c *authCache) put(key [sha256.Size]byte, a rubrica.Actor, epoch uint64) {
	until := c.now().Add(c.ttl)
	if !a.ExpiresAt.IsZero() && a.ExpiresAt.Before(until) {
		until = a.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		c.evictLocked()
	}
	c.entries[key] = authEntry{actor: a, until: until}
}

// evictLocked drops the entries past their time, or one entry when none is.
func (c *authCache) evictLocked() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < c.size {
		return
	}
	for k := range c.entries {
		delete(c.entries, k)
		return
	}
}

// forget drops the entries of a token (tokenID) or of a member (memberID); "" matches none.
func (c *authCache) forget(tokenID, memberID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for k, e := range c.entries {
		if tokenID != "" && e.actor.TokenID == tokenID || memberID != "" && e.actor.MemberID == memberID {
			delete(c.entries, k)
		}
	}
}

// revoke forgets what an auth event revokes (it runs on the event bus's loop, briefly).
func (c *authCache) revoke(e *rubrica.Event) {
	if e.SubjectID == nil {
		return
	}
	switch e.Type {
	case rubrica.TokenRevoked:
		c.forget(*e.SubjectID, "")
	case rubrica.MemberRemoved:
		c.forget("", *e.SubjectID)
	}
}

// len counts the entries (for tests).
func (c *authCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// revokingWorkspaces is the workspace service that forgets the cached authentications of a
// token it revoked or a member it removed as soon as it returns, before the revocation's
// event comes back through the bus: the next request on this instance is refused.
type revokingWorkspaces struct {
	rubrica.WorkspaceService
	cache *authCache
}

func (w revokingWorkspaces) RevokeToken(ctx context.Context, id string) (*rubrica.APIToken, error) {
	t, err := w.WorkspaceService.RevokeToken(ctx, id)
	w.cache.forget(id, "")
	return t, err
}

func (w revokingWorkspaces) RemoveMember(ctx context.Context, id string) (*rubrica.Member, error) {
	m, err := w.WorkspaceService.RemoveMember(ctx, id)
	w.cache.forget("", id)
	return m, err
}
