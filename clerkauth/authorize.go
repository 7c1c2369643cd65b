package clerkauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/syncd/syncd/clerkdb"
)

// MaxCacheTTL bounds AuthorizerConfig.CacheTTL: a membership removed in
// Clerk must stop granting access within a second of syncd applying it.
const MaxCacheTTL = time.Second

// DefaultCacheSize is how many memberships a cache holds at most.
const DefaultCacheSize = 100_000

// AuthorizerConfig configures an Authorizer.
type AuthorizerConfig struct {
	// DB reads the synced tables: a pool (or anything clerkdb accepts)
	// whose role needs no more than clerk_reader. Required.
	DB clerkdb.Querier
	// CacheTTL keeps each membership answer (including "not a member")
	// for this long, counted from before the query was sent, so an answer
	// is never older than CacheTTL. Zero means no cache: every decision
	// asks Postgres. At most MaxCacheTTL. Database errors are never cached.
	CacheTTL time.Duration
	// CacheSize bounds the cache's entries; zero means DefaultCacheSize.
	CacheSize int
	// Metrics counts decisions; nil counts nothing.
	Metrics *Metrics
}

// Authorizer answers organization checks from the synced tables. It is safe
// for concurrent use.
type Authorizer struct {
	db      *clerkdb.Reader
	metrics *Metrics
	cache   *membershipCache // nil: no cache
}

// NewAuthorizer checks cfg and returns an Authorizer.
func NewAuthorizer(cfg AuthorizerConfig) (*Authorizer, error) {
	if cfg.DB == nil {
		return nil, errors.New("clerkauth: AuthorizerConfig.DB is required")
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > MaxCacheTTL {
		return nil, fmt.Errorf("clerkauth: AuthorizerConfig.CacheTTL %s is outside 0..%s: a removed member would keep access longer than a second", cfg.CacheTTL, MaxCacheTTL)
	}
	a := &Authorizer{db: clerkdb.New(cfg.DB), metrics: cfg.Metrics}
	if cfg.CacheTTL > 0 {
		size := cfg.CacheSize
		if size <= 0 {
			size = DefaultCacheSize
		}
		a.cache = &membershipCache{ttl: cfg.CacheTTL, max: size, entries: make(map[cacheKey]cacheEntry)}
	}
	return a, nil
}

// Membership returns userID's active membership in orgID from the synced
// tables (through the cache when there is one), or clerkdb.ErrNotFound.
func (a *Authorizer) Membership(ctx context.Context, orgID, userID string) (clerkdb.Membership, error) {
	if a.cache == nil {
		return a.db.Membership(ctx, orgID, userID)
	}
	key := cacheKey{org: orgID, user: userID}
	start := time.Now()
	if m, ok, err := a.cache.get(key, start); ok {
		return m, err
	}
	m, err := a.db.Membership(ctx, orgID, userID)
	if err == nil || errors.Is(err, clerkdb.ErrNotFound) {
		a.cache.put(key, cacheEntry{m: m, err: err, expires: start.Add(a.cache.ttl)}, start)
	}
	return m, err
}

// CheckMember returns the session user's active membership in orgID, or a
// *DenyError (errors.Is ErrForbidden) when there is none, whatever
// organization the token names. Other errors mean the tables could not be
// read.
func (a *Authorizer) CheckMember(ctx context.Context, s *Session, orgID string) (clerkdb.Membership, error) {
	return a.check(ctx, s, orgID, "member", nil)
}

// CheckRole is CheckMember that also requires one of roles (role keys, with
// or without "org:").
func (a *Authorizer) CheckRole(ctx context.Context, s *Session, orgID string, roles ...string) (clerkdb.Membership, error) {
	want := make([]string, len(roles))
	for i, r := range roles {
		want[i] = NormalizeRole(r)
	}
	return a.check(ctx, s, orgID, "role", func(m clerkdb.Membership) *DenyError {
		if slices.Contains(want, NormalizeRole(m.Role)) {
			return nil
		}
		return &DenyError{Reason: "missing_role", Message: fmt.Sprintf("this needs the role %s in the organization", joinOr(want))}
	})
}

// CheckPermission is CheckMember that also requires the permission (e.g.
// "org:invoices:read" or "org:sys_memberships:manage") among the synced
// membership's permissions.
func (a *Authorizer) CheckPermission(ctx context.Context, s *Session, orgID, permission string) (clerkdb.Membership, error) {
	want := NormalizePermission(permission)
	return a.check(ctx, s, orgID, "permission", func(m clerkdb.Membership) *DenyError {
		for _, p := range m.Permissions {
			if NormalizePermission(p) == want {
				return nil
			}
		}
		return &DenyError{Reason: "missing_permission", Message: "this needs the permission " + want + " in the organization"}
	})
}

func (a *Authorizer) check(ctx context.Context, s *Session, orgID, check string, also func(clerkdb.Membership) *DenyError) (clerkdb.Membership, error) {
	if s == nil || s.UserID == "" {
		a.metrics.decided(check, "deny")
		return clerkdb.Membership{}, &DenyError{Reason: "no_session", Message: "no verified session"}
	}
	if orgID == "" {
		a.metrics.decided(check, "deny")
		return clerkdb.Membership{}, &DenyError{Reason: "no_organization", Message: "no organization given"}
	}
	m, err := a.Membership(ctx, orgID, s.UserID)
	switch {
	case errors.Is(err, clerkdb.ErrNotFound):
		a.metrics.decided(check, "deny")
		return clerkdb.Membership{}, &DenyError{Reason: "not_member", Message: "you are not a member of this organization"}
	case err != nil:
		a.metrics.decided(check, "error")
		return clerkdb.Membership{}, fmt.Errorf("clerkauth: %s check: %w", check, err)
	}
	if also != nil {
		if d := also(m); d != nil {
			a.metrics.decided(check, "deny")
			return clerkdb.Membership{}, d
		}
	}
	a.metrics.decided(check, "allow")
	return m, nil
}

func joinOr(xs []string) string {
	switch len(xs) {
	case 0:
		return "(none)"
	case 1:
		return xs[0]
	}
	out := xs[0]
	for _, x := range xs[1 : len(xs)-1] {
		out += ", " + x
	}
	return out + " or " + xs[len(xs)-1]
}

// OrgIDFunc names the organization a request is about, e.g.
// func(r *http.Request) string { return chi.URLParam(r, "org_id") }.
type OrgIDFunc func(*http.Request) string

// ActiveOrganizationID is an OrgIDFunc for routes about the token's active
// organization. The check still reads the synced tables: the token only
// names the organization.
func ActiveOrganizationID(r *http.Request) string {
	if s, ok := SessionFromContext(r.Context()); ok && s.ActiveOrganization != nil {
		return s.ActiveOrganization.ID
	}
	return ""
}

type membershipKey struct{}

// MembershipFromContext returns the membership an authorization middleware
// checked for this request.
func MembershipFromContext(ctx context.Context) (clerkdb.Membership, bool) {
	m, ok := ctx.Value(membershipKey{}).(clerkdb.Membership)
	return m, ok
}

// RequireMember lets a request through when the session user is an active
// member of the organization orgID names; 403 otherwise. Put it after the
// Verifier's Middleware.
func (a *Authorizer) RequireMember(orgID OrgIDFunc) func(http.Handler) http.Handler {
	return a.middleware(func(r *http.Request, s *Session) (clerkdb.Membership, error) {
		return a.CheckMember(r.Context(), s, orgID(r))
	})
}

// RequireRole lets a request through when the session user's synced role in
// the organization is one of roles; 403 otherwise.
func (a *Authorizer) RequireRole(orgID OrgIDFunc, roles ...string) func(http.Handler) http.Handler {
	return a.middleware(func(r *http.Request, s *Session) (clerkdb.Membership, error) {
		return a.CheckRole(r.Context(), s, orgID(r), roles...)
	})
}

// RequirePermission lets a request through when the session user's synced
// membership has permission; 403 otherwise.
func (a *Authorizer) RequirePermission(orgID OrgIDFunc, permission string) func(http.Handler) http.Handler {
	return a.middleware(func(r *http.Request, s *Session) (clerkdb.Membership, error) {
		return a.CheckPermission(r.Context(), s, orgID(r), permission)
	})
}

func (a *Authorizer) middleware(check func(*http.Request, *Session) (clerkdb.Membership, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return withSession(func(w http.ResponseWriter, r *http.Request, s *Session) {
			m, err := check(r, s)
			if err != nil {
				WriteAuthorizationError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), membershipKey{}, m)))
		})
	}
}

// WriteAuthorizationError answers an error of a Check* function: 403 with
// the refusal for a *DenyError, 503 when the tables could not be read (the
// driver's message is not shown).
func WriteAuthorizationError(w http.ResponseWriter, err error) {
	var d *DenyError
	if errors.As(err, &d) {
		writeError(w, http.StatusForbidden, d.Reason, d.Message)
		return
	}
	writeError(w, http.StatusServiceUnavailable, "authorization_unavailable", "the organization data cannot be read right now; try again shortly")
}

// membershipCache keeps membership answers for at most ttl. Staleness is
// bounded by construction: an entry's expiry counts from before its query
// was sent, so nothing it holds is older than ttl, whether or not any
// change notification ever arrives.
type membershipCache struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct{ org, user string }

type cacheEntry struct {
	m       clerkdb.Membership
	err     error // nil or clerkdb.ErrNotFound
	expires time.Time
}

func (c *membershipCache) get(k cacheKey, now time.Time) (clerkdb.Membership, bool, error) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return clerkdb.Membership{}, false, nil
	}
	return e.m, true, e.err
}

func (c *membershipCache) put(k cacheKey, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Entries live under a second, so a sweep frees nearly all of them.
	putBounded(c.entries, c.max, k, e, func(old cacheEntry) bool { return !now.Before(old.expires) })
}
