package server

import (
	"cmp"
	"context"
	"sync"
	"time"

	"rubrica"
)

// CloseForbidden is the close code of a websocket whose credentials are refused or ended: a
// token revoked or expired, a member removed.
const CloseForbidden = 4403

// revokedMemory is how long the registry remembers a revocation, for a websocket whose token
// was checked just before the revocation committed but that registers only after it arrived.
const revokedMemory = time.Minute

// wsRegistry holds the open websockets by the token and the member that authenticated them,
// so that a revocation arriving from any instance closes them with CloseForbidden.
type wsRegistry struct {
	mu      sync.Mutex
	open    map[string]map[*wsEntry]struct{} // by tokenKey and memberKey
	revoked map[string]time.Time             // keys revoked within revokedMemory
}

// wsCloser closes one websocket with a close code and reason; it does not block long.
type wsCloser interface{ Close(code int, reason string) }

// wsEntry is one open websocket (its Closer and the cancel of its context), or one event
// stream (end, which ends it with the reason).
type wsEntry struct {
	k      wsCloser
	cancel context.CancelFunc
	end    func(reason string)
}

// closeFrameWait is how long a revocation waits for its close frame to be written (behind a
// write to a client that does not read, say) before it ends the subscriptions regardless.
const closeFrameWait = 500 * time.Millisecond

// close sends the close frame with CloseForbidden first, then ends the connection's context,
// which stops every subscription at once (gqlgen's own close then finds the frame sent).
func (e *wsEntry) close(reason string) {
	if e.end != nil {
		e.end(reason)
		return
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		e.k.Close(CloseForbidden, reason)
	}()
	select {
	case <-sent:
	case <-time.After(closeFrameWait):
	}
	e.cancel()
}

func newWSRegistry() *wsRegistry {
	return &wsRegistry{open: map[string]map[*wsEntry]struct{}{}, revoked: map[string]time.Time{}}
}

func tokenKey(id string) string  { return "token:" + id }
func memberKey(id string) string { return "member:" + id }

// register files the websocket of k under the actor's token and member until ctx (the
// connection's, which cancel ends) ends, and closes it when the token expires. A websocket
// whose token or member was revoked a moment ago is closed at once.
func (r *wsRegistry) register(ctx context.Context, cancel context.CancelFunc, a rubrica.Actor, k wsCloser) {
	if k == nil {
		return
	}
	r.add(ctx, a, &wsEntry{k: k, cancel: cancel})
}

// registerStream files an event stream (SSE) as register files a websocket: end ends it,
// with the reason, when its token is revoked or expires or its member is removed.
func (r *wsRegistry) registerStream(ctx context.Context, a rubrica.Actor, end func(reason string)) {
	r.add(ctx, a, &wsEntry{end: end})
}

// add files e under the actor's token and member until ctx ends.
func (r *wsRegistry) add(ctx context.Context, a rubrica.Actor, e *wsEntry) {
	keys := []string{memberKey(a.MemberID)}
	if a.TokenID != "" {
		keys = append(keys, tokenKey(a.TokenID))
	}
	r.mu.Lock()
	for _, key := range keys {
		if _, ok := r.revoked[key]; ok {
			r.mu.Unlock()
			go e.close("The token was revoked.")
			return
		}
	}
	for _, key := range keys {
		if r.open[key] == nil {
			r.open[key] = map[*wsEntry]struct{}{}
		}
		r.open[key][e] = struct{}{}
	}
	r.mu.Unlock()
	var expiry *time.Timer
	if !a.ExpiresAt.IsZero() {
		expiry = time.AfterFunc(time.Until(a.ExpiresAt), func() { e.close("The token expired.") })
	}
	context.AfterFunc(ctx, func() {
		if expiry != nil {
			expiry.Stop()
		}
		r.unregister(keys, e)
	})
}

func (r *wsRegistry) unregister(keys []string, e *wsEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range keys {
		delete(r.open[key], e)
		if len(r.open[key]) == 0 {
			delete(r.open, key)
		}
	}
}

// revoke closes the websockets of a revoked token or a removed member (an auth event). It
// runs on the event bus's loop, so the closing happens elsewhere.
func (r *wsRegistry) revoke(e *rubrica.Event) {
	if e.SubjectID == nil {
		return
	}
	var key, reason string
	switch e.Type {
	case rubrica.TokenRevoked:
		key, reason = tokenKey(*e.SubjectID), "The token was revoked."
	case rubrica.MemberRemoved:
		key, reason = memberKey(*e.SubjectID), "The member was removed."
	default:
		return
	}
	now := time.Now()
	r.mu.Lock()
	for k, at := range r.revoked {
		if now.Sub(at) > revokedMemory {
			delete(r.revoked, k)
		}
	}
	r.revoked[key] = now
	entries := r.open[key]
	delete(r.open, key)
	r.mu.Unlock()
	for e := range entries {
		go e.close(reason)
	}
}

// authGuard authenticates requests and websockets: the auth service, the limiter of failed
// authentications per address, and the registry that closes websockets whose credentials end.
type authGuard struct {
	auth    rubrica.AuthService // cache, when there is one
	cache   *authCache          // nil: every authentication asks the service
	limiter *failureLimiter     // nil: no limit
	conns   *wsRegistry
	errs    httpErrors
}

// newAuthGuard makes the guard of a server and starts watching revocations (cfg.Revocations,
// else cfg.Services.Events when it can tell about them). With a watcher, and unless
// cfg.AuthCacheTTL is negative, authentications are cached (see authCache).
func newAuthGuard(cfg Config) *authGuard {
	rate := cfg.AuthFailureRate
	if rate == 0 {
		rate = DefaultAuthFailureRate
	}
	burst := cfg.AuthFailureBurst
	if burst <= 0 {
		burst = DefaultAuthFailureBurst
	}
	g := &authGuard{auth: cfg.Services.Auth, limiter: newFailureLimiter(rate, burst), conns: newWSRegistry(), errs: httpErrors{cfg.Logger}}
	watcher := cfg.Revocations
	if watcher == nil {
		watcher, _ = cfg.Services.Events.(rubrica.RevocationWatcher)
	}
	if watcher == nil {
		cfg.Logger.Warn("no revocation watcher: revoked tokens keep their open websockets until they close, and authentications are not cached")
		return g
	}
	if cfg.AuthCacheTTL >= 0 {
		g.cache = newAuthCache(cfg.Services.Auth, cmp.Or(cfg.AuthCacheTTL, DefaultAuthCacheTTL), cmp.Or(max(cfg.AuthCacheSize, 0), DefaultAuthCacheSize))
		g.auth = g.cache
	}
	watcher.WatchRevocations(func(e *rubrica.Event) {
		if g.cache != nil {
			g.cache.revoke(e)
		}
		g.conns.revoke(e)
	})
	return g
}

// services returns s with the workspace service that tells the guard's cache at once of the
// revocations it makes.
func (g *authGuard) services(s rubrica.Services) rubrica.Services {
	if g.cache != nil && s.Workspaces != nil {
		s.Workspaces = revokingWorkspaces{WorkspaceService: s.Workspaces, cache: g.cache}
	}
	return s
}
