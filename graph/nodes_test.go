package graph_test

import (
	"fmt"
	"testing"

	"rubrica/graph"
	"rubrica/internal/testenv"
)

// TestNodes: nodes(ids:) returns the workspace's objects of every kind in the order of ids,
// null for an id that names nothing (malformed, unknown, deleted or of another workspace),
// refuses more than graph.MaxNodeIDs ids with LIMIT_EXCEEDED, and reads contacts with their
// lists in a fixed number of statements, however many.
func TestNodes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Nodes")
	other := env.Workspace(t, "Nodes other")

	contact := fxContact(t, env, ws.Owner(), "Ada")
	tag := fxTag(t, env, ws.Owner(), "VIP")
	member := fxViewerID(t, env, ws.Agent())
	definition := fxDefinition(t, env, ws.Owner(), "plan", "TEXT")
	var ch struct {
		CreateChannel struct{ Channel struct{ ID string } }
	}
	env.MustDo(t, ws.Owner(), `mutation { createChannel(input: {type: EMAIL, name: "Support"}) { channel { id } } }`, nil, &ch)
	channel := ch.CreateChannel.Channel.ID
	theirs := fxContact(t, env, other.Owner(), "Theirs")
	theirTag := fxTag(t, env, other.Owner(), "Theirs")

	const q = `query($ids: [ID!]!) { nodes(ids: $ids) {
		__typename id
		... on Contact { firstName tags { name } }
		... on Tag { name }
		... on Member { role }
		... on Channel { name }
		... on CustomFieldDefinition { key }
	} }`
	type node struct {
		Typename  string `json:"__typename"`
		ID        string
		FirstName string
		Name      string
		Role      string
		Key       string
	}
	ids := []string{tag, contact, "not-an-id", theirs, member, channel, definition, theirTag, contact,
		graph.ContactID("00000000-0000-0000-0000-000000000000")}
	var data struct{ Nodes []*node }
	env.MustDo(t, ws.Agent(), q, map[string]any{"ids": ids}, &data)
	want := []*node{
		{Typename: "Tag", ID: tag, Name: "VIP"},
		{Typename: "Contact", ID: contact, FirstName: "Ada"},
		nil,
		nil,
		{Typename: "Member", ID: member, Role: "AGENT"},
		{Typename: "Channel", ID: channel, Name: "Support"},
		{Typename: "CustomFieldDefinition", ID: definition, Key: "plan"},
		nil,
		{Typename: "Contact", ID: contact, FirstName: "Ada"},
		nil,
	}
	if len(data.Nodes) != len(want) {
		t.Fatalf("nodes: got %d, want %d", len(data.Nodes), len(want))
	}
	for i := range want {
		if (want[i] == nil) != (data.Nodes[i] == nil) || want[i] != nil && *want[i] != *data.Nodes[i] {
			t.Errorf("nodes[%d] (%s): got %+v, want %+v", i, ids[i], data.Nodes[i], want[i])
		}
	}

	t.Run("Batched", func(t *testing.T) {
		many := fxContacts(t, env, ws.Owner(), 60, nil)
		statements := func(ids []string) int {
			env.Counter.Reset()
			env.MustDo(t, ws.Agent(), `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Contact { tags { name } customFields { value } assignee { name } } } }`,
				map[string]any{"ids": ids}, nil)
			return len(env.Counter.Statements())
		}
		one, sixty := statements(many[:1]), statements(many)
		if one != sixty {
			t.Errorf("statements: %d for 1 contact, %d for 60, want the same", one, sixty)
		}
	})

	t.Run("LimitExceeded", func(t *testing.T) {
		over := make([]string, graph.MaxNodeIDs+1)
		for i := range over {
			over[i] = contact
		}
		r := env.Do(t, ws.Agent(), `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": over})
		fxWantError(t, r, "LIMIT_EXCEEDED", "ids")
		if msg := r.Errors[0].Message; msg != fmt.Sprintf("nodes takes at most %d ids; %d were given.", graph.MaxNodeIDs, graph.MaxNodeIDs+1) {
			t.Errorf("message: %q", msg)
		}
		var ok struct{ Nodes []*node }
		env.MustDo(t, ws.Agent(), `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": over[:graph.MaxNodeIDs]}, &ok)
		if len(ok.Nodes) != graph.MaxNodeIDs {
			t.Errorf("100 ids: got %d nodes", len(ok.Nodes))
		}
	})

	t.Run("Unauthenticated", func(t *testing.T) {
		r := env.Do(t, "", `{ nodes(ids: []) { id } }`, nil)
		fxWantError(t, r, "UNAUTHENTICATED", "-")
	})
}
