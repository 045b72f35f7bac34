package gorillaws_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"rubrica/server/gorillaws"
)

// wantCloseReason reads until the connection closes with code and reason.
func (c *client) wantCloseReason(code int, reason string) {
	c.t.Helper()
	if ce := c.expectClose(code); ce.Text != reason {
		c.t.Fatalf("close %d reason %q, want %q", code, ce.Text, reason)
	}
}

// noOperation fails if an operation started.
func (h *harness) noOperation(t *testing.T) {
	t.Helper()
	select {
	case actor := <-h.ops:
		t.Fatalf("an operation started (as %q), want none", actor)
	default:
	}
}

// TestTransportWSCloseCodes: graphql-transport-ws closes a subscribe before connection_ack
// with 4401, a second connection_init with 4429 and a subscribe whose id is active with 4409,
// as its PROTOCOL.md says (gqlgen alone closes with 1002, or runs the duplicate).
func TestTransportWSCloseCodes(t *testing.T) {
	const proto = "graphql-transport-ws"
	t.Run("SubscribeBeforeInit", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.send("subscribe", "1", nameQuery)
		c.wantCloseReason(gorillaws.CloseUnauthorized, "Unauthorized")
		h.waitClose(t)
		h.noOperation(t)
	})
	t.Run("SecondInit", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.init("Authorization")
		c.send("connection_init", "", map[string]string{"Authorization": "Bearer good"})
		c.wantCloseReason(gorillaws.CloseTooManyInitialisationRequests, "Too many initialisation requests")
	})
	t.Run("DuplicateID", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.init("Authorization")
		c.send("subscribe", "op-1", nameQuery)
		h.waitOp(t, "alice")
		c.send("subscribe", "op-1", nameQuery)
		c.wantCloseReason(gorillaws.CloseSubscriberAlreadyExists, "Subscriber for op-1 already exists")
		h.noOperation(t)
	})
	t.Run("IDFreedByServerComplete", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.init("Authorization")
		c.send("subscribe", "1", nameQuery)
		h.waitOp(t, "alice")
		h.srv.SendCompleteSubscriptionMessage()
		c.expect("complete", "1")
		c.send("subscribe", "1", nameQuery)
		h.waitOp(t, "alice")
		h.srv.SendNextSubscriptionMessage()
		c.expect("next", "1")
	})
	t.Run("IDFreedByClientComplete", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.init("Authorization")
		c.send("subscribe", "1", nameQuery)
		h.waitOp(t, "alice")
		// The id is free at once, before the server confirms; the server's complete of the
		// first operation then leaves the second one active.
		c.send("complete", "1", nil)
		c.send("subscribe", "1", nameQuery)
		h.waitOp(t, "alice")
		c.expect("complete", "1")
		c.send("subscribe", "1", nameQuery)
		c.wantCloseReason(gorillaws.CloseSubscriberAlreadyExists, "Subscriber for 1 already exists")
	})
	t.Run("IDFreedByError", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.init("Authorization")
		c.send("subscribe", "1", map[string]string{"query": "subscription { nope }"})
		c.expect("error", "1")
		c.send("subscribe", "1", nameQuery)
		h.waitOp(t, "alice")
	})
}

// TestLegacyProtocolUnchanged: the legacy graphql-ws keeps gqlgen's behaviour: 1002 for a
// start before connection_init, and no check of ids.
func TestLegacyProtocolUnchanged(t *testing.T) {
	const proto = "graphql-ws"
	t.Run("StartBeforeInit", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.send("start", "1", nameQuery)
		c.expect("connection_error", "")
		c.expectClose(websocket.CloseProtocolError)
	})
	t.Run("DuplicateID", func(t *testing.T) {
		h := start(t, &gorillaws.Upgrader{}, nil)
		c := h.dial(t, proto, nil)
		c.init("Authorization")
		c.send("start", "1", nameQuery)
		h.waitOp(t, "alice")
		c.send("start", "1", nameQuery)
		h.waitOp(t, "alice")
		h.srv.SendNextSubscriptionMessage()
		c.expect("data", "1")
	})
}
