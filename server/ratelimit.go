package server

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"rubrica"
)

// Failed authentication limits.
const (
	// DefaultAuthFailureRate is how many failed authentications per minute one client address
	// may make once its burst is spent.
	DefaultAuthFailureRate = 10
	// DefaultAuthFailureBurst is how many failed authentications one client address may make
	// at once.
	DefaultAuthFailureBurst = 20
	// maxLimitedAddrs bounds the addresses the limiter tracks one by one; beyond it (a flood
	// of addresses) the new ones share one budget, so memory stays bounded.
	maxLimitedAddrs = 10_000
	// sweepInterval is how often, at most, a full limiter looks for idle addresses to forget.
	sweepInterval = time.Second
	// limitAuthFailures is the limit's name in `extensions.limit`.
	limitAuthFailures = "AUTH_FAILURE_RATE"
)

// failureLimiter limits failed authentications per client address. Only failures spend the
// budget and a valid token is checked before the limiter is asked, so valid tokens are never
// slowed or refused, even from an address over its limit: the limit stops guessing, not use.
type failureLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	addrs     map[string]*rate.Limiter
	overflow  *rate.Limiter // shared by the addresses beyond maxLimitedAddrs
	lastSweep time.Time
}

// newFailureLimiter allows perMinute failures a minute after a burst; nil (no limit) when
// perMinute is not positive.
func newFailureLimiter(perMinute float64, burst int) *failureLimiter {
	if perMinute <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = 1
	}
	l := rate.Limit(perMinute / 60)
	return &failureLimiter{limit: l, burst: burst, addrs: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(l, burst)}
}

// fail records a failed authentication from addr. Under the limit it returns 0; over it, how
// long until addr may fail again (the failure is then not counted).
func (l *failureLimiter) fail(addr string) time.Duration {
	if l == nil {
		return 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.limiterLocked(addr, now)
	if lim.AllowN(now, 1) {
		return 0
	}
	missing := 1 - lim.TokensAt(now)
	return time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// limiterLocked returns addr's limiter, making one when there is room.
func (l *failureLimiter) limiterLocked(addr string, now time.Time) *rate.Limiter {
	if lim, ok := l.addrs[addr]; ok {
		return lim
	}
	if len(l.addrs) >= maxLimitedAddrs && now.Sub(l.lastSweep) >= sweepInterval {
		l.sweepLocked(now)
	}
	if len(l.addrs) >= maxLimitedAddrs {
		return l.overflow
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	l.addrs[addr] = lim
	return lim
}

// sweepLocked forgets the addresses whose budget is full again: a new limiter would be the
// same.
func (l *failureLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for addr, lim := range l.addrs {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.addrs, addr)
		}
	}
}

// clientAddr is the key of a request's client: the IP of the connection's peer (never a
// header such as X-Forwarded-For, which the client writes), an IPv6 address by its /64, since
// one client commonly holds a whole /64.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

type clientAddrKey struct{}

func withClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

func clientAddrFrom(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	return addr
}

// retrySeconds is a Retry-After value: whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// authLimited is the refusal of an address over its limit of failed authentications, which
// may retry after retry (429 with Retry-After).
func authLimited(retry time.Duration) error {
	secs := retrySeconds(retry)
	return &limitError{err: rubrica.Errorf(rubrica.ELIMIT, "%s", authLimitedMessage(secs)), limit: limitAuthFailures, retryAfter: secs}
}

func authLimitedMessage(secs int) string {
	return "Too many failed authentications from this address: retry in " + strconv.Itoa(secs) + "s."
}
