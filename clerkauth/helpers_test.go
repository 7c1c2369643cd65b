package clerkauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
)

const (
	secretKey = "sk_test_clerkauth"
	appOrigin = "https://app.example.com"
)

// fakeClock is the time every verifier in a test sees; tokens are minted
// relative to it, so no test depends on the wall clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// instance is a fake Clerk instance (keys at the fake Backend API's
// /v1/jwks) and a verifier configured against it.
type instance struct {
	sessions *clerkfake.Sessions
	api      *httptest.Server
	clock    *fakeClock
	verifier *clerkauth.Verifier
	metrics  *clerkauth.Metrics
	registry *prometheus.Registry
}

func newInstance(t testing.TB, configure ...func(*clerkauth.Config)) *instance {
	t.Helper()
	sessions, err := clerkfake.NewSessions("")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(clerkfake.NewAPI(clerkfake.New(1), clerkfake.APIOptions{SecretKey: secretKey, Sessions: sessions}))
	t.Cleanup(api.Close)
	in := &instance{sessions: sessions, api: api, clock: &fakeClock{now: time.Now().Truncate(time.Second)},
		registry: prometheus.NewRegistry()}
	in.metrics, err = clerkauth.NewMetrics(in.registry)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clerkauth.Config{
		SecretKey:         secretKey,
		APIURL:            api.URL + "/v1",
		HTTPClient:        api.Client(),
		AuthorizedParties: []string{appOrigin},
		Clock:             in.clock,
		Metrics:           in.metrics,
	}
	for _, f := range configure {
		f(&cfg)
	}
	in.verifier, err = clerkauth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// token mints a token issued now (by the instance's clock), for the app's
// origin unless the spec says otherwise.
func (in *instance) token(t testing.TB, spec clerkfake.SessionToken) string {
	t.Helper()
	if spec.IssuedAt.IsZero() {
		spec.IssuedAt = in.clock.Now()
	}
	if spec.AuthorizedParty == "" {
		spec.AuthorizedParty = appOrigin
	}
	if spec.AuthorizedParty == "-" {
		spec.AuthorizedParty = ""
	}
	tok, err := in.sessions.Mint(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// whoami is a handler that shows what the middleware put in the context.
func whoami(w http.ResponseWriter, r *http.Request) {
	s, ok := clerkauth.SessionFromContext(r.Context())
	if !ok {
		http.Error(w, "no session in context", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(s)
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

// reason is the "reason" of a JSON error body.
func (r response) reason() string {
	var b clerkauth.ErrorBody
	_ = json.Unmarshal([]byte(r.Body), &b) // a body that is not one has no reason
	return b.Reason
}

func serve(h http.Handler, req *http.Request) response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return response{Status: rec.Code, Header: rec.Header(), Body: string(body)}
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func cookie(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	r.AddCookie(&http.Cookie{Name: "__session", Value: token})
	return r
}

// forge builds a token from any header and claims with any signature.
func forge(header, claims map[string]any, sig string) string {
	return clerkfake.EncodeJWTPart(header) + "." + clerkfake.EncodeJWTPart(claims) + "." + sig
}

func mustNotEcho(t *testing.T, r response, token string) {
	t.Helper()
	for _, part := range strings.Split(token, ".") {
		if len(part) > 8 && strings.Contains(r.Body, part) {
			t.Fatalf("the response echoes the token: %s", r.Body)
		}
	}
}

// counter sums the series of a counter that have a label with this value,
// read from the instance's registry as a Prometheus scrape would.
func (in *instance) counter(name, label string) float64 {
	mfs, err := in.registry.Gather()
	if err != nil {
		panic(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetValue() == label {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
