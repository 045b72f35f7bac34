// Command gen runs gqlgen (gqlgen.yml) with one more step: every list of objects it
// generates is marshalled through listexec.MarshalSlice, with a table of the fields that may
// wait taken from gqlgen's own analysis (a field is concurrent when it is a resolver or a
// method with a context), so that a list of plain data is marshalled without a goroutine per
// element; every object's resolver fields go through listexec.Resolve, inline where a parent
// settled the object; an object builds its deferred group only when a field is deferred; and
// a plain scalar field is marshalled straight from the model (directFields). gqlgen v0.17.98 has no option for it: its @concurrent directive (#3203) was
// reverted (#3287), and exec.worker_limit only caps the goroutines.
//
// Resolvers of an id field count as not waiting: they only encode the global id (graph/ids.go);
// an id resolver that loads would break that rule.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		return fmt.Errorf("load gqlgen config: %w", err)
	}
	p := &lists{}
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		return fmt.Errorf("gqlgen: %w", err)
	}
	if err := p.rewrite(cfg.Exec.Filename); err != nil {
		return fmt.Errorf("rewrite %s: %w", cfg.Exec.Filename, err)
	}
	return p.writeTable(filepath.Join(filepath.Dir(cfg.Exec.Filename), "lists.go"), cfg.Exec.Package)
}

// lists is the gqlgen plugin that records, while gqlgen builds its data, which fields may
// wait and the element type of each list marshaller.
type lists struct {
	mayWait map[string]map[string]bool
	elems   map[string]string // list marshal function -> element type
}

func (*lists) Name() string { return "listexec" }

// GenerateCode records the analysis; gqlgen calls it before it writes the executor.
func (p *lists) GenerateCode(data *codegen.Data) error {
	p.mayWait = map[string]map[string]bool{}
	for _, o := range data.Objects {
		fields := map[string]bool{}
		for _, f := range o.Fields {
			fields[f.Name] = f.IsConcurrent() && f.Name != "id"
		}
		p.mayWait[o.Name] = fields
	}
	p.elems = map[string]string{}
	for _, t := range data.ReferencedTypes {
		if t.IsSlice() && t.Definition != nil && !t.IsScalar() && t.MarshalFunc() != "" {
			p.elems[t.MarshalFunc()] = t.Definition.Name
		}
	}
	return nil
}

var listFunc = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (marshal[^\s(]+)\(ctx context\.Context, sel ast\.SelectionSet, v [^)]*\) graphql\.Marshaler \{\n(?:\tif v == nil \{\n\t\treturn graphql\.Null\n\t\}\n)?\tret := graphql\.MarshalSliceConcurrently\(ctx, `)

// rewrite sends every list marshaller of the executor through marshalList.
func (p *lists) rewrite(filename string) error {
	src, err := os.ReadFile(filename)
	if err != nil {
		return err
	}
	var missing []string
	out := listFunc.ReplaceAllFunc(src, func(m []byte) []byte {
		name := string(listFunc.FindSubmatch(m)[1])
		typ, ok := p.elems[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return bytes.Replace(m, []byte("graphql.MarshalSliceConcurrently(ctx, "),
			fmt.Appendf(nil, "marshalList(ctx, sel, %q, ", typ), 1)
	})
	if len(missing) > 0 {
		return fmt.Errorf("no element type for %s", strings.Join(missing, ", "))
	}
	if n := bytes.Count(out, []byte("MarshalSliceConcurrently")); n > 0 {
		return fmt.Errorf("%d calls of MarshalSliceConcurrently left in a form it does not know", n)
	}
	out, err = rewriteObjects(out)
	if err != nil {
		return err
	}
	return os.WriteFile(filename, directFields(out), 0o644)
}

// plainField matches gqlgen's resolution of a field that is a struct field of the model,
// scalar or enum, with no middleware of its own.
var plainField = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (_[^\s(]+)\(ctx context\.Context, field graphql\.CollectedField, obj [^)]+\) \(ret graphql\.Marshaler\) \{
	return graphql\.ResolveField\(
		ctx,
		ec\.OperationContext,
		field,
		func\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{
			return ec\.(fieldContext_[^\s(]+)\(ctx, field\)
		\},
		func\(ctx context\.Context\) \(any, error\) \{
			return (obj\.[A-Za-z0-9_]+), nil
		\},
		nil,
		func\(ctx context\.Context, selections ast\.SelectionSet, v [^)]+\) graphql\.Marshaler \{
			return ec\.(marshal[^\s(]+)\(ctx, selections, v\)
		\},
`)

// neverNull matches the body of a non-null marshaller that cannot return null (and so never
// reports an error, which would need the field's own context for its path).
var neverNull = regexp.MustCompile(`^\t_ = sel\n\tres := graphql\.(MarshalString|MarshalBoolean|MarshalInt|MarshalID)\(`)

// directFields makes object marshallers marshal a plain scalar field straight from the
// model: gqlgen resolves each such field through graphql.ResolveField, with a field context,
// the field middleware chain, a recover and a boxed result, for a struct field read: on a
// page of contacts that is most of the CPU. Only fields whose marshaller reports no error
// qualify (a nullable one, or a non-null one that never returns null), so nothing needs the
// field's own context. Field middleware (AroundFields) does not see these fields.
func directFields(src []byte) []byte {
	for _, m := range plainField.FindAllSubmatch(src, -1) {
		fn, fieldContext, value, marshal := string(m[1]), string(m[2]), string(m[3]), string(m[4])
		if !bytes.Contains(src, []byte("func (ec *executionContext) "+fieldContext+"(_ context.Context, field graphql.CollectedField) (fc *graphql.FieldContext, err error) {\n\treturn graphql.NewScalarFieldContext(")) {
			continue // not a scalar or enum
		}
		if !strings.HasPrefix(marshal, "marshalO") {
			i := bytes.Index(src, []byte("func (ec *executionContext) "+marshal+"(ctx context.Context, sel ast.SelectionSet, v "))
			if i < 0 {
				continue
			}
			body := src[i+bytes.IndexByte(src[i:], '\n')+1:]
			if !neverNull.Match(body) {
				continue
			}
		}
		src = bytes.ReplaceAll(src, []byte("out.Values[i] = ec."+fn+"(ctx, field, obj)\n"),
			[]byte("out.Values[i] = ec."+marshal+"(ctx, field.Selections, "+value+")\n"))
	}
	return src
}

const (
	deferredGroup     = "\tdeferred := graphql.NewDeferredGroup(ctx)\n"
	concurrentField   = "out.ResolveConcurrently(ec.OperationContext, &deferred, i,"
	objectMarshaller  = "\nfunc (ec *executionContext) _"
	settledDecl       = "\tdeferred := newDeferredGroup(ctx, fields)\n\tsettled := settledObject(ctx, fields)\n"
	lazyDeferredGroup = "\tdeferred := newDeferredGroup(ctx, fields)\n"
	objectReturn      = "\n\treturn out\n}\n"
	objectMarshal     = "\n\treturn marshalObject(fields, out)\n}\n"
)

// rewriteObjects makes every object marshaller build its deferred group only when a field
// is deferred, resolve its resolver fields through resolveObjectField, which resolves them
// inline when the object is settled (listexec.Resolve), and return its values as a
// listexec.Object, which marshals them without graphql.FieldSet's cost per object.
func rewriteObjects(src []byte) ([]byte, error) {
	parts := bytes.Split(src, []byte(objectMarshaller))
	for i, p := range parts {
		if !bytes.Contains(p, []byte(deferredGroup)) {
			if bytes.Contains(p, []byte(concurrentField)) {
				return nil, fmt.Errorf("a concurrent field outside an object marshaller with a deferred group")
			}
			continue
		}
		decl := lazyDeferredGroup
		if bytes.Contains(p, []byte(concurrentField)) {
			decl = settledDecl
			p = bytes.ReplaceAll(p, []byte(concurrentField), []byte("resolveObjectField(ctx, settled, out, ec.OperationContext, &deferred, i,"))
		}
		if bytes.Count(p, []byte(objectReturn)) != 1 {
			return nil, fmt.Errorf("an object marshaller that does not end in %q", objectReturn)
		}
		p = bytes.Replace(p, []byte(objectReturn), []byte(objectMarshal), 1)
		parts[i] = bytes.Replace(p, []byte(deferredGroup), []byte(decl), 1)
	}
	out := bytes.Join(parts, []byte(objectMarshaller))
	if n := bytes.Count(out, []byte("graphql.NewDeferredGroup(")); n > 0 {
		return nil, fmt.Errorf("%d deferred groups left in a form it does not know", n)
	}
	return out, nil
}

// writeTable writes the table of fields that may wait and marshalList.
func (p *lists) writeTable(filename, pkg string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by rubrica/graph/internal/gen, DO NOT EDIT.\n\npackage %s\n\n", pkg)
	b.WriteString(`import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"rubrica/graph/listexec"
)

// marshalList marshals a list of typ (see listexec.MarshalSlice).
func marshalList(ctx context.Context, sel ast.SelectionSet, typ string, length int, workerLimit int64,
	omitPanicHandler bool, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	return listexec.MarshalSlice(ctx, FieldsThatMayWait, typ, sel, length, workerLimit, omitPanicHandler, marshal)
}

// newDeferredGroup is listexec.NewDeferredGroup.
func newDeferredGroup(ctx context.Context, fields []graphql.CollectedField) graphql.DeferredGroup {
	return listexec.NewDeferredGroup(ctx, fields)
}

// marshalObject is listexec.NewObject.
func marshalObject(fields []graphql.CollectedField, out *graphql.FieldSet) graphql.Marshaler {
	return listexec.NewObject(fields, out)
}

// settledObject is listexec.Settled.
func settledObject(ctx context.Context, fields []graphql.CollectedField) bool {
	return listexec.Settled(ctx, fields)
}

// resolveObjectField is listexec.Resolve.
func resolveObjectField(ctx context.Context, settled bool, out *graphql.FieldSet, oc *graphql.OperationContext,
	deferred *graphql.DeferredGroup, i int, recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler) {
	listexec.Resolve(ctx, settled, out, oc, deferred, i, recoverFromPanic, nonNull, resolve)
}

// FieldsThatMayWait tells, by object type and field, whether resolving the field may wait.
var FieldsThatMayWait = listexec.Fields{
`)
	types := make([]string, 0, len(p.mayWait))
	for t := range p.mayWait {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		fmt.Fprintf(&b, "\t%q: {", t)
		names := make([]string, 0, len(p.mayWait[t]))
		for f := range p.mayWait[t] {
			names = append(names, f)
		}
		slices.Sort(names)
		for i, f := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %t", f, p.mayWait[t][f])
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return fmt.Errorf("format %s: %w", filename, err)
	}
	return os.WriteFile(filename, src, 0o644)
}
