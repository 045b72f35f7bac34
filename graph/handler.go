package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
	"rubrica/graph/generated"
	"rubrica/graph/model"
)

// Config sets up the GraphQL executor.
type Config struct {
	Services      rubrica.Services
	Logger        *slog.Logger
	Introspection bool          // allow introspection queries (the explorer needs them)
	MaxComplexity int           // the largest query complexity accepted; 0 means DefaultMaxComplexity
	LoaderWait    time.Duration // see DefaultLoaderWait; 0 means the default
}

// DefaultMaxComplexity is the default query complexity limit: a field costs 1, a connection's
// fields cost their page size times. `contacts(first: 100)` with a dozen fields per contact
// and their tags fits; a query nesting several full pages does not.
const DefaultMaxComplexity = 5000

// NewHandler returns the GraphQL executor with its extensions, error presenter and per-request
// dataloaders. The caller adds the transports.
func NewHandler(cfg Config) *handler.Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxComplexity == 0 {
		cfg.MaxComplexity = DefaultMaxComplexity
	}
	if cfg.LoaderWait == 0 {
		cfg.LoaderWait = DefaultLoaderWait
	}
	gc := generated.Config{Resolvers: &Resolver{Services: cfg.Services}}
	gc.Complexity.Query.Contacts = func(child int, first *int, _ *string, last *int, _ *string, _ *model.ContactFilter, _ *model.ContactOrder) int {
		return 1 + child*pageCost(first, last)
	}
	gc.Complexity.Query.Tags = func(child int, _ *string, first *int, _ *string) int {
		return 1 + child*pageCost(first, nil)
	}
	srv := handler.New(generated.NewExecutableSchema(gc))
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetErrorPresenter(PresentError(cfg.Logger))
	srv.SetRecoverFunc(Recover(cfg.Logger))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	services, wait := cfg.Services, cfg.LoaderWait
	// Every response (each event of a subscription too) gets fresh loaders.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(WithLoaders(ctx, NewLoaders(services, wait)))
	})
	return srv
}

// pageCost is the number of items a connection field may return.
func pageCost(first, last *int) int {
	switch {
	case first != nil && *first > 0:
		return min(*first, rubrica.MaxPageSize)
	case last != nil && *last > 0:
		return min(*last, rubrica.MaxPageSize)
	}
	return rubrica.DefaultPageSize
}

// noIntrospection refuses an operation that introspects the schema when introspection is
// off, as a request error (BAD_USER_INPUT). Without it gqlgen answers __schema and __type with
// a plain error, which the presenter can only report as INTERNAL.
type noIntrospection struct{}

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	for _, f := range graphql.CollectFields(rc, rc.Operation.SelectionSet, []string{"Query"}) {
		if f.Name == "__schema" || f.Name == "__type" {
			err := gqlerror.Errorf("Introspection is disabled on this server.")
			errcode.Set(err, errcode.ValidationFailed)
			return err
		}
	}
	return nil
}
