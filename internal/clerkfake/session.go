package clerkfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SessionToken describes a Clerk session token to mint. The zero value of a
// field means what Clerk would send; Omit and Set make the malformed tokens
// a verifier must refuse.
type SessionToken struct {
	// Version is 2 (the default, Clerk's current format) or 1.
	Version int
	// UserID is sub.
	UserID string
	// SessionID is sid; empty derives one from UserID.
	SessionID string
	// AuthorizedParty is azp, the page's origin; empty leaves it out, as
	// Clerk does for requests without an Origin.
	AuthorizedParty string
	// IssuedAt is iat; zero means now.
	IssuedAt time.Time
	// Lifetime sets exp = IssuedAt + Lifetime; zero means Clerk's 60 s.
	Lifetime time.Duration
	// NotBefore is nbf; zero means IssuedAt minus Clerk's default 5 s of
	// allowed clock skew.
	NotBefore time.Time

	// The active organization: OrgID empty means none. OrgRole is a role
	// key with or without "org:"; OrgPermissions are "org:<feature>:<perm>"
	// names (system permissions are never in tokens and are dropped).
	OrgID          string
	OrgSlug        string
	OrgRole        string
	OrgPermissions []string

	// Status is sts ("active", "pending"); empty leaves it out in v1 and
	// means "active" in v2.
	Status string
	// FactorAge is fva, minutes since the first and second factor were
	// verified (-1: not set up); nil leaves the claim out.
	FactorAge *[2]int

	// Omit drops claims by name (e.g. "exp"); Set adds or overrides claims
	// after everything else.
	Omit []string
	Set  map[string]any
}

// Claims returns the token's claims as they would be signed.
func (s *Sessions) Claims(t SessionToken) map[string]any {
	iat := t.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	life := t.Lifetime
	if life == 0 {
		life = 60 * time.Second
	}
	nbf := t.NotBefore
	if nbf.IsZero() {
		nbf = iat.Add(-5 * time.Second)
	}
	sid := t.SessionID
	if sid == "" {
		sid = "sess_" + strings.TrimPrefix(t.UserID, "user_")
	}
	c := map[string]any{
		"iss": s.issuer,
		"sub": t.UserID,
		"sid": sid,
		"iat": iat.Unix(),
		"nbf": nbf.Unix(),
		"exp": iat.Add(life).Unix(),
		"jti": fmt.Sprintf("%x", iat.UnixNano()),
	}
	if t.AuthorizedParty != "" {
		c["azp"] = t.AuthorizedParty
	}
	if t.FactorAge != nil {
		c["fva"] = []int{t.FactorAge[0], t.FactorAge[1]}
	}
	role := strings.TrimPrefix(t.OrgRole, "org:")
	if t.Version == 1 {
		if t.Status != "" {
			c["sts"] = t.Status
		}
		if t.OrgID != "" {
			c["org_id"] = t.OrgID
			c["org_slug"] = t.OrgSlug
			c["org_role"] = "org:" + role
			c["org_permissions"] = customPermissions(t.OrgPermissions)
		}
	} else {
		c["v"] = 2
		c["sts"] = cmpOr(t.Status, "active")
		if t.OrgID != "" {
			fea, per, fpm := encodePermissions(t.OrgPermissions)
			c["fea"] = fea
			c["o"] = map[string]any{"id": t.OrgID, "slg": t.OrgSlug, "rol": role, "per": per, "fpm": fpm}
		}
	}
	for _, k := range t.Omit {
		delete(c, k)
	}
	for k, v := range t.Set {
		c[k] = v
	}
	return c
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// customPermissions drops the system permissions (org:sys_*), which Clerk
// leaves out of session tokens.
func customPermissions(perms []string) []string {
	out := []string{}
	for _, p := range perms {
		if !strings.HasPrefix(p, "org:sys_") {
			out = append(out, p)
		}
	}
	return out
}

// encodePermissions writes v2's compact form: fea lists the organization
// features ("o:reports"), per the distinct permission names, and fpm one
// bitmask per feature with the least significant bit for the first name in
// per (the reading of clerk-sdk-go and Clerk's current JS SDK).
func encodePermissions(perms []string) (fea, per, fpm string) {
	var features, names []string
	has := map[string]map[string]bool{}
	for _, p := range customPermissions(perms) {
		parts := strings.SplitN(strings.TrimPrefix(p, "org:"), ":", 2)
		if len(parts) != 2 {
			continue
		}
		f, n := parts[0], parts[1]
		if has[f] == nil {
			has[f] = map[string]bool{}
			features = append(features, f)
		}
		has[f][n] = true
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	feas := make([]string, len(features))
	masks := make([]string, len(features))
	for i, f := range features {
		feas[i] = "o:" + f
		mask := 0
		for j, n := range names {
			if has[f][n] {
				mask |= 1 << j
			}
		}
		masks[i] = strconv.Itoa(mask)
	}
	return strings.Join(feas, ","), strings.Join(names, ","), strings.Join(masks, ",")
}

// Mint returns t signed (RS256) with the current key.
func (s *Sessions) Mint(t SessionToken) (string, error) {
	return s.SignClaims(s.KeyID(), s.Claims(t))
}

// MintWith returns t signed with the key kid, e.g. a key rotated away.
func (s *Sessions) MintWith(kid string, t SessionToken) (string, error) {
	return s.SignClaims(kid, s.Claims(t))
}

// SignClaims signs any claims with the key kid, in the compact JWS form
// Clerk uses (header alg RS256, typ JWT, kid).
func (s *Sessions) SignClaims(kid string, claims map[string]any) (string, error) {
	s.mu.Lock()
	var priv *rsa.PrivateKey
	for _, k := range s.keys {
		if k.kid == kid {
			priv = k.priv
		}
	}
	s.mu.Unlock()
	if priv == nil {
		return "", fmt.Errorf("clerkfake: no signing key %q", kid)
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
	signingInput := EncodeJWTPart(header) + "." + EncodeJWTPart(claims)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("clerkfake: sign token: %w", err)
	}
	return signingInput + "." + b64(sig), nil
}

// EncodeJWTPart is base64url(JSON(v)) without padding: a JWT header or
// payload segment, for tests that build forged tokens by hand.
func EncodeJWTPart(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("clerkfake: encode JWT part: %v", err))
	}
	return b64(b)
}
