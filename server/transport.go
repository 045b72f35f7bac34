package server

import (
	"bytes"
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
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// gqlgen's GET and POST transports and its "transport not supported" answer write a few errors
// themselves, past the error presenter and so without `extensions.code`. The two transports
// here send those errors through the presenter (exec.DispatchError) like every other one.

// getTransport serves GET requests, and HEAD as GET without the body (RFC 9110 wants HEAD
// wherever GET is served): queries only (a mutation or subscription gets 405 with Allow:
// POST), with refusals of malformed parameters that carry codes.
type getTransport struct{ transport.GET }

func (t getTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	if msg := badGetParams(r.URL.RawQuery); msg != "" {
		dispatchError(w, r, exec, http.StatusBadRequest, msg)
		return
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // badGetParams parsed it
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	// badGetParams decoded both as objects: this decoding (with numbers kept) cannot fail.
	if v := q.Get("variables"); v != "" {
		_ = jsonDecode(v, &params.Variables)
	}
	if v := q.Get("extensions"); v != "" {
		_ = jsonDecode(v, &params.Extensions)
	}
	serveOperation(w, r, exec, params, start)
}

func jsonDecode(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(v)
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
	params, msg := decodeRequest(body)
	if msg != "" {
		dispatchError(w, r, exec, http.StatusBadRequest, msg)
		return
	}
	serveOperation(w, r, exec, params, start)
}

// decodeRequest decodes a POSTed GraphQL request as transport.POST does (numbers kept as
// json.Number), or says what is wrong with it.
func decodeRequest(body []byte) (*graphql.RawParams, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var params graphql.RawParams
	if err := dec.Decode(&params); err != nil {
		return nil, badPostBody
	}
	if badOperationName(params.OperationName) {
		return nil, badOperationNameMsg
	}
	return &params, ""
}

// serveOperation runs an operation sent with GET or POST and answers with the statuses of the
// GraphQL-over-HTTP spec: a request error (the document does not parse or validate, its
// variables do not coerce, a limit refuses it) is 200 under application/json and 400 under
// application/graphql-response+json, without a data entry either way; a request without a
// query is 400; an operation the method cannot run is 405 (a mutation or subscription sent
// with GET) or 406 (a subscription POSTed without Accept: text/event-stream, which would wait
// for events on a connection that can carry one response). Responses are written with
// writeResponse, those of an operation that defers fragments in parts (see incremental.go).
func serveOperation(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, start time.Time) {
	ctx := r.Context()
	contentType := responseContentType(r.Header.Get("Accept"))
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		dispatchError(w, r, exec, http.StatusBadRequest, noQueryMsg)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		writeRequestErrors(w, contentType, requestErrorStatus(contentType), exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if op := rc.Operation.Operation; r.Method != http.MethodPost && op != ast.Query {
		w.Header().Set("Allow", "POST")
		dispatchError(w, r, exec, http.StatusMethodNotAllowed, fmt.Sprintf("%s requests only allow queries: send %ss with POST.", r.Method, op))
		return
	} else if op == ast.Subscription {
		dispatchError(w, r, exec, http.StatusNotAcceptable, postedSubscriptionMsg)
		return
	}
	incremental := defers(rc)
	if incremental && !acceptsMultipart(r.Header.Get("Accept")) {
		dispatchError(w, r, exec, requestErrorStatus(contentType), deferNeedsStream)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	if incremental {
		writeMultipart(w, responses, ctx)
		return
	}
	w.Header().Set("Content-Type", contentType)
	writeResponse(w, responses(ctx))
}

// requestErrorStatus is the status of a request error answered in contentType: 200 under
// application/json, 400 under application/graphql-response+json (GraphQL over HTTP).
func requestErrorStatus(contentType string) int {
	if contentType == graphqlResponseJSON {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

const (
	noQueryMsg            = `The request has no query: send {"query": "..."}.`
	postedSubscriptionMsg = "A subscription needs a stream: send it with Accept: text/event-stream (the graphql-sse protocol) or over a websocket (graphql-transport-ws)."
)

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

// unsupportedTransport answers every request no other transport takes; it must be added
// last: OPTIONS is 204 with Allow, another method (PUT, DELETE, ...) 405 with Allow, a POST
// whose body is not JSON 415. It leaves websocket upgrades alone, so that a websocket
// transport works wherever it is added.
type unsupportedTransport struct{}

func (unsupportedTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") == "" }

func (unsupportedTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", allowedMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", allowedMethods)
		dispatchError(w, r, exec, http.StatusMethodNotAllowed,
			"/graphql answers GET and HEAD (queries) and POST: send GraphQL as POST with Content-Type: application/json.")
		return
	}
	w.Header().Set("Accept-Post", "application/json")
	dispatchError(w, r, exec, http.StatusUnsupportedMediaType,
		"Send GraphQL as POST with Content-Type: application/json, or as GET for queries.")
}

// allowedMethods are the methods /graphql answers.
const allowedMethods = "OPTIONS, GET, HEAD, POST"

// dispatchError answers with one request error, presented like every other error, in the
// media type the request accepts.
func dispatchError(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, status int, msg string) {
	resp := exec.DispatchError(r.Context(), gqlerror.List{gqlerror.Errorf("%s", msg)})
	writeRequestErrors(w, responseContentType(r.Header.Get("Accept")), status, resp)
}

// writeRequestErrors answers with the errors of a request that did not run: no data entry.
func writeRequestErrors(w http.ResponseWriter, contentType string, status int, resp *graphql.Response) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	b, err := json.Marshal(struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
	if err != nil {
		panic(fmt.Errorf("server: marshal request errors: %w", err))
	}
	_, _ = w.Write(b)
}
