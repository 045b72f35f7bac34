package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"rubrica"
)

// Limits bound what one request may cost before anything runs: the document's size and shape
// (checked before gqlparser validates it, whose work grows faster than the document), the
// errors of one response and its size. A zero field takes its default (the constants below).
// Every refusal is LIMIT_EXCEEDED with `extensions.limit` set to the setting's name.
type Limits struct {
	MaxDocumentBytes   int // MAX_DOCUMENT_BYTES, DefaultMaxDocumentBytes
	MaxQueryTokens     int // MAX_QUERY_TOKENS, DefaultMaxQueryTokens
	MaxQueryDepth      int // MAX_QUERY_DEPTH, DefaultMaxQueryDepth
	MaxAliases         int // MAX_ALIASES, DefaultMaxAliases
	MaxRepeatedFields  int // MAX_REPEATED_FIELDS, DefaultMaxRepeatedFields
	MaxFragmentSpreads int // MAX_FRAGMENT_SPREADS, DefaultMaxFragmentSpreads
	MaxQueryFields     int // MAX_QUERY_FIELDS, DefaultMaxQueryFields
	MaxErrors          int // MAX_ERRORS, DefaultMaxErrors
	MaxResponseBytes   int // MAX_RESPONSE_BYTES, DefaultMaxResponseBytes
}

// The limits' defaults. Every real client passes them: the explorer's introspection query
// (GraphiQL's: about 2.5 KB, 200 tokens, 15 deep, 10 spreads and 226 fields once expanded),
// pages of contacts with all their fields, dashboards of a few aliased counts, bulk
// mutations of up to 100 aliased fields.
const (
	// DefaultMaxDocumentBytes is the longest GraphQL document accepted, in bytes.
	DefaultMaxDocumentBytes = 32 << 10
	// DefaultMaxQueryTokens is the most lexical tokens (names, punctuation, values) a
	// document may have; the parser stops at the first token past it.
	DefaultMaxQueryTokens = 5000
	// DefaultMaxQueryDepth is the deepest fields may nest, through fragments: `{ viewer { id } }`
	// is 2 deep. GraphiQL's introspection query is 15 deep (nine nested `ofType`).
	DefaultMaxQueryDepth = 15
	// DefaultMaxAliases is the most aliased fields (`a: contacts`) a document may have, once
	// its fragments are expanded wherever they are spread.
	DefaultMaxAliases = 100
	// DefaultMaxRepeatedFields is the most fields that may answer to one response key at
	// one place of the response (`{ contact(id: 1) { id } contact(id: 2) { id } }` is two),
	// counted through inline fragments, fragments and the selections merged below them.
	// Validation compares such fields pairwise, so their number must stay small.
	DefaultMaxRepeatedFields = 20
	// DefaultMaxFragmentSpreads is the most fragment spreads of a document once every spread
	// fragment is expanded where it is spread (a fragment spreading another twice counts 3).
	DefaultMaxFragmentSpreads = 100
	// DefaultMaxQueryFields is the most fields a document may select once its fragments are
	// expanded wherever they are spread, all its operations together.
	DefaultMaxQueryFields = 2000
	// DefaultMaxErrors is the most errors one response carries; the rest are replaced by one
	// LIMIT_EXCEEDED error naming MAX_ERRORS.
	DefaultMaxErrors = 100
	// DefaultMaxResponseBytes is the largest `data` of one response (or of one subscription
	// event), in bytes: a larger one is replaced by a LIMIT_EXCEEDED error.
	DefaultMaxResponseBytes = 4 << 20
)

// The names of the limits, as `extensions.limit` reports them: the settings' environment
// variables.
const (
	LimitDocumentBytes   = "MAX_DOCUMENT_BYTES"
	LimitQueryTokens     = "MAX_QUERY_TOKENS"
	LimitQueryDepth      = "MAX_QUERY_DEPTH"
	LimitAliases         = "MAX_ALIASES"
	LimitRepeatedFields  = "MAX_REPEATED_FIELDS"
	LimitFragmentSpreads = "MAX_FRAGMENT_SPREADS"
	LimitQueryFields     = "MAX_QUERY_FIELDS"
	LimitErrors          = "MAX_ERRORS"
	LimitResponseBytes   = "MAX_RESPONSE_BYTES"
	LimitComplexity      = "MAX_COMPLEXITY"
)

// WithDefaults returns l with every zero field set to its default: the limits in force.
func (l Limits) WithDefaults() Limits { return l.withDefaults() }

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&l.MaxDocumentBytes, DefaultMaxDocumentBytes}, {&l.MaxQueryTokens, DefaultMaxQueryTokens},
		{&l.MaxQueryDepth, DefaultMaxQueryDepth}, {&l.MaxAliases, DefaultMaxAliases},
		{&l.MaxRepeatedFields, DefaultMaxRepeatedFields}, {&l.MaxFragmentSpreads, DefaultMaxFragmentSpreads},
		{&l.MaxQueryFields, DefaultMaxQueryFields}, {&l.MaxErrors, DefaultMaxErrors},
		{&l.MaxResponseBytes, DefaultMaxResponseBytes},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	return l
}

// limitError is the refusal of one limit: LIMIT_EXCEEDED naming the limit's setting.
func limitError(limit string, value int, format string, args ...any) *gqlerror.Error {
	msg := fmt.Sprintf(format, args...)
	return &gqlerror.Error{
		Message:    fmt.Sprintf("%s: the limit is %d (%s).", msg, value, limit),
		Extensions: map[string]any{"code": rubrica.ELIMIT, "limit": limit},
	}
}

func init() {
	// A document refused by a limit is a request error like a validation error: 422 over
	// HTTP, an `error` message over websockets. gqlgen's websocket transport tells the kind
	// from the errors once the presenter has given them their codes (it presents them in
	// place), so BAD_USER_INPUT, the code of parse and validation errors, is registered too:
	// otherwise it sends them as a result, without the cap of limitResponses.
	errcode.RegisterErrorType(rubrica.ELIMIT, errcode.KindProtocol)
	errcode.RegisterErrorType(rubrica.EINVALID, errcode.KindProtocol)
}

// documentLimits checks a document against the limits before the executor parses and
// validates it. It is an OperationParameterMutator, so it must be Used after
// AutomaticPersistedQuery, which fills in the query of a hash-only request.
type documentLimits struct {
	limits Limits
	// validated is the executor's cache of parsed and validated documents: a query found
	// there passed this check before (the limits do not change), so it is not checked again.
	validated graphql.Cache[*ast.QueryDocument]
}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if _, ok := d.validated.Get(ctx, p.Query); ok {
		return nil
	}
	return checkDocument(p.Query, d.limits)
}

// checkDocument parses a document within the token limit and checks its shape against the
// limits. A document that does not parse is a parse error (BAD_USER_INPUT); one whose
// fragments are cyclic, unused or defined twice is a validation error, which is what
// validation would say (it is said here because the counts below need a document without).
func checkDocument(query string, l Limits) *gqlerror.Error {
	if len(query) > l.MaxDocumentBytes {
		return limitError(LimitDocumentBytes, l.MaxDocumentBytes, "The document is %d bytes long", len(query))
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, l.MaxQueryTokens)
	if err != nil {
		gqlErr, ok := err.(*gqlerror.Error)
		if !ok {
			gqlErr = gqlerror.Errorf("%s", err)
		}
		if strings.HasPrefix(gqlErr.Message, "exceeded token limit") {
			return limitError(LimitQueryTokens, l.MaxQueryTokens, "The document has too many tokens")
		}
		errcode.Set(gqlErr, errcode.ParseFailed)
		return gqlErr
	}
	if doc == nil || len(doc.Operations) == 0 {
		return nil // the executor says "no operation provided"
	}
	sh, s, gqlErr := measure(doc)
	if gqlErr != nil {
		errcode.Set(gqlErr, errcode.ValidationFailed)
		return gqlErr
	}
	switch {
	case s.depth > l.MaxQueryDepth:
		return limitError(LimitQueryDepth, l.MaxQueryDepth, "The document nests fields %d deep", s.depth)
	case s.spreads > l.MaxFragmentSpreads:
		return limitError(LimitFragmentSpreads, l.MaxFragmentSpreads, "The document spreads %s fragments once they are expanded", count(s.spreads))
	case s.fields > l.MaxQueryFields:
		return limitError(LimitQueryFields, l.MaxQueryFields, "The document selects %s fields once its fragments are expanded", count(s.fields))
	case s.aliases > l.MaxAliases:
		return limitError(LimitAliases, l.MaxAliases, "The document has %s aliases once its fragments are expanded", count(s.aliases))
	}
	for _, op := range doc.Operations {
		if key, n := sh.repeats([]ast.SelectionSet{op.SelectionSet}, l.MaxRepeatedFields); key != "" {
			return limitError(LimitRepeatedFields, l.MaxRepeatedFields, "The response key %q is selected %d times at one place", key, n)
		}
	}
	return nil
}

// count prints a saturated count as what it is: more than can be said.
func count(n int) string {
	if n >= saturated {
		return "more than a billion"
	}
	return fmt.Sprint(n)
}
