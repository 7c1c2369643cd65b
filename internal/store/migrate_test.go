package store_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
	"github.com/syncd/syncd/migrations"
)

func TestMigrateDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)
	m := newMigrator(t, pool)

	if err := m.Current(ctx); err != nil {
		t.Fatalf("fresh test database should be current: %v", err)
	}
	// Down rolls back one clerk migration at a time, newest first; River's
	// tables stay.
	clerkMigrations := countClerkMigrations(t)
	for i := range clerkMigrations {
		down, err := m.Down(ctx)
		if err != nil {
			t.Fatalf("down %d: %v", i+1, err)
		}
		if len(down) != 1 || down[0].Component != "clerk" {
			t.Fatalf("down %d rolled back %+v, want one clerk migration", i+1, down)
		}
		if err := m.Current(ctx); !errors.Is(err, store.ErrMigrationsPending) {
			t.Fatalf("after down, Current = %v, want ErrMigrationsPending", err)
		}
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('clerk.users') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Fatalf("clerk.users exists=%v err=%v after every down", exists, err)
	}
	up, err := m.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if len(up) != clerkMigrations {
		t.Fatalf("up applied %+v, want the %d clerk migrations only (River's were still there)", up, clerkMigrations)
	}
	if err := m.Current(ctx); err != nil {
		t.Fatalf("after up again: %v", err)
	}
	again, err := m.Up(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second up applied %+v err %v, want nothing", again, err)
	}
}

func TestMigrateStatusListsBothComponents(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	states, err := newMigrator(t, pool).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, s := range states {
		if !s.Applied {
			t.Errorf("%s %d %s not applied", s.Component, s.Version, s.Name)
		}
		seen[s.Component]++
	}
	if seen["clerk"] == 0 || seen["river"] == 0 {
		t.Fatalf("status covers %v, want clerk and river migrations", seen)
	}
}

func TestConcurrentMigrateUpOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)
	// Start from nothing: drop what the template applied.
	if _, err := pool.Exec(ctx, `DROP SCHEMA clerk CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public;`); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			m, err := store.NewMigrator(pool, migrations.FS, nil)
			if err != nil {
				errs <- err
				return
			}
			defer m.Close()
			_, err = m.Up(ctx)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent migrate up: %v", err)
		}
	}
	if err := newMigrator(t, pool).Current(ctx); err != nil {
		t.Fatalf("after concurrent ups: %v", err)
	}
}

func newMigrator(t *testing.T, pool *pgxpool.Pool) *store.Migrator {
	t.Helper()
	m, err := store.NewMigrator(pool, migrations.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// countClerkMigrations counts the embedded goose migrations.
func countClerkMigrations(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v (%d files)", err, len(files))
	}
	return len(files)
}
