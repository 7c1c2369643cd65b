package clerkauth_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/fuzzcorpus"
)

// TestFuzzCorpus keeps testdata/fuzz small. With SYNCD_WRITE_FUZZ_CORPUS=1
// it first rewrites the seed files (seed-*) of FuzzVerifyToken: tokens of
// another instance (valid in form, unknown key), tokens forged with alg
// none, HS256 and odd headers, expired and claim-less tokens, and random
// bytes in JWT shape:
//
//	SYNCD_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./clerkauth/
//
// Inputs the fuzzer saves on a failure (hash-named files) are left alone.
func TestFuzzCorpus(t *testing.T) {
	// At most 40 inputs a target, 40 KiB for the package.
	fuzzcorpus.Keep(t, 40, 40<<10, writeTokenCorpus)
}

func writeTokenCorpus(t *testing.T) {
	fuzzcorpus.RemoveSeeds(t, "FuzzVerifyToken")
	other, err := clerkfake.NewSessions("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mint := func(spec clerkfake.SessionToken) string {
		spec.IssuedAt = now
		tok, err := other.Mint(spec)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := other.Claims(clerkfake.SessionToken{UserID: "user_1", IssuedAt: now, AuthorizedParty: appOrigin})
	rng := rand.New(rand.NewPCG(1, 2))
	randomPart := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	sig := randomPart(256)
	tokens := []string{
		mint(clerkfake.SessionToken{UserID: "user_1", AuthorizedParty: appOrigin}),
		mint(clerkfake.SessionToken{Version: 1, UserID: "user_1", OrgID: "org_1", OrgRole: "admin", OrgPermissions: []string{"org:a:b"}}),
		mint(clerkfake.SessionToken{UserID: "user_1", Status: "pending"}),
		mint(clerkfake.SessionToken{UserID: "user_1", Omit: []string{"exp", "sub"}}),
		forge(map[string]any{"alg": "none", "typ": "JWT"}, claims, ""),
		forge(map[string]any{"alg": "HS256", "kid": other.KeyID()}, claims, randomPart(32)),
		forge(map[string]any{"alg": "RS256"}, claims, sig),
		forge(map[string]any{"alg": "RS256", "kid": "ins_unknown"}, claims, sig),
		forge(map[string]any{"alg": "RS256", "kid": other.KeyID(), "crit": []string{"b64"}, "b64": false}, claims, sig),
		forge(map[string]any{"alg": "RS256", "kid": other.KeyID(), "jku": "https://attacker.example/jwks"}, claims, sig),
		forge(map[string]any{"alg": "RS256", "kid": "../../jwks"}, map[string]any{"sub": "user_1", "exp": 1e300}, sig),
		forge(map[string]any{"alg": "ES256", "kid": other.KeyID()}, claims, randomPart(64)),
		forge(map[string]any{"alg": "RS256", "kid": other.KeyID()}, map[string]any{}, ""),
		"eyJhbGciOiJSUzI1NiJ9.e30.",
		"..",
		"a.b",
		"a.b.c.d",
		"Bearer x.y.z",
		"bearer " + randomPart(30) + "." + randomPart(90) + "." + sig,
		strings.Repeat("A", 4096),
		"\x00.\xff.\x80",
		randomPart(20) + "." + randomPart(200) + "." + randomPart(256),
	}
	for i, tok := range tokens {
		fuzzcorpus.Write(t, "FuzzVerifyToken", fmt.Sprintf("seed-%02d", i), tok, uint8(i%4), uint(i*53), uint8(i%3))
	}
}
