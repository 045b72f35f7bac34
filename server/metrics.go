package server

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// metrics are the server's Prometheus series.
type metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	operations *prometheus.CounterVec
	opLatency  *prometheus.HistogramVec
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
	reg.MustRegister(m.requests, m.latency, m.operations, m.opLatency)
	return m
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
	field := "unknown"
	if len(op.Operation.SelectionSet) > 0 {
		if f, ok := op.Operation.SelectionSet[0].(*ast.Field); ok {
			field = f.Name
		}
	}
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
