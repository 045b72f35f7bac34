// Package listexec marshals GraphQL lists and objects on the calling goroutine when nothing
// under them can wait. gqlgen (v0.17.98) marshals every list of objects with a goroutine per
// element (graphql.MarshalSliceConcurrently) and every object's resolver fields with a
// goroutine per field (FieldSet.Dispatch), so that fields that go through a dataloader reach
// it together; for plain data, or for data its parent already fetched, the goroutines, their
// allocations and their stack growth are all the cost.
//
// The project's generator (graph/internal/gen) routes gqlgen's list marshalling through
// MarshalSlice, with a table, made from gqlgen's own analysis, of the fields that may wait,
// and its objects' resolver fields through Resolve. A parent that fetched everything its
// selection reaches (graph/prefetch.go) says so with Settle: the objects and lists below it
// are then resolved inline, in order.
package listexec

import (
	"context"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A Table tells whether resolving a field of an object type may wait.
type Table interface {
	Waits(typ, field string) bool
}

// Fields tells, by object type and field, whether resolving the field may wait (a resolver
// that loads, or a method that takes a context).
type Fields map[string]map[string]bool

// Waits reports whether field of typ may wait: a type or field the table lacks may.
func (f Fields) Waits(typ, field string) bool {
	wait, ok := f[typ][field]
	return !ok || wait
}

// MarshalSlice marshals the length elements of a list of typ selected by sel with marshal:
// one after the other on the calling goroutine if no field sel reaches may wait (or the
// list lies where a parent settled it), otherwise as graphql.MarshalSliceConcurrently does,
// whose arguments and results it takes. Either way each element gets its own field context
// with its index, and a panic in one element is reported and nulls that element only
// (unless omitPanicHandler).
func MarshalSlice(ctx context.Context, table Table, typ string, sel ast.SelectionSet, length int,
	workerLimit int64, omitPanicHandler bool, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if length > 1 && !inSettled(ctx) && mayWait(table, typ, sel, settledBelow(ctx)) {
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

// MayWait reports whether resolving sel on a value of typ may wait on a field that table
// says may wait, through fragments and nested selections.
func MayWait(table Table, typ string, sel ast.SelectionSet) bool {
	return mayWait(table, typ, sel, nil)
}

// mayWait is MayWait where a field settled says true of is known not to wait, with all it
// selects.
func mayWait(table Table, typ string, sel ast.SelectionSet, settled func(*ast.Field) bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__typename" || (settled != nil && settled(s)) {
				continue
			}
			if table.Waits(typ, s.Name) {
				return true
			}
			if len(s.SelectionSet) > 0 && (s.Definition == nil || mayWait(table, s.Definition.Type.Name(), s.SelectionSet, settled)) {
				return true
			}
		case *ast.InlineFragment:
			if mayWait(table, typ, s.SelectionSet, settled) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || mayWait(table, typ, s.Definition.SelectionSet, settled) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// NewDeferredGroup is graphql.NewDeferredGroup for an object whose fields are fields, but an
// empty group when none of them is deferred: gqlgen builds the group, with the object's
// path, for every object it marshals, and uses it only for deferred fields.
func NewDeferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	for _, f := range fields {
		if f.IsDeferred() {
			return graphql.NewDeferredGroup(ctx)
		}
	}
	return graphql.DeferredGroup{}
}

// Settled reports whether the object being marshalled, whose fields are fields, lies where
// a parent settled it (see Settle) and none of its fields is deferred: its resolver fields
// are then resolved inline by Resolve.
func Settled(ctx context.Context, fields []graphql.CollectedField) bool {
	for _, f := range fields {
		if f.IsDeferred() {
			return false
		}
	}
	return inSettled(ctx)
}

// Resolve resolves field i of out with resolve: at once, on the calling goroutine, if the
// object is settled, otherwise as out.ResolveConcurrently does, whose other arguments it
// takes. A panic is reported and nulls the field (if recoverFromPanic), and a null where
// the field is non-null (nonNull) or a required null marks the object invalid, as there.
func Resolve(ctx context.Context, settled bool, out *graphql.FieldSet, oc *graphql.OperationContext,
	deferred *graphql.DeferredGroup, i int, recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler) {
	if !settled {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	v := resolveNow(ctx, oc, recoverFromPanic, resolve)
	out.Values[i] = v
	if (nonNull && v == graphql.Null) || (!nonNull && v == graphql.RequiredNull) {
		atomic.AddUint32(&out.Invalids, 1)
	}
}

func resolveNow(ctx context.Context, oc *graphql.OperationContext, recoverFromPanic bool, resolve func(ctx context.Context) graphql.Marshaler) (v graphql.Marshaler) {
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				v = graphql.Null
			}
		}()
	}
	return resolve(ctx)
}
