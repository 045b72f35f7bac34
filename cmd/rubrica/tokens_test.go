package main_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"rubrica/db/dbtest"
	"rubrica/internal/testenv"
)

type tokenRecord struct {
	ID, MemberID, Email, Role string
	CreatedAt                 time.Time
	ExpiresAt, RevokedAt      *time.Time
}

// runFails runs the binary and returns its stderr, failing the test if it succeeds.
func runFails(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("rubrica %s: succeeded with %s, want a failure", strings.Join(args, " "), out)
	}
	return string(out)
}

// TestTokenCommands runs `token create --expires`, `token list`, `token revoke` and `member
// remove` on a real database: expiry in days, a list that never shows a token, revocation
// scoped to its workspace, removal that revokes the member's tokens and spares the last owner.
func TestTokenCommands(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	env := []string{"DATABASE_URL=" + dbtest.NewDatabase(t), "LOG_LEVEL=warn"}
	var ws, other struct{ WorkspaceID, Token string }
	runJSON(t, bin, env, &ws, "workspace", "create", "--name", "CLI", "--owner-email", "owner@cli.test")
	runJSON(t, bin, env, &other, "workspace", "create", "--name", "Other", "--owner-email", "owner@other.test")

	var created struct {
		Token, ID string
		ExpiresAt *time.Time
	}
	runJSON(t, bin, env, &created, "token", "create", "--workspace", ws.WorkspaceID, "--email", "agent@cli.test", "--role", "agent", "--expires", "30d")
	want := time.Now().Add(30 * 24 * time.Hour)
	if !strings.HasPrefix(created.Token, "rbk_") || created.ID == "" || created.ExpiresAt == nil || created.ExpiresAt.Sub(want).Abs() > time.Minute {
		t.Fatalf("token create --expires 30d: got %+v, want a token, an id and expiresAt about %s", created, want)
	}
	for _, bad := range []string{"30x", "0d", "-1h", "d", "1.5h", "999999999d"} {
		if out := runFails(t, bin, env, "token", "create", "--workspace", ws.WorkspaceID, "--email", "agent@cli.test", "--role", "AGENT", "--expires", bad); !strings.Contains(out, "--expires") {
			t.Errorf("--expires %s: got %q, want an error about --expires", bad, out)
		}
	}

	cmd := exec.Command(bin, "token", "list", "--workspace", ws.WorkspaceID)
	cmd.Env = append(os.Environ(), env...)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := string(raw); strings.Contains(s, "rbk_") || strings.Contains(strings.ToLower(s), "hash") {
		t.Fatalf("token list shows a token or its hash:\n%s", s)
	}
	var list []tokenRecord
	runJSON(t, bin, env, &list, "token", "list", "--workspace", ws.WorkspaceID)
	if len(list) != 2 || list[0].ID != created.ID || list[0].Email != "agent@cli.test" || list[0].Role != "AGENT" ||
		list[0].ExpiresAt == nil || list[0].RevokedAt != nil || list[1].Email != "owner@cli.test" || list[1].ExpiresAt != nil {
		t.Fatalf("token list: got %+v, want the agent's expiring token, then the owner's", list)
	}

	runFails(t, bin, env, "token", "revoke", "--workspace", other.WorkspaceID, "--id", created.ID)
	var revoked tokenRecord
	runJSON(t, bin, env, &revoked, "token", "revoke", "--workspace", ws.WorkspaceID, "--id", created.ID)
	if revoked.ID != created.ID || revoked.RevokedAt == nil {
		t.Fatalf("token revoke: got %+v, want %s revoked", revoked, created.ID)
	}

	var second struct{ ID string }
	runJSON(t, bin, env, &second, "token", "create", "--workspace", ws.WorkspaceID, "--email", "agent@cli.test", "--role", "AGENT")
	var removed struct {
		ID, Email string
		RemovedAt *time.Time
	}
	runJSON(t, bin, env, &removed, "member", "remove", "--workspace", ws.WorkspaceID, "--email", "AGENT@cli.test")
	if removed.Email != "agent@cli.test" || removed.RemovedAt == nil || removed.ID != list[0].MemberID {
		t.Fatalf("member remove: got %+v, want the agent %s removed", removed, list[0].MemberID)
	}
	runJSON(t, bin, env, &list, "token", "list", "--workspace", ws.WorkspaceID)
	for _, tok := range list {
		if tok.Email == "agent@cli.test" && tok.RevokedAt == nil {
			t.Fatalf("token list after member remove: %+v not revoked", tok)
		}
	}
	if out := runFails(t, bin, env, "member", "remove", "--workspace", ws.WorkspaceID, "--email", "owner@cli.test"); !strings.Contains(out, "last owner") {
		t.Fatalf("removing the last owner: got %q, want a refusal naming the last owner", out)
	}
	if out := runFails(t, bin, env, "member", "remove", "--workspace", ws.WorkspaceID, "--email", "agent@cli.test"); !strings.Contains(out, "not found") {
		t.Fatalf("removing a removed member by email: got %q, want not found", out)
	}
}

// TestRevocationEndToEnd serves two instances on one database with websockets open on both:
// `rubrica token revoke` closes those of the token on both instances with 4403 within a second,
// `rubrica member remove` those of the member; the owner's websocket stays and keeps receiving.
func TestRevocationEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	env := []string{"DATABASE_URL=" + dbtest.NewDatabase(t), "LOG_LEVEL=warn"}
	var ws struct{ WorkspaceID, Token string }
	runJSON(t, bin, env, &ws, "workspace", "create", "--name", "E2E", "--owner-email", "owner@e2e.test")
	var agent, manager struct{ Token, ID string }
	runJSON(t, bin, env, &agent, "token", "create", "--workspace", ws.WorkspaceID, "--email", "agent@e2e.test", "--role", "AGENT")
	runJSON(t, bin, env, &manager, "token", "create", "--workspace", ws.WorkspaceID, "--email", "manager@e2e.test", "--role", "MANAGER")
	bases := []string{startServer(t, bin, env).base, startServer(t, bin, env).base}

	dial := func(token string) []*testenv.WS {
		var out []*testenv.WS
		for i, base := range bases {
			c := testenv.Dial(t, testenv.WSURL(base), testenv.Protocols[i], token)
			c.Subscribe("s", createdQuery, nil)
			out = append(out, c)
		}
		return out
	}
	agents, managers, owners := dial(agent.Token), dial(manager.Token), dial(ws.Token)
	all := append(append(append([]*testenv.WS{}, agents...), managers...), owners...)
	syncSubscribers(t, bases[0], ws.Token, all)

	for _, step := range []struct {
		args   []string
		closed []*testenv.WS
	}{
		{[]string{"token", "revoke", "--workspace", ws.WorkspaceID, "--id", agent.ID}, agents},
		{[]string{"member", "remove", "--workspace", ws.WorkspaceID, "--email", "manager@e2e.test"}, managers},
	} {
		var out map[string]any
		runJSON(t, bin, env, &out, step.args...)
		start := time.Now()
		for _, c := range step.closed {
			code, text, err := c.Closed(time.Second - time.Since(start))
			if err != nil || code != 4403 {
				t.Fatalf("after rubrica %s: %s websocket closed %d %q (%v), want 4403 within a second", strings.Join(step.args, " "), c.Protocol, code, text, err)
			}
		}
	}
	syncSubscribers(t, bases[1], ws.Token, owners)
}
