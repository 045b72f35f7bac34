// Package tracing is Rubrica's OpenTelemetry tracing: the SDK exporting over OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, the HTTP server spans (otelhttp, W3C traceparent in
// and out) and the GraphQL spans (a gqlgen extension: one span per operation, one per
// resolver). Without a tracer provider nothing is wrapped: no cost when tracing is off.
package tracing

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"rubrica/internal/reqid"
)

// instrumentation names Rubrica's tracer.
const instrumentation = "rubrica"

// Propagator reads and writes W3C trace context (traceparent, tracestate) and baggage.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Setup starts the SDK with a batching OTLP/HTTP exporter, configured by the standard
// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout, ...), and OTEL_SERVICE_NAME
// (default rubrica) and OTEL_RESOURCE_ATTRIBUTES. shutdown flushes the spans left.
func Setup(ctx context.Context, version string) (tp *sdktrace.TracerProvider, shutdown func(context.Context) error, err error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over the defaults.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("rubrica"), semconv.ServiceVersion(version)), resource.WithFromEnv())
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	return tp, tp.Shutdown, nil
}

// HTTP wraps next in a server span per request (named by method and route), continuing the
// trace of the request's traceparent and carrying its request id (reqid, set before); nil tp
// returns next untouched.
func HTTP(tp trace.TracerProvider, route func(path string) string, next http.Handler) http.Handler {
	if tp == nil {
		return next
	}
	withID := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := reqid.FromContext(r.Context()); id != "" {
			trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("rubrica.request_id", id))
		}
		next.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(withID, "http", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + route(r.URL.Path) }))
}
