package main

import (
	"testing"
	"time"
)

// TestParseExpiry reads whole days, hours and minutes and refuses anything else.
func TestParseExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute, "1d": 24 * time.Hour} {
		if got, err := parseExpiry(in); err != nil || got != want {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "30", "30s", "30D", "+3d", "-3d", "0m", "1.5h", "3d4h", " 3d", "99999999999999d"} {
		if got, err := parseExpiry(in); err == nil {
			t.Errorf("parseExpiry(%q) = %v, want an error", in, got)
		}
	}
}

// TestAuthFailureSettings: AUTH_FAILURE_RATE and AUTH_FAILURE_BURST default to the server's
// constants; a rate of 0 turns the limit off; negative or non-numbers are refused.
func TestAuthFailureSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil || cfg.AuthFailureRate != 10 || cfg.AuthFailureBurst != 20 {
		t.Fatalf("defaults: got %v/%d (%v), want 10/20", cfg.AuthFailureRate, cfg.AuthFailureBurst, err)
	}
	cfg, err = loadConfig(env(map[string]string{"AUTH_FAILURE_RATE": "0", "AUTH_FAILURE_BURST": "5"}))
	if err != nil || authFailureRate(cfg.AuthFailureRate) >= 0 || cfg.AuthFailureBurst != 5 {
		t.Fatalf("AUTH_FAILURE_RATE=0: got %v/%d (%v), want no limit and burst 5", authFailureRate(cfg.AuthFailureRate), cfg.AuthFailureBurst, err)
	}
	for _, bad := range []map[string]string{{"AUTH_FAILURE_RATE": "-1"}, {"AUTH_FAILURE_RATE": "lots"}, {"AUTH_FAILURE_RATE": "NaN"}, {"AUTH_FAILURE_BURST": "0"}} {
		if _, err := loadConfig(env(bad)); err == nil {
			t.Errorf("%v: accepted, want an error", bad)
		}
	}
}

// TestAuthCacheSettings: AUTH_CACHE_TTL and AUTH_CACHE_SIZE default to the server's constants;
// a TTL of 0 turns the cache off (a negative TTL for the server); anything else is refused.
func TestAuthCacheSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil || cfg.AuthCacheTTL != 10*time.Second || cfg.AuthCacheSize != 10_000 {
		t.Fatalf("defaults: got %v/%d (%v), want 10s/10000", cfg.AuthCacheTTL, cfg.AuthCacheSize, err)
	}
	cfg, err = loadConfig(env(map[string]string{"AUTH_CACHE_TTL": "0", "AUTH_CACHE_SIZE": "50"}))
	if err != nil || cfg.AuthCacheTTL >= 0 || cfg.AuthCacheSize != 50 {
		t.Fatalf("AUTH_CACHE_TTL=0: got %v/%d (%v), want no cache and size 50", cfg.AuthCacheTTL, cfg.AuthCacheSize, err)
	}
	cfg, err = loadConfig(env(map[string]string{"AUTH_CACHE_TTL": "2s"}))
	if err != nil || cfg.AuthCacheTTL != 2*time.Second {
		t.Fatalf("AUTH_CACHE_TTL=2s: got %v (%v)", cfg.AuthCacheTTL, err)
	}
	for _, bad := range []map[string]string{{"AUTH_CACHE_TTL": "soon"}, {"AUTH_CACHE_TTL": "-1s"}, {"AUTH_CACHE_SIZE": "0"}} {
		if _, err := loadConfig(env(bad)); err == nil {
			t.Errorf("%v: accepted, want an error", bad)
		}
	}
}
