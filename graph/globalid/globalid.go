// Package globalid makes and reads the opaque global ids of GraphQL objects: the base64url
// encoding of "Type:localID", so that node(id:) can tell which type an id names.
package globalid

import (
	"encoding/base64"
	"strings"
)

// Node is any object with a global id. The generated code binds the GraphQL Node interface
// to it; the resolvers give each object its id.
type Node interface{}

// Encode returns the global id of the object of type typ with the local id.
func Encode(typ, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + id))
}

// Decode splits a global id into its type and local id; ok is false for anything that is
// not a global id.
func Decode(gid string) (typ, id string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(gid, "="))
	if err != nil {
		return "", "", false
	}
	typ, id, ok = strings.Cut(string(b), ":")
	if !ok || typ == "" || id == "" {
		return "", "", false
	}
	return typ, id, true
}
