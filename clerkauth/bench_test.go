package clerkauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/testdb"
)

// BenchmarkVerify is one session token (v2, RSA-2048, RS256) verified with
// its key already cached, no network:
//   - "sdk": Verifier.Verify with the verified-token cache off, so every
//     iteration is a token seen for the first time: clerk-sdk-go's full
//     jwt.Verify (parse, signature, time claims with leeway, issuer, the
//     extra claims decoded from the same payload) plus clerkauth's checks
//     (alg and kid read first, exp required, azp, pending).
//   - "sdk-floor": jwt.Verify alone with the same ready key and token and
//     no custom claims: the least any use of the SDK's verification costs
//     here. "sdk" minus "sdk-floor" is clerkauth's own share.
//   - "repeat": the same token again, answered from the verified-token
//     cache (a frontend sends one token for about 50 s).
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"sdk", -1}, {"repeat", 0}} {
		b.Run(c.name, func(b *testing.B) {
			in := newInstance(b, func(cfg *clerkauth.Config) { cfg.VerifiedCacheSize = c.size })
			tok := in.token(b, benchToken)
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
	b.Run("sdk-floor", func(b *testing.B) {
		in := newInstance(b)
		tok := in.token(b, benchToken)
		ctx := context.Background()
		key, err := jwt.GetJSONWebKey(ctx, &jwt.GetJSONWebKeyParams{
			KeyID: in.sessions.KeyID(),
			JWKSClient: jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
				HTTPClient: in.api.Client(), URL: clerk.String(in.api.URL + "/v1"), Key: clerk.String(secretKey)}}),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.Verify(ctx, &jwt.VerifyParams{Token: tok, JWK: key, Clock: in.clock, Leeway: clerkauth.DefaultLeeway}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var benchToken = clerkfake.SessionToken{UserID: "user_1", OrgID: "org_1", OrgRole: "org:admin",
	OrgPermissions: []string{"org:reports:read"}, Lifetime: time.Hour}

// BenchmarkAuthorize is one role decision (CheckRole: is user_admin an
// org:admin of org_1, answered from the synced tables in the local
// Postgres) in each state of the membership cache:
//   - "cache=1s,hit": CacheTTL = MaxCacheTTL (1 s) with the answer already
//     cached: a map read. In a real run each (organization, user) pair also
//     pays one "miss" per second, which this loop amortises only when it
//     runs longer than a second.
//   - "cache=1s,miss": a decision the cache cannot answer (the first for a
//     pair, or the first after its second is up): the query plus the cache
//     write. A 1 ns CacheTTL makes every decision miss.
//   - "cache=off": CacheTTL = 0, the default: every decision is one query
//     (clerkdb's Membership) over the pool, so it costs a Postgres round
//     trip; see BenchmarkMembership and BenchmarkRoundTrip in clerkdb for
//     the query alone and for SELECT 1.
//
// The cache's bound is its TTL alone (an answer is never older than
// CacheTTL, counted from before its query), so it needs no listener.
func BenchmarkAuthorize(b *testing.B) {
	pool, _ := testdb.New(b)
	seedOrg(b, pool)
	s := &clerkauth.Session{UserID: "user_admin"}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"cache=1s,hit", clerkauth.MaxCacheTTL}, {"cache=1s,miss", time.Nanosecond}, {"cache=off", 0}} {
		b.Run(c.name, func(b *testing.B) {
			a, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: c.ttl})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := a.CheckRole(ctx, s, "org_1", "org:admin"); err != nil {
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
