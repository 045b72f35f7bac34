package graph

import (
	"context"

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
