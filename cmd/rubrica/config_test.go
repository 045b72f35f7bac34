package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"rubrica/server"
)

// TestLoadConfigHTTPLimits: the HTTP limit settings default to the server's constants, read
// their environment variables and refuse what is not a positive number or duration.
func TestLoadConfigHTTPLimits(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxRequestBytes != server.DefaultMaxRequestBytes || cfg.BodyReadTimeout != server.DefaultBodyReadTimeout ||
		cfg.ReadHeaderTimeout != server.DefaultReadHeaderTimeout || cfg.RequestTimeout != server.DefaultRequestTimeout {
		t.Errorf("defaults: got %d %v %v %v", cfg.MaxRequestBytes, cfg.BodyReadTimeout, cfg.ReadHeaderTimeout, cfg.RequestTimeout)
	}
	cfg, err = loadConfig(env(map[string]string{"MAX_REQUEST_BYTES": "2048", "BODY_READ_TIMEOUT": "3s",
		"READ_HEADER_TIMEOUT": "4s", "REQUEST_TIMEOUT": "1m"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxRequestBytes != 2048 || cfg.BodyReadTimeout != 3*time.Second || cfg.ReadHeaderTimeout != 4*time.Second || cfg.RequestTimeout != time.Minute {
		t.Errorf("set: got %d %v %v %v", cfg.MaxRequestBytes, cfg.BodyReadTimeout, cfg.ReadHeaderTimeout, cfg.RequestTimeout)
	}
	if cfg, err := loadConfig(env(nil)); err != nil || cfg.MaxSubscriptions != server.DefaultMaxSubscriptions {
		t.Errorf("MAX_SUBSCRIPTIONS default: got %d, %v", cfg.MaxSubscriptions, err)
	}
	if cfg, err := loadConfig(env(map[string]string{"MAX_SUBSCRIPTIONS": "3"})); err != nil || cfg.MaxSubscriptions != 3 {
		t.Errorf("MAX_SUBSCRIPTIONS=3: got %d, %v", cfg.MaxSubscriptions, err)
	}
	for name, v := range map[string]string{"MAX_REQUEST_BYTES": "1MiB", "BODY_READ_TIMEOUT": "10", "READ_HEADER_TIMEOUT": "-1s", "REQUEST_TIMEOUT": "0s", "MAX_SUBSCRIPTIONS": "0"} {
		if _, err := loadConfig(env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: got %v, want an error naming the setting", name, v, err)
		}
	}
}

// TestConfigLogMasksPassword: the logged config shows the database without its password and
// the HTTP limits.
func TestConfigLogMasksPassword(t *testing.T) {
	for _, dsn := range []string{"host=db password='s3cr et' dbname=rubrica", "postgres://u:s3cr@et@db/rubrica",
		"postgres://db/rubrica?Password=s3cr%20et", "password s3cr et"} {
		var buf bytes.Buffer
		cfg, _ := loadConfig(func(k string) string { return map[string]string{"DATABASE_URL": dsn}[k] })
		slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
		if out := buf.String(); strings.Contains(out, "s3cr") || !strings.Contains(out, "config.REQUEST_TIMEOUT=30s") {
			t.Errorf("DATABASE_URL %q logged as %s", dsn, out)
		}
	}
}

// TestConfigLogShowsEverySetting: the startup log shows every variable the configuration
// reads, each with the value in force (defaults included: MAX_COMPLEXITY is the real limit,
// not 0), and no secret of the OTLP exporter.
func TestConfigLogShowsEverySetting(t *testing.T) {
	read := map[string]bool{}
	cfg, err := loadConfig(func(k string) string {
		read[k] = true
		return map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer s3cr", "LOG_FORMAT": "json",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel:s3cr@collector:4318"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg)
	out := buf.String()
	if len(read) < 30 {
		t.Fatalf("loadConfig read %d variables, want them all", len(read))
	}
	for name := range read {
		if !strings.Contains(out, "config."+name+"=") {
			t.Errorf("the config log lacks %s: %s", name, out)
		}
	}
	for _, want := range []string{"config.MAX_COMPLEXITY=10000 ", "config.MAX_QUERY_DEPTH=15 ", "config.EVENT_RETENTION=24h0m0s ",
		"config.JOB_BATCH_SIZE=1000 ", "config.JOB_LEASE=30s ", "config.LOG_FORMAT=json ", "config.AUTH_CACHE_TTL=10s "} {
		if !strings.Contains(out, want) {
			t.Errorf("the config log lacks %q: %s", want, out)
		}
	}
	if strings.Contains(out, "s3cr") {
		t.Errorf("the config log shows a secret: %s", out)
	}
}

// TestLoadConfigLogFormat: LOG_FORMAT is text (default) or json, nothing else.
func TestLoadConfigLogFormat(t *testing.T) {
	for v, want := range map[string]string{"": "text", "text": "text", "json": "json"} {
		cfg, err := loadConfig(func(k string) string { return map[string]string{"LOG_FORMAT": v}[k] })
		if err != nil || cfg.LogFormat != want {
			t.Errorf("LOG_FORMAT=%q: got %q, %v; want %q", v, cfg.LogFormat, err, want)
		}
	}
	if _, err := loadConfig(func(k string) string { return map[string]string{"LOG_FORMAT": "xml"}[k] }); err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Errorf("LOG_FORMAT=xml: got %v, want an error naming LOG_FORMAT", err)
	}
}
