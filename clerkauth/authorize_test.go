package clerkauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/testdb"
)

func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// seedOrg writes what syncd leaves after Clerk created org_1 with an admin,
// a member and a billing manager.
func seedOrg(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	exec(t, pool, `INSERT INTO clerk.organizations (id, name, slug) VALUES ('org_1', 'Acme', 'acme'), ('org_2', 'Other', 'other')`)
	exec(t, pool, `INSERT INTO clerk.users (id, primary_email_address) VALUES ('user_admin', 'admin@example.com'),
        ('user_member', 'member@example.com'), ('user_billing', 'billing@example.com'), ('user_legacy', NULL)`)
	exec(t, pool, `INSERT INTO clerk.organization_memberships (id, organization_id, user_id, role, permissions) VALUES
        ('orgmem_1', 'org_1', 'user_admin', 'org:admin', '{org:sys_memberships:manage,org:sys_memberships:read,org:sys_profile:manage}'),
        ('orgmem_2', 'org_1', 'user_member', 'org:member', '{org:sys_memberships:read}'),
        ('orgmem_3', 'org_1', 'user_billing', 'org:billing_manager', '{org:invoices:manage,org:invoices:read}'),
        ('orgmem_4', 'org_1', 'user_legacy', 'admin', '{}')`)
}

// router is the shape of a service's routes: the organization comes from
// the URL, and each route asks the synced tables something different.
func router(v *clerkauth.Verifier, a *clerkauth.Authorizer) http.Handler {
	org := func(r *http.Request) string { return chi.URLParam(r, "org_id") }
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := clerkauth.MembershipFromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"role": m.Role})
	})
	r := chi.NewRouter()
	r.Use(v.Middleware)
	r.With(a.RequireMember(org)).Get("/orgs/{org_id}/members", ok)
	r.With(a.RequireRole(org, "org:admin")).Get("/orgs/{org_id}/settings", ok)
	r.With(a.RequirePermission(org, "org:invoices:read")).Get("/orgs/{org_id}/invoices", ok)
	return r
}

func get(t testing.TB, h http.Handler, path, token string) response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return serve(h, r)
}

func TestAuthorizationFromSyncedTables(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	seedOrg(t, pool)
	in := newInstance(t)
	a, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, Metrics: in.metrics})
	if err != nil {
		t.Fatal(err)
	}
	h := router(in.verifier, a)
	// Every token names org_1 as active with admin rights: the answers must
	// come from the tables, not from the token.
	tok := func(user string) string {
		return in.token(t, clerkfake.SessionToken{UserID: user, OrgID: "org_1", OrgRole: "org:admin",
			OrgPermissions: []string{"org:invoices:read"}})
	}
	cases := []struct {
		user, path string
		status     int
		reason     string
	}{
		{"user_admin", "/orgs/org_1/members", 200, ""},
		{"user_admin", "/orgs/org_1/settings", 200, ""},
		{"user_admin", "/orgs/org_1/invoices", 403, "missing_permission"},
		{"user_admin", "/orgs/org_2/members", 403, "not_member"},
		{"user_member", "/orgs/org_1/members", 200, ""},
		{"user_member", "/orgs/org_1/settings", 403, "missing_role"},
		{"user_billing", "/orgs/org_1/invoices", 200, ""},
		{"user_legacy", "/orgs/org_1/settings", 200, ""}, // "admin" is org:admin
		{"user_stranger", "/orgs/org_1/members", 403, "not_member"},
	}
	for _, c := range cases {
		res := get(t, h, c.path, tok(c.user))
		if res.Status != c.status || (c.reason != "" && res.reason() != c.reason) {
			t.Errorf("%s GET %s: %d %s, want %d %s", c.user, c.path, res.Status, res.Body, c.status, c.reason)
		}
		if res.Status == 403 && res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("403 without a JSON body: %v", res.Header)
		}
	}
	exec(t, pool, `UPDATE clerk.organization_memberships SET deleted_at = now() WHERE id = 'orgmem_2'`)
	exec(t, pool, `UPDATE clerk.organizations SET deleted_at = now() WHERE id = 'org_2'`)
	if res := get(t, h, "/orgs/org_1/members", tok("user_member")); res.Status != 403 {
		t.Errorf("deleted membership: %d %s", res.Status, res.Body)
	}
	exec(t, pool, `UPDATE clerk.organizations SET deleted_at = now() WHERE id = 'org_1'`)
	if res := get(t, h, "/orgs/org_1/members", tok("user_admin")); res.Status != 403 {
		t.Errorf("deleted organization: %d %s", res.Status, res.Body)
	}
	if got := in.counter("clerkauth_authorization_decisions_total", "deny"); got < 5 {
		t.Errorf("deny decisions counted: %v", got)
	}
}

func TestAuthorizationUnavailableIs503(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	in := newInstance(t)
	a, _ := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool})
	h := router(in.verifier, a)
	tok := in.token(t, clerkfake.SessionToken{UserID: "user_1"})
	pool.Close()
	res := get(t, h, "/orgs/org_1/members", tok)
	if res.Status != http.StatusServiceUnavailable || strings.Contains(res.Body, "closed") {
		t.Fatalf("database gone: %d %s", res.Status, res.Body)
	}
}

func TestCacheTTLIsBoundedByASecond(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	if _, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: 2 * time.Second}); err == nil {
		t.Fatal("a 2 s cache was accepted")
	}
}

// With the cache on, a membership removed in the tables stops granting
// access within CacheTTL, and "not a member" is cached no longer either.
func TestCachedAnswersFlipWithinTheTTL(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	seedOrg(t, pool)
	in := newInstance(t)
	a, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := router(in.verifier, a)
	tok := in.token(t, clerkfake.SessionToken{UserID: "user_member", Lifetime: time.Hour})
	if res := get(t, h, "/orgs/org_1/members", tok); res.Status != 200 {
		t.Fatalf("before: %d", res.Status)
	}
	exec(t, pool, `UPDATE clerk.organization_memberships SET deleted_at = now() WHERE id = 'orgmem_2'`)
	changed := time.Now()
	waitStatus(t, h, "/orgs/org_1/members", tok, 403, changed, time.Second)

	exec(t, pool, `INSERT INTO clerk.organization_memberships (id, organization_id, user_id, role) VALUES ('orgmem_9', 'org_1', 'user_member', 'org:member')`)
	waitStatus(t, h, "/orgs/org_1/members", tok, 200, time.Now(), time.Second)
}

// waitStatus polls path until it answers want, failing t unless that
// happens within limit of since; it returns how long it took.
func waitStatus(t testing.TB, h http.Handler, path, token string, want int, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		res := get(t, h, path, token)
		took := time.Since(since)
		if res.Status == want {
			t.Logf("GET %s answered %d %s after the change", path, want, took.Round(time.Millisecond))
			return took
		}
		if took > limit {
			t.Fatalf("GET %s still answers %d %s, %s after the change (want %d within %s)", path, res.Status, res.Body, took, want, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
