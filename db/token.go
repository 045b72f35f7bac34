package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"rubrica"
)

// TokenPrefix starts every API token, so that a leaked one is easy to recognise.
const TokenPrefix = "rbk_"

// tokenBytes is the randomness of a token: 256 bits, 43 characters of base64url.
const tokenBytes = 32

// tokenRow is a token with its member.
type tokenRow struct {
	TokenID        string     `db:"token_id"`
	TokenCreatedAt time.Time  `db:"token_created_at"`
	ExpiresAt      *time.Time `db:"expires_at"`
	RevokedAt      *time.Time `db:"revoked_at"`
	memberRow
}

// tokenSelect reads tokenRows; the caller adds the conditions on t (api_tokens) and m (members).
const tokenSelect = `SELECT t.id AS token_id, t.created_at AS token_created_at, t.expires_at, t.revoked_at,
	m.id, m.workspace_id, m.name, m.email, m.role, m.created_at, m.removed_at
	FROM api_tokens t JOIN members m ON m.id = t.member_id`

func (r *tokenRow) token() *rubrica.APIToken {
	return &rubrica.APIToken{ID: r.TokenID, Member: r.member(), CreatedAt: r.TokenCreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt}
}

// CreateExpiringToken adds or finds the member and returns a new token for it that expires at
// expiresAt (nil: never).
func (s *WorkspaceService) CreateExpiringToken(ctx context.Context, workspaceID, email string, role rubrica.Role, expiresAt *time.Time) (string, *rubrica.APIToken, error) {
	if !role.Valid() {
		return "", nil, rubrica.InvalidField("role", "role must be OWNER, MANAGER or AGENT.")
	}
	addr, err := rubrica.NormalizeEmail("email", &email)
	if err != nil || addr == nil {
		return "", nil, rubrica.InvalidField("email", "%s is not a valid email address.", rubrica.Quoted(email))
	}
	if expiresAt != nil && !expiresAt.After(time.Now()) {
		return "", nil, rubrica.InvalidField("expiresAt", "a token must expire in the future.")
	}
	if !validID(workspaceID) {
		return "", nil, rubrica.NotFound("workspace", "Workspace")
	}
	var token string
	var rec *rubrica.APIToken
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := findWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		token, rec, err = createToken(ctx, tx, workspaceID, *addr, role, expiresAt)
		return err
	})
	return token, rec, err
}

// createToken finds or adds the member and stores a new token for it. A member found with
// another role is an error: a token never changes what a member may do. A removed member is
// not found: the email makes a new member.
func createToken(ctx context.Context, tx *sqlx.Tx, workspaceID, email string, role rubrica.Role, expiresAt *time.Time) (string, *rubrica.APIToken, error) {
	var m memberRow
	const find = `SELECT ` + memberColumns + ` FROM members WHERE workspace_id = $1 AND lower(email) = lower($2) AND removed_at IS NULL`
	err := tx.GetContext(ctx, &m, find, workspaceID, email)
	if errors.Is(err, sql.ErrNoRows) {
		name, _, _ := strings.Cut(email, "@")
		const insert = `INSERT INTO members (workspace_id, email, name, role) VALUES ($1, $2, $3, $4) RETURNING ` + memberColumns
		err = tx.GetContext(ctx, &m, insert, workspaceID, email, name, string(role))
	}
	if err != nil {
		return "", nil, fmt.Errorf("db: find or add member: %w", err)
	}
	if rubrica.Role(m.Role) != role {
		return "", nil, rubrica.InvalidField("role", "%s is already a member with role %s.", email, m.Role)
	}
	token, hash, err := newToken()
	if err != nil {
		return "", nil, err
	}
	row := tokenRow{memberRow: m, ExpiresAt: expiresAt}
	const insert = `INSERT INTO api_tokens (token_hash, member_id, expires_at) VALUES ($1, $2, $3) RETURNING id, created_at`
	if err := tx.QueryRowxContext(ctx, insert, hash, m.ID, expiresAt).Scan(&row.TokenID, &row.TokenCreatedAt); err != nil {
		return "", nil, fmt.Errorf("db: insert token: %w", err)
	}
	return token, row.token(), nil
}

// newToken returns a random token and the hash it is stored as.
func newToken() (token string, hash []byte, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("db: token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// WellFormedToken reports whether token has the shape of a token newToken makes: TokenPrefix
// and 43 base64url characters. Anything else is refused without a database lookup.
func WellFormedToken(token string) bool {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil && len(b) == tokenBytes
}

// AuthService implements rubrica.AuthService.
type AuthService struct {
	db *DB
}

// Authenticate returns the member a token belongs to. An unknown, revoked or expired token,
// and the token of a removed member, are all the same UNAUTHENTICATED error.
func (s *AuthService) Authenticate(ctx context.Context, token string) (rubrica.Actor, error) {
	bad := rubrica.Errorf(rubrica.EUNAUTHENTICATED, "The token is not valid.")
	if !WellFormedToken(token) {
		return rubrica.Actor{}, bad
	}
	var row tokenRow
	const q = tokenSelect + ` WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
		AND m.removed_at IS NULL`
	if err := s.db.GetContext(ctx, &row, q, hashToken(token)); errors.Is(err, sql.ErrNoRows) {
		return rubrica.Actor{}, bad
	} else if err != nil {
		return rubrica.Actor{}, fmt.Errorf("db: authenticate: %w", err)
	}
	a := rubrica.Actor{MemberID: row.ID, WorkspaceID: row.WorkspaceID, Role: rubrica.Role(row.Role), TokenID: row.TokenID}
	if row.ExpiresAt != nil {
		a.ExpiresAt = *row.ExpiresAt
	}
	return a, nil
}

// FindAPITokens lists the workspace's tokens, newest first; owners only.
func (s *WorkspaceService) FindAPITokens(ctx context.Context) ([]*rubrica.APIToken, error) {
	a, err := rubrica.RequireOwner(ctx, "see the API tokens")
	if err != nil {
		return nil, err
	}
	return listTokens(ctx, s.db, a.WorkspaceID)
}

// ListWorkspaceTokens lists the workspace's tokens, newest first (the command line's).
func (s *WorkspaceService) ListWorkspaceTokens(ctx context.Context, workspaceID string) ([]*rubrica.APIToken, error) {
	if !validID(workspaceID) {
		return nil, rubrica.NotFound("workspace", "Workspace")
	}
	if _, err := findWorkspace(ctx, s.db, workspaceID); err != nil {
		return nil, err
	}
	return listTokens(ctx, s.db, workspaceID)
}

func listTokens(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]*rubrica.APIToken, error) {
	var rows []tokenRow
	if err := sqlx.SelectContext(ctx, q, &rows, tokenSelect+` WHERE m.workspace_id = $1 ORDER BY t.created_at DESC, t.id`, workspaceID); err != nil {
		return nil, fmt.Errorf("db: list tokens: %w", err)
	}
	out := make([]*rubrica.APIToken, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

// FindAPITokenByID returns one token of the workspace; owners only.
func (s *WorkspaceService) FindAPITokenByID(ctx context.Context, id string) (*rubrica.APIToken, error) {
	a, err := rubrica.RequireOwner(ctx, "see the API tokens")
	if err != nil {
		return nil, err
	}
	row, err := findToken(ctx, s.db, a.WorkspaceID, id, false)
	if err != nil {
		return nil, err
	}
	return row.token(), nil
}

// findToken reads a token of the workspace, locked when lock is set; any other id is
// NOT_FOUND about tokenId.
func findToken(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string, lock bool) (*tokenRow, error) {
	query := tokenSelect + ` WHERE t.id = $1 AND m.workspace_id = $2`
	if lock {
		query += ` FOR UPDATE OF t`
	}
	return getByID[tokenRow](ctx, q, "ApiToken", "tokenId", query, id, workspaceID)
}

// RevokeToken revokes a token of the actor's workspace; owners only.
func (s *WorkspaceService) RevokeToken(ctx context.Context, id string) (*rubrica.APIToken, error) {
	a, err := rubrica.RequireOwner(ctx, "revoke API tokens")
	if err != nil {
		return nil, err
	}
	return s.revokeToken(ctx, a.WorkspaceID, id)
}

// RevokeWorkspaceToken revokes a token of the workspace (the command line's).
func (s *WorkspaceService) RevokeWorkspaceToken(ctx context.Context, workspaceID, tokenID string) (*rubrica.APIToken, error) {
	if !validID(workspaceID) {
		return nil, rubrica.NotFound("workspace", "Workspace")
	}
	return s.revokeToken(ctx, workspaceID, tokenID)
}

// revokeToken marks the token revoked and announces TOKEN_REVOKED to every instance, which
// closes the connections it authenticated. A revoked token stays as it is.
func (s *WorkspaceService) revokeToken(ctx context.Context, workspaceID, tokenID string) (*rubrica.APIToken, error) {
	var t *rubrica.APIToken
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		row, err := findToken(ctx, tx, workspaceID, tokenID, true)
		if err != nil {
			return err
		}
		if row.RevokedAt != nil {
			t = row.token()
			return nil
		}
		var at time.Time
		if err := tx.GetContext(ctx, &at, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 RETURNING revoked_at`, row.TokenID); err != nil {
			return fmt.Errorf("db: revoke token: %w", err)
		}
		row.RevokedAt = &at
		t = row.token()
		return publish(ctx, tx, newEvent(workspaceID, rubrica.KindAuth, rubrica.TokenRevoked, "", &row.TokenID))
	})
	return t, err
}
