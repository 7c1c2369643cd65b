package clerkauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/testdb"
)

// BenchmarkVerify is one session token verified with its key cached, no
// network: "sdk" is clerk-sdk-go's full check (RSA signature, claims) as a
// new token gets it, "repeat" the same token again, answered from the
// verified-token cache.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"sdk", -1}, {"repeat", 0}} {
		b.Run(c.name, func(b *testing.B) {
			in := newInstance(b, func(cfg *clerkauth.Config) { cfg.VerifiedCacheSize = c.size })
			tok := in.token(b, clerkfake.SessionToken{UserID: "user_1", OrgID: "org_1", OrgRole: "org:admin",
				OrgPermissions: []string{"org:reports:read"}, Lifetime: time.Hour})
			ctx := context.Background()
			if _, err := in.verifier.Verify(ctx, tok, clerkauth.SourceHeader); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.verifier.Verify(ctx, tok, clerkauth.SourceHeader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthorize is one role decision. With the sub-second cache most
// decisions are memory reads; without it each is a query (see
// BenchmarkMembership and BenchmarkRoundTrip in clerkdb for the floor).
func BenchmarkAuthorize(b *testing.B) {
	pool, _ := testdb.New(b)
	seedOrg(b, pool)
	s := &clerkauth.Session{UserID: "user_admin"}
	ctx := context.Background()
	for _, ttl := range []time.Duration{clerkauth.MaxCacheTTL / 2, 0} {
		name := "cache=500ms"
		if ttl == 0 {
			name = "cache=off"
		}
		b.Run(name, func(b *testing.B) {
			a, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: ttl})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.CheckRole(ctx, s, "org_1", "org:admin"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequest is a whole protected request through the middleware
// chain (verify, then a cached role check) in memory.
func BenchmarkRequest(b *testing.B) {
	pool, _ := testdb.New(b)
	seedOrg(b, pool)
	in := newInstance(b)
	a, _ := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: 500 * time.Millisecond, Metrics: in.metrics})
	h := router(in.verifier, a)
	tok := in.token(b, clerkfake.SessionToken{UserID: "user_admin", Lifetime: time.Hour})
	b.ReportAllocs()
	for b.Loop() {
		if res := get(b, h, "/orgs/org_1/settings", tok); res.Status != http.StatusOK {
			b.Fatal(res.Status, res.Body)
		}
	}
}
