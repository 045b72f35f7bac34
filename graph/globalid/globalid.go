// Package globalid makes and reads the opaque global ids of GraphQL objects: the base64url
// encoding of "Type:localID", so that node(id:) can tell which type an id names.
package globalid

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Node is any object with a global id. The generated code binds the GraphQL Node interface
// to it; the resolvers give each object its id.
type Node interface{}

// MaxLength bounds a global id before it is decoded: the longest type name (a few dozen
// letters) and a local id (a UUID) fit in it with room to spare. Anything longer names
// nothing, and decoding it costs nothing.
const MaxLength = 256

// Encode returns the global id of the object of type typ with the local id.
func Encode(typ, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + id))
}

// Decode splits a global id into its type and local id; ok is false for anything that is
// not a global id: longer than MaxLength, not base64url, a type that is not a name of
// letters, or an empty local id, one that is not UTF-8 or holds NUL. What it returns is
// bounded and safe to pass on as text.
func Decode(gid string) (typ, id string, ok bool) {
	if len(gid) > MaxLength {
		return "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(gid, "="))
	if err != nil {
		return "", "", false
	}
	typ, id, ok = strings.Cut(string(b), ":")
	if !ok || !validType(typ) || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return "", "", false
	}
	return typ, id, true
}

// validType reports whether typ can be a type name: ASCII letters only.
func validType(typ string) bool {
	if typ == "" {
		return false
	}
	for i := 0; i < len(typ); i++ {
		if c := typ[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
