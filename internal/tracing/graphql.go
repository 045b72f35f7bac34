package tracing

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL is a gqlgen extension tracing each operation (a span named "query", "mutation
// contacts"... after the operation's type and name, as OpenTelemetry's GraphQL conventions
// say) and each resolver (a span named Type.field): plain fields of a loaded object have no
// span. A subscription's span lasts as long as the subscription, with an event per payload.
// The document and the variables are never recorded: they may hold personal data.
//
// No well-kept gqlgen tracer exists for gqlgen 0.17 (ravilushqa/otelgqlgen's last release
// the module proxy serves targets gqlgen 0.14), hence this small one.
type GraphQL struct{ Tracer trace.Tracer }

// NewGraphQL returns the extension tracing with tp.
func NewGraphQL(tp trace.TracerProvider) GraphQL {
	return GraphQL{Tracer: tp.Tracer(instrumentation)}
}

var (
	_ graphql.HandlerExtension     = GraphQL{}
	_ graphql.OperationInterceptor = GraphQL{}
	_ graphql.FieldInterceptor     = GraphQL{}
)

// ExtensionName implements graphql.HandlerExtension.
func (GraphQL) ExtensionName() string { return "OpenTelemetry" }

// Validate implements graphql.HandlerExtension.
func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation starts the operation's span, ended with its last response.
func (g GraphQL) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil {
		return next(ctx)
	}
	typ := string(op.Operation.Operation)
	name := typ
	attrs := []attribute.KeyValue{semconv.GraphQLOperationTypeKey.String(typ)}
	if op.Operation.Name != "" {
		name += " " + op.Operation.Name
		attrs = append(attrs, semconv.GraphQLOperationName(op.Operation.Name))
	}
	ctx, span := g.Tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	var once sync.Once
	end := func() { once.Do(func() { span.End() }) }
	subscription := op.Operation.Operation == ast.Subscription
	if subscription {
		go func() {
			<-ctx.Done()
			end()
		}()
	}
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			end()
			return nil
		}
		if len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, resp.Errors[0].Message)
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		}
		if subscription {
			span.AddEvent("payload")
		} else if resp.HasNext == nil || !*resp.HasNext {
			end()
		}
		return resp
	}
}

// InterceptField traces a resolver.
func (g GraphQL) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := g.Tracer.Start(ctx, fc.Object+"."+fc.Field.Name,
		trace.WithAttributes(attribute.String("graphql.field.path", fc.Path().String())))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "resolver failed")
	}
	return res, err
}
