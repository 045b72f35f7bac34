package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"rubrica"
	"rubrica/graph"
)

const (
	tokenUsage  = "usage: rubrica token create --workspace W --email E --role R [--expires 30d] | token list --workspace W | token revoke --workspace W --id ID"
	memberUsage = "usage: rubrica member remove --workspace W --email E"
	// maxExpiry bounds --expires, far beyond any sensible token life.
	maxExpiry = 100 * 365 * 24 * time.Hour
)

// tokenJSON is how the command line prints a token: never the token itself or its hash.
type tokenJSON struct {
	ID        string     `json:"id"`
	MemberID  string     `json:"memberId"`
	Email     string     `json:"email"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

func newTokenJSON(t *rubrica.APIToken) tokenJSON {
	return tokenJSON{ID: graph.APITokenID(t.ID), MemberID: graph.MemberID(t.Member.ID), Email: t.Member.Email,
		Role: string(t.Member.Role), CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

// tokenCommand runs `rubrica token create|list|revoke`.
func tokenCommand(ctx context.Context, cfg config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	ws := fs.String("workspace", "", "the workspace id")
	var email, role, expires, id *string
	switch args[0] {
	case "create":
		email = fs.String("email", "", "the member's email")
		role = fs.String("role", "", "OWNER, MANAGER or AGENT")
		expires = fs.String("expires", "", "how long the token lives, such as 30d, 12h or 90m (default: forever)")
	case "list":
	case "revoke":
		id = fs.String("id", "", "the token's id, as `token list` prints it")
	default:
		return errors.New(tokenUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var expiresAt *time.Time
	if expires != nil && *expires != "" {
		d, err := parseExpiry(*expires)
		if err != nil {
			return err
		}
		at := time.Now().Add(d).UTC().Truncate(time.Second)
		expiresAt = &at
	}
	d, _, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	admin, workspaceID := d.Admin(), graph.LocalWorkspaceID(*ws)
	switch args[0] {
	case "create":
		token, t, err := admin.CreateExpiringToken(ctx, workspaceID, *email, rubrica.Role(strings.ToUpper(*role)), expiresAt)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"token": token, "id": graph.APITokenID(t.ID), "expiresAt": t.ExpiresAt})
	case "list":
		tokens, err := admin.ListWorkspaceTokens(ctx, workspaceID)
		if err != nil {
			return err
		}
		out := make([]tokenJSON, len(tokens))
		for i, t := range tokens {
			out[i] = newTokenJSON(t)
		}
		return printJSON(stdout, out)
	}
	t, err := admin.RevokeWorkspaceToken(ctx, workspaceID, graph.LocalAPITokenID(*id))
	if err != nil {
		return err
	}
	return printJSON(stdout, newTokenJSON(t))
}

// parseExpiry reads a token life: a positive whole number of days (d), hours (h) or minutes (m).
func parseExpiry(s string) (time.Duration, error) {
	bad := fmt.Errorf("--expires: %q is not a number of days, hours or minutes such as 30d, 12h or 90m", s)
	if len(s) < 2 {
		return 0, bad
	}
	units := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}
	unit, ok := units[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if !ok || err != nil || n <= 0 || s[0] == '+' {
		return 0, bad
	}
	if n > int64(maxExpiry/unit) {
		return 0, fmt.Errorf("--expires: %q is longer than %d days", s, maxExpiry/(24*time.Hour))
	}
	return time.Duration(n) * unit, nil
}

// memberCommand runs `rubrica member remove`.
func memberCommand(ctx context.Context, cfg config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "remove" {
		return errors.New(memberUsage)
	}
	fs := flag.NewFlagSet("member remove", flag.ContinueOnError)
	ws := fs.String("workspace", "", "the workspace id")
	email := fs.String("email", "", "the member's email")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	d, _, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.Close()
	m, err := d.Admin().RemoveWorkspaceMember(ctx, graph.LocalWorkspaceID(*ws), *email)
	if err != nil {
		return err
	}
	return printJSON(stdout, map[string]any{"id": graph.MemberID(m.ID), "email": m.Email, "role": m.Role, "removedAt": m.RemovedAt})
}
