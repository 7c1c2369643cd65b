package clerkdb_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/testdb"
)

// examplePool is the database the Example functions share: they get no
// *testing.T, so they cannot each have one. Every example writes its own ids.
var examplePool *pgxpool.Pool

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	url, drop, err := testdb.NewShared(ctx, "clerkdb_examples")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clerkdb tests need Postgres:", err)
		return 1
	}
	defer func() {
		if err := drop(); err != nil {
			fmt.Fprintln(os.Stderr, "drop the clerkdb examples database:", err)
		}
	}()
	examplePool, err = pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer examplePool.Close()
	return m.Run()
}
