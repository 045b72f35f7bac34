package graph

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

// TestPresentErrorOfAnEndedRequest: a statement that failed because its request ended (lib/pq
// reports the cancellation as its own error 57014) is INTERNAL to nobody and no server fault:
// logged at debug when the client left, as a warning when the deadline passed, never as an
// internal error; a failure while the request is alive is one.
func TestPresentErrorOfAnEndedRequest(t *testing.T) {
	t.Parallel()
	cancelled := &pq.Error{Code: "57014", Message: "canceling statement due to user request"}
	left, cancel := context.WithCancel(context.Background())
	cancel()
	late, cancel2 := context.WithTimeout(context.Background(), -time.Second)
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want string // the level logged
	}{
		{"ClientLeft", left, "level=DEBUG msg=\"operation cancelled\""},
		{"DeadlinePassed", late, "level=WARN msg=\"operation cancelled\""},
		{"RequestAlive", context.Background(), "level=ERROR msg=\"internal error\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			got := PresentError(logger)(c.ctx, errors.Join(errors.New("db: list contacts"), cancelled))
			if got.Extensions["code"] != "INTERNAL" || got.Message != "Internal error." {
				t.Errorf("presented %v %q, want INTERNAL \"Internal error.\"", got.Extensions, got.Message)
			}
			if !strings.Contains(logs.String(), c.want) {
				t.Errorf("log: got %q, want %s", logs.String(), c.want)
			}
		})
	}
}
