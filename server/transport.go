package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// gqlgen's GET and POST transports and its "transport not supported" answer write a few errors
// themselves, past the error presenter and so without `extensions.code`. The two transports
// here send those errors through the presenter (exec.DispatchError) like every other one.

// getTransport is transport.GET whose refusals carry codes: a malformed query string,
// undecodable variables or extensions, and a mutation sent with GET.
type getTransport struct{ transport.GET }

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if msg := badGetParams(r.URL.RawQuery); msg != "" {
		dispatchError(w, r.Context(), exec, http.StatusBadRequest, msg)
		return
	}
	t.GET.Do(w, r, queriesOnly{exec})
}

// badGetParams repeats the checks transport.GET makes of its parameters before it parses the
// operation, and says what is wrong.
func badGetParams(rawQuery string) string {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "The query string cannot be parsed." // fixed: url errors quote the input
	}
	if badOperationName(q.Get("operationName")) {
		return badOperationNameMsg
	}
	for _, p := range []string{"variables", "extensions"} {
		if v := q.Get(p); v != "" {
			var m map[string]any
			if err := json.NewDecoder(strings.NewReader(v)).Decode(&m); err != nil {
				return "The " + p + " parameter is not a JSON object."
			}
		}
	}
	return ""
}

// postTransport is transport.POST that reads the body within the HTTP limits, refuses a
// body that is not a GraphQL request with a message of its own (transport.POST's message
// repeats the whole body and the decoder's detail), and writes responses with writeResponse.
type postTransport struct {
	transport.POST
	errs httpErrors
}

// badPostBody is the answer to a POST body that does not decode.
const badPostBody = `The request body is not a GraphQL request: send a JSON object {"query": "...", "variables": {...}}.`

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	body, status, err := readBody(r)
	if err != nil {
		t.errs.refuseBody(w, r, status, err)
		return
	}
	// The same decoding as transport.POST's, so that it never fails on what passes here.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var params graphql.RawParams
	if err := dec.Decode(&params); err != nil {
		dispatchError(w, r.Context(), exec, http.StatusBadRequest, badPostBody)
		return
	}
	if badOperationName(params.OperationName) {
		dispatchError(w, r.Context(), exec, http.StatusBadRequest, badOperationNameMsg)
		return
	}
	serveOperation(w, r, exec, &params, start)
}

// serveOperation runs a POSTed operation as transport.POST does (its response media type,
// its statuses for operation errors) and writes the response with writeResponse.
func serveOperation(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, start time.Time) {
	ctx := r.Context()
	contentType := responseContentType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == graphqlResponseJSON {
				status = http.StatusBadRequest
			}
		}
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

const graphqlResponseJSON = "application/graphql-response+json"

// responseContentType is the media type of the response to a request that accepts accept,
// chosen as transport.POST chooses it: the first of application/json and
// application/graphql-response+json that accept names (application/json for */*, for
// application/* and without an Accept header), application/graphql-response+json otherwise.
func responseContentType(accept string) string {
	if accept == "" {
		return "application/json"
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", "application/json":
			return "application/json"
		case graphqlResponseJSON:
			return graphqlResponseJSON
		}
	}
	return graphqlResponseJSON
}

// writeResponse writes a response as json.Marshal would, but a response that is only data
// without passing its data (compact JSON from gqlgen's marshallers) through encoding/json
// again, which compacts and so copies and scans every byte of it: 7% of the CPU of the
// contacts page.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if len(resp.Errors) == 0 && resp.Label == "" && len(resp.Path) == 0 && resp.HasNext == nil && len(resp.Extensions) == 0 {
		data := []byte(resp.Data)
		if data == nil {
			data = []byte("null")
		}
		_, _ = io.WriteString(w, `{"data":`)
		_, _ = w.Write(data)
		_, _ = io.WriteString(w, "}")
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("server: marshal a response: %w", err))
	}
	_, _ = w.Write(b)
}

// maxOperationName bounds the operationName of a request: gqlgen repeats it in its
// "operation not found" error.
const maxOperationName = 256

var graphqlName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]*$`)

const badOperationNameMsg = "operationName is not the name of an operation: a GraphQL name of at most 256 characters."

// badOperationName reports whether a request's operationName cannot name an operation.
func badOperationName(name string) bool {
	return name != "" && (len(name) > maxOperationName || !graphqlName.MatchString(name))
}

// queriesOnly refuses any operation but a query while the operation is prepared, so that
// the GET transport reports it as an operation error, through the presenter.
type queriesOnly struct{ graphql.GraphExecutor }

func (e queriesOnly) CreateOperationContext(ctx context.Context, raw *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	rc, errs := e.GraphExecutor.CreateOperationContext(ctx, raw)
	if errs != nil {
		return rc, errs
	}
	if op := rc.Doc.Operations.ForName(rc.OperationName); op != nil && op.Operation != ast.Query {
		err := gqlerror.Errorf("GET requests only allow queries: send %ss with POST.", op.Operation)
		errcode.Set(err, errcode.ValidationFailed) // a request error: 422, like other invalid operations
		return rc, gqlerror.List{err}
	}
	return rc, nil
}

// unsupportedTransport answers every request no other transport takes (another method, or a
// POST that is not JSON); it must be added last. It leaves websocket upgrades alone, so that a
// websocket transport works wherever it is added.
type unsupportedTransport struct{}

func (unsupportedTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") == "" }

func (unsupportedTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	dispatchError(w, r.Context(), exec, http.StatusBadRequest,
		"Send GraphQL as POST with Content-Type: application/json, or as GET for queries.")
}

// dispatchError answers with one request error, presented like every other error.
func dispatchError(w http.ResponseWriter, ctx context.Context, exec graphql.GraphExecutor, status int, msg string) {
	resp := exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("%s", msg)})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(resp)
}
