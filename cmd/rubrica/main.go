// Command rubrica is the Rubrica server and its administration: serve, migrate, seed,
// workspace and token subcommands. It wires the packages together and does nothing else.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"rubrica"
	"rubrica/db"
	"rubrica/db/localpg"
	"rubrica/graph"
	"rubrica/internal/demo"
	"rubrica/internal/tracing"
	"rubrica/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rubrica:", rubrica.ErrorMessageOrText(err))
		os.Exit(1)
	}
}

const usage = `usage: rubrica <command> [flags]

commands:
  serve [--demo | --dev]                                run the server (PORT, DATABASE_URL)
  migrate                                               apply the schema migrations and exit
  seed --demo                                           create the demo workspace; print its id and tokens
  workspace create --name N --owner-email E             create a workspace and its owner; print the owner's token
  token create --workspace W --email E --role R [--expires 30d]
                                                        add or find a member; print a new token (expiring after d/h/m)
  token list --workspace W                              list the workspace's tokens (never the tokens themselves)
  token revoke --workspace W --id ID                    revoke a token: its websockets close on every instance
  member remove --workspace W --email E                 remove a member: revoke their tokens, unassign their contacts
  suggestions rebuild --workspace W                     recompute the workspace's merge suggestions
  devdb [url|stop]                                      the private PostgreSQL cluster under DATA_DIR (default .data)
  version                                               print the version (also --version)

"rubrica <command> --help" explains a command; the settings are environment variables (README).
`

// config is every setting, from the environment.
type config struct {
	Port          string
	DatabaseURL   string
	DataDir       string
	Introspection bool
	MaxComplexity int
	LoaderWait    time.Duration
	LogLevel      slog.Level
	LogFormat     string // LOG_FORMAT: text (default) or json
	// OTLPEndpoint turns tracing on (OTEL_EXPORTER_OTLP_ENDPOINT); OTLPHeadersSet tells
	// whether OTEL_EXPORTER_OTLP_HEADERS (often a secret) is set, for the startup log only:
	// the exporter reads the OTEL_* variables itself.
	OTLPEndpoint   string
	OTLPHeadersSet bool
	// EventRetention is how long the event outbox keeps events.
	EventRetention time.Duration
	// AllowedOrigins may open websockets besides the server's own origin.
	AllowedOrigins []string
	// Jobs tunes the background job worker (JOB_BATCH_SIZE, JOB_LEASE, JOB_PAUSE).
	Jobs db.JobWorkerConfig
	// AuthFailureRate is how many failed authentications per minute one client address may
	// make after AuthFailureBurst (AUTH_FAILURE_RATE, default server.DefaultAuthFailureRate;
	// 0: no limit). AUTH_FAILURE_BURST sets the burst (default server.DefaultAuthFailureBurst).
	AuthFailureRate  float64
	AuthFailureBurst int
	// AuthCacheTTL is how long a successful authentication is served from memory
	// (AUTH_CACHE_TTL, default server.DefaultAuthCacheTTL; 0: no cache); AUTH_CACHE_SIZE bounds
	// the entries (default server.DefaultAuthCacheSize).
	AuthCacheTTL  time.Duration
	AuthCacheSize int
	// HTTP limits (MAX_REQUEST_BYTES, BODY_READ_TIMEOUT, READ_HEADER_TIMEOUT, REQUEST_TIMEOUT).
	MaxRequestBytes   int
	BodyReadTimeout   time.Duration
	ReadHeaderTimeout time.Duration
	RequestTimeout    time.Duration
	// Limits bound documents and responses (MAX_DOCUMENT_BYTES, MAX_QUERY_TOKENS, ...).
	Limits graph.Limits
	// MaxSubscriptions caps the subscriptions of a websocket and the event streams of a
	// member (MAX_SUBSCRIPTIONS, the limit its LIMIT_EXCEEDED errors name).
	MaxSubscriptions int
}

func loadConfig(getenv func(string) string) (config, error) {
	// Every default is the one in force, so that the startup log tells the truth.
	cfg := config{Port: "8080", DataDir: ".data", Introspection: true, LoaderWait: graph.DefaultLoaderWait,
		MaxComplexity: graph.DefaultMaxComplexity, Limits: graph.Limits{}.WithDefaults(), LogFormat: "text",
		EventRetention: db.BusConfig{}.WithDefaults().Retention, Jobs: db.JobWorkerConfig{}.WithDefaults(),
		AuthFailureRate: server.DefaultAuthFailureRate, AuthFailureBurst: server.DefaultAuthFailureBurst,
		AuthCacheTTL: server.DefaultAuthCacheTTL, AuthCacheSize: server.DefaultAuthCacheSize,
		MaxRequestBytes: server.DefaultMaxRequestBytes, BodyReadTimeout: server.DefaultBodyReadTimeout,
		ReadHeaderTimeout: server.DefaultReadHeaderTimeout, RequestTimeout: server.DefaultRequestTimeout,
		MaxSubscriptions: server.DefaultMaxSubscriptions}
	if v := getenv("PORT"); v != "" {
		cfg.Port = v
	}
	cfg.DatabaseURL = getenv("DATABASE_URL")
	if v := getenv("DATA_DIR"); v != "" {
		cfg.DataDir = v
	}
	if v := getenv("INTROSPECTION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("INTROSPECTION: %q is not true or false", v)
		}
		cfg.Introspection = b
	}
	numbers := map[string]*int{"MAX_COMPLEXITY": &cfg.MaxComplexity, "JOB_BATCH_SIZE": &cfg.Jobs.BatchSize,
		"AUTH_FAILURE_BURST": &cfg.AuthFailureBurst, "MAX_REQUEST_BYTES": &cfg.MaxRequestBytes, "AUTH_CACHE_SIZE": &cfg.AuthCacheSize,
		server.LimitMaxSubscriptions: &cfg.MaxSubscriptions,
		graph.LimitDocumentBytes:     &cfg.Limits.MaxDocumentBytes, graph.LimitQueryTokens: &cfg.Limits.MaxQueryTokens,
		graph.LimitQueryDepth: &cfg.Limits.MaxQueryDepth, graph.LimitAliases: &cfg.Limits.MaxAliases,
		graph.LimitRepeatedFields: &cfg.Limits.MaxRepeatedFields, graph.LimitFragmentSpreads: &cfg.Limits.MaxFragmentSpreads,
		graph.LimitQueryFields: &cfg.Limits.MaxQueryFields, graph.LimitErrors: &cfg.Limits.MaxErrors,
		graph.LimitResponseBytes: &cfg.Limits.MaxResponseBytes}
	for name, dst := range numbers {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return cfg, fmt.Errorf("%s: %q is not a positive number", name, v)
			}
			*dst = n
		}
	}
	durations := map[string]*time.Duration{"LOADER_WAIT": &cfg.LoaderWait, "EVENT_RETENTION": &cfg.EventRetention,
		"JOB_LEASE": &cfg.Jobs.Lease, "JOB_PAUSE": &cfg.Jobs.Pause, "BODY_READ_TIMEOUT": &cfg.BodyReadTimeout,
		"READ_HEADER_TIMEOUT": &cfg.ReadHeaderTimeout, "REQUEST_TIMEOUT": &cfg.RequestTimeout}
	for name, dst := range durations {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return cfg, fmt.Errorf("%s: %q is not a positive duration such as 2ms, 30s or 24h", name, v)
			}
			*dst = d
		}
	}
	if v := getenv("AUTH_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("AUTH_CACHE_TTL: %q is not a duration such as 10s (0: no cache)", v)
		}
		cfg.AuthCacheTTL = cmp.Or(d, -1) // the server's "no cache"
	}
	if v := getenv("AUTH_FAILURE_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return cfg, fmt.Errorf("AUTH_FAILURE_RATE: %q is not a number of failures per minute (0: no limit)", v)
		}
		cfg.AuthFailureRate = r
	}
	for _, o := range strings.Split(getenv("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	switch v := getenv("LOG_FORMAT"); v {
	case "", "text", "json":
		cfg.LogFormat = cmp.Or(v, cfg.LogFormat)
	default:
		return cfg, fmt.Errorf("LOG_FORMAT: %q is not text or json", v)
	}
	cfg.OTLPEndpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	cfg.OTLPHeadersSet = getenv("OTEL_EXPORTER_OTLP_HEADERS") != ""
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", v)
		}
	}
	return cfg, nil
}

// LogValue is every setting in force, under its environment variable's name, with the
// database password masked (see maskDSN) and OTLP headers never shown.
func (c config) LogValue() slog.Value {
	database := "(development cluster under DATA_DIR)"
	if c.DatabaseURL != "" {
		database = maskDSN(c.DatabaseURL)
	}
	authCacheTTL := c.AuthCacheTTL.String()
	if c.AuthCacheTTL < 0 {
		authCacheTTL = "0s (no cache)"
	}
	authFailureRate := strconv.FormatFloat(c.AuthFailureRate, 'g', -1, 64)
	if c.AuthFailureRate == 0 {
		authFailureRate = "0 (no limit)"
	}
	tracing := "(off)"
	if c.OTLPEndpoint != "" {
		tracing = c.OTLPEndpoint
		if urlScheme.MatchString(tracing) {
			tracing = maskURL(tracing)
		}
	}
	headers := "(unset)"
	if c.OTLPHeadersSet {
		headers = "(set, masked)"
	}
	origins := "(none: the server's own origin only)"
	if len(c.AllowedOrigins) > 0 {
		origins = strings.Join(c.AllowedOrigins, ",")
	}
	l := c.Limits
	return slog.GroupValue(
		slog.String("PORT", c.Port), slog.String("DATABASE_URL", database), slog.String("DATA_DIR", c.DataDir),
		slog.Bool("INTROSPECTION", c.Introspection), slog.String("ALLOWED_ORIGINS", origins),
		slog.Int("MAX_COMPLEXITY", c.MaxComplexity),
		slog.Int(graph.LimitDocumentBytes, l.MaxDocumentBytes), slog.Int(graph.LimitQueryTokens, l.MaxQueryTokens),
		slog.Int(graph.LimitQueryDepth, l.MaxQueryDepth), slog.Int(graph.LimitAliases, l.MaxAliases),
		slog.Int(graph.LimitRepeatedFields, l.MaxRepeatedFields), slog.Int(graph.LimitFragmentSpreads, l.MaxFragmentSpreads),
		slog.Int(graph.LimitQueryFields, l.MaxQueryFields), slog.Int(graph.LimitErrors, l.MaxErrors),
		slog.Int(graph.LimitResponseBytes, l.MaxResponseBytes),
		slog.Int(server.LimitMaxSubscriptions, c.MaxSubscriptions), slog.Int("MAX_REQUEST_BYTES", c.MaxRequestBytes), slog.Duration("BODY_READ_TIMEOUT", c.BodyReadTimeout),
		slog.Duration("READ_HEADER_TIMEOUT", c.ReadHeaderTimeout), slog.Duration("REQUEST_TIMEOUT", c.RequestTimeout),
		slog.String("AUTH_FAILURE_RATE", authFailureRate), slog.Int("AUTH_FAILURE_BURST", c.AuthFailureBurst),
		slog.String("AUTH_CACHE_TTL", authCacheTTL), slog.Int("AUTH_CACHE_SIZE", c.AuthCacheSize),
		slog.Duration("LOADER_WAIT", c.LoaderWait), slog.Duration("EVENT_RETENTION", c.EventRetention),
		slog.Int("JOB_BATCH_SIZE", c.Jobs.BatchSize), slog.Duration("JOB_LEASE", c.Jobs.Lease), slog.Duration("JOB_PAUSE", c.Jobs.Pause),
		slog.String("LOG_LEVEL", c.LogLevel.String()), slog.String("LOG_FORMAT", c.LogFormat),
		slog.String("OTEL_EXPORTER_OTLP_ENDPOINT", tracing), slog.String("OTEL_EXPORTER_OTLP_HEADERS", headers),
		slog.String("GOGC", gcPercent()))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	// Help and the version need no configuration and do nothing else.
	if done, err := helpOrVersion(args, stdout); done {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	slog.SetDefault(logger) // for any slog.*Context call outside the server too
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger, rest, stdout)
	case "migrate":
		d, _, err := openDB(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		fmt.Fprintln(stderr, "migrations applied")
		return nil
	case "seed":
		fs := flag.NewFlagSet("seed", flag.ContinueOnError)
		demoFlag := fs.Bool("demo", false, "create the demo workspace")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if !*demoFlag {
			return errors.New("seed: only --demo is supported")
		}
		d, _, err := openDB(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		res, err := demo.Seed(ctx, d.Services(), d.Admin())
		if err != nil {
			return err
		}
		res.WorkspaceID = graph.WorkspaceID(res.WorkspaceID)
		return printJSON(stdout, res)
	case "workspace":
		if len(rest) == 0 || rest[0] != "create" {
			return errors.New("usage: rubrica workspace create --name N --owner-email E")
		}
		fs := flag.NewFlagSet("workspace create", flag.ContinueOnError)
		name := fs.String("name", "", "the workspace's name")
		email := fs.String("owner-email", "", "the owner's email")
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
		d, _, err := openDB(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		ws, token, err := d.Admin().CreateWorkspace(ctx, *name, *email)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]string{"workspaceId": graph.WorkspaceID(ws.ID), "token": token})
	case "token":
		return tokenCommand(ctx, cfg, logger, rest, stdout)
	case "member":
		return memberCommand(ctx, cfg, logger, rest, stdout)
	case "suggestions":
		if len(rest) == 0 || rest[0] != "rebuild" {
			return errors.New("usage: rubrica suggestions rebuild --workspace W")
		}
		fs := flag.NewFlagSet("suggestions rebuild", flag.ContinueOnError)
		ws := fs.String("workspace", "", "the workspace id")
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
		d, _, err := openDB(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		// The command line acts as the workspace's owner.
		actor := rubrica.Actor{WorkspaceID: graph.LocalWorkspaceID(*ws), MemberID: "command-line", Role: rubrica.RoleOwner}
		if err := d.Services().Merges.RebuildSuggestions(rubrica.NewContext(ctx, actor)); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "suggestions rebuilt")
		return nil
	case "devdb":
		c := &localpg.Cluster{Dir: cfg.DataDir, Logger: logger}
		if len(rest) > 0 && rest[0] == "stop" {
			return c.Stop(ctx)
		}
		url, err := c.Ensure(ctx, "rubrica")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, url)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// openDB connects to DATABASE_URL, or to the private cluster when it is unset, and applies
// the migrations.
func openDB(ctx context.Context, cfg config, logger *slog.Logger) (*db.DB, string, error) {
	url := cfg.DatabaseURL
	if url == "" {
		dir, _ := filepath.Abs(cfg.DataDir)
		logger.Info("DATABASE_URL is unset: using the private PostgreSQL cluster", "dir", dir)
		var err error
		if url, err = (&localpg.Cluster{Dir: cfg.DataDir, Logger: logger}).Ensure(ctx, "rubrica"); err != nil {
			return nil, "", err
		}
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		return nil, "", err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, "", err
	}
	return d, url, nil
}

func serve(ctx context.Context, cfg config, logger *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	demoFlag := fs.Bool("demo", false, "seed the demo workspace into an empty database and print its tokens; without DATABASE_URL, use the private development cluster")
	devFlag := fs.Bool("dev", false, "without DATABASE_URL, use the private development cluster under DATA_DIR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" && !*demoFlag && !*devFlag {
		return errors.New("DATABASE_URL is unset: set it to the PostgreSQL database to serve, " +
			"or run `rubrica serve --dev` (or --demo) to use the throwaway development cluster under DATA_DIR")
	}
	setGCPercent()
	logger.Info("starting", "version", versionString(), "config", cfg)
	d, dsn, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return fmt.Errorf("listen on port %s: %w", cfg.Port, err)
	}
	base := "http://localhost:" + cfg.Port
	if *demoFlag {
		res, err := demo.Ensure(ctx, d.Services(), d.Admin())
		if err != nil {
			return err
		}
		if res != nil {
			res.WorkspaceID = graph.WorkspaceID(res.WorkspaceID)
		}
		printWelcome(stdout, base, res)
	}
	bus := db.NewBus(d, dsn, db.BusConfig{Retention: cfg.EventRetention, Logger: logger})
	// The event bus lives as long as the server; if it fails, the server stops too: an instance
	// that cannot deliver events must not look healthy.
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	var busErr error
	busDone := make(chan struct{})
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(busDone)
		if busErr = bus.Run(busCtx); busErr != nil {
			logger.Error("event bus stopped", "err", busErr)
			stopServe()
		}
	}()
	defer func() {
		stopBus()
		<-busDone
	}()
	// The job worker stops with the signal, so that it releases its job before the server
	// drains; another instance (or the next start) takes the job over at once.
	jobsCfg := cfg.Jobs
	jobsCfg.Logger = logger
	jobs := db.NewJobWorker(d, dsn, jobsCfg)
	jobsDone := make(chan struct{})
	jobsCtx, stopJobs := context.WithCancel(serveCtx)
	go func() {
		defer close(jobsDone)
		if err := jobs.Run(jobsCtx); err != nil {
			logger.Error("job worker stopped: background jobs wait for another instance", "err", err)
		}
	}()
	defer func() {
		stopJobs()
		<-jobsDone
	}()
	services := d.Services()
	services.Events = bus
	var tp trace.TracerProvider // nil: no tracing
	if cfg.OTLPEndpoint != "" {
		sdk, shutdown, err := tracing.Setup(ctx, versionString())
		if err != nil {
			return err
		}
		defer func() {
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := shutdown(flushCtx); err != nil {
				logger.Warn("tracing: spans not exported at shutdown", "err", err)
			}
		}()
		tp = sdk
	}
	srv := server.New(server.Config{
		TracerProvider: tp,
		Services:       services, Ready: d.Ready, DB: d.DB.DB, Logger: logger, AllowedOrigins: cfg.AllowedOrigins,
		Introspection: cfg.Introspection, MaxComplexity: cfg.MaxComplexity, LoaderWait: cfg.LoaderWait,
		AuthFailureRate: authFailureRate(cfg.AuthFailureRate), AuthFailureBurst: cfg.AuthFailureBurst,
		AuthCacheTTL: cfg.AuthCacheTTL, AuthCacheSize: cfg.AuthCacheSize,
		MaxRequestBytes: int64(cfg.MaxRequestBytes), BodyReadTimeout: cfg.BodyReadTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, RequestTimeout: cfg.RequestTimeout,
		Limits: cfg.Limits, MaxSubscriptions: cfg.MaxSubscriptions,
	})
	logger.Info("serving", "addr", ln.Addr().String(), "explorer", base+"/")
	if err := srv.Serve(serveCtx, ln); err != nil {
		return err
	}
	stopBus()
	<-busDone
	return busErr
}

// authFailureRate is the server's setting for AUTH_FAILURE_RATE, where 0 means no limit.
func authFailureRate(perMinute float64) float64 {
	if perMinute == 0 {
		return -1
	}
	return perMinute
}

func printWelcome(w io.Writer, base string, res *demo.Result) {
	fmt.Fprintf(w, "\nRubrica is running: open the explorer at %s/\n", base)
	if res == nil {
		fmt.Fprintln(w, "The database holds workspaces but no demo: create a token with `rubrica token create`.")
		return
	}
	fmt.Fprintf(w, "Demo workspace %s. New tokens for its members (shown once, stored only as hashes):\n", res.WorkspaceID)
	for _, role := range []rubrica.Role{rubrica.RoleOwner, rubrica.RoleManager, rubrica.RoleAgent} {
		fmt.Fprintf(w, "  %-8s %s\n           %s/#token=%s\n", role, res.Tokens[role], base, res.Tokens[role])
	}
	fmt.Fprintf(w, "\nTry: curl -s %s/graphql -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n", base, res.Tokens[rubrica.RoleOwner])
	fmt.Fprintln(w, `       -d '{"query":"{ viewer { name role } contacts(first: 3) { totalCount edges { node { displayName phone } } } }"}'`)
	fmt.Fprintln(w)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// defaultGCPercent is the server's GOGC when the environment sets none. A request's
// garbage (gqlgen allocates per field) is large beside the server's small live heap, so
// Go's default 100 collects very often: 200 serves 1.16x the contacts pages at
// concurrency 16 for about twice the (small) heap. GOGC in the environment wins.
const defaultGCPercent = 200

// gcPercent is the GOGC in force: the environment's, else defaultGCPercent.
func gcPercent() string {
	if v, set := os.LookupEnv("GOGC"); set {
		return v
	}
	return strconv.Itoa(defaultGCPercent)
}

func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
