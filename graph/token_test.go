package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"rubrica"
	"rubrica/graph"
	"rubrica/internal/testenv"
)

const apiTokensQuery = `{ workspace { apiTokens { id createdAt expiresAt revokedAt member { id email role } } } }`

type apiTokenData struct {
	ID, CreatedAt        string
	ExpiresAt, RevokedAt *string
	Member               struct{ ID, Email, Role string }
}

func fxAPITokens(tb testing.TB, env *testenv.Env, token string) []apiTokenData {
	tb.Helper()
	var data struct {
		Workspace struct{ APITokens []apiTokenData }
	}
	env.MustDo(tb, token, apiTokensQuery, nil, &data)
	return data.Workspace.APITokens
}

// TestMembersAndAPITokens: every member reads the members; only owners read the tokens,
// newest first with their member, expiry and revocation, never the token itself; node(id)
// finds a token for owners only; another workspace's tokens are not listed.
func TestMembersAndAPITokens(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Tokens")
	other := env.Workspace(t, "Other")
	expiresAt := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	expiring, rec, err := env.DB.Admin().CreateExpiringToken(context.Background(), ws.ID, "agent@tokens.test", rubrica.RoleAgent, &expiresAt)
	if err != nil {
		t.Fatal(err)
	}

	for _, token := range []string{ws.Owner(), ws.Manager(), ws.Agent()} {
		var data struct {
			Workspace struct {
				Members []struct{ Email, Role string }
			}
		}
		env.MustDo(t, token, `{ workspace { members { email role } } }`, nil, &data)
		var got []string
		for _, m := range data.Workspace.Members {
			got = append(got, m.Email+" "+m.Role)
		}
		if want := "owner@tokens.test OWNER,MANAGER@tokens.test MANAGER,AGENT@tokens.test AGENT"; strings.ToLower(strings.Join(got, ",")) != strings.ToLower(want) {
			t.Fatalf("members: got %v, want %s", got, want)
		}
	}

	r := env.Do(t, ws.Owner(), `{ workspace { apiTokens { id member { email } } } }`, nil)
	if strings.Contains(string(r.Data), "rbk_") {
		t.Fatalf("apiTokens shows a token: %s", r.Data)
	}
	tokens := fxAPITokens(t, env, ws.Owner())
	if len(tokens) != 4 {
		t.Fatalf("apiTokens: got %d, want 4 (owner, manager, agent twice)", len(tokens))
	}
	newest := tokens[0]
	if newest.ID != graph.APITokenID(rec.ID) || newest.ExpiresAt == nil || newest.RevokedAt != nil || newest.Member.Role != "AGENT" {
		t.Fatalf("newest token: got %+v, want %s of the agent, expiring, not revoked", newest, graph.APITokenID(rec.ID))
	}
	if got, _ := time.Parse(time.RFC3339, *newest.ExpiresAt); !got.Equal(expiresAt) {
		t.Fatalf("expiresAt: got %s, want %s", *newest.ExpiresAt, expiresAt)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i-1].CreatedAt < tokens[i].CreatedAt {
			t.Fatalf("apiTokens not newest first: %+v", tokens)
		}
	}
	for _, token := range []string{ws.Manager(), ws.Agent(), expiring} {
		fxWantError(t, env.Do(t, token, apiTokensQuery, nil), "FORBIDDEN", "-")
		fxWantError(t, env.Do(t, token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": newest.ID}), "FORBIDDEN", "-")
	}
	var node struct{ Node struct{ ID string } }
	env.MustDo(t, ws.Owner(), `query($id: ID!) { node(id: $id) { ... on ApiToken { id } } }`, map[string]any{"id": newest.ID}, &node)
	if node.Node.ID != newest.ID {
		t.Fatalf("node(token id) for the owner: got %+v, want %s", node, newest.ID)
	}
	fxWantError(t, env.Do(t, other.Owner(), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": newest.ID}), "NOT_FOUND", "id")
	if got := fxAPITokens(t, env, other.Owner()); len(got) != 3 {
		t.Fatalf("the other workspace's tokens: got %d, want its own 3", len(got))
	}
}

// TestRevokeToken: an owner revokes a token, which then authenticates no more (the member's
// other tokens still do); revoking it again changes nothing; managers and agents may not; a
// token of another workspace, a malformed id and an id of another type are NOT_FOUND.
func TestRevokeToken(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Revoke")
	other := env.Workspace(t, "Elsewhere")
	second, rec, err := env.DB.Admin().CreateExpiringToken(context.Background(), ws.ID, "agent@revoke.test", rubrica.RoleAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := graph.APITokenID(rec.ID)
	const revoke = `mutation($id: ID!) { revokeToken(input: {tokenId: $id}) { apiToken { id revokedAt member { email } } } }`
	type payload struct {
		RevokeToken struct {
			APIToken struct {
				ID        string
				RevokedAt *string
				Member    struct{ Email string }
			}
		}
	}

	for _, token := range []string{ws.Manager(), ws.Agent()} {
		fxWantError(t, env.Do(t, token, revoke, map[string]any{"id": id}), "FORBIDDEN", "-")
	}
	fxWantError(t, env.Do(t, other.Owner(), revoke, map[string]any{"id": id}), "NOT_FOUND", "tokenId")
	for _, bad := range []string{"nonsense", graph.APITokenID("not-a-uuid"), graph.APITokenID("00000000-0000-0000-0000-000000000000"), graph.WorkspaceID(ws.ID)} {
		fxWantError(t, env.Do(t, ws.Owner(), revoke, map[string]any{"id": bad}), "NOT_FOUND", "tokenId")
	}
	env.MustDo(t, second, `{ viewer { id } }`, nil, nil) // nothing refused was revoked

	var first payload
	env.MustDo(t, ws.Owner(), revoke, map[string]any{"id": id}, &first)
	got := first.RevokeToken.APIToken
	if got.ID != id || got.RevokedAt == nil || !strings.EqualFold(got.Member.Email, "agent@revoke.test") {
		t.Fatalf("revokeToken: got %+v, want %s revoked", got, id)
	}
	r := env.Do(t, second, `{ viewer { id } }`, nil)
	fxWantError(t, r, "UNAUTHENTICATED", "-")
	env.MustDo(t, ws.Agent(), `{ viewer { id } }`, nil, nil)

	var again payload
	env.MustDo(t, ws.Owner(), revoke, map[string]any{"id": id}, &again)
	if a := again.RevokeToken.APIToken; a.RevokedAt == nil || *a.RevokedAt != *got.RevokedAt {
		t.Fatalf("revoking again: got %+v, want the first revocation (%s) unchanged", a, *got.RevokedAt)
	}
}

// TestExpiredToken: a token past its expiry is refused like an unknown one, and an expiry in
// the past cannot be given.
func TestExpiredToken(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Expired")
	soon := time.Now().Add(time.Hour)
	token, rec, err := env.DB.Admin().CreateExpiringToken(context.Background(), ws.ID, "agent@expired.test", rubrica.RoleAgent, &soon)
	if err != nil {
		t.Fatal(err)
	}
	env.MustDo(t, token, `{ viewer { id } }`, nil, nil)
	if _, err := env.DB.ExecContext(context.Background(), `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, rec.ID); err != nil {
		t.Fatal(err)
	}
	r := env.Do(t, token, `{ viewer { id } }`, nil)
	fxWantError(t, r, "UNAUTHENTICATED", "-")
	if r.Errors[0].Message != "The token is not valid." {
		t.Fatalf("expired token: got %q, want the message of an unknown token", r.Errors[0].Message)
	}
	past := time.Now().Add(-time.Minute)
	_, _, err = env.DB.Admin().CreateExpiringToken(context.Background(), ws.ID, "agent@expired.test", rubrica.RoleAgent, &past)
	if rubrica.ErrorCode(err) != rubrica.EINVALID || rubrica.ErrorField(err) != "expiresAt" {
		t.Fatalf("an expiry in the past: got %v, want BAD_USER_INPUT on expiresAt", err)
	}
}

const removeMember = `mutation($id: ID!) { removeMember(input: {memberId: $id}) { member { id email removedAt } } }`

// TestRemoveMember: an owner removes an agent: the agent's tokens stop working, their contacts
// are unassigned, they leave the members list, history still names them (Merge.mergedBy with
// removedAt), nobody can be assigned to them, and their email can be a new member. Managers
// and agents may not remove; an owner may not remove themself; another workspace's member and
// a malformed id are NOT_FOUND; removing again changes nothing.
func TestRemoveMember(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Removal")
	other := env.Workspace(t, "Foreign")
	agentID, ownerID := fxViewerID(t, env, ws.Agent()), fxViewerID(t, env, ws.Owner())
	create := func(name string) string {
		var data struct {
			CreateContact struct{ Contact struct{ ID string } }
		}
		env.MustDo(t, ws.Owner(), `mutation($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
			map[string]any{"in": map[string]any{"firstName": name, "assigneeId": agentID}}, &data)
		return data.CreateContact.Contact.ID
	}
	a, b, kept := create("A"), create("B"), create("Kept")
	var merged struct {
		MergeContacts struct{ Merge struct{ ID string } }
	}
	env.MustDo(t, ws.Agent(), `mutation($p: ID!, $s: ID!) { mergeContacts(input: {primaryContactId: $p, secondaryContactId: $s}) { merge { id } } }`,
		map[string]any{"p": a, "s": b}, &merged)

	for _, token := range []string{ws.Manager(), ws.Agent()} {
		fxWantError(t, env.Do(t, token, removeMember, map[string]any{"id": agentID}), "FORBIDDEN", "-")
	}
	fxWantError(t, env.Do(t, ws.Owner(), removeMember, map[string]any{"id": ownerID}), "CONFLICT", "memberId")
	fxWantError(t, env.Do(t, other.Owner(), removeMember, map[string]any{"id": agentID}), "NOT_FOUND", "memberId")
	fxWantError(t, env.Do(t, ws.Owner(), removeMember, map[string]any{"id": "nonsense"}), "NOT_FOUND", "memberId")
	env.MustDo(t, ws.Agent(), `{ viewer { id } }`, nil, nil)

	var data struct {
		RemoveMember struct {
			Member struct{ ID, Email, RemovedAt string }
		}
	}
	env.MustDo(t, ws.Owner(), removeMember, map[string]any{"id": agentID}, &data)
	if m := data.RemoveMember.Member; m.ID != agentID || m.RemovedAt == "" {
		t.Fatalf("removeMember: got %+v, want %s with removedAt", m, agentID)
	}
	fxWantError(t, env.Do(t, ws.Agent(), `{ viewer { id } }`, nil), "UNAUTHENTICATED", "-")
	var again struct {
		RemoveMember struct{ Member struct{ RemovedAt string } }
	}
	env.MustDo(t, ws.Owner(), removeMember, map[string]any{"id": agentID}, &again)
	if again.RemoveMember.Member.RemovedAt != data.RemoveMember.Member.RemovedAt {
		t.Fatalf("removing again: removedAt %s, want %s unchanged", again.RemoveMember.Member.RemovedAt, data.RemoveMember.Member.RemovedAt)
	}

	for _, id := range []string{a, kept} {
		var c struct {
			Contact struct{ Assignee *struct{ ID string } }
		}
		env.MustDo(t, ws.Owner(), `query($id: ID!) { contact(id: $id) { assignee { id } } }`, map[string]any{"id": id}, &c)
		if c.Contact.Assignee != nil {
			t.Fatalf("contact %s of the removed member: assignee %+v, want none", id, c.Contact.Assignee)
		}
	}
	var history struct {
		Node struct {
			MergedBy struct{ ID, RemovedAt string }
		}
	}
	env.MustDo(t, ws.Owner(), `query($id: ID!) { node(id: $id) { ... on Merge { mergedBy { id removedAt } } } }`,
		map[string]any{"id": merged.MergeContacts.Merge.ID}, &history)
	if history.Node.MergedBy.ID != agentID || history.Node.MergedBy.RemovedAt == "" {
		t.Fatalf("mergedBy of the removed member's merge: got %+v, want %s with removedAt", history.Node.MergedBy, agentID)
	}
	var members struct {
		Workspace struct{ Members []struct{ ID string } }
	}
	env.MustDo(t, ws.Owner(), `{ workspace { members { id } } }`, nil, &members)
	for _, m := range members.Workspace.Members {
		if m.ID == agentID {
			t.Fatalf("members: the removed member is still listed")
		}
	}
	r := env.Do(t, ws.Owner(), `mutation($in: UpdateContactInput!) { updateContact(input: $in) { contact { id } } }`,
		map[string]any{"in": map[string]any{"id": kept, "assigneeId": agentID}})
	fxWantError(t, r, "NOT_FOUND", "assigneeId")

	back, err := env.DB.Admin().CreateToken(context.Background(), ws.ID, "AGENT@removal.test", rubrica.RoleAgent)
	if err != nil {
		t.Fatalf("a new token for the removed member's email: %v", err)
	}
	if id := fxViewerID(t, env, back); id == agentID {
		t.Fatalf("the email back: got the removed member %s, want a new member", id)
	}
}

// TestOwnersRemovingEachOther: two owners remove each other at once, over a few workspaces:
// each time one removal wins, the other is refused, and the workspace keeps one owner.
func TestOwnersRemovingEachOther(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for round := range 5 {
		ws := env.Workspace(t, fmt.Sprint("Owners", round))
		second, err := env.DB.Admin().CreateToken(context.Background(), ws.ID, fmt.Sprintf("second@owners%d.test", round), rubrica.RoleOwner)
		if err != nil {
			t.Fatal(err)
		}
		tokens := []string{ws.Owner(), second}
		ids := []string{fxViewerID(t, env, tokens[0]), fxViewerID(t, env, tokens[1])}
		codes := make([]string, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				codes[i] = env.Do(t, tokens[i], removeMember, map[string]any{"id": ids[1-i]}).Code()
			})
		}
		wg.Wait()
		if (codes[0] == "") == (codes[1] == "") {
			t.Fatalf("round %d: codes %q, want one removal and one refusal", round, codes)
		}
		survivor := tokens[0]
		if codes[1] == "" {
			survivor = tokens[1]
		}
		var data struct {
			Workspace struct{ Members []struct{ Role string } }
		}
		env.MustDo(t, survivor, `{ workspace { members { role } } }`, nil, &data)
		n := 0
		for _, m := range data.Workspace.Members {
			if m.Role == "OWNER" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d owners left, want 1", round, n)
		}
	}
}
