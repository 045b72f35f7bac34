package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"
)

// TestFramesReadByGorilla: the frames the server encodes itself, of every length encoding,
// and its close frame, are what a gorilla client reads; the writer's queue keeps their order
// when the client reads late.
func TestFramesReadByGorilla(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 300_000}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		wr := newWSWriter(ws.NetConn(), 5*time.Second, func(err error) { t.Errorf("write: %v", err) })
		for _, n := range sizes {
			wr.write(textFrame(bytes.Repeat([]byte{'a' + byte(n%26)}, n)), false)
		}
		wr.writeClose(closeFrame(4403, "Forbidden"))
		wr.shut(time.Second)
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(100 * time.Millisecond) // the 300 KB frame waits in the writer's queue
	for _, n := range sizes {
		typ, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("frame of %d bytes: %v", n, err)
		}
		if typ != websocket.TextMessage || !bytes.Equal(b, bytes.Repeat([]byte{'a' + byte(n%26)}, n)) {
			t.Fatalf("frame of %d bytes: got type %d, %d bytes", n, typ, len(b))
		}
	}
	_, _, err = conn.ReadMessage()
	if !websocket.IsCloseError(err, 4403) {
		t.Fatalf("close: got %v, want 4403", err)
	}
}

// TestFrameCacheSharesBytes: one response, one id and type: the same bytes for every caller.
func TestFrameCacheSharesBytes(t *testing.T) {
	fc := newFrameCache()
	r := &graphql.Response{Data: []byte(`{"a":1}`)}
	a, _ := fc.frame(r, "1", "next")
	b, _ := fc.frame(r, "1", "next")
	c, _ := fc.frame(r, "2", "next")
	if &a[0] != &b[0] {
		t.Errorf("same response, id and type: two encodings")
	}
	if want := `{"id":"2","type":"next","payload":{"data":{"a":1}}}`; string(c[2:]) != want {
		t.Errorf("frame: got %q, want %q", c[2:], want)
	}
}

// TestCloseReason: a close reason is cut to 123 bytes at a rune boundary and made valid UTF-8;
// a code that may not be sent becomes 1011.
func TestCloseReason(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := truncateReason(long)
	if len(got) > maxCloseReason || !utf8.ValidString(got) {
		t.Errorf("truncateReason: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if p := closePayload(1005, "x"); len(p) != 0 {
		t.Errorf("1005: payload %q, want none", p)
	}
	if p := closePayload(999, "x"); int(p[0])<<8|int(p[1]) != websocket.CloseInternalServerErr {
		t.Errorf("999: sent as %d, want 1011", int(p[0])<<8|int(p[1]))
	}
}
