package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// limitResponses caps every response the executor makes (an operation's, each subscription
// event's, and the request errors of DispatchError, which every transport uses for the errors
// of parsing, validation and the operation's preparation): at most maxErrors errors, the rest
// replaced by one LIMIT_EXCEEDED error naming MAX_ERRORS; and a `data` larger than maxBytes
// replaced by a LIMIT_EXCEEDED error naming MAX_RESPONSE_BYTES. It must be the outermost
// response middleware, so that it sees every error.
func limitResponses(maxErrors, maxBytes int) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil {
			return nil
		}
		if n := len(resp.Data); n > maxBytes {
			resp.Data = nil
			resp.Errors = gqlerror.List{limitError(LimitResponseBytes, maxBytes, "The response would be %d bytes long", n)}
		}
		if len(resp.Errors) > maxErrors {
			resp.Errors = append(resp.Errors[:maxErrors:maxErrors],
				limitError(LimitErrors, maxErrors, "More errors were left out"))
		}
		return resp
	}
}

// cappedRules returns gqlparser's default validation rules, made to stop recording errors
// after the first maxErrors+1 of a document (limitResponses says the rest were left out): the
// rules still run, but a document with thousands of conflicts does not build thousands of
// errors, nor send each through the error presenter.
func cappedRules(maxErrors int) func() *rules.Rules {
	return func() *rules.Rules {
		n := 0 // errors of this validation: the executor calls this once per document
		out := rules.NewRules()
		for name, rule := range rules.NewDefaultRules().GetInner() {
			out.AddRule(name, func(observers *core.Events, addError core.AddErrFunc) {
				rule(observers, func(options ...core.ErrorOption) {
					if n++; n <= maxErrors+1 {
						addError(options...)
					}
				})
			})
		}
		return out
	}
}
