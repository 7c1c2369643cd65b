package clerkapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// flaky answers the first len(codes) requests with those statuses (0 drops
// the connection) and then serves ok.
func flaky(t *testing.T, hits *atomic.Int64, header http.Header, codes []int, ok string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := int(hits.Add(1)) - 1
		if n >= len(codes) {
			fmt.Fprint(w, ok)
			return
		}
		for k, vs := range header {
			w.Header()[k] = vs
		}
		switch codes[n] {
		case 0:
			hj, isHijacker := w.(http.Hijacker)
			if !isHijacker {
				t.Fatal("test server cannot hijack")
			}
			conn, _, err := hj.Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		default:
			writeClerkError(w, codes[n], "test_error", http.StatusText(codes[n]))
		}
	}
}

func TestRateLimitedThenSuccess(t *testing.T) {
	var hits atomic.Int64
	h := flaky(t, &hits, http.Header{"Retry-After": {"7"}}, []int{429}, `{"object":"user","id":"user_1"}`)
	c, rec := newTestClient(t, h, nil)

	raw, err := c.GetUser(context.Background(), "user_1")
	if err != nil {
		t.Fatalf("GetUser after a 429: %v", err)
	}
	if !strings.Contains(string(raw), `"user_1"`) {
		t.Errorf("raw = %s", raw)
	}
	sleeps, codes := rec.snapshot()
	if !slices.Equal(sleeps, []time.Duration{7 * time.Second}) {
		t.Errorf("slept %v, want exactly the Retry-After of 7s", sleeps)
	}
	if !slices.Equal(codes, []int{429, 200}) {
		t.Errorf("OnResponse saw %v, want [429 200]", codes)
	}
	if s := c.Stats(); s.Requests != 2 || s.RateLimited != 1 || s.Retries != 0 {
		t.Errorf("Stats = %+v, want 2 requests, 1 rate limited, 0 retries", s)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"":                              defaultRetryAfter,
		"soon":                          defaultRetryAfter,
		"-3":                            defaultRetryAfter,
		"1.5":                           defaultRetryAfter,
		"Wed, 21 Oct 2015 07:28:00 GMT": defaultRetryAfter,
		"0":                             defaultRetryAfter, // a floor, so a 0 cannot make us spin
		"1":                             time.Second,
		" 12 ":                          12 * time.Second,
		"60":                            time.Minute,
		"3600":                          maxRetryAfter,
		"99999999999999999999999":       maxRetryAfter,
	} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}

func TestRateLimitedBeyondBudgetReturns429(t *testing.T) {
	var hits atomic.Int64
	h := flaky(t, &hits, http.Header{"Retry-After": {"60"}}, slices.Repeat([]int{429}, 100), "[]")
	c, rec := newTestClient(t, h, func(cfg *Config) { cfg.MaxThrottleWait = 2 * time.Minute })

	err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil })
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want an APIError with status 429", err)
	}
	if apiErr.RetryAfter != time.Minute || apiErr.Attempts != 3 {
		t.Errorf("APIError RetryAfter %s Attempts %d, want 1m0s and 3", apiErr.RetryAfter, apiErr.Attempts)
	}
	sleeps, _ := rec.snapshot()
	if !slices.Equal(sleeps, []time.Duration{time.Minute, time.Minute}) {
		t.Errorf("slept %v, want two 1m waits inside the 2m budget", sleeps)
	}
	if s := c.Stats(); s.Requests != 3 || s.RateLimited != 3 {
		t.Errorf("Stats = %+v, want 3 requests, all rate limited", s)
	}
}

// checkBackoff asserts the waits double from backoffBase with equal jitter.
func checkBackoff(t *testing.T, sleeps []time.Duration) {
	t.Helper()
	for i, d := range sleeps {
		full := min(backoffBase<<i, backoffCap)
		if d < full/2 || d > full {
			t.Errorf("wait %d = %s, want within [%s, %s]", i+1, d, full/2, full)
		}
	}
}

func TestServerErrorsTwiceThenSuccess(t *testing.T) {
	var hits atomic.Int64
	c, rec := newTestClient(t, flaky(t, &hits, nil, []int{500, 502}, `{"data":[],"total_count":0}`), nil)
	if err := c.ListOrganizations(context.Background(), func([]json.RawMessage) error { return nil }); err != nil {
		t.Fatalf("ListOrganizations after two 5xx: %v", err)
	}
	sleeps, codes := rec.snapshot()
	if len(sleeps) != 2 {
		t.Fatalf("slept %v, want 2 backoffs", sleeps)
	}
	checkBackoff(t, sleeps)
	if !slices.Equal(codes, []int{500, 502, 200}) {
		t.Errorf("OnResponse saw %v", codes)
	}
	if s := c.Stats(); s.Requests != 3 || s.Retries != 2 || s.RateLimited != 0 {
		t.Errorf("Stats = %+v, want 3 requests and 2 retries", s)
	}
}

func TestServerErrorsForeverAreBounded(t *testing.T) {
	var hits atomic.Int64
	c, rec := newTestClient(t, flaky(t, &hits, nil, slices.Repeat([]int{503}, 100), "[]"),
		func(cfg *Config) { cfg.MaxRetries = 3 })
	err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil })
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable || apiErr.Attempts != 4 {
		t.Fatalf("err = %v, want an APIError 503 after 4 attempts", err)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnauthorized) {
		t.Error("a 503 matched a sentinel")
	}
	if n := hits.Load(); n != 4 {
		t.Errorf("server saw %d requests, want 4", n)
	}
	sleeps, _ := rec.snapshot()
	if len(sleeps) != 3 {
		t.Fatalf("slept %v, want 3 backoffs", sleeps)
	}
	checkBackoff(t, sleeps)
}

func TestServiceUnavailableRetryAfterIsHonoured(t *testing.T) {
	var hits atomic.Int64
	c, rec := newTestClient(t, flaky(t, &hits, http.Header{"Retry-After": {"5"}}, []int{503}, "[]"), nil)
	if err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if sleeps, _ := rec.snapshot(); !slices.Equal(sleeps, []time.Duration{5 * time.Second}) {
		t.Errorf("slept %v, want the 503's Retry-After of 5s", sleeps)
	}
}

func TestNetworkErrorIsRetried(t *testing.T) {
	var hits atomic.Int64
	c, rec := newTestClient(t, flaky(t, &hits, nil, []int{0, 0}, `{"object":"organization","id":"org_1"}`), nil)
	if _, err := c.GetOrganization(context.Background(), "org_1"); err != nil {
		t.Fatalf("GetOrganization after dropped connections: %v", err)
	}
	_, codes := rec.snapshot()
	if !slices.Contains(codes, 0) || codes[len(codes)-1] != 200 {
		t.Errorf("OnResponse saw %v, want network errors (0) and then 200", codes)
	}
	if c.Stats().Retries == 0 {
		t.Error("no retry counted")
	}
}

func TestNetworkErrorForeverIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	rec := &recorder{}
	c, err := New(Config{BaseURL: url + "/v1", SecretKey: testKey, MaxRetries: 2, Sleep: rec.sleep, OnResponse: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(context.Background(), "user_1")
	if err == nil {
		t.Fatal("no error with nothing listening")
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) || errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want a network error, not an API answer", err)
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("err = %v, want it to say how many attempts were made", err)
	}
	_, codes := rec.snapshot()
	if !slices.Equal(codes, []int{0, 0, 0}) {
		t.Errorf("OnResponse saw %v, want three network errors", codes)
	}
}

func TestAttemptTimeoutIsPerAttempt(t *testing.T) {
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			select { // hang until the client gives up on this attempt
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		fmt.Fprint(w, "[]")
	})
	c, _ := newTestClient(t, h, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
	if err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil }); err != nil {
		t.Fatalf("ListUsers after one slow attempt: %v", err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

type countingLimiter struct {
	inner Limiter
	waits atomic.Int64
}

func (l *countingLimiter) Wait(ctx context.Context) error {
	l.waits.Add(1)
	return l.inner.Wait(ctx)
}

func TestEveryAttemptIsPaced(t *testing.T) {
	var hits atomic.Int64
	c, _ := newTestClient(t, flaky(t, &hits, nil, []int{503}, `{"id":"user_1"}`), func(cfg *Config) { cfg.RPS = 50 })

	lim, ok := c.transport.limiter.(*rate.Limiter)
	if !ok {
		t.Fatalf("limiter is %T, want *rate.Limiter", c.transport.limiter)
	}
	if lim.Limit() != 50 || lim.Burst() != 1 {
		t.Errorf("limiter is %v/s burst %d, want 50/s burst 1", lim.Limit(), lim.Burst())
	}
	counting := &countingLimiter{inner: lim}
	c.transport.limiter = counting

	for i := range 20 {
		if _, err := c.GetUser(context.Background(), "user_1"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	// 20 calls, one of which was retried after its 503: 21 attempts.
	if got, want := counting.waits.Load(), c.Stats().Requests; got != want || want != 21 {
		t.Errorf("limiter consulted %d times for %d attempts, want 21 and 21", got, want)
	}
}

func TestConfigLimiterReplacesRPS(t *testing.T) {
	counting := &countingLimiter{inner: rate.NewLimiter(rate.Inf, 1)}
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "[]") }),
		func(cfg *Config) { cfg.RPS = 1; cfg.Limiter = counting })
	for range 3 {
		if err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.waits.Load(); n != 3 {
		t.Errorf("shared limiter consulted %d times, want 3", n)
	}
}

func TestCancelStopsRetryAfterWait(t *testing.T) {
	var hits atomic.Int64
	h := flaky(t, &hits, http.Header{"Retry-After": {"30"}}, slices.Repeat([]int{429}, 10), "[]")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The real sleep this time: the point is that it wakes on cancel.
	c, _ := newTestClient(t, h, func(cfg *Config) {
		cfg.Sleep = nil
		cfg.OnResponse = func(code int) {
			if code == http.StatusTooManyRequests {
				go func() { time.Sleep(20 * time.Millisecond); cancel() }()
			}
		}
	})
	listUntilCanceled(ctx, t, c, "the 30s wait")
	if n := hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// listUntilCanceled lists users with ctx, which is canceled while the
// client waits, and fails unless the list ends with context.Canceled well
// before the wait (named by wait) would have.
func listUntilCanceled(ctx context.Context, t *testing.T, c *Client, wait string) {
	t.Helper()
	start := time.Now()
	err := c.ListUsers(ctx, func([]json.RawMessage) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("returned after %s: %s ignored the cancel", elapsed, wait)
	}
}

func TestCancelStopsPacingWait(t *testing.T) {
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "[]") }),
		func(cfg *Config) { cfg.RPS = 0.001 }) // the second request would wait ~17 minutes
	if err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	listUntilCanceled(ctx, t, c, "the pacing wait")
	if n := c.Stats().Requests; n != 1 {
		t.Errorf("made %d requests, want 1", n)
	}
}

func TestNonIdempotentRequestsAreNotRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(flaky(t, &hits, nil, slices.Repeat([]int{503}, 10), "{}"))
	defer srv.Close()
	rec := &recorder{}
	tr := &transport{base: srv.Client().Transport, sleep: rec.sleep, attemptTimeout: time.Second, maxRetries: 4, maxThrottleWait: time.Minute}
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || hits.Load() != 1 {
		t.Errorf("POST got %d after %d attempts, want the 503 after 1", resp.StatusCode, hits.Load())
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	for n := 1; n <= 40; n++ {
		full := backoffCap
		if n < 16 {
			full = min(backoffBase<<(n-1), backoffCap)
		}
		for range 50 {
			if d := backoff(n); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, full/2, full)
			}
		}
	}
}

// A connection that dies in the middle of a 200's body is a failed attempt,
// retried like any network error, not an error after the response arrived.
func TestBodyCutShortIsRetried(t *testing.T) {
	var hits atomic.Int64
	const org = `{"object":"organization","id":"org_1"}`
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(org[:10]))
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		fmt.Fprint(w, org)
	}), nil)
	raw, err := c.GetOrganization(context.Background(), "org_1")
	if err != nil || string(raw) != org {
		t.Fatalf("GetOrganization after a cut body: %s, %v", raw, err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("%d requests, want 2 (one cut short, one retry)", n)
	}
}
