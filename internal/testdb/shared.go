package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/migrations"
)

// NewShared creates a migrated database outside any test, for a package's
// TestMain: example functions (func ExampleX()) get no *testing.T, so they
// cannot have a database of their own and share this one. It returns the
// database's URL and a function that drops it. prefix names the database,
// so a leftover one says which package left it.
func NewShared(ctx context.Context, prefix string) (url string, drop func() error, err error) {
	server := ServerURL()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", "SYNCD_TEST_DATABASE_URL", err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := neturl.Parse(server)
	if err != nil {
		return "", nil, fmt.Errorf("SYNCD_TEST_DATABASE_URL must be a postgres:// URL: %w", err)
	}
	u.Path = "/" + name
	url = u.String()
	drop = func() error {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	}
	if err := migrate(ctx, url); err != nil {
		_ = drop() // the migration's error is the one to report
		return "", nil, err
	}
	return url, drop, nil
}

func migrate(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := store.NewMigrator(pool, migrations.FS, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrate test database: %w", err)
	}
	return nil
}
