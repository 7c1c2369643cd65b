package clerkauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
)

// FuzzVerifyToken: the verifier of a fake instance (keys served by the fake
// Backend API, clock stopped) meets any token, from any source, and one
// valid token with one byte changed. Seeds in testdata/fuzz/FuzzVerifyToken
// are random and forged tokens written by TestFuzzCorpus.
//
// Properties: no panic; a token is accepted only if it is the instance's
// valid token: the same header and claims text and the same signature
// bytes (base64url has spare bits in its last character, so a changed last
// character may still decode to the same signature: that is the same
// token); a refusal is a *VerifyError with a known reason and status 401
// (503 only for keys_unavailable), and neither it nor the 401 body repeats
// the token; the middleware calls the next handler exactly when Verify
// accepts.
//
// mode picks the source: 0 Verify from the Authorization header, 1 Verify
// from the cookie, 2 the middleware with token as the raw Authorization
// header value, 3 the middleware with token as the __session cookie.
func FuzzVerifyToken(f *testing.F) {
	in := newInstance(f)
	good := in.token(f, clerkfake.SessionToken{UserID: "user_fuzz", OrgID: "org_1", OrgSlug: "acme", OrgRole: "admin",
		OrgPermissions: []string{"org:reports:read"}})
	if _, err := in.verifier.Verify(context.Background(), good, clerkauth.SourceHeader); err != nil {
		f.Fatalf("the instance's own token: %v", err)
	}
	goodParts := strings.Split(good, ".")
	goodSig, _ := base64.RawURLEncoding.DecodeString(goodParts[2])

	f.Add(good, uint8(0), uint(0), uint8(0))
	f.Add(good, uint8(1), uint(len(good)-1), uint8(1))
	f.Add("", uint8(0), uint(0), uint8(0))
	f.Add("Bearer "+good, uint8(2), uint(10), uint8(0x20))
	f.Add("a.b.c", uint8(3), uint(0), uint8(0))

	// sameToken: accepted is allowed only for this.
	sameToken := func(tok string) bool {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 || parts[0] != goodParts[0] || parts[1] != goodParts[1] {
			return false
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		return err == nil && bytes.Equal(sig, goodSig)
	}
	reasons := map[clerkauth.Reason]bool{}
	for _, r := range []clerkauth.Reason{clerkauth.ReasonMissingToken, clerkauth.ReasonMalformedToken, clerkauth.ReasonUnsupportedAlg,
		clerkauth.ReasonUnknownKey, clerkauth.ReasonKeysUnavailable, clerkauth.ReasonInvalidSignature, clerkauth.ReasonExpired,
		clerkauth.ReasonMissingExpiry, clerkauth.ReasonNotYetValid, clerkauth.ReasonIssuedInFuture, clerkauth.ReasonInvalidIssuer,
		clerkauth.ReasonInvalidClaims, clerkauth.ReasonUnauthorizedParty, clerkauth.ReasonMissingParty, clerkauth.ReasonPendingSession} {
		reasons[r] = true
	}
	// echoes: whether text repeats a long piece of the token.
	echoes := func(text, tok string) bool {
		for _, part := range strings.FieldsFunc(tok, func(r rune) bool { return r == '.' || r == ' ' }) {
			if len(part) > 16 && strings.Contains(text, part) {
				return true
			}
		}
		return false
	}
	checkRefusal := func(t *testing.T, err error, tok string) {
		t.Helper()
		var ve *clerkauth.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("refusal %v is not a *VerifyError", err)
		}
		if !reasons[ve.Reason] {
			t.Fatalf("unknown reason %q", ve.Reason)
		}
		if st := ve.Status(); st != http.StatusUnauthorized && !(st == http.StatusServiceUnavailable && ve.Reason == clerkauth.ReasonKeysUnavailable) {
			t.Fatalf("reason %s answers %d", ve.Reason, st)
		}
		if echoes(err.Error(), tok) {
			t.Fatalf("the error repeats the token: %v", err)
		}
	}
	verify := func(t *testing.T, tok string, source clerkauth.Source) {
		t.Helper()
		s, err := in.verifier.Verify(context.Background(), tok, source)
		if err != nil {
			if s != nil {
				t.Fatal("a refusal returned a session")
			}
			checkRefusal(t, err, tok)
			return
		}
		if !sameToken(tok) {
			t.Fatalf("a token that is not the instance's was accepted from %s: %q", source, tok)
		}
		if s.UserID != "user_fuzz" || s.ActiveOrganization == nil || s.ActiveOrganization.ID != "org_1" {
			t.Fatalf("the valid token gave session %+v", s)
		}
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := clerkauth.SessionFromContext(r.Context())
		if !ok || s.UserID != "user_fuzz" {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mw := in.verifier.Middleware(next)

	f.Fuzz(func(t *testing.T, tok string, mode uint8, pos uint, delta uint8) {
		switch mode % 4 {
		case 0:
			verify(t, tok, clerkauth.SourceHeader)
		case 1:
			verify(t, tok, clerkauth.SourceCookie)
		default:
			req := httptest.NewRequest(http.MethodGet, "/me", nil)
			var extracted string
			if mode%4 == 2 {
				req.Header["Authorization"] = []string{tok}
			} else {
				req.Header["Cookie"] = []string{clerkauth.SessionCookie + "=" + tok}
			}
			extracted, _ = clerkauth.TokenFromRequest(req)
			rec := httptest.NewRecorder()
			mw.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusNoContent:
				if !sameToken(extracted) {
					t.Fatalf("the middleware let through %q (token %q)", tok, extracted)
				}
			case http.StatusUnauthorized, http.StatusServiceUnavailable:
				if echoes(rec.Body.String(), extracted) {
					t.Fatalf("the %d body repeats the token: %s", rec.Code, rec.Body.String())
				}
			default:
				t.Fatalf("the middleware answered %d: %s", rec.Code, rec.Body.String())
			}
		}

		// The valid token with one byte changed.
		if delta == 0 {
			return
		}
		changed := []byte(good)
		i := pos % uint(len(changed))
		changed[i] += delta
		s, err := in.verifier.Verify(context.Background(), string(changed), clerkauth.SourceHeader)
		if err != nil {
			checkRefusal(t, err, string(changed))
			return
		}
		if !sameToken(string(changed)) {
			t.Fatalf("the valid token changed at byte %d (%q) was accepted as %+v", i, changed[i], s)
		}
	})
}
