// Package hostile builds the GraphQL documents of the known attacks on a GraphQL server (issue
// 9), so that every test of the limits sends the same ones: the document checker's table
// tests, the handler's tests and the attack suite against the real binary.
package hostile

import (
	"fmt"
	"strings"
)

// FragmentBomb is n fragments each spreading the next twice: 2^n fields once expanded, a
// few bytes each to send.
func FragmentBomb(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

// NestedSuggestions is contact(id: $id) → mergeSuggestions → contacts → mergeSuggestions …,
// levels lists deep: each level multiplies what an unbounded server resolves.
func NestedSuggestions(levels int) string {
	var open, end strings.Builder
	for i := range levels {
		if i%2 == 0 {
			open.WriteString("mergeSuggestions { ")
		} else {
			open.WriteString("contacts { id ")
		}
		end.WriteString("} ")
	}
	return `query($id: ID!) { contact(id: $id) { id ` + open.String() + "id " + end.String() + "} }"
}

// FieldCopies is n copies of one field with different arguments at one place: they cannot
// merge, and validation compares every pair.
func FieldCopies(n int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, `contact(id: "%d") { id } `, i)
	}
	return b.String() + "}"
}

// SearchAliases is n aliased counts of a contact search: each a transaction and a count.
func SearchAliases(n int) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i := range n {
		fmt.Fprintf(&b, "a%d: contacts(first: 1, filter: {search: \"ada\"}) { totalCount }\n", i)
	}
	return b.String() + "}"
}

// Typenames is n repeated __typename.
func Typenames(n int) string { return "{ " + strings.Repeat("__typename ", n) + "}" }
