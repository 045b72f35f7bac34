package server

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"rubrica"
)

// metrics are the server's Prometheus series.
type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	operations *prometheus.CounterVec
	opLatency  *prometheus.HistogramVec

	websockets    prometheus.Gauge       // open websockets
	subscriptions *prometheus.GaugeVec   // running subscriptions by root field
	events        *prometheus.CounterVec // subscription events sent by root field
	slowDropped   *prometheus.CounterVec // subscriptions ended for falling behind, by root field
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rubrica_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rubrica_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rubrica_graphql_operations_total",
			Help: "GraphQL operations by type, first root field and outcome (ok or error).",
		}, []string{"type", "field", "outcome"}),
		opLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rubrica_graphql_operation_duration_seconds", Help: "GraphQL operation latency by type and first root field.",
			Buckets: prometheus.DefBuckets,
		}, []string{"type", "field"}),
	}
	m.websockets = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rubrica_websocket_connections", Help: "Open websockets (both GraphQL protocols).",
	})
	m.subscriptions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rubrica_subscriptions_active", Help: "Running subscriptions by root field.",
	}, []string{"field"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rubrica_subscription_events_total", Help: "Subscription events sent to clients by root field.",
	}, []string{"field"})
	m.slowDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rubrica_subscription_slow_consumers_dropped_total",
		Help: "Subscriptions ended because their client fell too far behind, by root field.",
	}, []string{"field"})
	reg.MustRegister(m.requests, m.latency, m.operations, m.opLatency, m.websockets, m.subscriptions, m.events, m.slowDropped)
	return m
}

// rootField is the first root field of the operation (bounded by the schema, unlike the
// client-chosen operation name), or "unknown".
func rootField(op *graphql.OperationContext) string {
	if op.Operation != nil && len(op.Operation.SelectionSet) > 0 {
		if f, ok := op.Operation.SelectionSet[0].(*ast.Field); ok {
			return f.Name
		}
	}
	return "unknown"
}

// isSubscription reports whether ctx is a subscription's.
func isSubscription(ctx context.Context) (*graphql.OperationContext, bool) {
	if !graphql.HasOperationContext(ctx) {
		return nil, false
	}
	op := graphql.GetOperationContext(ctx)
	return op, op.Operation != nil && op.Operation.Operation == ast.Subscription
}

// countSubscriptions keeps rubrica_subscriptions_active: a subscription counts from its start
// until its operation context ends (completed, stopped by its client, or its websocket closed).
func (m *metrics) countSubscriptions(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op, ok := isSubscription(ctx)
	if !ok {
		return next(ctx)
	}
	field := rootField(op)
	g := m.subscriptions.WithLabelValues(field)
	g.Inc()
	context.AfterFunc(ctx, g.Dec)
	responses := next(ctx)
	events, dropped := m.events.WithLabelValues(field), m.slowDropped.WithLabelValues(field)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		observeSubscriptionEvent(events, dropped, resp)
		return resp
	}
}

// observeSubscriptionEvent counts each event a subscription sends, and the subscriptions the
// bus or their group dropped for falling behind. It wraps each subscriber's responses (an
// operation middleware outside graph.SharedSubscriptions), so an event shared by a group
// counts once per subscriber that gets it.
func observeSubscriptionEvent(events, dropped prometheus.Counter, resp *graphql.Response) {
	if resp == nil {
		return
	}
	for _, e := range resp.Errors {
		if errors.Is(e, rubrica.ErrSubscriberTooSlow) || e.Message == rubrica.ErrSubscriberTooSlow.Message {
			dropped.Inc()
			return
		}
	}
	events.Inc()
}

// observeOperation counts and times queries and mutations. The label is the first root field
// (bounded by the schema), not the client-chosen operation name (unbounded).
func (m *metrics) observeOperation(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil || op.Operation.Operation == ast.Subscription {
		return resp
	}
	field := rootField(op)
	typ := string(op.Operation.Operation)
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
	}
	m.operations.WithLabelValues(typ, field, outcome).Inc()
	m.opLatency.WithLabelValues(typ, field).Observe(time.Since(op.Stats.OperationStart).Seconds())
	return resp
}

// instrument counts and times every request by route.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := routeOf(r.URL.Path)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// routeOf maps a path to a bounded route label.
func routeOf(path string) string {
	switch path {
	case "/graphql", "/healthz", "/readyz", "/metrics", "/":
		return path
	}
	if len(path) > len("/explorer/") && path[:len("/explorer/")] == "/explorer/" {
		return "/explorer"
	}
	return "other"
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, hijack).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs each request with log/slog.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

// Hijack hands the connection over to a websocket upgrade.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status = http.StatusSwitchingProtocols
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	http.NewResponseController(w.ResponseWriter).Flush()
}
