package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"rubrica"
)

// TestClosedWebsocketLeavesRegistry: a websocket is filed in the revocation registry while
// it is open, and no longer once it closed (its upgrade request's context, which net/http
// no longer ends, ends with the connection).
func TestClosedWebsocketLeavesRegistry(t *testing.T) {
	g := &authGuard{limiter: newFailureLimiter(10, 10), conns: newWSRegistry()}
	tr := websocketTransport(g, func(*http.Request) bool { return true }, slog.New(slog.DiscardHandler),
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"}), 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The actor an Authorization header on the upgrade request would give.
		a := rubrica.Actor{MemberID: "m", WorkspaceID: "w", TokenID: "t"}
		tr.Do(w, r.WithContext(rubrica.NewContext(r.Context(), a)), nil)
	}))
	defer srv.Close()
	keys := func() int {
		g.conns.mu.Lock()
		defer g.conns.mu.Unlock()
		return len(g.conns.open)
	}
	d := websocket.Dialer{Subprotocols: []string{protoTransportWS}}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteJSON(map[string]any{"type": "connection_init"}); err != nil {
		t.Fatal(err)
	}
	var ack struct{ Type string }
	if err := conn.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("got %+v (%v), want connection_ack", ack, err)
	}
	if n := keys(); n != 2 {
		t.Fatalf("open websocket: %d registry keys, want 2 (its token and its member)", n)
	}
	conn.Close()
	for start := time.Now(); keys() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("closed websocket: %d registry keys after 5s, want 0", keys())
		}
	}
}
