package graph

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
	"rubrica/internal/reqid"
)

// PresentError maps every error to the contract of API.md: `extensions.code` always set,
// `extensions.field` for input errors, and nothing of the database or the stack for
// INTERNAL errors, which are logged instead.
func PresentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var domainErr *rubrica.Error
		switch {
		case errors.As(err, &domainErr):
			gqlErr.Message = domainErr.Message
			gqlErr.Extensions = map[string]any{"code": domainErr.Code}
			if domainErr.Field != "" {
				gqlErr.Extensions["field"] = domainErr.Field
			}
		case gqlErr.Err == nil:
			// Raised by GraphQL itself: a parse, validation or coercion error, always about
			// the request; or the refusal of a limit (limitError), which names the limit.
			ext := map[string]any{"code": rubrica.EINVALID}
			if c, _ := gqlErr.Extensions["code"].(string); c == rubrica.ELIMIT {
				ext["code"] = rubrica.ELIMIT
				if l, ok := gqlErr.Extensions["limit"].(string); ok {
					ext["limit"] = l
				}
			}
			gqlErr.Extensions = ext
		case ctx.Err() != nil:
			// The request ended first: its client went away (a closed websocket, a cancelled
			// request), and nobody reads this error; or its deadline passed, which is worth a
			// warning. Either way the error is what the ending did (lib/pq reports a cancelled
			// statement as its own error 57014, not as the context's), no fault of the server.
			level := slog.LevelDebug
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				level = slog.LevelWarn
			}
			logger.Log(ctx, level, "operation cancelled", "cause", context.Cause(ctx), "err", err, "path", gqlErr.Path.String())
			internalError(ctx, gqlErr)
		default:
			logger.ErrorContext(ctx, "internal error", "err", err, "path", gqlErr.Path.String())
			internalError(ctx, gqlErr)
		}
		return gqlErr
	}
}

// internalError makes gqlErr the INTERNAL error a client sees: no detail, but the request id
// (extensions.requestId) that finds the logged cause.
func internalError(ctx context.Context, gqlErr *gqlerror.Error) {
	gqlErr.Message = "Internal error."
	gqlErr.Extensions = map[string]any{"code": rubrica.EINTERNAL}
	if id := reqid.FromContext(ctx); id != "" {
		gqlErr.Extensions["requestId"] = id
	}
	gqlErr.Err = nil
}

// Recover turns a panic in a resolver into an INTERNAL error and logs it with its stack.
func Recover(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", p, "stack", string(debug.Stack()))
		return errors.New("panic in resolver")
	}
}
