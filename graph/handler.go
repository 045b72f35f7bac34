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
	"rubrica/graph/listexec"
)

// Config sets up the GraphQL executor.
type Config struct {
	Services      rubrica.Services
	Logger        *slog.Logger
	Introspection bool          // allow introspection queries (the explorer needs them)
	MaxComplexity int           // the largest operation cost accepted; 0 means DefaultMaxComplexity
	LoaderWait    time.Duration // see DefaultLoaderWait; 0 means the default
	Limits        Limits        // the document and response limits; zero fields take their defaults
}

// DefaultMaxComplexity is the default limit of an operation's cost (MAX_COMPLEXITY; see
// complexity.go for what costs what): a page of 100 contacts with their fields, tags and
// custom values fits (about 7,700), so does a page of 30 with every list of each contact, or
// a dashboard of a dozen counts; two such pages of 100, or 50 counted searches, do not.
const DefaultMaxComplexity = 10000

// NewHandler returns the GraphQL executor with its limits, extensions, error presenter and
// per-request dataloaders. The caller adds the transports.
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
	limits := cfg.Limits.withDefaults()
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{Services: cfg.Services}}))
	validated := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(validated)
	srv.SetParserTokenLimit(limits.MaxQueryTokens)
	srv.SetValidationRulesFn(cappedRules(limits.MaxErrors))
	srv.SetErrorPresenter(PresentError(cfg.Logger))
	srv.SetRecoverFunc(Recover(cfg.Logger))
	// First of the response middlewares, so the outermost: it sees every error.
	srv.AroundResponses(limitResponses(limits.MaxErrors, limits.MaxResponseBytes))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	// After the persisted query extension, which fills in the query of a hash-only request.
	srv.Use(documentLimits{limits: limits, validated: validated})
	srv.Use(complexityLimit{max: cfg.MaxComplexity})
	services, wait := cfg.Services, cfg.LoaderWait
	// Every response (each event of a subscription too) gets fresh loaders, and records
	// where its prefetches settled the selection (listexec.Settle).
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(listexec.WithSettlements(WithLoaders(ctx, NewLoaders(services, wait))))
	})
	return srv
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
