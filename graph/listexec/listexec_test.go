package listexec_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"rubrica/graph/listexec"
)

const schema = `
type Query { items: [Item!]! node: Node }
interface Node { id: ID! }
type Item implements Node { id: ID! name: String! owner: Owner! tags: [Tag!]! }
type Owner { name: String! }
type Tag { name: String! count: Int! }
`

// fields says Item.tags and Tag.count may wait (resolvers that load), nothing else does.
var fields = listexec.Fields{
	"Query": {"items": false, "node": false},
	"Item":  {"id": false, "name": false, "owner": false, "tags": true},
	"Owner": {"name": false},
	"Tag":   {"name": false, "count": true},
}

// itemsSelection returns the validated selection of Query.items in query.
func itemsSelection(t *testing.T, query string) ast.SelectionSet {
	t.Helper()
	return operation(t, query)[0].(*ast.Field).SelectionSet
}

func TestMayWait(t *testing.T) {
	for _, c := range []struct {
		query string
		want  bool
	}{
		{`{ items { id name } }`, false},
		{`{ items { __typename name owner { name } } }`, false},
		{`{ items { tags { name } } }`, true},
		{`{ items { name ... on Item { owner { name } } } }`, false},
		{`{ items { ... on Item { tags { name } } } }`, true},
		{`{ items { ...f } } fragment f on Item { name }`, false},
		{`{ items { ...f } } fragment f on Item { tags { name } }`, true},
		{`{ items { ...f } } fragment f on Node { id }`, false},
	} {
		if got := listexec.MayWait(fields, "Item", itemsSelection(t, c.query)); got != c.want {
			t.Errorf("%s: MayWait = %t, want %t", c.query, got, c.want)
		}
	}
	if !listexec.MayWait(fields, "Unknown", itemsSelection(t, `{ items { id } }`)) {
		t.Error("MayWait on a type the table lacks: false, want true")
	}
	if !listexec.MayWait(listexec.Fields{"Item": {"id": false}}, "Item", itemsSelection(t, `{ items { id name } }`)) {
		t.Error("MayWait on a field the table lacks: false, want true")
	}
}

// goroutine returns the id line of the calling goroutine's stack.
func goroutine() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return string(buf[:bytes.IndexByte(buf, '[')])
}

func newContext() context.Context {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	return graphql.WithOperationContext(ctx, &graphql.OperationContext{RecoverFunc: graphql.DefaultRecover})
}

func TestMarshalSliceInline(t *testing.T) {
	ctx := newContext()
	caller := goroutine()
	sel := itemsSelection(t, `{ items { id name owner { name } } }`)
	var order []int
	ret := listexec.MarshalSlice(ctx, fields, "Item", sel, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if g := goroutine(); g != caller {
			t.Errorf("element %d marshalled on %q, want the caller's %q", i, g, caller)
		}
		if idx := graphql.GetFieldContext(ctx).Index; idx == nil || *idx != i {
			t.Errorf("element %d: field context index %v", i, idx)
		}
		order = append(order, i)
		if i == 1 {
			panic("element 1")
		}
		return graphql.MarshalInt(i)
	})
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Errorf("elements marshalled in order %v, want [0 1 2]", order)
	}
	if ret[0] == graphql.Null || ret[1] != graphql.Null || ret[2] == graphql.Null {
		t.Errorf("got %v, want element 1 (which panicked) null and the others set", ret)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 {
		t.Errorf("errors: got %v, want the panic of element 1", errs)
	}
}

func TestMarshalSliceConcurrentWhenAFieldMayWait(t *testing.T) {
	ctx := newContext()
	sel := itemsSelection(t, `{ items { name tags { name } } }`)
	// Element 0 returns only once element 1 has started: marshalled one after the other,
	// they would never finish.
	started := make(chan struct{})
	var once sync.Once
	done := make(chan graphql.Array)
	go func() {
		done <- listexec.MarshalSlice(ctx, fields, "Item", sel, 2, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
			if i == 1 {
				once.Do(func() { close(started) })
			} else {
				<-started
			}
			return graphql.MarshalInt(i)
		})
	}()
	select {
	case ret := <-done:
		if len(ret) != 2 || ret[0] == graphql.Null || ret[1] == graphql.Null {
			t.Errorf("got %v, want both elements", ret)
		}
	case <-time.After(time.Minute):
		t.Fatal("elements whose fields may wait were not marshalled concurrently")
	}
}

// underField returns ctx inside the field name (a field of sel) with a field context of its
// own, as gqlgen makes one for each field it resolves.
func underField(ctx context.Context, sel ast.SelectionSet, name string) context.Context {
	for _, s := range sel {
		if f, ok := s.(*ast.Field); ok && f.Alias == name {
			return graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: f, Selections: f.SelectionSet}})
		}
	}
	panic("no field " + name)
}

// operation returns the validated root selection of query.
func operation(t *testing.T, query string) ast.SelectionSet {
	t.Helper()
	s := gqlparser.MustLoadSchema(&ast.Source{Input: schema})
	doc, errs := gqlparser.LoadQuery(s, query)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	return doc.Operations[0].SelectionSet
}

// element returns ctx inside element i of the list field in ctx, as gqlgen makes it.
func element(ctx context.Context, i int) context.Context {
	return graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
}

func TestSettleCoversTheFieldUnderItsResolverOnly(t *testing.T) {
	root := operation(t, `{ a: items { name tags { name } } b: items { name tags { name } } }`)
	ctx := listexec.WithSettlements(newContext())
	a, b := underField(ctx, root, "a"), underField(ctx, root, "b")
	aField := graphql.GetFieldContext(a).Field
	aTags := underField(element(a, 0), aField.Selections, "tags")
	if listexec.Settled(element(a, 0), nil) || listexec.Settled(aTags, nil) {
		t.Fatal("settled before Settle")
	}
	listexec.Settle(a, aField.Field)
	if !listexec.Settled(element(a, 0), nil) || !listexec.Settled(aTags, nil) || !listexec.Settled(element(aTags, 2), nil) {
		t.Error("an item of a, or a value below it, is not settled after a's resolver settled a")
	}
	if listexec.Settled(element(b, 0), nil) {
		t.Error("an item of b is settled: a's settlement covers a only")
	}
	deferred := graphql.CollectedField{Field: aField.Field, Deferrables: []*graphql.Deferrable{{Label: "x"}}}
	if listexec.Settled(element(a, 0), []graphql.CollectedField{deferred}) {
		t.Error("an object with a deferred field is settled: its deferred fields must keep gqlgen's way")
	}
	if listexec.Settled(newContext(), nil) {
		t.Error("a context without settlements is settled")
	}
}

func TestMarshalSliceInlineWhereSettled(t *testing.T) {
	root := operation(t, `{ a: items { name tags { name } } }`)
	ctx := listexec.WithSettlements(newContext())
	a := underField(ctx, root, "a")
	sel := graphql.GetFieldContext(a).Field.Selections
	caller := goroutine()
	onCaller := func() bool {
		same := true
		listexec.MarshalSlice(a, fields, "Item", sel, 4, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
			same = same && goroutine() == caller
			return graphql.MarshalInt(i)
		})
		return same
	}
	if onCaller() {
		t.Fatal("items whose tags may wait were marshalled on the caller's goroutine before any settlement")
	}
	// The resolver of a settles the tags below it: the items' remaining fields are plain.
	var tags *ast.Field
	for _, s := range sel {
		if f, ok := s.(*ast.Field); ok && f.Name == "tags" {
			tags = f
		}
	}
	listexec.Settle(a, tags)
	if !onCaller() {
		t.Error("items whose only waiting field is settled were not marshalled on the caller's goroutine")
	}
}

func TestResolveInlineWhenSettled(t *testing.T) {
	ctx := newContext()
	oc := graphql.GetOperationContext(ctx)
	var deferred graphql.DeferredGroup
	fields := []graphql.CollectedField{{}, {}, {}}
	out := graphql.NewFieldSet(fields)
	caller := goroutine()
	listexec.Resolve(ctx, true, out, oc, &deferred, 0, true, true, func(context.Context) graphql.Marshaler {
		if goroutine() != caller {
			t.Error("a settled field resolved on another goroutine")
		}
		return graphql.MarshalInt(1)
	})
	listexec.Resolve(ctx, true, out, oc, &deferred, 1, true, true, func(context.Context) graphql.Marshaler { panic("field 1") })
	if out.Values[0] == nil || out.Values[1] != graphql.Null || out.Invalids != 1 {
		t.Errorf("values %v, invalids %d: want field 0 set, field 1 (which panicked) null and counted invalid", out.Values[:2], out.Invalids)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 {
		t.Errorf("errors: got %v, want the panic of field 1", errs)
	}
	ran := false
	listexec.Resolve(ctx, false, out, oc, &deferred, 2, true, false, func(context.Context) graphql.Marshaler {
		ran = true
		return graphql.MarshalInt(2)
	})
	if ran {
		t.Error("a field of an object not settled resolved before the field set was dispatched")
	}
	out.Dispatch(ctx)
	if !ran || out.Values[2] == nil {
		t.Error("a field of an object not settled was not resolved by Dispatch")
	}
}

func TestNewDeferredGroupOnlyForDeferredFields(t *testing.T) {
	ctx := newContext()
	if g := listexec.NewDeferredGroup(ctx, []graphql.CollectedField{{}}); g.FieldSet != nil || g.Defers != nil {
		t.Errorf("group for fields none of which is deferred: %+v, want the empty group", g)
	}
	deferred := graphql.CollectedField{Deferrables: []*graphql.Deferrable{{Label: "x"}}}
	if g := listexec.NewDeferredGroup(ctx, []graphql.CollectedField{{}, deferred}); g.FieldSet == nil || g.Defers == nil {
		t.Error("no group for an object with a deferred field")
	}
}
