// Package db implements the rubrica services on PostgreSQL with sqlx and lib/pq: one exported
// method is one transaction, SQL sits next to its method, and every statement is scoped to
// the actor's workspace. It also holds the embedded migrations.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"

	"rubrica"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the PostgreSQL database behind every service.
type DB struct {
	*sqlx.DB
	notify   *notifier    // wakes the event listeners after commits that published events
	channels channelTypes // the types of channels seen, which never change
}

// Open connects to the database at url, through NewConnector's guard, and checks that it
// answers.
func Open(ctx context.Context, url string) (*DB, error) {
	c, err := NewConnector(url)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	return New(ctx, sql.OpenDB(c))
}

// maxOpenConns is the most connections one server opens to the database.
const maxOpenConns = 40

// New wraps an open *sql.DB (of NewConnector, possibly instrumented) and checks that it
// answers.
func New(ctx context.Context, sqlDB *sql.DB) (*DB, error) {
	// As many idle connections as open ones: under load the connections in use go up and down
	// by a few, and every one closed beyond the idle cap was opened again a moment later (a
	// backend forked, its statements prepared again: 200 new sessions in 9 s of receives at
	// concurrency 32 with 20 idle). Idle ones still close after ConnMaxIdleTime.
	sqlDB.SetMaxOpenConns(maxOpenConns)
	sqlDB.SetMaxIdleConns(maxOpenConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	x := sqlx.NewDb(sqlDB, "postgres")
	return &DB{DB: x, notify: newNotifier(x)}, nil
}

// Close sends the last wake-up due for its events, then closes the pool.
func (db *DB) Close() error {
	if db.notify.db == db.DB {
		db.notify.close()
	}
	return db.DB.Close()
}

// WakeListenersThrough sends the wake-ups due after this pool's commits through other, a pool
// on the same database (by default a pool sends its own): tests count the statements of one
// pool, and a wake-up is no request's statement.
func (db *DB) WakeListenersThrough(other *DB) {
	db.notify = other.notify
}

func newProvider(sqlDB *sql.DB) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, mustSub(migrations, "migrations"))
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	return p, nil
}

// Migrate applies the migrations not applied yet, each in its own transaction.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := newProvider(db.DB.DB)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	return nil
}

// MigrateTo applies the migrations not applied yet up to version (for tests of a migration
// on a database filled by the version before).
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := newProvider(db.DB.DB)
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("db: migrate to %d: %w", version, err)
	}
	return nil
}

// Ready reports an error unless the database answers and every migration is applied.
func (db *DB) Ready(ctx context.Context) error {
	p, err := newProvider(db.DB.DB)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("db: readiness: %w", err)
	}
	if pending {
		return errors.New("db: migrations pending")
	}
	return nil
}

// Services returns the domain services backed by this database.
func (db *DB) Services() rubrica.Services {
	return rubrica.Services{
		Auth:          &AuthService{db: db},
		Workspaces:    &WorkspaceService{db: db},
		Contacts:      &ContactService{db: db},
		Tags:          &TagService{db: db},
		Channels:      &ChannelService{db: db},
		Conversations: &ConversationService{db: db},
		Merges:        &MergeService{db: db},
		Blocks:        &BlockService{db: db},
		Workflows:     &WorkflowService{db: db},
		Billing:       &BillingService{db: db},
		Deletes:       &DeleteService{db: db},
		Jobs:          &JobService{db: db},
		Exports:       &ExportService{db: db},
	}
}

// inTx runs fn in one transaction and commits it when fn returns nil.
// A transaction whose suggestion refresh needed its locks out of order runs again (see
// dupLocks), so fn must not keep state from one run to the next.
func (db *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return retryLockOrder(func(hint *lockHint) error {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("db: begin: %w", err)
		}
		defer tx.Rollback()
		defer publishedTxs.Delete(tx)
		if hint != nil {
			lockHints.Store(tx, *hint)
			defer lockHints.Delete(tx)
		}
		if err := fn(tx); err != nil {
			var lo *errLockOrder
			if errors.As(err, &lo) {
				return lo
			}
			return translate(err)
		}
		return db.commit(tx)
	})
}

// commit commits tx and, if it published events, wakes the event listeners (after the
// commit, outside the transaction: see notifier).
func (db *DB) commit(tx *sqlx.Tx) error {
	if err := tx.Commit(); err != nil {
		publishedTxs.Delete(tx)
		return translate(fmt.Errorf("db: commit: %w", err))
	}
	if _, ok := publishedTxs.LoadAndDelete(tx); ok {
		db.notify.wake()
	}
	return nil
}

// translate turns the PostgreSQL errors a client may cause into rubrica errors; other errors
// pass unchanged and reach the client as INTERNAL.
func translate(err error) error {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return err
	}
	switch pqErr.Code {
	case "22021", "22P05": // character_not_in_repertoire, untranslatable_character (NUL)
		return &rubrica.Error{Code: rubrica.EINVALID, Message: "Text may not contain NUL characters."}
	case "23505": // unique_violation
		return &rubrica.Error{Code: rubrica.ECONFLICT, Message: "That already exists.", Field: ""}
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return &rubrica.Error{Code: rubrica.ECONFLICT, Message: "A concurrent change got there first; try again."}
	}
	return err
}

// validID reports whether id can be a local id (a UUID): anything else names nothing.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// validIDs keeps the ids that can be local ids.
func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			out = append(out, id)
		}
	}
	return out
}

// likePattern returns a LIKE pattern that matches s anywhere, with LIKE's wildcards escaped.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// args builds a statement's numbered parameters.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// MigrationsFS returns the embedded migrations (for tests that name a template after them).
func MigrationsFS() fs.FS { return mustSub(migrations, "migrations") }

// getByID reads the one row query finds for $1 = id and $2 = workspaceID. An id that is no
// local id, or that names nothing in the workspace (another workspace's included), is
// NOT_FOUND about field. more are the parameters from $3 on.
func getByID[R any](ctx context.Context, q sqlx.QueryerContext, typ, field, query, id, workspaceID string, more ...any) (*R, error) {
	if !validID(id) {
		return nil, rubrica.NotFound(field, typ)
	}
	var row R
	if err := sqlx.GetContext(ctx, q, &row, query, append([]any{id, workspaceID}, more...)...); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound(field, typ)
	} else if err != nil {
		return nil, fmt.Errorf("db: find %s: %w", typ, err)
	}
	return &row, nil
}

// aliased names each column of a list like contactColumns ("c.id, c.workspace_id, ...")
// after its table alias too (c.id AS "c.id"), so that one row can fill several row structs:
// sqlx scans "c.id" into the field Contact.ID of a struct whose field Contact is tagged
// db:"c".
func aliased(columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = c + ` AS "` + c + `"`
	}
	return strings.Join(cols, ", ")
}

// forUpdate returns the locking clause a read needs.
func forUpdate(lock bool) string {
	if lock {
		return ` FOR UPDATE`
	}
	return ""
}
