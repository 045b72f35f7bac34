package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// @defer is answered incrementally where the response can carry several results: a POST that
// accepts multipart/mixed (Apollo Client sends `Accept: multipart/mixed;deferSpec=20220824, ...`
// with every deferred query) gets the initial result, then each deferred fragment as it
// resolves, in the deferSpec=20220824 format Apollo Client reads; an event stream (SSE) gets
// each result as a `next` event. A single JSON response cannot carry them (gqlgen would send
// the initial result with `hasNext: true` and drop the rest), so an operation that defers
// without accepting either is refused as a request error before it runs.

const (
	multipartBoundary = "graphql"
	multipartType     = `multipart/mixed; boundary="` + multipartBoundary + `"; deferSpec=20220824`
	deferNeedsStream  = "@defer needs a response in parts: send Accept: multipart/mixed (as Apollo Client does) or text/event-stream (graphql-sse), or leave @defer out."
)

// acceptsMultipart reports whether an Accept header names multipart/mixed.
func acceptsMultipart(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		if mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mediaType == "multipart/mixed" {
			return true
		}
	}
	return false
}

// defers reports whether the operation defers a fragment (an @defer whose `if` is not false).
func defers(rc *graphql.OperationContext) bool {
	if !strings.Contains(rc.RawQuery, "defer") { // the walk below only for documents that may
		return false
	}
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) bool
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if walk(sel.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if deferred(sel.Directives, rc.Variables) || walk(sel.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if deferred(sel.Directives, rc.Variables) {
					return true
				}
				if !seen[sel.Name] && sel.Definition != nil {
					seen[sel.Name] = true
					if walk(sel.Definition.SelectionSet) {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(rc.Operation.SelectionSet)
}

// deferred reports whether directives defer their fragment, as gqlgen decides it.
func deferred(directives ast.DirectiveList, vars map[string]any) bool {
	d := directives.ForName("defer")
	if d == nil {
		return false
	}
	if arg := d.Arguments.ForName("if"); arg != nil {
		v, err := arg.Value.Value(vars)
		on, _ := v.(bool)
		return err == nil && on
	}
	return true
}

// writeMultipart writes the results of an operation as multipart/mixed parts, flushing each:
// the first as it is, the later ones (the deferred fragments) as `incremental` results.
func writeMultipart(w http.ResponseWriter, responses graphql.ResponseHandler, ctx context.Context) {
	w.Header().Set("Content-Type", multipartType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for first := true; ; first = false {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		_, _ = io.WriteString(w, "\r\n--"+multipartBoundary+"\r\nContent-Type: application/json; charset=utf-8\r\n\r\n")
		if first {
			writeResponse(w, resp)
		} else {
			writeIncremental(w, resp)
		}
		_ = rc.Flush()
	}
	_, _ = io.WriteString(w, "\r\n--"+multipartBoundary+"--\r\n")
}

// writeIncremental writes one deferred result in the deferSpec=20220824 format.
func writeIncremental(w io.Writer, resp *graphql.Response) {
	type item struct {
		Data       json.RawMessage `json:"data"`
		Path       ast.Path        `json:"path"`
		Label      string          `json:"label,omitempty"`
		Errors     any             `json:"errors,omitempty"`
		Extensions map[string]any  `json:"extensions,omitempty"`
	}
	it := item{Data: resp.Data, Path: resp.Path, Label: resp.Label, Extensions: resp.Extensions}
	if len(resp.Errors) > 0 {
		it.Errors = resp.Errors
	}
	b, err := json.Marshal(struct {
		Incremental []item `json:"incremental"`
		HasNext     bool   `json:"hasNext"`
	}{[]item{it}, resp.HasNext != nil && *resp.HasNext})
	if err != nil {
		panic(fmt.Errorf("server: marshal an incremental result: %w", err))
	}
	_, _ = w.Write(b)
}
