package clerkdb_test

import (
	"context"
	"testing"

	"github.com/syncd/syncd/clerkdb"
	"github.com/syncd/syncd/internal/testdb"
)

// BenchmarkMembership is the query behind one authorization decision: one
// round trip to a Postgres on the same host.
func BenchmarkMembership(b *testing.B) {
	pool, _ := testdb.New(b)
	insertUser(b, pool, userRow{id: "user_b", first: "Ada", emails: []string{"ada@example.com"}})
	insertOrg(b, pool, "org_b", "Bench", "bench", false)
	insertMembership(b, pool, "orgmem_b", "org_b", "user_b", "org:admin", []string{"org:sys_memberships:read"}, false)
	r := clerkdb.New(pool)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Membership(ctx, "org_b", "user_b"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip is the floor under every query above: SELECT 1 on the
// same pool.
func BenchmarkRoundTrip(b *testing.B) {
	pool, _ := testdb.New(b)
	ctx := context.Background()
	for b.Loop() {
		var n int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}
