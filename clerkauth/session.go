package clerkauth

import (
	"context"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// Source is where a request carried its session token.
type Source string

// The two places Clerk's frontends put a session token: the Authorization
// header on cross-origin requests, the __session cookie on same-origin ones.
const (
	SourceHeader Source = "header"
	SourceCookie Source = "cookie"
)

// SessionCookie is the cookie Clerk's frontend SDKs keep the token in.
const SessionCookie = "__session"

// Session is a verified Clerk session token.
type Session struct {
	UserID    string // sub
	SessionID string // sid
	// AuthorizedParty is azp, the origin of the page the token was made
	// for; empty when Clerk left it out.
	AuthorizedParty string
	Issuer          string
	// Version is the token format, 1 or 2 (the v claim; 1 when absent),
	// whatever the SDK reports for a v2 token without an organization.
	Version int
	// Status is the session status (sts): "active", or "pending" when the
	// user still has a task to finish (e.g. choose an organization). Empty
	// when the token does not say.
	Status string
	// ActiveOrganization is the organization active in the token, nil when
	// none. It is what the user picked in the frontend, not what they may
	// access: authorize with an [Authorizer], which reads the synced tables.
	ActiveOrganization *ActiveOrganization
	// FactorAge is fva; nil when the token does not carry it.
	FactorAge *FactorAge
	IssuedAt  time.Time
	ExpiresAt time.Time
	Source    Source
	// Claims is what clerk-sdk-go decoded, for fields not copied here.
	Claims *clerk.SessionClaims
}

// ActiveOrganization is the token's organization, read alike from v1
// (org_id, org_role, org_permissions) and v2 (o, fea) claims.
type ActiveOrganization struct {
	ID   string
	Slug string
	// Role is the role key with its "org:" prefix (v2 tokens carry it
	// without).
	Role string
	// Permissions are "org:<feature>:<permission>" names. Clerk leaves the
	// system permissions (org:sys_*) out of tokens.
	Permissions []string
}

// FactorAge is how long ago the session's factors were verified, in whole
// minutes as Clerk counts them when it issues the token. A factor that is
// not set up is -1.
type FactorAge struct {
	FirstFactorMinutes  int64
	SecondFactorMinutes int64
}

// NormalizeRole returns a role key with the "org:" prefix, so that "admin",
// a v2 token's rol, and "org:admin", a v1 token's or the synced table's,
// compare equal. Instances from before December 2023 use "admin" and
// "basic_member" as keys; they become "org:admin" and "org:basic_member".
func NormalizeRole(role string) string {
	if role == "" || strings.HasPrefix(role, "org:") {
		return role
	}
	return "org:" + role
}

// NormalizePermission does for permission names what NormalizeRole does
// for role keys.
func NormalizePermission(p string) string { return NormalizeRole(p) }

type sessionKey struct{}

// ContextWithSession returns ctx carrying s. The middleware also stores the
// SDK's claims with clerk.ContextWithSessionClaims, so code written against
// clerk.SessionClaimsFromContext keeps working.
func ContextWithSession(ctx context.Context, s *Session) context.Context {
	ctx = context.WithValue(ctx, sessionKey{}, s)
	if s != nil && s.Claims != nil {
		ctx = clerk.ContextWithSessionClaims(ctx, s.Claims)
	}
	return ctx
}

// SessionFromContext returns the session the middleware verified.
func SessionFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok && s != nil
}

// UserID returns the verified user's id, or "" outside a verified request.
func UserID(ctx context.Context) string {
	if s, ok := SessionFromContext(ctx); ok {
		return s.UserID
	}
	return ""
}
