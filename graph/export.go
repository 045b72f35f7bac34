package graph

import "rubrica/graph/globalid"

// The global id types that callers outside GraphQL read (the CSV export's query parameters).
const (
	TypeContact = typeContact
	TypeTag     = typeTag
	TypeMember  = typeMember
	TypeChannel = typeChannel
)

// LocalIDs reads global ids of one type for callers outside GraphQL; an id of another type
// or no id at all is NOT_FOUND about field.
func LocalIDs(gids []string, typ, field string) ([]string, error) { return localIDs(gids, typ, field) }

// ContactID returns the global id of a contact, as the API shows it.
func ContactID(local string) string { return globalid.Encode(typeContact, local) }
