package testenv

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"rubrica/db"
	"rubrica/server"
)

// Peer starts a second server instance on the env's database, as another process would run
// it: a pool, an event bus (its own LISTEN connection) and an HTTP server of its own, and no
// job worker, and the env's authentication cache setting. Its DB, Bus and Server are its
// own; DSN is shared.
func (e *Env) Peer(tb testing.TB) *Env {
	tb.Helper()
	d, err := db.Open(context.Background(), e.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := db.NewBus(d, e.DSN, db.BusConfig{Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := bus.Run(ctx); err != nil && ctx.Err() == nil {
			tb.Errorf("peer's event bus: %v", err)
		}
	}()
	services := d.Services()
	services.Events = bus
	srv := server.New(server.Config{Services: services, Ready: d.Ready, Logger: logger, Introspection: true, AuthCacheTTL: e.authCacheTTL})
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
		d.Close()
	})
	return &Env{DB: d, DSN: e.DSN, Bus: bus, Server: ts, App: srv, authCacheTTL: e.authCacheTTL}
}
