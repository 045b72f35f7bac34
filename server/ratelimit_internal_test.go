package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestFailureLimiterBounded floods the limiter with more addresses than it tracks: it holds
// at most maxLimitedAddrs, the addresses beyond share one budget (so they are limited too),
// and once the tracked ones are idle a sweep forgets them and new addresses are tracked again.
func TestFailureLimiterBounded(t *testing.T) {
	l := newFailureLimiter(10, 2)
	for i := range maxLimitedAddrs + 5000 {
		l.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.addrs); n != maxLimitedAddrs {
		t.Fatalf("tracked addresses after a flood: got %d, want %d", n, maxLimitedAddrs)
	}
	// The 5,000 beyond spent the shared budget: a new address fails over the limit at once.
	if retry := l.fail("192.0.2.1"); retry <= 0 {
		t.Fatalf("a new address while the limiter is full: got no limit, want the shared budget spent")
	}
	l.mu.Lock()
	l.sweepLocked(time.Now().Add(time.Hour)) // an hour later every budget is full again
	l.mu.Unlock()
	if n := len(l.addrs); n != 0 {
		t.Fatalf("tracked addresses after they went idle: got %d, want 0", n)
	}
	if retry := l.fail("192.0.2.1"); retry != 0 {
		t.Fatalf("a new address after the sweep: got limited, want its own budget")
	}
}

// TestFailureLimiterRetryAfter: the burst passes, the next failure is limited with the time
// one failure takes to refill (6s at 10 a minute).
func TestFailureLimiterRetryAfter(t *testing.T) {
	l := newFailureLimiter(10, 3)
	for i := range 3 {
		if retry := l.fail("198.51.100.7"); retry != 0 {
			t.Fatalf("failure %d of the burst: limited %v, want allowed", i+1, retry)
		}
	}
	retry := l.fail("198.51.100.7")
	if secs := retrySeconds(retry); secs < 5 || secs > 6 {
		t.Fatalf("retry after the burst: got %v (%ds), want about 6s", retry, secs)
	}
	if newFailureLimiter(0, 3) != nil || newFailureLimiter(-1, 3).fail("x") != 0 {
		t.Fatalf("a rate of 0 or less: want no limiter")
	}
}

// TestClientAddr keys by the peer's IP, never a header, and an IPv6 address by its /64.
func TestClientAddr(t *testing.T) {
	for remote, want := range map[string]string{
		"203.0.113.5:4242":           "203.0.113.5",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[::ffff:203.0.113.5]:80":    "203.0.113.5",
		"not-an-address":             "not-an-address",
	} {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {"192.0.2.99"}}}
		if got := clientAddr(r); got != want {
			t.Errorf("clientAddr(%q): got %q, want %q", remote, got, want)
		}
	}
}
