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
	s := gqlparser.MustLoadSchema(&ast.Source{Input: schema})
	doc, errs := gqlparser.LoadQuery(s, query)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	return doc.Operations[0].SelectionSet[0].(*ast.Field).SelectionSet
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
	if !listexec.MayWait(fields, "Unknown", nil) {
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
