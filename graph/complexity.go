package graph

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
)

// The cost of an operation, checked against MAX_COMPLEXITY once it is validated and before it
// runs. A field costs 1, plus:
//   - a field of Query, Mutation or Subscription: rootFieldCost, for the transaction it runs;
//   - a count (`totalCount`, `activeContacts`, `Tag.contactCount`): countCost, or
//     batchedCountCost for the counts a loader makes in one query for a whole page;
//   - a search (a `search` argument or `filter: {search}`): searchCost;
//   - `__schema` and `__type`: introspectionCost for all they select, answered from memory;
//   - what it selects, times the number of items: a connection's page size for its `edges`
//     (first or last, at most rubrica.MaxPageSize, else rubrica.DefaultPageSize), the
//     realistic size of listSizes for the lists without page arguments, 1 for other fields.
//
// gqlgen's complexity hooks cannot say this (a count under a connection would be multiplied
// by its page size), hence a walk of its own.
const (
	rootFieldCost     = 10
	countCost         = 100
	batchedCountCost  = 10
	searchCost        = 100
	introspectionCost = 1000
)

// counts are the fields that count rows, and what each costs.
var counts = map[string]int{
	"ContactConnection.totalCount":         countCost,
	"TagConnection.totalCount":             countCost,
	"MergeConnection.totalCount":           countCost,
	"MergeSuggestionConnection.totalCount": countCost,
	"Query.activeContacts":                 countCost,
	"ConversationConnection.totalCount":    batchedCountCost, // loaders.ConversationCounts
	"MessageConnection.totalCount":         batchedCountCost, // loaders.MessageCounts
	"Tag.contactCount":                     batchedCountCost, // loaders.TagCounts
}

// listSizes is the number of items each list without page arguments counts for: its bound
// where it has one, else a realistic size. Every list field of the schema is here (a test
// checks it), except connections' edges, whose size is their connection's page.
var listSizes = map[string]int{
	"Contact.tags":             5,
	"Contact.customFields":     10, // at most the workspace's definitions
	"Contact.channels":         5,  // one per channel of the workspace
	"Contact.workflowRuns":     5,
	"Contact.mergeSuggestions": 1,                        // suggestions' groups do not overlap
	"Contact.duplicateValues":  2,                        // realistically its phone and its email
	"Contact.phones":           rubrica.MaxContactValues, // scalars: what a client may give
	"Contact.emails":           rubrica.MaxContactValues,
	"MergeSuggestion.contacts": rubrica.MaxSuggestionContacts,
	// A contact holds two values at most, so a suggestion's matches hold at most twice its
	// contacts' ids: 2 matches of MaxSuggestionContacts ids is that bound.
	"MergeSuggestion.matches":                 2,
	"DuplicateMatch.contactIds":               rubrica.MaxSuggestionContacts,
	"Query.channels":                          10,
	"Workspace.contactFieldOrder":             30,
	"Workspace.customFieldDefinitions":        20,
	"CustomFieldDefinition.options":           20,
	"AddTagsToContactsPayload.contacts":       rubrica.MaxBulkContacts,
	"AddTagsToContactsPayload.tags":           5,
	"DeleteContactsPayload.deletedContactIds": rubrica.MaxBulkContacts,
	"Workspace.members":                       20,
	"Workspace.apiTokens":                     50, // a few per member, revoked ones included
	"Query.nodes":                             MaxNodeIDs,
	"Merge.mergedContactIds":                  rubrica.MaxMergeSecondaries,
	"UnmergeContactsPayload.restoredContacts": rubrica.MaxMergeSecondaries,
}

// listArgs names, for a list whose items are the values of one of its arguments, that
// argument: the list counts as many items as the argument holds (at most its listSizes bound).
var listArgs = map[string]string{
	"Query.nodes": "ids",
}

// complexityLimit refuses an operation that costs more than max, as LIMIT_EXCEEDED naming
// MAX_COMPLEXITY.
type complexityLimit struct{ max int }

func (complexityLimit) ExtensionName() string                   { return "Complexity" }
func (complexityLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (c complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if cost := operationCost(oc.Operation, oc.Variables); cost > c.max {
		return limitError(LimitComplexity, c.max, "The operation costs %s", count(cost))
	}
	return nil
}

// operationCost is the cost of a validated operation.
func operationCost(op *ast.OperationDefinition, vars map[string]any) int {
	w := costWalker{vars: vars}
	return w.set(op.SelectionSet, 0, true)
}

type costWalker struct{ vars map[string]any }

// set is the cost of a selection set; page is the page size of the connection it selects
// from (0 outside connections), root whether it is the operation's.
func (w costWalker) set(set ast.SelectionSet, page int, root bool) int {
	total := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			total = sat(total, w.field(sel, page, root))
		case *ast.InlineFragment:
			total = sat(total, w.set(sel.SelectionSet, page, root))
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				total = sat(total, w.set(sel.Definition.SelectionSet, page, root))
			}
		}
	}
	return total
}

// field is the cost of one field and of what it selects.
func (w costWalker) field(f *ast.Field, page int, root bool) int {
	if f.Name == "__schema" || f.Name == "__type" {
		return introspectionCost
	}
	if f.Definition == nil || f.ObjectDefinition == nil || strings.HasPrefix(f.Name, "__") {
		return 1
	}
	key := f.ObjectDefinition.Name + "." + f.Name
	cost := 1
	if root {
		cost += rootFieldCost
	}
	cost += counts[key]
	args := f.ArgumentMap(w.vars)
	if hasSearch(args) {
		cost += searchCost
	}
	items, childPage := 1, 0
	switch {
	case strings.HasSuffix(f.Definition.Type.Name(), "Connection"):
		childPage = pageSize(args)
	case f.Name == "edges" && strings.HasSuffix(f.ObjectDefinition.Name, "Connection"):
		items = max(page, 1)
	case f.Definition.Type.Elem != nil:
		items = listSizes[key]
		if arg, ok := listArgs[key]; ok {
			if list, ok := args[arg].([]any); ok {
				items = min(len(list), items)
			}
		}
		if items == 0 && listArgs[key] == "" {
			items = rubrica.MaxPageSize // a list this table forgot counts as a full page
		}
	}
	child := w.set(f.SelectionSet, childPage, false)
	if len(f.SelectionSet) == 0 && f.Definition.Type.Elem != nil {
		child = 1 // a list of scalars: each costs 1
	}
	return sat(cost, mul(items, child))
}

// mul multiplies two costs of at most saturated, saturating.
func mul(a, b int) int {
	if a != 0 && b > saturated/a {
		return saturated
	}
	return a * b
}

// pageSize is the number of items a page of a connection may hold, given its arguments.
func pageSize(args map[string]any) int {
	for _, name := range []string{"first", "last"} {
		if n, ok := intArg(args[name]); ok && n > 0 {
			return min(n, rubrica.MaxPageSize)
		}
	}
	return rubrica.DefaultPageSize
}

// intArg reads an Int argument, in any of the forms literals and variables take.
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(min(n, saturated)), true
	case float64:
		return int(min(n, saturated)), true
	case json.Number:
		i, err := n.Int64()
		return int(min(i, saturated)), err == nil
	}
	return 0, false
}

// hasSearch reports whether the arguments ask for a search: `search`, `filter: {search}` or
// `input: {filter: {search}}`.
func hasSearch(args map[string]any) bool {
	for _, path := range [][]string{{"search"}, {"filter", "search"}, {"input", "filter", "search"}} {
		v := any(args)
		for _, k := range path {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if s, _ := v.(string); s != "" {
			return true
		}
	}
	return false
}
