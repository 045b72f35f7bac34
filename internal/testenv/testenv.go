// Package testenv runs a real Rubrica server for tests: a fresh database, the real GraphQL
// handler over real HTTP, and helpers to create workspaces and send GraphQL requests.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
	"rubrica/server"
)

// Env is one test's server and database.
type Env struct {
	DB      *db.DB
	DSN     string        // the test database's URL
	Bus     *db.Bus       // this server's event bus
	Jobs    *db.JobWorker // this server's job worker; nil when made by NewWithJobs(tb, nil)
	Server  *httptest.Server
	App     *server.Server  // the server Server serves
	Counter *dbtest.Counter // counts SQL statements (see dbtest.MustOpenCountingDB)

	authCacheTTL time.Duration // the server's AuthCacheTTL, which a Peer takes too
}

// New starts a server on a fresh database for one test.
func New(tb testing.TB) *Env {
	tb.Helper()
	return NewWithConfig(tb, nil)
}

// NewWithConfig is New with a chance to change the server's configuration (loader wait,
// complexity limit, introspection) before the server starts; configure may be nil.
func NewWithConfig(tb testing.TB, configure func(*server.Config)) *Env {
	tb.Helper()
	return NewWithOptions(tb, Options{Server: configure})
}

// NewWithJobs is New with the job worker configured by jobs, or with no job worker at all
// when jobs is nil (jobs then stay QUEUED until the test runs a worker of its own).
func NewWithJobs(tb testing.TB, jobs *db.JobWorkerConfig) *Env {
	tb.Helper()
	return NewWithOptions(tb, Options{Jobs: jobs, NoJobs: jobs == nil})
}

// Options configure a test's server, event bus and job worker.
type Options struct {
	Server func(*server.Config) // changes the server's configuration; may be nil
	Bus    db.BusConfig         // the event bus's configuration (its Logger is set if nil)
	Jobs   *db.JobWorkerConfig  // the job worker's configuration; nil: polling every 100ms
	NoJobs bool                 // run no job worker
}

// NewWithOptions is New with the server, event bus and job worker configured by opts.
func NewWithOptions(tb testing.TB, opts Options) *Env {
	tb.Helper()
	configure := opts.Server
	jobsCfg := opts.Jobs
	if jobsCfg == nil && !opts.NoJobs {
		jobsCfg = &db.JobWorkerConfig{Poll: 100 * time.Millisecond}
	}
	d, counter, dsn := dbtest.MustOpenCountingDB(tb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	// The event bus reads on a pool of its own, so that its reads never count as the
	// statements of a request.
	busDB, err := db.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	busCfg := opts.Bus
	if busCfg.Logger == nil {
		busCfg.Logger = logger
	}
	bus := db.NewBus(busDB, dsn, busCfg)
	ctx, cancel := context.WithCancel(context.Background())
	busDone := make(chan struct{})
	go func() {
		defer close(busDone)
		// An error after the test ended (its start cancelled) is no error of the test.
		if err := bus.Run(ctx); err != nil && ctx.Err() == nil {
			tb.Errorf("event bus: %v", err)
		}
	}()
	// The job worker, like the bus, runs on that other pool: its polling is no request's.
	var jobs *db.JobWorker
	jobsDone := make(chan struct{})
	if jobsCfg != nil {
		cfg := *jobsCfg
		if cfg.Logger == nil {
			cfg.Logger = logger
		}
		jobs = db.NewJobWorker(busDB, dsn, cfg)
		go func() {
			defer close(jobsDone)
			if err := jobs.Run(ctx); err != nil && ctx.Err() == nil {
				tb.Errorf("job worker: %v", err)
			}
		}()
	} else {
		close(jobsDone)
	}
	tb.Cleanup(func() {
		cancel()
		<-busDone
		<-jobsDone
		busDB.Close()
	})
	services := d.Services()
	services.Events = bus
	// No authentication cache unless the test asks for one: whether a request looks its
	// token up then depends on nothing but the request, as the statement counts need.
	cfg := server.Config{
		Services: services, Ready: d.Ready, DB: d.DB.DB, Logger: logger, Introspection: true,
		AuthCacheTTL: -1,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv := server.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &Env{DB: d, DSN: dsn, Bus: bus, Jobs: jobs, Server: ts, App: srv, Counter: counter, authCacheTTL: cfg.AuthCacheTTL}
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Workspace is a workspace made for a test, with a token for each role.
type Workspace struct {
	ID     string // local id
	Tokens map[rubrica.Role]string
}

// Workspace creates a workspace with an owner, a manager and an agent.
func (e *Env) Workspace(tb testing.TB, name string) *Workspace {
	tb.Helper()
	ctx := context.Background()
	admin := e.DB.Admin()
	ws, owner, err := admin.CreateWorkspace(ctx, name, "owner@"+slug(name)+".test")
	if err != nil {
		tb.Fatal(err)
	}
	out := &Workspace{ID: ws.ID, Tokens: map[rubrica.Role]string{rubrica.RoleOwner: owner}}
	for _, role := range []rubrica.Role{rubrica.RoleManager, rubrica.RoleAgent} {
		tok, err := admin.CreateToken(ctx, ws.ID, string(role)+"@"+slug(name)+".test", role)
		if err != nil {
			tb.Fatal(err)
		}
		out.Tokens[role] = tok
	}
	return out
}

func slug(s string) string {
	b := []byte{}
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b = append(b, byte(r))
		} else if r >= 'A' && r <= 'Z' {
			b = append(b, byte(r-'A'+'a'))
		}
	}
	if len(b) == 0 {
		return "ws"
	}
	return string(b)
}

// Owner, Manager and Agent return the workspace's token for that role.
func (w *Workspace) Owner() string   { return w.Tokens[rubrica.RoleOwner] }
func (w *Workspace) Manager() string { return w.Tokens[rubrica.RoleManager] }
func (w *Workspace) Agent() string   { return w.Tokens[rubrica.RoleAgent] }

// Error is one GraphQL error of a response.
type Error struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"extensions"`
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Code returns the code of the first error, or "" when there is none.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Code
}

// Field returns the extensions.field of the first error.
func (r *Response) Field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Field
}

// Decode unmarshals the data into v.
func (r *Response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Data, err)
	}
}

// Do POSTs a GraphQL request with the token (none when empty) and returns the response.
func (e *Env) Do(tb testing.TB, token, query string, vars map[string]any) *Response {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	out := &Response{Status: res.StatusCode}
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("response %d %q: %v", res.StatusCode, b, err)
	}
	return out
}

// MustDo is Do that fails the test on any GraphQL error and decodes the data into v (if not nil).
func (e *Env) MustDo(tb testing.TB, token, query string, vars map[string]any, v any) {
	tb.Helper()
	r := e.Do(tb, token, query, vars)
	if len(r.Errors) > 0 {
		tb.Fatalf("unexpected errors: %+v\nquery: %s", r.Errors, query)
	}
	if v != nil {
		r.Decode(tb, v)
	}
}

// RunJobWorker runs a job worker of the test's own, on a pool of its own, until the test ends
// or stop is called; stop waits for the worker to release its job and return.
func (e *Env) RunJobWorker(tb testing.TB, cfg db.JobWorkerConfig) (w *db.JobWorker, stop func()) {
	tb.Helper()
	d, err := db.Open(context.Background(), e.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w = db.NewJobWorker(d, e.DSN, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil && ctx.Err() == nil {
			tb.Errorf("job worker: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			d.Close()
		})
	}
	tb.Cleanup(stop)
	return w, stop
}
