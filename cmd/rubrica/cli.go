package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"

	"rubrica/internal/reqid"
)

// version is the release, set at build time from a git tag:
//
//	go build -ldflags "-X main.version=v1.2.0" ./cmd/rubrica
//
// (make build does it with `git describe`). Empty: the module version from the build info,
// "(devel)" for a build from a working tree.
var version = ""

// commandHelp is what `rubrica <command> --help` prints.
var commandHelp = map[string]string{
	"serve": `usage: rubrica serve [--demo | --dev]

Serves the GraphQL API, the explorer, /healthz, /readyz and /metrics on PORT, on the database
at DATABASE_URL (migrated first). Without DATABASE_URL it refuses to start, unless:
  --dev    use the throwaway development cluster under DATA_DIR (trust authentication)
  --demo   the same, and seed the demo workspace into an empty database and print its tokens
           (with DATABASE_URL set, --demo seeds that database)
`,
	"migrate": `usage: rubrica migrate

Applies the schema migrations to DATABASE_URL (or the development cluster) and exits.
`,
	"seed": `usage: rubrica seed --demo

Creates the demo workspace and prints {"workspaceId", "tokens": {"OWNER", "MANAGER", "AGENT"}}.
`,
	"workspace": `usage: rubrica workspace create --name N --owner-email E

Creates a workspace and its owner; prints {"workspaceId", "token"}.
`,
	"token": `usage: rubrica token create --workspace W --email E --role OWNER|MANAGER|AGENT [--expires 30d]
       rubrica token list --workspace W
       rubrica token revoke --workspace W --id ID

create adds or finds the member and prints a new token (shown once; --expires in whole d, h
or m); list prints the workspace's tokens, never a token itself; revoke refuses a token from
then on and closes its websockets on every instance.
`,
	"member": `usage: rubrica member remove --workspace W --email E

Removes a member: their tokens revoked, their contacts unassigned, their websockets closed.
`,
	"suggestions": `usage: rubrica suggestions rebuild --workspace W

Recomputes the workspace's merge suggestions.
`,
	"devdb": `usage: rubrica devdb [url | stop]

Starts (or reuses) the private development cluster under DATA_DIR and prints its URL, or stops it.
`,
	"version": `usage: rubrica version

Prints the version, the commit and the Go version of this binary (also rubrica --version).
`,
}

// helpOrVersion answers `version`, `--version`, `help [command]` and `<command> ... --help`
// (done is true then); anything else is for the commands.
func helpOrVersion(args []string, stdout io.Writer) (done bool, err error) {
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			help, ok := commandHelp[args[0]]
			if !ok {
				return true, fmt.Errorf("unknown command %q (rubrica --help lists them)", args[0])
			}
			fmt.Fprint(stdout, help)
			return true, nil
		}
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return true, nil
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && commandHelp[args[1]] != "" {
			fmt.Fprint(stdout, commandHelp[args[1]])
		} else {
			fmt.Fprint(stdout, usage)
		}
		return true, nil
	}
	return false, nil
}

// versionString is "rubrica <version> ([commit <rev>, [modified, ]]<go version> <os>/<arch>)",
// from the -ldflags version or else the build info.
func versionString() string {
	v, rev, modified := version, "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rubrica %s (", v)
	if rev != "" { // the build info has it unless built with -buildvcs=false
		fmt.Fprintf(&b, "commit %s, ", rev)
		if modified {
			b.WriteString("modified, ")
		}
	}
	fmt.Fprintf(&b, "%s %s/%s)", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

// newLogger is the process's logger: LOG_FORMAT (text or json) on w at LOG_LEVEL, every line
// written with a request's context carrying its request_id.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(reqid.LogHandler(h))
}
