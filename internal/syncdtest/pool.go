package syncdtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPool opens a pool on the database at url, for a test to read what
// syncd wrote; it is closed when t ends.
func OpenPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
