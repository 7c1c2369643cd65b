package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// BenchmarkUpsertUser is the user row write of the webhook path against a
// table of 20,000 users, one transaction each.
func BenchmarkUpsertUser(b *testing.B) {
	ctx := context.Background()
	pool, _ := testdb.New(b)
	const n = 20000
	users := make([]store.User, n)
	for i := range users {
		e := fmt.Sprintf("user%d@example.com", i)
		users[i] = store.User{ID: fmt.Sprintf("user_%06d", i), PrimaryEmailAddress: &e,
			PublicMetadata: []byte(`{"plan":"pro"}`), CreatedAt: time.UnixMilli(1), UpdatedAt: time.UnixMilli(2),
			EmailAddresses: []store.EmailAddress{{ID: fmt.Sprintf("idn_%06d", i), EmailAddress: e, Verified: true, IsPrimary: true}}}
	}
	for i := 0; i < n; i += 500 {
		if _, err := store.UpsertUsers(ctx, pool, users[i:i+500]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := users[i%n]
		u.UpdatedAt = time.UnixMilli(int64(10 + i))
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			w, err := store.UpsertUser(ctx, tx, u)
			if err == nil && w != store.Updated {
				err = fmt.Errorf("write %s, want updated", w)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
