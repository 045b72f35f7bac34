package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
	"rubrica/server/gorillaws"
)

// Websocket limits.
const (
	// DefaultMaxSubscriptions is how many subscriptions one websocket may run at once.
	DefaultMaxSubscriptions = 50
	// wsReadLimit is the largest message a client may send.
	wsReadLimit = 64 << 10
)

// websocketTransport serves subscriptions over both protocols, graphql-transport-ws and the
// legacy graphql-ws, on gorilla/websocket: authentication in connection_init (4403 when
// refused), 4408 when no init arrives, keep-alive on both protocols, an Origin check and
// read-size and subscription caps. A websocket is closed with 4403 when its token is revoked
// or expires, or its member is removed.
// open counts the open websockets.
func websocketTransport(g *authGuard, checkOrigin func(*http.Request) bool, logger *slog.Logger, open prometheus.Gauge) graphql.Transport {
	return guardedWebsocket{open: open, Websocket: transport.Websocket{
		Implementation: &gorillaws.Upgrader{
			CheckOrigin:  checkOrigin,
			ReadLimit:    wsReadLimit,
			WriteTimeout: 10 * time.Second,
			InitTimeout:  10 * time.Second, // closes with 4408
			PingInterval: 30 * time.Second, // protocol pings on both subprotocols: half-open connections are freed
		},
		InitFunc:              websocketInit(g),
		KeepAlivePingInterval: 15 * time.Second, // legacy "ka" messages
		PingPongInterval:      15 * time.Second, // graphql-transport-ws ping/pong, pong enforced
		ErrorFunc: func(ctx context.Context, err error) {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			logger.DebugContext(ctx, "websocket", "err", err)
		},
	}}
}

// guardedWebsocket is the websocket transport with, in each upgrade request's context, the
// client's address (for the failure limit) and a gorillaws.Closer (for revocations).
type guardedWebsocket struct {
	transport.Websocket
	open prometheus.Gauge // counts the websocket while Do serves it
}

func (t guardedWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx, _ := gorillaws.WithCloser(withClientAddr(r.Context(), clientAddr(r)))
	t.open.Inc()
	defer t.open.Dec()
	t.Websocket.Do(w, r.WithContext(ctx), exec)
}

// CloseAuthLimited is the close code of a websocket refused because its address failed to
// authenticate too often (the 429 of websockets).
const CloseAuthLimited = 4429

// websocketInit authenticates a websocket from its connection_init payload
// {"Authorization": "Bearer <token>"} (key matched case-insensitively), or from the upgrade
// request's own header. A refused connection is closed with 4403 (4429 when its address is
// over its limit of failures) and never starts a subscription. An accepted one is registered
// under its token and member, which closes it when they end.
func websocketInit(g *authGuard) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		refuse := func(msg string) (context.Context, *transport.InitPayload, error) {
			return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, CloseForbidden), "Forbidden"), nil, errors.New(msg)
		}
		failed := func(msg string) (context.Context, *transport.InitPayload, error) {
			if retry := g.limiter.fail(clientAddrFrom(ctx)); retry > 0 {
				msg := authLimitedMessage(retrySeconds(retry))
				return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, CloseAuthLimited), "Too many failed authentications"), nil, errors.New(msg)
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
				return g.accept(ctx, actor), nil, nil
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
		return g.accept(rubrica.NewContext(ctx, actor), actor), nil, nil
	}
}

// accept registers an authenticated websocket and returns its context, which a revocation
// ends.
func (g *authGuard) accept(ctx context.Context, actor rubrica.Actor) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	g.conns.register(ctx, cancel, actor, gorillaws.CloserFromContext(ctx))
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
		go func() {
			<-ctx.Done()
			counter.Add(-1)
		}()
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
