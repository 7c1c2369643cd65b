package clerkauth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
)

func TestValidV1AndV2TokensGiveTheSameSession(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	perms := []string{"org:sys_memberships:read", "org:reports:read", "org:reports:export", "org:invoices:read"}
	for _, v := range []int{1, 2} {
		tok := in.token(t, clerkfake.SessionToken{Version: v, UserID: "user_1", OrgID: "org_1", OrgSlug: "acme",
			OrgRole: "admin", OrgPermissions: perms, FactorAge: &[2]int{3, -1}})
		res := serve(h, bearer(tok))
		if res.Status != http.StatusOK {
			t.Fatalf("v%d: %d %s", v, res.Status, res.Body)
		}
		var s clerkauth.Session
		if err := json.Unmarshal([]byte(res.Body), &s); err != nil {
			t.Fatal(err)
		}
		slices.Sort(s.ActiveOrganization.Permissions)
		want := clerkauth.ActiveOrganization{ID: "org_1", Slug: "acme", Role: "org:admin",
			Permissions: []string{"org:invoices:read", "org:reports:export", "org:reports:read"}}
		if s.UserID != "user_1" || s.Version != v || s.Source != clerkauth.SourceHeader ||
			s.AuthorizedParty != appOrigin || !equalOrg(*s.ActiveOrganization, want) ||
			s.FactorAge == nil || s.FactorAge.SecondFactorMinutes != -1 ||
			!s.ExpiresAt.Equal(in.clock.Now().Add(time.Minute)) {
			t.Errorf("v%d session = %+v, organization %+v", v, s, s.ActiveOrganization)
		}
	}
}

func equalOrg(a, b clerkauth.ActiveOrganization) bool {
	return a.ID == b.ID && a.Slug == b.Slug && a.Role == b.Role && slices.Equal(a.Permissions, b.Permissions)
}

// clerk-sdk-go reports Version 1 for a v2 token without an organization;
// the session says what the token is.
func TestV2TokenWithoutOrganization(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	s, err := in.verifier.Verify(context.Background(), in.token(t, clerkfake.SessionToken{UserID: "user_1"}), clerkauth.SourceHeader)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 2 || s.ActiveOrganization != nil || s.Status != "active" || s.Claims.Version != 1 {
		t.Fatalf("session %+v (SDK version %d)", s, s.Claims.Version)
	}
	if got, ok := clerk.SessionClaimsFromContext(clerkauth.ContextWithSession(context.Background(), s)); !ok || got.Subject != "user_1" {
		t.Fatal("the SDK's context helper does not see the claims")
	}
}

// Each case is a token minted from a spec at the instance's "now", checked
// with and without leeway: what a user sees is 200 or 401 with the reason.
func TestTimeClaims(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	// Same keys and clock, no leeway.
	strictV, err := clerkauth.NewVerifier(clerkauth.Config{SecretKey: secretKey, APIURL: in.api.URL + "/v1",
		HTTPClient: in.api.Client(), AuthorizedParties: []string{appOrigin}, Clock: in.clock, Leeway: -1})
	if err != nil {
		t.Fatal(err)
	}
	now := in.clock.Now()
	cases := []struct {
		name               string
		spec               clerkfake.SessionToken
		withLeeway, strict clerkauth.Reason // "" = accepted
	}{
		{"valid", clerkfake.SessionToken{}, "", ""},
		{"expired 3s ago", clerkfake.SessionToken{IssuedAt: now.Add(-63 * time.Second)}, "", clerkauth.ReasonExpired},
		{"expired 10s ago", clerkfake.SessionToken{IssuedAt: now.Add(-70 * time.Second)}, clerkauth.ReasonExpired, clerkauth.ReasonExpired},
		{"exp missing", clerkfake.SessionToken{Omit: []string{"exp"}}, clerkauth.ReasonMissingExpiry, clerkauth.ReasonMissingExpiry},
		{"nbf 3s ahead", clerkfake.SessionToken{NotBefore: now.Add(3 * time.Second)}, "", clerkauth.ReasonNotYetValid},
		{"nbf 30s ahead", clerkfake.SessionToken{NotBefore: now.Add(30 * time.Second)}, clerkauth.ReasonNotYetValid, clerkauth.ReasonNotYetValid},
		{"iat 3s ahead", clerkfake.SessionToken{IssuedAt: now.Add(3 * time.Second), NotBefore: now.Add(-time.Second)}, "", clerkauth.ReasonIssuedInFuture},
		{"iat 30s ahead", clerkfake.SessionToken{IssuedAt: now.Add(30 * time.Second), NotBefore: now.Add(-time.Second)}, clerkauth.ReasonIssuedInFuture, clerkauth.ReasonIssuedInFuture},
	}
	for _, c := range cases {
		spec := c.spec
		spec.UserID = "user_1"
		tok := in.token(t, spec)
		for _, v := range []struct {
			name string
			h    http.Handler
			want clerkauth.Reason
		}{{"default leeway", in.verifier.Middleware(http.HandlerFunc(whoami)), c.withLeeway},
			{"no leeway", strictV.Middleware(http.HandlerFunc(whoami)), c.strict}} {
			res := serve(v.h, bearer(tok))
			switch {
			case v.want == "" && res.Status != http.StatusOK:
				t.Errorf("%s, %s: %d %s, want 200", c.name, v.name, res.Status, res.Body)
			case v.want != "" && (res.Status != http.StatusUnauthorized || res.reason() != string(v.want)):
				t.Errorf("%s, %s: %d %s, want 401 %s", c.name, v.name, res.Status, res.Body, v.want)
			}
			mustNotEcho(t, res, tok)
		}
	}
}

func TestAuthorizedParty(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	open := newInstance(t, func(c *clerkauth.Config) { c.AuthorizedParties = nil })
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	hOpen := open.verifier.Middleware(http.HandlerFunc(whoami))
	cases := []struct {
		name   string
		h      http.Handler
		in     *instance
		azp    string
		req    func(string) *http.Request
		status int
		reason clerkauth.Reason
	}{
		{"header, listed azp", h, in, appOrigin, bearer, 200, ""},
		{"header, foreign azp", h, in, "https://evil.example", bearer, 401, clerkauth.ReasonUnauthorizedParty},
		{"header, no azp", h, in, "-", bearer, 200, ""},
		{"cookie, listed azp", h, in, appOrigin, cookie, 200, ""},
		{"cookie, foreign azp", h, in, "https://evil.example", cookie, 401, clerkauth.ReasonUnauthorizedParty},
		{"cookie, no azp", h, in, "-", cookie, 401, clerkauth.ReasonMissingParty},
		{"no origins configured, header", hOpen, open, "https://any.example", bearer, 200, ""},
		{"no origins configured, cookie", hOpen, open, "https://any.example", cookie, 401, clerkauth.ReasonMissingParty},
	}
	for _, c := range cases {
		tok := c.in.token(t, clerkfake.SessionToken{UserID: "user_1", AuthorizedParty: c.azp})
		res := serve(c.h, c.req(tok))
		if res.Status != c.status || (c.reason != "" && res.reason() != string(c.reason)) {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.Status, res.Body, c.status, c.reason)
		}
	}
}

// A flood of tokens with random key ids, concurrent and sequential, costs
// one JWKS request per MinRefetchInterval.
func TestUnknownKidRefetchIsBounded(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	claims := in.sessions.Claims(clerkfake.SessionToken{UserID: "user_1", IssuedAt: in.clock.Now(), AuthorizedParty: appOrigin})
	flood := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tok := forge(map[string]any{"alg": "RS256", "typ": "JWT", "kid": fmt.Sprintf("ins_random_%d", i)}, claims, "c2ln")
				if res := serve(h, bearer(tok)); res.Status != http.StatusUnauthorized || res.reason() != string(clerkauth.ReasonUnknownKey) {
					t.Errorf("random kid: %d %s", res.Status, res.Body)
				}
			})
		}
		wg.Wait()
	}
	flood(500)
	if n := in.sessions.JWKSRequests(); n != 1 {
		t.Fatalf("500 random kids made %d JWKS requests, want 1", n)
	}
	in.clock.Advance(5 * time.Second)
	flood(100)
	if n := in.sessions.JWKSRequests(); n != 1 {
		t.Fatalf("within the refetch interval: %d JWKS requests, want still 1", n)
	}
	in.clock.Advance(clerkauth.DefaultMinRefetchInterval)
	flood(100)
	if n := in.sessions.JWKSRequests(); n != 2 {
		t.Fatalf("after the interval: %d JWKS requests, want 2", n)
	}
	// A real token still verifies from the cache, without a request.
	if res := serve(h, bearer(in.token(t, clerkfake.SessionToken{UserID: "user_1"}))); res.Status != 200 || in.sessions.JWKSRequests() != 2 {
		t.Fatalf("valid token after the flood: %d, %d requests", res.Status, in.sessions.JWKSRequests())
	}
	if got := in.counter("clerkauth_jwks_fetches_total", "ok"); got != 2 {
		t.Errorf("clerkauth_jwks_fetches_total{result=ok} = %v, want 2", got)
	}
}

// Clerk rolls keys by publishing a new one beside the old. A token of the
// new key verifies after one refetch; the old key's tokens keep verifying
// until it leaves the set and the cached set expires (the expiry does not
// slide with use).
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	oldKid := in.sessions.KeyID()
	oldTok := func() string {
		tok, err := in.sessions.MintWith(oldKid, clerkfake.SessionToken{UserID: "user_1", IssuedAt: in.clock.Now(), AuthorizedParty: appOrigin})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if res := serve(h, bearer(oldTok())); res.Status != 200 {
		t.Fatalf("before rotation: %d %s", res.Status, res.Body)
	}
	if _, err := in.sessions.Rotate(); err != nil {
		t.Fatal(err)
	}
	in.clock.Advance(clerkauth.DefaultMinRefetchInterval)
	if res := serve(h, bearer(in.token(t, clerkfake.SessionToken{UserID: "user_1"}))); res.Status != 200 {
		t.Fatalf("new key: %d %s", res.Status, res.Body)
	}
	if n := in.sessions.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests, want 2 (first use, then the new kid)", n)
	}
	in.sessions.Retire(oldKid)
	// Used every few minutes for most of an hour: the set still expires an
	// hour after it was fetched.
	for range 11 {
		in.clock.Advance(5 * time.Minute)
		if res := serve(h, bearer(oldTok())); res.Status != 200 {
			t.Fatalf("old key within the cache's lifetime: %d %s", res.Status, res.Body)
		}
	}
	in.clock.Advance(5 * time.Minute)
	if res := serve(h, bearer(oldTok())); res.Status != 401 || res.reason() != string(clerkauth.ReasonUnknownKey) {
		t.Fatalf("retired key after the cache expired: %d %s", res.Status, res.Body)
	}
	if res := serve(h, bearer(in.token(t, clerkfake.SessionToken{UserID: "user_1"}))); res.Status != 200 {
		t.Fatalf("new key after the refresh: %d %s", res.Status, res.Body)
	}
}

func TestForgedTokens(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	good := in.token(t, clerkfake.SessionToken{UserID: "user_1"})
	parts := strings.Split(good, ".")
	claims := in.sessions.Claims(clerkfake.SessionToken{UserID: "user_1", IssuedAt: in.clock.Now(), AuthorizedParty: appOrigin})
	kid := in.sessions.KeyID()

	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x01
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	admin := in.sessions.Claims(clerkfake.SessionToken{UserID: "user_admin", IssuedAt: in.clock.Now(), AuthorizedParty: appOrigin})
	tamperedPayload := parts[0] + "." + clerkfake.EncodeJWTPart(admin) + "." + parts[2]

	none := forge(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, claims, "")
	// HS256 keyed with public material, the classic algorithm confusion.
	hsHeader := clerkfake.EncodeJWTPart(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
	mac := hmac.New(sha256.New, []byte(kid))
	mac.Write([]byte(hsHeader + "." + clerkfake.EncodeJWTPart(claims)))
	hs256 := hsHeader + "." + clerkfake.EncodeJWTPart(claims) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	cases := []struct {
		name, token string
		reason      clerkauth.Reason
	}{
		{"signature byte flipped", tamperedSig, clerkauth.ReasonInvalidSignature},
		{"payload swapped", tamperedPayload, clerkauth.ReasonInvalidSignature},
		{"alg none", none, clerkauth.ReasonUnsupportedAlg},
		{"alg HS256", hs256, clerkauth.ReasonUnsupportedAlg},
		{"not a JWT", "hello", clerkauth.ReasonMalformedToken},
		{"no kid", forge(map[string]any{"alg": "RS256"}, claims, parts[2]), clerkauth.ReasonMalformedToken},
		{"wrong issuer", mustSign(t, in, kid, with(claims, "iss", "https://evil.example")), clerkauth.ReasonInvalidIssuer},
		{"no subject", mustSign(t, in, kid, with(claims, "sub", "")), clerkauth.ReasonInvalidClaims},
		{"empty bearer", "", clerkauth.ReasonMissingToken},
	}
	for _, c := range cases {
		res := serve(h, bearer(c.token))
		if res.Status != http.StatusUnauthorized || res.reason() != string(c.reason) {
			t.Errorf("%s: %d %s, want 401 %s", c.name, res.Status, res.Body, c.reason)
		}
		if res.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: headers %v", c.name, res.Header)
		}
		mustNotEcho(t, res, c.token)
	}
}

func with(claims map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for key, val := range claims {
		out[key] = val
	}
	out[k] = v
	return out
}

func mustSign(t *testing.T, in *instance, kid string, claims map[string]any) string {
	t.Helper()
	tok, err := in.sessions.SignClaims(kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestPendingSession(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	allow := newInstance(t, func(c *clerkauth.Config) { c.AllowPending = true })
	for _, v := range []int{1, 2} {
		res := serve(in.verifier.Middleware(http.HandlerFunc(whoami)),
			bearer(in.token(t, clerkfake.SessionToken{Version: v, UserID: "user_1", Status: "pending"})))
		if res.Status != 401 || res.reason() != string(clerkauth.ReasonPendingSession) {
			t.Errorf("v%d pending: %d %s", v, res.Status, res.Body)
		}
	}
	s, err := allow.verifier.Verify(context.Background(),
		allow.token(t, clerkfake.SessionToken{UserID: "user_1", Status: "pending"}), clerkauth.SourceHeader)
	if err != nil || s.Status != "pending" {
		t.Fatalf("AllowPending: %+v, %v", s, err)
	}
}

func TestCookieAndHeader(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	good := in.token(t, clerkfake.SessionToken{UserID: "user_header"})
	other := in.token(t, clerkfake.SessionToken{UserID: "user_cookie"})
	source := func(r *http.Request) (int, string) {
		res := serve(h, r)
		var s clerkauth.Session
		_ = json.Unmarshal([]byte(res.Body), &s) // a refusal has no session: ":"
		return res.Status, string(s.Source) + ":" + s.UserID
	}
	both := bearer(good)
	both.AddCookie(&http.Cookie{Name: "__session", Value: other})
	if st, got := source(both); st != 200 || got != "header:user_header" {
		t.Errorf("header and cookie: %d %s, want the header's", st, got)
	}
	basic := cookie(other)
	basic.SetBasicAuth("user", "pass")
	if st, got := source(basic); st != 200 || got != "cookie:user_cookie" {
		t.Errorf("basic auth and cookie: %d %s, want the cookie's", st, got)
	}
	lower := bearer("")
	lower.Header.Set("Authorization", "bearer "+good)
	if st, got := source(lower); st != 200 || got != "header:user_header" {
		t.Errorf("lower-case scheme: %d %s", st, got)
	}
	if res := serve(h, bearer("")); res.Status != 401 || res.reason() != string(clerkauth.ReasonMissingToken) {
		t.Errorf("no token: %d %s", res.Status, res.Body)
	}
}

func TestJWKSEndpointFailing(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	tok := func() string { return in.token(t, clerkfake.SessionToken{UserID: "user_1"}) }

	in.sessions.FailJWKS(http.StatusInternalServerError)
	for range 20 {
		res := serve(h, bearer(tok()))
		if res.Status != http.StatusServiceUnavailable || res.reason() != string(clerkauth.ReasonKeysUnavailable) ||
			res.Header.Get("Retry-After") == "" {
			t.Fatalf("JWKS failing, nothing cached: %d %v %s", res.Status, res.Header, res.Body)
		}
	}
	if n := in.sessions.JWKSRequests(); n != 1 {
		t.Fatalf("20 requests while JWKS fails made %d fetches, want 1", n)
	}
	in.sessions.FailJWKS(0)
	in.clock.Advance(clerkauth.DefaultMinRefetchInterval)
	if res := serve(h, bearer(tok())); res.Status != 200 {
		t.Fatalf("JWKS back: %d %s", res.Status, res.Body)
	}

	// With keys cached, an outage is invisible until they expire, and for
	// StaleKeysGrace after; then requests get 503, not 401.
	in.sessions.FailJWKS(http.StatusTooManyRequests)
	in.clock.Advance(clerkauth.DefaultKeysTTL - time.Second)
	if res := serve(h, bearer(tok())); res.Status != 200 {
		t.Fatalf("cached keys during an outage: %d %s", res.Status, res.Body)
	}
	in.clock.Advance(2 * time.Second)
	if res := serve(h, bearer(tok())); res.Status != 200 {
		t.Fatalf("expired keys within the grace: %d %s", res.Status, res.Body)
	}
	in.clock.Advance(clerkauth.DefaultStaleKeysGrace)
	if res := serve(h, bearer(tok())); res.Status != http.StatusServiceUnavailable {
		t.Fatalf("after the grace: %d %s", res.Status, res.Body)
	}
	if got := in.counter("clerkauth_jwks_fetches_total", "error"); got < 2 {
		t.Errorf("clerkauth_jwks_fetches_total{result=error} = %v", got)
	}
}

func TestSecondFactor(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(in.verifier.RequireSecondFactor(10 * time.Minute)(http.HandlerFunc(whoami)))
	cases := []struct {
		name   string
		fva    *[2]int
		status int
		reason string
	}{
		{"fresh", &[2]int{120, 2}, 200, ""},
		{"exactly the limit", &[2]int{120, 10}, 200, ""},
		{"stale", &[2]int{120, 45}, 403, "second_factor_stale"},
		{"no second factor set up", &[2]int{0, -1}, 403, "second_factor_required"},
		{"fva absent", nil, 403, "second_factor_unknown"},
	}
	for _, c := range cases {
		res := serve(h, bearer(in.token(t, clerkfake.SessionToken{UserID: "user_1", FactorAge: c.fva})))
		if res.Status != c.status || (c.reason != "" && res.reason() != c.reason) {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.Status, res.Body, c.status, c.reason)
		}
	}
}

func TestVerifyErrorsMatchSentinels(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	_, err := in.verifier.Verify(context.Background(), in.token(t, clerkfake.SessionToken{UserID: "u", Omit: []string{"exp"}}), clerkauth.SourceHeader)
	if !errors.Is(err, clerkauth.ErrMissingExpiry) || errors.Is(err, clerkauth.ErrExpired) {
		t.Fatalf("err = %v", err)
	}
	if got := in.counter("clerkauth_verifications_total", "missing_exp"); got != 1 {
		t.Errorf("clerkauth_verifications_total{outcome=missing_exp} = %v", got)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  clerkauth.Config
		want string
	}{
		{clerkauth.Config{}, "CLERK_SECRET_KEY"},
		{clerkauth.Config{SecretKey: "sk", APIURL: "ftp://x"}, "CLERK_API_URL"},
		{clerkauth.Config{SecretKey: "sk", AuthorizedParties: []string{"app.example.com"}}, "not an origin"},
	} {
		if _, err := clerkauth.NewVerifier(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewVerifier(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
}

// A token verified once is remembered, but never past its own expiry nor
// past the key set it was checked against.
func TestRememberedTokensExpire(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	h := in.verifier.Middleware(http.HandlerFunc(whoami))
	short := in.token(t, clerkfake.SessionToken{UserID: "user_1"})
	long := in.token(t, clerkfake.SessionToken{UserID: "user_1", Lifetime: 3 * time.Hour})
	for _, tok := range []string{short, long, short, long} {
		if res := serve(h, bearer(tok)); res.Status != 200 {
			t.Fatalf("fresh: %d %s", res.Status, res.Body)
		}
	}
	in.clock.Advance(time.Minute + clerkauth.DefaultLeeway + time.Second)
	if res := serve(h, bearer(short)); res.Status != 401 || res.reason() != string(clerkauth.ReasonExpired) {
		t.Fatalf("remembered token past exp: %d %s", res.Status, res.Body)
	}
	old := in.sessions.KeyID()
	if _, err := in.sessions.Rotate(); err != nil {
		t.Fatal(err)
	}
	in.sessions.Retire(old)
	if res := serve(h, bearer(long)); res.Status != 200 {
		t.Fatalf("within the key set's lifetime: %d %s", res.Status, res.Body)
	}
	in.clock.Advance(clerkauth.DefaultKeysTTL)
	if res := serve(h, bearer(long)); res.Status != 401 || res.reason() != string(clerkauth.ReasonUnknownKey) {
		t.Fatalf("remembered token of a retired key after the set expired: %d %s", res.Status, res.Body)
	}
	// The same token from a cookie is judged by the cookie's rules.
	noAzp := in.token(t, clerkfake.SessionToken{UserID: "user_1", AuthorizedParty: "-"})
	if res := serve(h, bearer(noAzp)); res.Status != 200 {
		t.Fatalf("header without azp: %d", res.Status)
	}
	if res := serve(h, cookie(noAzp)); res.Status != 401 {
		t.Fatalf("the same token from a cookie: %d", res.Status)
	}
}
