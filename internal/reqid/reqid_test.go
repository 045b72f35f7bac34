package reqid_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"rubrica/internal/reqid"
)

// TestFromRequest: a sane X-Request-Id wins, else a valid traceparent's trace id, else a
// generated id; ids that could forge a log line or are too long are never taken.
func TestFromRequest(t *testing.T) {
	const trace = "0af7651916cd43dd8448eb211c80319c"
	for _, tc := range []struct{ id, traceparent, want string }{
		{"abc-123", "", "abc-123"},
		{"550e8400-e29b-41d4-a716-446655440000", "", "550e8400-e29b-41d4-a716-446655440000"},
		{strings.Repeat("x", reqid.MaxLength), "", strings.Repeat("x", reqid.MaxLength)},
		{strings.Repeat("x", reqid.MaxLength+1), "", ""},
		{"a\nlevel=ERROR", "", ""},
		{"a b", "00-" + trace + "-b7ad6b7169203331-01", trace},
		{"", "00-" + trace + "-b7ad6b7169203331-01", trace},
		{"", "00-" + strings.ToUpper(trace) + "-b7ad6b7169203331-01", ""}, // W3C: lowercase only
		{"", "ff-" + trace + "-b7ad6b7169203331-01", ""},                  // version ff is invalid
		{"", "00-" + trace + "-b7ad6b71-01", ""},
		{"", "00-" + strings.Repeat("0", 32) + "-b7ad6b7169203331-01", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.id != "" {
			r.Header.Set(reqid.Header, tc.id)
		}
		if tc.traceparent != "" {
			r.Header.Set("Traceparent", tc.traceparent)
		}
		got := reqid.FromRequest(r)
		if tc.want != "" && got != tc.want {
			t.Errorf("X-Request-Id %q traceparent %q: got %q, want %q", tc.id, tc.traceparent, got, tc.want)
		}
		if tc.want == "" && (len(got) != 32 || got == tc.id || strings.Contains(tc.traceparent, got)) {
			t.Errorf("X-Request-Id %q traceparent %q: got %q, want a generated id", tc.id, tc.traceparent, got)
		}
	}
}

// TestLogHandler: a record logged with a context carrying an id gets request_id, once even
// when the handler is wrapped twice, through WithAttrs and WithGroup; others get none.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	h := reqid.LogHandler(reqid.LogHandler(slog.NewTextHandler(&buf, nil)))
	logger := slog.New(h).With("component", "test")
	ctx := reqid.NewContext(context.Background(), "id-1")
	logger.InfoContext(ctx, "with")
	logger.Info("without")
	logger.WithGroup("g").InfoContext(ctx, "grouped", "k", "v")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines: %s", len(lines), buf.String())
	}
	if strings.Count(lines[0], "request_id=id-1") != 1 || !strings.Contains(lines[0], "component=test") {
		t.Errorf("line with the id: %s", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("line without the id: %s", lines[1])
	}
	if !strings.Contains(lines[2], "request_id=id-1") {
		t.Errorf("grouped line: %s", lines[2])
	}
}
