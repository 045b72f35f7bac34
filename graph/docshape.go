package graph

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The shape of a parsed but not yet validated document, measured in time linear in its size
// however its fragments spread one another: each fragment is measured once and its measure
// reused wherever it is spread, with saturating sums, so that a document whose expansion is
// exponential costs no more to measure than to read.

// saturated is where the counts stop growing.
const saturated = 1 << 30

// shape is what a selection set costs once its fragments are expanded.
type shape struct {
	depth   int // the deepest nesting of fields
	fields  int // fields selected
	spreads int // fragment spreads
	aliases int // aliased fields
}

func sat(a, b int) int { return min(a+b, saturated) }

// add sums b into s; the depth is the larger.
func (s *shape) add(b shape) {
	s.depth = max(s.depth, b.depth)
	s.fields = sat(s.fields, b.fields)
	s.spreads = sat(s.spreads, b.spreads)
	s.aliases = sat(s.aliases, b.aliases)
}

// shaper measures one document's selection sets, with its fragments by name.
type shaper struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[string]shape
	state map[string]uint8 // 1 while a fragment is being measured, 2 once it is
	err   *gqlerror.Error
}

// newShaper indexes the document's fragments; a fragment name defined twice is an error.
func newShaper(doc *ast.QueryDocument) (*shaper, *gqlerror.Error) {
	s := &shaper{
		frags: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:  make(map[string]shape, len(doc.Fragments)),
		state: make(map[string]uint8, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if s.frags[f.Name] != nil {
			return nil, gqlerror.ErrorPosf(f.Position, `There can be only one fragment named "%s".`, f.Name)
		}
		s.frags[f.Name] = f
	}
	return s, nil
}

// measure returns the shape of all the document's operations together. A fragment cycle, a
// fragment no operation uses, or one defined twice is an error: validation would refuse the
// document for it, and the shape of such a document is not finite or not all counted.
func measure(doc *ast.QueryDocument) (*shaper, shape, *gqlerror.Error) {
	s, err := newShaper(doc)
	if err != nil {
		return nil, shape{}, err
	}
	var total shape
	for _, op := range doc.Operations {
		total.add(s.set(op.SelectionSet))
		if s.err != nil {
			return nil, shape{}, s.err
		}
	}
	for _, f := range doc.Fragments {
		if s.state[f.Name] == 0 {
			return nil, shape{}, gqlerror.ErrorPosf(f.Position, `Fragment "%s" is never used.`, f.Name)
		}
	}
	return s, total, nil
}

// set measures one selection set.
func (s *shaper) set(set ast.SelectionSet) shape {
	var out shape
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			sub := s.set(sel.SelectionSet)
			sub.depth++
			sub.fields = sat(sub.fields, 1)
			if sel.Alias != "" && sel.Alias != sel.Name {
				sub.aliases = sat(sub.aliases, 1)
			}
			out.add(sub)
		case *ast.InlineFragment:
			out.add(s.set(sel.SelectionSet))
		case *ast.FragmentSpread:
			sub := s.fragment(sel)
			sub.spreads = sat(sub.spreads, 1)
			out.add(sub)
		}
	}
	return out
}

// fragment measures a spread fragment once, and refuses a cycle. An unknown fragment measures
// nothing: validation reports it.
func (s *shaper) fragment(spread *ast.FragmentSpread) shape {
	f := s.frags[spread.Name]
	switch {
	case f == nil:
		return shape{}
	case s.state[f.Name] == 2:
		return s.memo[f.Name]
	case s.state[f.Name] == 1:
		if s.err == nil {
			s.err = gqlerror.ErrorPosf(spread.Position, `Cannot spread fragment "%s" within itself.`, f.Name)
		}
		return shape{}
	}
	s.state[f.Name] = 1
	out := s.set(f.SelectionSet)
	s.state[f.Name] = 2
	s.memo[f.Name] = out
	return out
}

// repeats finds the first response key answered by more than max fields at one place of the
// response. sets are the selection sets merged at that place: those of every field answering
// to the parent's key. Fields are merged through inline fragments and spread fragments, as
// execution and validation merge them. The document must be measured first (no cycle, and
// few enough fields: the walk visits each field of the expansion once).
func (s *shaper) repeats(sets []ast.SelectionSet, max int) (string, int) {
	var keys []string
	counts := map[string]int{}
	below := map[string][]ast.SelectionSet{}
	var collect func(ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if counts[sel.Alias] == 0 {
					keys = append(keys, sel.Alias)
				}
				counts[sel.Alias]++
				if len(sel.SelectionSet) > 0 {
					below[sel.Alias] = append(below[sel.Alias], sel.SelectionSet)
				}
			case *ast.InlineFragment:
				collect(sel.SelectionSet)
			case *ast.FragmentSpread:
				if f := s.frags[sel.Name]; f != nil {
					collect(f.SelectionSet)
				}
			}
		}
	}
	for _, set := range sets {
		collect(set)
	}
	for _, k := range keys {
		if counts[k] > max {
			return k, counts[k]
		}
	}
	for _, k := range keys {
		if b := below[k]; len(b) > 0 {
			if key, n := s.repeats(b, max); key != "" {
				return key, n
			}
		}
	}
	return "", 0
}
