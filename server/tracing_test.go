package server_test

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"rubrica/internal/testenv"
	"rubrica/server"
)

// spansByName indexes recorded spans by name.
func spansByName(spans []sdktrace.ReadOnlySpan) map[string]sdktrace.ReadOnlySpan {
	m := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		m[s.Name()] = s
	}
	return m
}

// waitSpans waits until the recorder holds a span of each name.
func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, names ...string) map[string]sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(testenv.WSWait)
	for {
		got := spansByName(rec.Ended())
		missing := ""
		for _, n := range names {
			if _, ok := got[n]; !ok {
				missing = n
			}
		}
		if missing == "" {
			return got
		}
		if time.Now().After(deadline) {
			var all []string
			for n := range got {
				all = append(all, n)
			}
			t.Fatalf("no span %q among %v", missing, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTracing: with a tracer provider, a request continues the trace of its traceparent in
// an HTTP server span carrying its request id, with the operation's span under it and a span
// per resolver under that; a subscription over a websocket is traced too.
func TestTracing(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	env := testenv.NewWithConfig(t, func(c *server.Config) { c.TracerProvider = tp })
	ws := env.Workspace(t, "Traced")

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	res, body := postWithHeaders(t, env, ws.Owner(), `query Dashboard { viewer { name } contacts(first: 1) { totalCount } }`,
		map[string]string{"Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01", "X-Request-Id": "traced-1"})
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	spans := waitSpans(t, rec, "POST /graphql", "query Dashboard", "Query.contacts", "Query.viewer")
	httpSpan, opSpan, field := spans["POST /graphql"], spans["query Dashboard"], spans["Query.contacts"]
	if got := httpSpan.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("HTTP span trace id: got %s, want the traceparent's %s", got, traceID)
	}
	if got := httpSpan.Parent().SpanID().String(); got != "00f067aa0ba902b7" || !httpSpan.Parent().IsRemote() {
		t.Errorf("HTTP span parent: got %s, want the remote 00f067aa0ba902b7", got)
	}
	if httpSpan.SpanKind() != trace.SpanKindServer {
		t.Errorf("HTTP span kind: got %v, want server", httpSpan.SpanKind())
	}
	hasAttr := func(s sdktrace.ReadOnlySpan, key, value string) bool {
		for _, a := range s.Attributes() {
			if string(a.Key) == key && a.Value.Emit() == value {
				return true
			}
		}
		return false
	}
	if !hasAttr(httpSpan, "rubrica.request_id", "traced-1") {
		t.Errorf("HTTP span attributes %v: want rubrica.request_id=traced-1", httpSpan.Attributes())
	}
	if opSpan.Parent().SpanID() != httpSpan.SpanContext().SpanID() || !hasAttr(opSpan, "graphql.operation.type", "query") ||
		!hasAttr(opSpan, "graphql.operation.name", "Dashboard") {
		t.Errorf("operation span: parent %s attributes %v, want under the HTTP span, type query, name Dashboard",
			opSpan.Parent().SpanID(), opSpan.Attributes())
	}
	if field.Parent().SpanID() != opSpan.SpanContext().SpanID() || field.SpanContext().TraceID().String() != traceID {
		t.Errorf("resolver span: parent %s, want the operation span %s", field.Parent().SpanID(), opSpan.SpanContext().SpanID())
	}

	// A subscription: its span ends when the subscription does, with an event per payload.
	c := testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent())
	c.Subscribe("s", `subscription Live { contactEvents { type } }`, nil)
	env.WaitSubscribers(t, 1)
	createContact(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
	c.Next("s")
	c.Unsubscribe("s")
	sub := waitSpans(t, rec, "subscription Live")["subscription Live"]
	if len(sub.Events()) != 1 || sub.Events()[0].Name != "payload" {
		t.Errorf("subscription span events: got %v, want one payload", sub.Events())
	}
}

// TestNoTracingWithoutProvider: without a tracer provider the server records nothing, even
// with a global provider set (as the OTel SDK does when another part of a program sets one).
func TestNoTracingWithoutProvider(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	env := testenv.New(t)
	ws := env.Workspace(t, "Untraced")
	env.MustDo(t, ws.Owner(), `{ viewer { name } }`, nil, nil)
	if spans := rec.Ended(); len(spans) != 0 {
		t.Errorf("recorded %d spans, want none", len(spans))
	}
}
