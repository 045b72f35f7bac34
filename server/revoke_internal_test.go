package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"rubrica"
)

// TestRegistryRevokedBeforeRegister: a websocket whose token was checked just before its
// revocation committed, and that registers only after the revocation arrived, is closed at
// once; one of another token of the same member is not.
func TestRegistryRevokedBeforeRegister(t *testing.T) {
	r := newWSRegistry()
	revoked := "11111111-1111-1111-1111-111111111111"
	r.revoke(&rubrica.Event{Kind: rubrica.KindAuth, Type: rubrica.TokenRevoked, SubjectID: &revoked})
	register := func(tokenID string) context.Context {
		var k closedWith
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		r.register(ctx, cancel, rubrica.Actor{MemberID: "m", WorkspaceID: "w", TokenID: tokenID}, &k)
		return ctx
	}
	late, other := register(revoked), register("22222222-2222-2222-2222-222222222222")
	select {
	case <-late.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("websocket of a token revoked before it registered: still open")
	}
	if other.Err() != nil {
		t.Fatalf("websocket of the member's other token: closed, want it open")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.open) != 2 { // the other websocket, under its token and its member
		t.Fatalf("registry: %d keys, want 2", len(r.open))
	}
}

// closedWith records the close code a websocket was closed with.
type closedWith struct{ code atomic.Int64 }

func (c *closedWith) Close(code int, _ string) { c.code.Store(int64(code)) }
