package listexec

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Settlements are the places of one operation (or one subscription event) where a parent
// fetched everything its selection reaches, so that nothing below waits: a field, as
// selected, under the resolver that settled it. Keyed by the resolver's field context, a
// settlement covers that execution of the field only, not the same field under another
// parent (an item of another list, say).
type Settlements struct {
	mu sync.RWMutex
	at map[*graphql.FieldContext]map[*ast.Field]bool
}

type settlementsKey struct{}

// WithSettlements returns a context that records settlements; build one per operation.
func WithSettlements(ctx context.Context) context.Context {
	return context.WithValue(ctx, settlementsKey{}, &Settlements{at: map[*graphql.FieldContext]map[*ast.Field]bool{}})
}

// Settle records, in the resolver whose context is ctx, that everything fields (the field
// itself, or fields below it) select on the values it returns is already in hand: resolving
// them never waits. A context without settlements records nothing.
func Settle(ctx context.Context, fields ...*ast.Field) {
	s, _ := ctx.Value(settlementsKey{}).(*Settlements)
	fc := graphql.GetFieldContext(ctx)
	if s == nil || fc == nil || len(fields) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.at[fc]
	if m == nil {
		m = map[*ast.Field]bool{}
		s.at[fc] = m
	}
	for _, f := range fields {
		m[f] = true
	}
}

// inSettled reports whether the value marshalled in ctx lies inside a settled field: one of
// the fields on the way from it up to the root was settled by a resolver on that way.
func inSettled(ctx context.Context) bool {
	s, _ := ctx.Value(settlementsKey{}).(*Settlements)
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.at) == 0 {
		return false
	}
	var below [8]*ast.Field
	seen := below[:0]
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil {
			seen = append(seen, fc.Field.Field)
		}
		if m := s.at[fc]; m != nil {
			for _, f := range seen {
				if m[f] {
					return true
				}
			}
		}
	}
	return false
}

// settledBelow returns whether a field selected below ctx was settled by a resolver at or
// above ctx; nil when nothing in the operation is settled.
func settledBelow(ctx context.Context) func(*ast.Field) bool {
	s, _ := ctx.Value(settlementsKey{}).(*Settlements)
	if s == nil {
		return nil
	}
	s.mu.RLock()
	empty := len(s.at) == 0
	s.mu.RUnlock()
	if empty {
		return nil
	}
	return func(f *ast.Field) bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
			if s.at[fc][f] {
				return true
			}
		}
		return false
	}
}
