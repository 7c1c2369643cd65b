package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// gooseTable keeps syncd's migration history apart from any goose history an
// application sharing the database keeps in the default goose_db_version.
const gooseTable = "syncd_goose_db_version"

// migrateLockID serialises whole `migrate` commands (goose and River) across
// replicas. goose takes its own session lock for its half; this one covers
// River's half too, and differs from goose's id so the two never collide.
const migrateLockID int64 = 0x73796e6364 // "syncd"

// ErrMigrationsPending reports that the database is behind the binary.
var ErrMigrationsPending = errors.New("migrations pending: run `syncd migrate up`")

// Migrator applies the clerk schema (goose, over an embedded FS) and River's
// own tables (rivermigrate) to one database.
type Migrator struct {
	pool   *pgxpool.Pool
	db     *sql.DB
	goose  *goose.Provider
	river  *rivermigrate.Migrator[pgx.Tx]
	logger *slog.Logger
}

// NewMigrator prepares a Migrator. migrations is the FS of goose SQL files
// (migrations.FS in production, the same FS in tests).
func NewMigrator(pool *pgxpool.Pool, migrations fs.FS, logger *slog.Logger) (*Migrator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker(
		// Poll every 2 s for up to 5 minutes: a replica that starts while
		// another migrates waits for it rather than failing.
		lock.WithLockTimeout(2, 150),
	)
	if err != nil {
		return nil, fmt.Errorf("goose session locker: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithSessionLocker(locker),
		goose.WithTableName(gooseTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("goose provider: %w", err)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	return &Migrator{pool: pool, db: db, goose: provider, river: rm, logger: logger}, nil
}

// Close releases the database/sql handle wrapped around the pool; the pool
// itself belongs to the caller.
func (m *Migrator) Close() error { return m.db.Close() }

// Applied is one migration that a command applied or rolled back.
type Applied struct {
	Component string // "clerk" or "river"
	Version   int64
	Name      string
	Duration  time.Duration
}

// Up applies every pending migration, the clerk schema first, then River's.
func (m *Migrator) Up(ctx context.Context) ([]Applied, error) {
	var out []Applied
	err := m.withLock(ctx, func(ctx context.Context) error {
		results, err := m.goose.Up(ctx)
		for _, r := range results {
			out = append(out, Applied{Component: "clerk", Version: r.Source.Version, Name: baseName(r.Source.Path), Duration: r.Duration})
		}
		if err != nil {
			return fmt.Errorf("apply clerk schema migrations: %w", err)
		}
		res, err := m.river.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("apply river migrations: %w", err)
		}
		for _, v := range res.Versions {
			out = append(out, Applied{Component: "river", Version: int64(v.Version), Name: v.Name, Duration: v.Duration})
		}
		return nil
	})
	return out, err
}

// Down rolls back the most recent clerk schema migration. River's tables are
// left alone: they hold queued work, and dropping them is a decision for
// rivermigrate's own tooling, not a side effect of rolling back syncd.
func (m *Migrator) Down(ctx context.Context) ([]Applied, error) {
	var out []Applied
	err := m.withLock(ctx, func(ctx context.Context) error {
		r, err := m.goose.Down(ctx)
		if r != nil {
			out = append(out, Applied{Component: "clerk", Version: r.Source.Version, Name: baseName(r.Source.Path), Duration: r.Duration})
		}
		if err != nil {
			if errors.Is(err, goose.ErrNoNextVersion) {
				return nil
			}
			return fmt.Errorf("roll back clerk schema migration: %w", err)
		}
		return nil
	})
	return out, err
}

// MigrationState is one line of `syncd migrate status`.
type MigrationState struct {
	Component string
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time // zero when unknown or pending
}

// Status lists every migration the binary knows and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationState, error) {
	gs, err := m.goose.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("clerk schema migration status: %w", err)
	}
	var out []MigrationState
	for _, s := range gs {
		out = append(out, MigrationState{
			Component: "clerk",
			Version:   s.Source.Version,
			Name:      baseName(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	existing, err := m.riverExisting(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range m.river.AllVersions() {
		at, ok := existing[v.Version]
		out = append(out, MigrationState{Component: "river", Version: int64(v.Version), Name: v.Name, Applied: ok, AppliedAt: at})
	}
	return out, nil
}

// Current returns nil when every migration the binary knows is applied and
// ErrMigrationsPending otherwise. It takes no lock, so /readyz can call it
// while another replica migrates.
func (m *Migrator) Current(ctx context.Context) error {
	pending, err := m.goose.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check clerk schema migrations: %w", err)
	}
	if pending {
		return fmt.Errorf("clerk schema: %w", ErrMigrationsPending)
	}
	existing, err := m.riverExisting(ctx)
	if err != nil {
		return err
	}
	for _, v := range m.river.AllVersions() {
		if _, ok := existing[v.Version]; !ok {
			return fmt.Errorf("river version %d: %w", v.Version, ErrMigrationsPending)
		}
	}
	return nil
}

func (m *Migrator) riverExisting(ctx context.Context) (map[int]time.Time, error) {
	versions, err := m.river.ExistingVersions(ctx)
	if err != nil {
		// A database River never touched has no river_migration table; that
		// is "nothing applied", not a failure.
		if isUndefinedTable(err) {
			return map[int]time.Time{}, nil
		}
		return nil, fmt.Errorf("river migration status: %w", err)
	}
	out := make(map[int]time.Time, len(versions))
	for _, v := range versions {
		out[v.Version] = time.Time{}
	}
	return out, nil
}

// withLock holds a session advisory lock on one pooled connection for the
// whole command, so two replicas starting together migrate one after the
// other.
func (m *Migrator) withLock(ctx context.Context, fn func(context.Context) error) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection for migration lock: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockID); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockID)
	}()
	return fn(ctx)
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}

// RiverMigrationLine names the River migrations this binary carries (their
// highest version), for callers that cache migrated databases.
func RiverMigrationLine() string {
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "unknown"
	}
	all := rm.AllVersions()
	if len(all) == 0 {
		return "none"
	}
	return fmt.Sprintf("main/%d", all[len(all)-1].Version)
}
