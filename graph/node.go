package graph

import (
	"context"
	"fmt"

	"rubrica"
	"rubrica/graph/globalid"
)

// node finds any object of the workspace by its global id; an id that names nothing there is
// NOT_FOUND about the argument id, whatever the service called the field.
func (r *Resolver) node(ctx context.Context, gid string) (globalid.Node, error) {
	n, err := r.findNode(ctx, gid)
	if rubrica.ErrorCode(err) == rubrica.ENOTFOUND {
		return nil, &rubrica.Error{Code: rubrica.ENOTFOUND, Field: "id", Message: rubrica.ErrorMessage(err)}
	}
	return n, err
}

func (r *Resolver) findNode(ctx context.Context, gid string) (globalid.Node, error) {
	if _, err := rubrica.RequireActor(ctx); err != nil {
		return nil, err
	}
	typ, id, ok := globalid.Decode(gid)
	if !ok {
		return nil, rubrica.NotFound("id", "Node")
	}
	switch typ {
	case typeContact:
		c, err := r.findContact(ctx, id) // with what the selection lists, prefetched
		if err != nil {
			return nil, err
		}
		return c, nil
	case typeTag:
		return r.Services.Tags.FindTagByID(ctx, id)
	case typeChannel:
		return r.Services.Channels.FindChannelByID(ctx, id)
	case typeConversation:
		return r.Services.Conversations.FindConversationByID(ctx, id)
	case typeMessage:
		return r.Services.Conversations.FindMessageByID(ctx, id)
	case typeSuggestion:
		return r.Services.Merges.FindSuggestionByID(ctx, id)
	case typeMerge:
		return r.Services.Merges.FindMergeByID(ctx, id)
	case typeJob:
		return r.Services.Jobs.FindJobByID(ctx, id)
	case typeWorkflowRun:
		return r.Services.Workflows.FindWorkflowRunByID(ctx, id)
	case typeAPIToken:
		return r.Services.Workspaces.FindAPITokenByID(ctx, id)
	case typeMember:
		if m, err := r.loaders(ctx).Members.Load(ctx, id)(); err != nil || m != nil {
			return m, err
		}
	case typeWorkspace:
		if ws, err := r.Services.Workspaces.FindWorkspace(ctx); err != nil || ws.ID == id {
			return ws, err
		}
	case typeDefinition:
		defs, err := r.Services.Workspaces.FindCustomFieldDefinitions(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			if d.ID == id {
				return d, nil
			}
		}
	default: // a type the client made up: not quoted back
		return nil, rubrica.NotFound("id", "Node")
	}
	return nil, rubrica.NotFound("id", typ)
}

// MaxNodeIDs is how many ids one nodes(ids:) takes.
const MaxNodeIDs = 100

// nodes finds the objects of the workspace named by ids, in their order, nil for an id that
// names nothing there (or in another workspace: the same nil). Contacts, members, channels
// and custom field definitions are read through the request's loaders, all their ids in one
// batch each (and the contacts' lists prefetched as for a page); other types one lookup each.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]globalid.Node, error) {
	if _, err := rubrica.RequireActor(ctx); err != nil {
		return nil, err
	}
	if len(ids) > MaxNodeIDs {
		return nil, &rubrica.Error{Code: rubrica.ELIMIT, Field: "ids",
			Message: fmt.Sprintf("nodes takes at most %d ids; %d were given.", MaxNodeIDs, len(ids))}
	}
	// Every load starts before any is waited for, so that each loader gets all its keys.
	pending := make([]func() (globalid.Node, error), len(ids))
	for i, gid := range ids {
		pending[i] = r.startNode(ctx, gid)
	}
	out := make([]globalid.Node, len(ids))
	var contacts []*rubrica.Contact
	for i, wait := range pending {
		n, err := wait()
		if rubrica.ErrorCode(err) == rubrica.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		out[i] = n
		if c, ok := n.(*rubrica.Contact); ok {
			contacts = append(contacts, c)
		}
	}
	r.prefetchContacts(ctx, contacts, contactParents(ctx), nil)
	return out, nil
}

// startNode starts finding the object of one global id and returns the wait for it: nil
// (with no error) when nothing is there.
func (r *Resolver) startNode(ctx context.Context, gid string) func() (globalid.Node, error) {
	typ, id, ok := globalid.Decode(gid)
	if !ok {
		return func() (globalid.Node, error) { return nil, nil }
	}
	l := r.loaders(ctx)
	switch typ {
	case typeContact:
		return loaded(l.Contacts.Load(ctx, id))
	case typeMember:
		return loaded(l.Members.Load(ctx, id))
	case typeChannel:
		return listed(l.Channels.Load(ctx, workspaceChannels), func(c *rubrica.Channel) string { return c.ID }, id)
	case typeDefinition:
		return listed(l.Definitions.Load(ctx, workspaceDefinitions), func(d *rubrica.CustomFieldDefinition) string { return d.ID }, id)
	}
	return func() (globalid.Node, error) { return r.findNode(ctx, gid) }
}

// loaded waits for a loader's object, nil when the loader found none.
func loaded[T comparable](thunk func() (T, error)) func() (globalid.Node, error) {
	return func() (globalid.Node, error) {
		v, err := thunk()
		var zero T
		if err != nil || v == zero {
			return nil, err
		}
		return v, nil
	}
}

// listed waits for a loader's list of the workspace's objects and finds the one whose id
// (idOf) is id.
func listed[T any](thunk func() ([]T, error), idOf func(T) string, id string) func() (globalid.Node, error) {
	return func() (globalid.Node, error) {
		list, err := thunk()
		if err != nil {
			return nil, err
		}
		for _, v := range list {
			if idOf(v) == id {
				return v, nil
			}
		}
		return nil, nil
	}
}
