package graph_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestEveryArgumentHasADescription: every argument of every field (and of every directive
// the schema declares) has a description, as graphql-schema-linter's
// arguments-have-descriptions rule asks: the explorer shows it beside the argument.
func TestEveryArgumentHasADescription(t *testing.T) {
	files, err := filepath.Glob("../schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v %v", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := parser.ParseSchema(&ast.Source{Name: f, Input: string(src)})
		if err != nil {
			t.Fatal(err)
		}
		check := func(owner string, args ast.ArgumentDefinitionList) {
			for _, a := range args {
				if a.Description == "" {
					t.Errorf("%s: argument %s(%s:) has no description", filepath.Base(f), owner, a.Name)
				}
			}
		}
		for _, defs := range []ast.DefinitionList{doc.Definitions, doc.Extensions} {
			for _, d := range defs {
				for _, field := range d.Fields {
					check(d.Name+"."+field.Name, field.Arguments)
				}
			}
		}
		for _, d := range doc.Directives {
			check("@"+d.Name, d.Arguments)
		}
	}
}
