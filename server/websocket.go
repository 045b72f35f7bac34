package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
)

// Websocket limits.
const (
	// DefaultMaxSubscriptions is how many subscriptions one websocket may run at once.
	DefaultMaxSubscriptions = 50
	// wsReadLimit is the largest message a client may send.
	wsReadLimit = 64 << 10
)

// websocketTransport serves subscriptions over both protocols, graphql-transport-ws and the
// legacy graphql-ws (wsconn.go): authentication in connection_init (4403 when refused), 4408
// when no init arrives, keep-alive on both protocols every keepAlive (0:
// DefaultWebsocketKeepAlive), an Origin check and read-size and subscription caps. A websocket
// is closed with 4403 when its token is revoked or expires, or its member is removed. open
// counts the open websockets.
func websocketTransport(g *authGuard, checkOrigin func(*http.Request) bool, logger *slog.Logger, open prometheus.Gauge, keepAlive time.Duration) graphql.Transport {
	if keepAlive <= 0 {
		keepAlive = DefaultWebsocketKeepAlive
	}
	return &wsTransport{init: websocketInit(g), checkOrig: checkOrigin, logger: logger, open: open,
		keepAlive: keepAlive, frames: newFrameCache()}
}

// CloseAuthLimited is the close code of a websocket refused because its address failed to
// authenticate too often (the 429 of websockets).
const CloseAuthLimited = 4429

// websocketInit authenticates a websocket from its connection_init payload
// {"Authorization": "Bearer <token>"} (key matched case-insensitively), or from the upgrade
// request's own header. A refused connection is closed with 4403 (4429 when its address is
// over its limit of failures) and never starts a subscription. An accepted one is registered
// under its token and member, which closes it when they end.
func websocketInit(g *authGuard) wsInitFunc {
	return func(ctx context.Context, p map[string]any) (context.Context, error) {
		refuse := func(msg string) (context.Context, error) {
			return ctx, &wsRefusal{code: CloseForbidden, reason: "Forbidden", msg: msg}
		}
		failed := func(msg string) (context.Context, error) {
			if retry := g.limiter.fail(clientAddrFrom(ctx)); retry > 0 {
				return ctx, &wsRefusal{code: CloseAuthLimited, reason: "Too many failed authentications", msg: authLimitedMessage(retrySeconds(retry))}
			}
			return refuse(msg)
		}
		var header string
		for k, v := range p {
			if strings.EqualFold(k, "Authorization") {
				header, _ = v.(string)
			}
		}
		ctx = withSubscriptionCounter(ctx)
		if header == "" {
			if actor, ok := rubrica.ActorFromContext(ctx); ok {
				return g.accept(ctx, actor), nil
			}
			return refuse("Authentication required: send {\"Authorization\": \"Bearer <token>\"} in connection_init.")
		}
		token, ok := bearerToken(header)
		if !ok {
			return failed("Send the token as Bearer <token>.")
		}
		authCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		actor, err := g.auth.Authenticate(authCtx, token)
		if rubrica.ErrorCode(err) == rubrica.EINTERNAL {
			g.errs.logger.ErrorContext(ctx, "internal error", "err", err, "during", "websocket authentication")
			return refuse("The token could not be checked: try again.")
		} else if err != nil {
			return failed("The token is not valid.")
		}
		return g.accept(rubrica.NewContext(ctx, actor), actor), nil
	}
}

// accept registers an authenticated websocket and returns its context, which a revocation
// ends.
func (g *authGuard) accept(ctx context.Context, actor rubrica.Actor) context.Context {
	c := wsConnFromContext(ctx)
	if c == nil {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	g.conns.register(ctx, cancel, actor, c)
	return ctx
}

type subscriptionCounterKey struct{}

func withSubscriptionCounter(ctx context.Context) context.Context {
	return context.WithValue(ctx, subscriptionCounterKey{}, new(atomic.Int64))
}

// limitSubscriptions refuses a subscription beyond max on one websocket with LIMIT_EXCEEDED.
// A subscription's slot frees when its operation context ends.
func limitSubscriptions(max int) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx)
		counter, ok := ctx.Value(subscriptionCounterKey{}).(*atomic.Int64)
		if !ok || op.Operation == nil || op.Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		if counter.Add(1) > int64(max) {
			counter.Add(-1)
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    fmt.Sprintf("A websocket may run at most %d subscriptions.", max),
				Extensions: map[string]any{"code": rubrica.ELIMIT, "limit": LimitMaxSubscriptions},
			}}})
		}
		context.AfterFunc(ctx, func() { counter.Add(-1) })
		return next(ctx)
	}
}

// refuseForeignOrigins answers a websocket upgrade from an origin that may not open one with
// 403 (FORBIDDEN) before it reaches the GraphQL transport.
func refuseForeignOrigins(check func(*http.Request) bool, errs httpErrors, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) && !check(r) {
			errs.write(w, r, http.StatusForbidden, rubrica.Errorf(rubrica.EFORBIDDEN, "This origin may not open websockets: see ALLOWED_ORIGINS."))
			return
		}
		next.ServeHTTP(w, r)
	})
}
