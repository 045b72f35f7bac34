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
