package graph

import (
	"rubrica"
	"rubrica/graph/globalid"
)

// The type names global ids carry.
const (
	typeContact    = "Contact"
	typeTag        = "Tag"
	typeMember     = "Member"
	typeWorkspace  = "Workspace"
	typeDefinition = "CustomFieldDefinition"
	typeAPIToken   = "ApiToken"
)

// localID reads a global id of the given type; any other id names nothing: NOT_FOUND about
// the input field.
func localID(gid, typ, field string) (string, error) {
	t, id, ok := globalid.Decode(gid)
	if !ok || t != typ {
		return "", rubrica.NotFound(field, typ)
	}
	return id, nil
}

// localIDs reads a list of global ids of one type.
func localIDs(gids []string, typ, field string) ([]string, error) {
	out := make([]string, len(gids))
	for i, g := range gids {
		id, err := localID(g, typ, field)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// optionalLocalID reads a nullable global id.
func optionalLocalID(gid *string, typ, field string) (*string, error) {
	if gid == nil {
		return nil, nil
	}
	id, err := localID(*gid, typ, field)
	return &id, err
}

// WorkspaceID returns the global id of a workspace, as the API and the command line show it.
func WorkspaceID(local string) string { return globalid.Encode(typeWorkspace, local) }

// APITokenID returns the global id of an API token, as the API and the command line show it.
func APITokenID(local string) string { return globalid.Encode(typeAPIToken, local) }

// LocalAPITokenID reads a token id given as a global id or as a local one.
func LocalAPITokenID(id string) string {
	if typ, local, ok := globalid.Decode(id); ok && typ == typeAPIToken {
		return local
	}
	return id
}

// MemberID returns the global id of a member.
func MemberID(local string) string { return globalid.Encode(typeMember, local) }

// LocalWorkspaceID reads a workspace id given as a global id or as a local one.
func LocalWorkspaceID(id string) string {
	if typ, local, ok := globalid.Decode(id); ok && typ == typeWorkspace {
		return local
	}
	return id
}

// The type names of the channel and conversation objects.
const (
	typeChannel      = "Channel"
	typeConversation = "Conversation"
	typeMessage      = "Message"
)
