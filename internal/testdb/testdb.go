// Package testdb gives each test its own migrated Postgres database, cloned
// by pgtestdb from a template that is migrated once per schema version, so
// tests run in parallel against the real server without seeing each other.
//
// The server is SYNCD_TEST_DATABASE_URL, or the local default
// postgres://postgres@127.0.0.1:5432/postgres. `make test` sets the variable
// when it had to start a throwaway cluster.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/migrations"
)

// DefaultURL is the server tests use when SYNCD_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the Postgres server the tests run against.
func ServerURL() string {
	if u := os.Getenv("SYNCD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// New creates a fresh, fully migrated database for t and returns a pool on
// it (closed when t ends) and its connection URL.
func New(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := NewURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	cfg.MaxConns = 16
	store.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, url
}

// NewURL creates a fresh, fully migrated database for t and returns its URL,
// for tests that open their own connections (the whole program, say).
func NewURL(t testing.TB) string {
	t.Helper()
	conf, err := serverConfig(ServerURL())
	if err != nil {
		t.Fatalf("SYNCD_TEST_DATABASE_URL: %v", err)
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

func serverConfig(url string) (pgtestdb.Config, error) {
	pc, err := pgconn.ParseConfig(url)
	if err != nil {
		return pgtestdb.Config{}, err
	}
	return pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      pc.Host,
		Port:                      strconv.Itoa(int(pc.Port)),
		User:                      pc.User,
		Password:                  pc.Password,
		Database:                  pc.Database,
		Options:                   "sslmode=disable",
		ForceTerminateConnections: true,
	}, nil
}

// migrator builds pgtestdb's template with syncd's own migration command, so
// tests run against exactly the schema `syncd migrate up` creates.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	// River's migrations come from the module; its version pins them.
	fmt.Fprintf(h, "river:%s", store.RiverMigrationLine())
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	return migrate(ctx, conf.URL())
}
