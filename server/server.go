// Package server serves Rubrica over HTTP: the GraphQL transports behind the authentication
// middleware, the explorer, health, metrics and graceful shutdown.
package server

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"rubrica"
	"rubrica/graph"
	"rubrica/internal/reqid"
	"rubrica/internal/tracing"
	"rubrica/server/explorer"
	"rubrica/server/gorillaws"
)

// Config is what a server needs.
type Config struct {
	Services      rubrica.Services
	Ready         func(context.Context) error // nil error: the database answers and is migrated
	DB            *sql.DB                     // for the connection pool metrics; may be nil
	Logger        *slog.Logger
	Introspection bool
	MaxComplexity int           // 0: graph.DefaultMaxComplexity
	Limits        graph.Limits  // document and response limits; zero fields: graph's defaults
	LoaderWait    time.Duration // 0: graph.DefaultLoaderWait
	// AllowedOrigins may open websockets besides the server's own origin, and call /graphql
	// and the CSV export from browser scripts (CORS) ("*": any).
	AllowedOrigins []string
	// MaxSubscriptions caps the subscriptions of one websocket, and the event streams (SSE) of
	// one member (0: DefaultMaxSubscriptions).
	MaxSubscriptions int
	// AuthFailureRate is how many failed authentications per minute one client address may
	// make after AuthFailureBurst (0: DefaultAuthFailureRate; negative: no limit).
	AuthFailureRate float64
	// AuthFailureBurst is how many failures an address may make at once (0: DefaultAuthFailureBurst).
	AuthFailureBurst int
	// Revocations tells about revoked tokens and removed members, whose websockets are then
	// closed and whose cached authentications forgotten (nil: Services.Events, when it
	// implements rubrica.RevocationWatcher).
	Revocations rubrica.RevocationWatcher
	// AuthCacheTTL is how long a successful authentication is served from memory, never past
	// its token's expiry and forgotten at once when revoked (0: DefaultAuthCacheTTL; negative:
	// no cache). There is no cache without a revocation watcher.
	AuthCacheTTL time.Duration
	// AuthCacheSize caps the cached authentications (0: DefaultAuthCacheSize).
	AuthCacheSize int
	// MaxRequestBytes caps a request body (0: DefaultMaxRequestBytes); a larger one gets 413.
	MaxRequestBytes int64
	// BodyReadTimeout bounds the time to send a request body (0: DefaultBodyReadTimeout).
	BodyReadTimeout time.Duration
	// ReadHeaderTimeout bounds the time to send request headers (0: DefaultReadHeaderTimeout);
	// only Serve applies it.
	ReadHeaderTimeout time.Duration
	// RequestTimeout bounds every request but websockets (0: DefaultRequestTimeout).
	RequestTimeout time.Duration
	// WebsocketKeepAlive is the interval of the websockets' keep-alive messages and pings; a
	// websocket silent for two intervals is dropped (0: DefaultWebsocketKeepAlive).
	WebsocketKeepAlive time.Duration
	// TracerProvider traces requests, operations and resolvers (nil: no tracing, and no cost).
	TracerProvider trace.TracerProvider
}

// Server is one Rubrica HTTP server.
type Server struct {
	cfg     Config
	handler http.Handler
	shared  *graph.SharedSubscriptions
}

// Subscribers returns how many subscriptions the server holds established (each one of a
// group that shares its events: graph.SharedSubscriptions).
func (s *Server) Subscribers() int { return s.shared.Subscribers() }

// New builds the server's routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = slog.New(reqid.LogHandler(cfg.Logger.Handler())) // request_id on every line
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.DB != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(cfg.DB, "rubrica"))
	}
	m := newMetrics(reg)

	errs := httpErrors{cfg.Logger}
	guard := newAuthGuard(cfg)
	gql := graph.NewHandler(graph.Config{
		Services: guard.services(cfg.Services), Logger: cfg.Logger, Introspection: cfg.Introspection,
		MaxComplexity: cfg.MaxComplexity, LoaderWait: cfg.LoaderWait, Limits: cfg.Limits,
	})
	if cfg.TracerProvider != nil {
		gql.Use(tracing.NewGraphQL(cfg.TracerProvider)) // first: its span holds the others
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = DefaultMaxSubscriptions
	}
	checkOrigin := gorillaws.OriginChecker(cfg.AllowedOrigins)
	gql.AddTransport(websocketTransport(guard, checkOrigin, cfg.Logger, m.websockets, cfg.WebsocketKeepAlive))
	gql.AroundOperations(limitSubscriptions(cfg.MaxSubscriptions))
	gql.AroundOperations(m.countSubscriptions)
	shared := graph.NewSharedSubscriptions(cfg.Logger)
	gql.AroundOperations(shared.Middleware) // after the cap and the gauge, which count each subscriber
	gql.AddTransport(newSSETransport(guard, cfg.MaxSubscriptions, httpLimits{requestTimeout: cfg.RequestTimeout}.withDefaults().requestTimeout))
	gql.AddTransport(getTransport{})
	gql.AddTransport(postTransport{errs: errs})
	gql.AddTransport(unsupportedTransport{}) // last: whatever no transport above takes
	gql.AroundResponses(m.observeOperation)
	gql.AroundResponses(reportTimeouts)

	mux := http.NewServeMux()
	mux.Handle("/graphql", refuseForeignOrigins(checkOrigin, errs, authenticate(guard, gql)))
	mux.Handle("GET /export/contacts.csv", authenticate(guard, exportContacts(cfg.Services.Exports, errs)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if cfg.Ready != nil {
			if err := cfg.Ready(ctx); err != nil {
				cfg.Logger.WarnContext(ctx, "not ready", "err", err)
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/", explorer.Handler())
	mux.Handle(explorer.AssetPrefix, explorer.Handler())

	limits := httpLimits{maxBytes: cfg.MaxRequestBytes, bodyTimeout: cfg.BodyReadTimeout, requestTimeout: cfg.RequestTimeout}
	handler := m.instrument(logRequests(cfg.Logger, withCORS(gorillaws.ListedOrigins(cfg.AllowedOrigins), limitRequests(limits, errs, mux))))
	return &Server{cfg: cfg, shared: shared, handler: reqid.Middleware(tracing.HTTP(cfg.TracerProvider, routeOf, handler))}
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// ShutdownTimeout is how long a stopping server lets running requests finish.
const ShutdownTimeout = 15 * time.Second

// Serve serves on ln until ctx is cancelled, then stops accepting connections and lets
// running requests finish for up to ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cmp.Or(s.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:       120 * time.Second,
		// Requests outlive ctx (Shutdown lets them finish); net/http still cancels each
		// request's context when its client leaves, and limitRequests adds the deadline.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.cfg.Logger.Info("shutting down", "timeout", ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
