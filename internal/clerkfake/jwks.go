package clerkfake

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
)

// Sessions is the fake instance's session-token signing: RSA keys served as
// a JWKS at the Backend API's GET /v1/jwks (set APIOptions.Sessions), and
// tokens minted with them (see Mint). Keys are generated on the spot, never
// read from anywhere, so no test depends on a secret.
//
// A test drives what a verifier sees: Rotate adds a key and signs with it,
// Retire drops a key from the set, FailJWKS makes the endpoint answer an
// error, and JWKSRequests counts what the endpoint was asked.
type Sessions struct {
	issuer string

	mu      sync.Mutex
	keys    []signingKey // every key generated, in order
	current int          // index in keys of the key Mint signs with
	fail    int          // status the JWKS endpoint answers; 0 serves the keys

	jwksRequests atomic.Int64
}

type signingKey struct {
	kid     string
	priv    *rsa.PrivateKey
	retired bool // no longer in the served set
}

// DefaultIssuer passes clerk-sdk-go's issuer rule (an iss starting with
// https://clerk.) without naming a real instance.
const DefaultIssuer = "https://clerk.fake.test"

// NewSessions returns signing state with one RSA-2048 key, kid "ins_fake_1".
// issuer is the tokens' iss; empty means DefaultIssuer.
func NewSessions(issuer string) (*Sessions, error) {
	if issuer == "" {
		issuer = DefaultIssuer
	}
	s := &Sessions{issuer: issuer}
	if _, err := s.Rotate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Issuer is the iss of the minted tokens.
func (s *Sessions) Issuer() string { return s.issuer }

// Rotate generates a new key, adds it to the served set and makes it the one
// Mint signs with, as Clerk does when an instance's keys are rolled. The old
// key stays served until Retire. It returns the new kid.
func (s *Sessions) Rotate() (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("clerkfake: generate RSA key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := signingKey{kid: fmt.Sprintf("ins_fake_%d", len(s.keys)+1), priv: priv}
	s.keys = append(s.keys, k)
	s.current = len(s.keys) - 1
	return k.kid, nil
}

// Retire stops serving the key kid. Tokens signed with it no longer verify
// once a verifier refreshes its keys. Retiring the current key leaves Mint
// signing with it (a token that must not verify).
func (s *Sessions) Retire(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i].kid == kid {
			s.keys[i].retired = true
		}
	}
}

// KeyID is the kid Mint signs with.
func (s *Sessions) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[s.current].kid
}

// FailJWKS makes GET /v1/jwks answer status (a 5xx or 429) with Clerk's
// error body; 0 serves the keys again.
func (s *Sessions) FailJWKS(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status
}

// JWKSRequests is the number of GET /v1/jwks requests received, failed ones
// included.
func (s *Sessions) JWKSRequests() int64 { return s.jwksRequests.Load() }

type jwkJSON struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwksHandler serves the key set in the Backend API's shape. A nil Sessions
// answers 404, as the fake did before it had keys.
func (s *Sessions) jwksHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s == nil {
			notFound(w, "jwks", "")
			return
		}
		s.jwksRequests.Add(1)
		s.mu.Lock()
		fail := s.fail
		keys := make([]jwkJSON, 0, len(s.keys))
		for _, k := range s.keys {
			if k.retired {
				continue
			}
			keys = append(keys, jwkJSON{
				Use: "sig", Kty: "RSA", Kid: k.kid, Alg: "RS256",
				N: b64(k.priv.N.Bytes()), E: b64(big.NewInt(int64(k.priv.E)).Bytes()),
			})
		}
		s.mu.Unlock()
		if fail != 0 {
			code, msg := faultError(fail)
			writeError(w, fail, code, msg, "Injected by clerkfake.Sessions.FailJWKS", "")
			return
		}
		writeJSON(w, http.StatusOK, mustJSON(struct {
			Keys []jwkJSON `json:"keys"`
		}{keys}))
	})
}
