// Package listexec marshals a GraphQL list on the calling goroutine when nothing under its
// elements can wait. gqlgen (v0.17.98) marshals every list of objects with a goroutine per
// element (graphql.MarshalSliceConcurrently), so that elements whose fields go through a
// dataloader reach it together; for elements that are plain data (ids, names, enums,
// timestamps) the goroutines, their allocations and their stack growth are all the cost.
// The project's generator (graph/internal/gen) routes gqlgen's list marshalling through
// MarshalSlice with a table, made from gqlgen's own analysis, of the fields that may wait.
package listexec

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Fields tells, by object type and field, whether resolving the field may wait (a resolver
// that loads, or a method that takes a context). A type or field it lacks may wait.
type Fields map[string]map[string]bool

// MarshalSlice marshals the length elements of a list of typ selected by sel with marshal:
// one after the other on the calling goroutine if no field sel reaches may wait, otherwise
// as graphql.MarshalSliceConcurrently does, whose arguments and results it takes. Either way
// each element gets its own field context with its index, and a panic in one element is
// reported and nulls that element only (unless omitPanicHandler).
func MarshalSlice(ctx context.Context, fields Fields, typ string, sel ast.SelectionSet, length int,
	workerLimit int64, omitPanicHandler bool, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if length <= 1 || MayWait(fields, typ, sel) {
		return graphql.MarshalSliceConcurrently(ctx, length, workerLimit, omitPanicHandler, marshal)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		ret[i] = marshalOne(graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i}), i, omitPanicHandler, marshal)
	}
	return ret
}

func marshalOne(ctx context.Context, i int, omitPanicHandler bool, marshal func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				m = graphql.Null
			}
		}()
	}
	return marshal(ctx, i)
}

// MayWait reports whether resolving sel on a value of typ may wait on a field that fields
// says may wait, or on one it does not know, through fragments and nested selections.
func MayWait(fields Fields, typ string, sel ast.SelectionSet) bool {
	own, ok := fields[typ]
	if !ok {
		return true
	}
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__typename" {
				continue
			}
			if wait, ok := own[s.Name]; !ok || wait {
				return true
			}
			if len(s.SelectionSet) > 0 && (s.Definition == nil || MayWait(fields, s.Definition.Type.Name(), s.SelectionSet)) {
				return true
			}
		case *ast.InlineFragment:
			if MayWait(fields, typ, s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || MayWait(fields, typ, s.Definition.SelectionSet) {
				return true
			}
		default:
			return true
		}
	}
	return false
}
