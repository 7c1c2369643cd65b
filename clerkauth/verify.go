package clerkauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"
	jose "github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
)

// Defaults of Config.
const (
	DefaultAPIURL             = "https://api.clerk.com/v1"
	DefaultLeeway             = 5 * time.Second
	DefaultKeysTTL            = time.Hour
	DefaultMinRefetchInterval = 10 * time.Second
	DefaultStaleKeysGrace     = 10 * time.Minute
	DefaultFetchTimeout       = 5 * time.Second
	DefaultVerifiedCacheSize  = 10_000
)

// Config configures a Verifier.
type Config struct {
	// SecretKey is the instance's Backend API key (CLERK_SECRET_KEY); the
	// session keys are fetched with it. Required.
	SecretKey string
	// APIURL is the Backend API base URL (CLERK_API_URL); empty means
	// DefaultAPIURL. Keys are fetched from APIURL + "/jwks".
	APIURL string
	// HTTPClient fetches the keys; nil means a client with
	// DefaultFetchTimeout.
	HTTPClient *http.Client

	// AuthorizedParties are the origins (scheme://host[:port]) whose pages
	// may send tokens, matched exactly against azp. A token whose azp is
	// not listed is refused. A token without azp is accepted from the
	// Authorization header only: a cookie is sent by the browser on its
	// own, so a cookie session must name a listed origin, and with no
	// origins configured cookie sessions are refused.
	AuthorizedParties []string
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means
	// DefaultLeeway, a negative value none.
	Leeway time.Duration
	// AllowPending accepts sessions whose status is "pending" (signed in,
	// with a task such as choosing an organization still open). They are
	// refused by default, as Clerk's own SDKs treat them as signed out.
	AllowPending bool

	// KeysTTL is how long fetched keys are trusted before they are fetched
	// again, counted from the fetch: use does not extend it. Zero means
	// DefaultKeysTTL.
	KeysTTL time.Duration
	// MinRefetchInterval bounds fetches: at most one per interval, however
	// many tokens with unknown key ids or failed fetches arrive. Zero
	// means DefaultMinRefetchInterval.
	MinRefetchInterval time.Duration
	// StaleKeysGrace is how long expired keys still verify while fetching
	// new ones fails. Zero means DefaultStaleKeysGrace, negative none.
	StaleKeysGrace time.Duration

	// VerifiedCacheSize is how many verified tokens are remembered, so that
	// the same token sent again (a frontend reuses one for about 50 s)
	// skips the signature check. An entry lives until the token expires or
	// the key set it was checked against does, whichever is first. Zero
	// means DefaultVerifiedCacheSize, negative no cache.
	VerifiedCacheSize int

	// Clock replaces the wall clock (tests); nil means the real one.
	Clock clerk.Clock
	// Metrics counts outcomes; nil counts nothing.
	Metrics *Metrics
}

// Verifier verifies Clerk session tokens of one instance. It is safe for
// concurrent use; create one per instance and share it.
type Verifier struct {
	clock        clerk.Clock
	leeway       time.Duration
	parties      []string
	allowPending bool
	keys         *keyCache
	verified     *verifiedCache // nil: off
	metrics      *Metrics
}

// NewVerifier checks cfg and returns a Verifier. No request is made until
// the first token arrives.
func NewVerifier(cfg Config) (*Verifier, error) {
	if strings.TrimSpace(cfg.SecretKey) == "" {
		return nil, errors.New("clerkauth: Config.SecretKey (CLERK_SECRET_KEY) is required to fetch the session keys")
	}
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if u, err := url.Parse(apiURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("clerkauth: Config.APIURL (CLERK_API_URL) %q is not an http(s) URL", apiURL)
	}
	var parties []string
	for _, p := range cfg.AuthorizedParties {
		p = strings.TrimRight(strings.TrimSpace(p), "/")
		if p == "" {
			continue
		}
		if u, err := url.Parse(p); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("clerkauth: authorized party %q is not an origin like https://app.example.com", p)
		}
		parties = append(parties, p)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = clerk.NewClock()
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultFetchTimeout}
	}
	v := &Verifier{
		clock:        clock,
		leeway:       orDefault(cfg.Leeway, DefaultLeeway),
		parties:      parties,
		allowPending: cfg.AllowPending,
		metrics:      cfg.Metrics,
	}
	if size := cfg.VerifiedCacheSize; size >= 0 {
		if size == 0 {
			size = DefaultVerifiedCacheSize
		}
		v.verified = &verifiedCache{max: size, entries: make(map[[32]byte]verifiedEntry)}
	}
	bc := &clerk.ClientConfig{}
	bc.URL = clerk.String(strings.TrimRight(apiURL, "/"))
	bc.Key = clerk.String(cfg.SecretKey)
	bc.HTTPClient = httpClient
	v.keys = &keyCache{
		client:     jwks.NewClient(bc),
		clock:      clock,
		ttl:        orDefault(cfg.KeysTTL, DefaultKeysTTL),
		minRefetch: orDefault(cfg.MinRefetchInterval, DefaultMinRefetchInterval),
		staleGrace: orDefault(cfg.StaleKeysGrace, DefaultStaleKeysGrace),
		timeout:    DefaultFetchTimeout,
		metrics:    cfg.Metrics,
	}
	return v, nil
}

// orDefault: zero is the default, negative is none.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// tokenHeader is the part of the JOSE header read before verification, to
// pick the key and refuse other algorithms early. The SDK checks alg again.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// extraClaims are the claims clerk-sdk-go does not expose (sts, the raw v,
// whether fva is present at all), decoded by its CustomClaimsConstructor
// from the same verified payload.
type extraClaims struct {
	Version *int      `json:"v"`
	Status  string    `json:"sts"`
	FVA     *[2]int64 `json:"fva"`
}

// Verify checks token as if it arrived from source and returns the session.
// Every refusal is a *VerifyError.
func (v *Verifier) Verify(ctx context.Context, token string, source Source) (*Session, error) {
	s, err := v.verify(ctx, token, source)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			v.metrics.verified(string(ve.Reason))
		}
		return nil, err
	}
	v.metrics.verified("ok")
	return s, nil
}

func (v *Verifier) verify(ctx context.Context, token string, source Source) (*Session, error) {
	if token == "" {
		return nil, ErrMissingToken
	}
	var cacheKey [32]byte
	if v.verified != nil {
		cacheKey = verifiedKey(token, source)
		if s, ok := v.verified.get(cacheKey, v.clock.Now()); ok {
			return s, nil
		}
	}
	h, err := decodeHeader(token)
	if err != nil {
		return nil, refuse(ReasonMalformedToken, err)
	}
	if h.Alg != "RS256" {
		// Clerk signs with RS256 only; "none" and HMAC are the classic
		// forgeries. Refused before any key is looked up or fetched.
		return nil, refuse(ReasonUnsupportedAlg, nil)
	}
	if h.Kid == "" {
		return nil, refuse(ReasonMalformedToken, errors.New("no kid in the header"))
	}
	key, keysUntil, err := v.keys.get(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	claims, err := jwt.Verify(ctx, &jwt.VerifyParams{
		Token:                   token,
		JWK:                     key,
		Clock:                   v.clock,
		Leeway:                  v.leeway,
		CustomClaimsConstructor: func(context.Context) any { return &extraClaims{} },
	})
	if err != nil {
		return nil, classify(err)
	}
	extra, _ := claims.Custom.(*extraClaims)
	if extra == nil {
		extra = &extraClaims{}
	}
	// go-jose treats exp as optional; a session token without one would be
	// valid forever.
	if claims.Expiry == nil {
		return nil, refuse(ReasonMissingExpiry, nil)
	}
	if claims.Subject == "" {
		return nil, refuse(ReasonInvalidClaims, nil)
	}
	if err := v.checkParty(claims.AuthorizedParty, source); err != nil {
		return nil, err
	}
	if extra.Status == "pending" && !v.allowPending {
		return nil, ErrPendingSession
	}
	s := newSession(claims, extra, source)
	if v.verified != nil && !keysUntil.IsZero() {
		until := s.ExpiresAt.Add(v.leeway)
		if keysUntil.Before(until) {
			until = keysUntil
		}
		v.verified.put(cacheKey, verifiedEntry{s: *s, until: until}, v.clock.Now())
	}
	return s, nil
}

// verifiedCache remembers sessions already verified, keyed by a digest of
// the token and where it came from (azp rules differ by source). Only
// successes are kept: a refusal costs no signature check worth saving, and
// a flood of garbage must not evict real sessions.
type verifiedCache struct {
	max     int
	mu      sync.RWMutex
	entries map[[32]byte]verifiedEntry
}

type verifiedEntry struct {
	s     Session
	until time.Time
}

func verifiedKey(token string, source Source) [32]byte {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(token))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *verifiedCache) get(k [32]byte, now time.Time) (*Session, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	s := e.s // a copy: a handler changing its session changes no other request's
	return &s, true
}

func (c *verifiedCache) put(k [32]byte, e verifiedEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	putBounded(c.entries, c.max, k, e, func(old verifiedEntry) bool { return !now.Before(old.until) })
}

func decodeHeader(token string) (tokenHeader, error) {
	var h tokenHeader
	dot := strings.IndexByte(token, '.')
	if dot <= 0 || strings.Count(token, ".") != 2 {
		return h, errors.New("not three dot-separated parts")
	}
	raw, err := base64.RawURLEncoding.DecodeString(token[:dot])
	if err != nil {
		return h, errors.New("header is not base64url")
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, errors.New("header is not JSON")
	}
	return h, nil
}

// classify maps the SDK's (and go-jose's) errors to reasons. The SDK
// returns go-jose's sentinels unwrapped; its own checks are plain errors
// recognisable by their text.
func classify(err error) *VerifyError {
	switch {
	case errors.Is(err, josejwt.ErrExpired):
		return refuse(ReasonExpired, nil)
	case errors.Is(err, josejwt.ErrNotValidYet):
		return refuse(ReasonNotYetValid, nil)
	case errors.Is(err, josejwt.ErrIssuedInTheFuture):
		return refuse(ReasonIssuedInFuture, nil)
	case errors.Is(err, jose.ErrCryptoFailure):
		return refuse(ReasonInvalidSignature, nil)
	case strings.HasPrefix(err.Error(), "invalid issuer"):
		return refuse(ReasonInvalidIssuer, nil)
	case strings.HasPrefix(err.Error(), "invalid signing algorithm"):
		return refuse(ReasonUnsupportedAlg, nil)
	default:
		return refuse(ReasonMalformedToken, err)
	}
}

func (v *Verifier) checkParty(azp string, source Source) error {
	if azp == "" {
		if source == SourceCookie {
			return ErrMissingParty
		}
		return nil
	}
	if len(v.parties) == 0 {
		if source == SourceCookie {
			return ErrMissingParty
		}
		return nil
	}
	if !slices.Contains(v.parties, strings.TrimRight(azp, "/")) {
		return ErrUnauthorizedParty
	}
	return nil
}

func newSession(c *clerk.SessionClaims, extra *extraClaims, source Source) *Session {
	s := &Session{
		UserID:          c.Subject,
		SessionID:       c.SessionID,
		AuthorizedParty: c.AuthorizedParty,
		Issuer:          c.Issuer,
		Version:         1,
		Status:          extra.Status,
		Source:          source,
		Claims:          c,
		ExpiresAt:       time.Unix(*c.Expiry, 0),
	}
	if extra.Version != nil {
		s.Version = *extra.Version
	}
	if c.IssuedAt != nil {
		s.IssuedAt = time.Unix(*c.IssuedAt, 0)
	}
	if extra.FVA != nil {
		s.FactorAge = &FactorAge{FirstFactorMinutes: extra.FVA[0], SecondFactorMinutes: extra.FVA[1]}
	}
	// The SDK has already mapped v2's o and fea onto the v1 fields; only
	// the role's prefix differs between the two.
	if c.ActiveOrganizationID != "" {
		perms := make([]string, len(c.ActiveOrganizationPermissions))
		for i, p := range c.ActiveOrganizationPermissions {
			perms[i] = NormalizePermission(p)
		}
		s.ActiveOrganization = &ActiveOrganization{
			ID:          c.ActiveOrganizationID,
			Slug:        c.ActiveOrganizationSlug,
			Role:        NormalizeRole(c.ActiveOrganizationRole),
			Permissions: perms,
		}
	}
	return s
}
