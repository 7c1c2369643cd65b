package clerkfake

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"
)

// The fake's keys and tokens are checked with Clerk's own SDK: its JWKS
// client fetches the set, and its Verify reads the v1 and v2 claims.
func TestSessionTokensVerifyWithClerkSDK(t *testing.T) {
	sessions, err := NewSessions("")
	if err != nil {
		t.Fatal(err)
	}
	s := newFakeServer(t, New(1), APIOptions{SecretKey: "sk_test_jwks", Sessions: sessions})
	cfg := &clerk.ClientConfig{}
	cfg.URL = clerk.String(s.URL + "/v1")
	cfg.Key = clerk.String("sk_test_jwks")
	cfg.HTTPClient = s.Client()
	client := jwks.NewClient(cfg)
	ctx := context.Background()

	verify := func(token string) (*clerk.SessionClaims, error) {
		t.Helper()
		set, err := client.Get(ctx, &jwks.GetParams{})
		if err != nil {
			return nil, err
		}
		kid := ""
		if tok, err := jwt.Decode(ctx, &jwt.DecodeParams{Token: token}); err == nil {
			kid = tok.KeyID
		}
		for _, k := range set.Keys {
			if k.KeyID == kid {
				return jwt.Verify(ctx, &jwt.VerifyParams{Token: token, JWK: k})
			}
		}
		return nil, errors.New("kid not in the set")
	}

	perms := []string{"org:sys_memberships:read", "org:reports:read", "org:reports:export", "org:invoices:read"}
	for _, v := range []int{1, 2} {
		tok, err := sessions.Mint(SessionToken{Version: v, UserID: "user_1", AuthorizedParty: "https://app.example",
			OrgID: "org_1", OrgSlug: "acme", OrgRole: "org:admin", OrgPermissions: perms})
		if err != nil {
			t.Fatal(err)
		}
		c, err := verify(tok)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		got := slices.Sorted(slices.Values(c.ActiveOrganizationPermissions))
		want := []string{"org:invoices:read", "org:reports:export", "org:reports:read"}
		if c.Subject != "user_1" || c.ActiveOrganizationID != "org_1" || c.ActiveOrganizationRole != "org:admin" ||
			c.ActiveOrganizationSlug != "acme" || !slices.Equal(got, want) || c.AuthorizedParty != "https://app.example" {
			t.Errorf("v%d claims as the SDK reads them: %+v (permissions %v)", v, c.Claims, got)
		}
	}

	old := sessions.KeyID()
	if _, err := sessions.Rotate(); err != nil {
		t.Fatal(err)
	}
	oldTok, _ := sessions.MintWith(old, SessionToken{UserID: "user_1"})
	newTok, _ := sessions.Mint(SessionToken{UserID: "user_1"})
	if _, err := verify(oldTok); err != nil {
		t.Errorf("old key before it is retired: %v", err)
	}
	if _, err := verify(newTok); err != nil {
		t.Errorf("new key: %v", err)
	}
	sessions.Retire(old)
	if _, err := verify(oldTok); err == nil {
		t.Error("a token of a retired key still verifies")
	}

	before := sessions.JWKSRequests()
	sessions.FailJWKS(http.StatusServiceUnavailable)
	var apiErr *clerk.APIErrorResponse
	if _, err := client.Get(ctx, &jwks.GetParams{}); !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusServiceUnavailable {
		t.Errorf("failing JWKS: %v", err)
	}
	sessions.FailJWKS(0)
	if _, err := client.Get(ctx, &jwks.GetParams{}); err != nil {
		t.Errorf("restored JWKS: %v", err)
	}
	if n := sessions.JWKSRequests() - before; n != 2 {
		t.Errorf("JWKSRequests counted %d, want 2", n)
	}
}

// Without Sessions the fake has no /v1/jwks, as before.
func TestNoJWKSWithoutSessions(t *testing.T) {
	s := newFakeServer(t, New(1), APIOptions{})
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/jwks", nil)
	req.Header.Set("Authorization", "Bearer "+DefaultSecretKey)
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /v1/jwks without Sessions: %d", res.StatusCode)
	}
}
