package clerkapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// defaultRetryAfter is used when a 429 carries no usable Retry-After.
	// It is also the floor: a server repeating "Retry-After: 0" must not make
	// us spin.
	defaultRetryAfter = time.Second
	// maxRetryAfter caps a single wait: Clerk's windows are 10 s long, so a
	// larger value is more likely a bug than a real block.
	maxRetryAfter = 60 * time.Second

	backoffBase = 200 * time.Millisecond
	backoffCap  = 10 * time.Second

	// drainLimit bounds how much of a discarded response is read so that its
	// connection can be reused; past it, closing is cheaper.
	drainLimit = 64 << 10
)

// Limiter paces requests. *rate.Limiter satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
}

// transport is the http.RoundTripper under the SDK's http.Client. Retrying
// here, below the SDK, keeps the SDK's request building and error parsing
// while letting every attempt be paced and counted.
type transport struct {
	base            http.RoundTripper
	limiter         Limiter // nil: unlimited
	sleep           func(ctx context.Context, d time.Duration) error
	attemptTimeout  time.Duration
	maxRetries      int
	maxThrottleWait time.Duration
	onResponse      func(code int)

	requests    atomic.Int64
	rateLimited atomic.Int64
	retries     atomic.Int64
}

// callInfo carries what the SDK's error would lose back to the Client: the
// final status (the SDK drops it for non-Clerk error bodies), the attempts
// made and the last Retry-After. RoundTrip runs on the caller's goroutine, so
// the Client reads it after Backend.Call without locking.
type callInfo struct {
	status     int
	attempts   int
	retryAfter time.Duration
}

type callInfoKey struct{}

func withCallInfo(ctx context.Context, info *callInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, info)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	info, _ := ctx.Value(callInfoKey{}).(*callInfo)
	if info == nil {
		info = &callInfo{}
	}
	retryable := canRetry(req)

	var failures int
	var throttled time.Duration
	for attempt := 0; ; attempt++ {
		if t.limiter != nil {
			if err := t.limiter.Wait(ctx); err != nil {
				return nil, fmt.Errorf("waiting for the clerk request budget: %w", err)
			}
		}
		resp, err := t.attempt(req, attempt)
		t.requests.Add(1)
		info.attempts++
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		info.status = code
		info.retryAfter = 0
		if t.onResponse != nil {
			t.onResponse(code)
		}

		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !retryable || failures >= t.maxRetries {
				return nil, err
			}
			failures++
			t.retries.Add(1)
			wait = backoff(failures)
		case resp.StatusCode == http.StatusTooManyRequests:
			t.rateLimited.Add(1)
			wait = retryAfter(resp.Header.Get("Retry-After"))
			info.retryAfter = wait
			if !retryable || throttled+wait > t.maxThrottleWait {
				return resp, nil
			}
			throttled += wait
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
			if !retryable || failures >= t.maxRetries {
				return resp, nil
			}
			failures++
			t.retries.Add(1)
			wait = backoff(failures)
			// A 503 may say how long the outage lasts; waiting less only
			// spends attempts.
			if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok && ra > wait {
				wait = ra
			}
		default:
			return resp, nil
		}

		if resp != nil {
			discard(resp)
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting %s before retrying %s %s: %w", wait, req.Method, req.URL.Path, err)
		}
	}
}

// attempt sends one try with its own deadline and reads the whole body
// within it. The deadline is per attempt, not on the http.Client, because
// http.Client.Timeout would also cover the waits between retries. Reading
// the body here (the SDK reads it all anyway) makes a connection that dies
// mid-body a failed attempt, retried like any network error, instead of an
// error surfacing after RoundTrip has returned.
func (t *transport) attempt(req *http.Request, n int) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.attemptTimeout)
	defer cancel()
	r := req.Clone(ctx)
	if n > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, t.timedOut(ctx, req, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, t.timedOut(ctx, req, fmt.Errorf("read response body: %w", err))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// timedOut says so when an attempt failed because Clerk did not answer
// within the attempt's own deadline (the caller's context still alive):
// "context deadline exceeded" alone does not tell an operator that Clerk
// was slow.
func (t *transport) timedOut(attemptCtx context.Context, req *http.Request, err error) error {
	if attemptCtx.Err() != nil && req.Context().Err() == nil {
		return fmt.Errorf("no answer within the %s attempt timeout: %w", t.attemptTimeout, err)
	}
	return err
}

// canRetry refuses to resend anything that is not idempotent or whose body
// cannot be rewound. syncd only sends GETs; this keeps the transport safe if
// that ever changes.
func canRetry(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	_ = resp.Body.Close()
}

// retryAfter is the wait for a 429: Clerk sends whole seconds; anything else
// falls back to defaultRetryAfter, and the result is kept within
// [defaultRetryAfter, maxRetryAfter].
func retryAfter(h string) time.Duration {
	d, ok := parseRetryAfter(h)
	if !ok || d < defaultRetryAfter {
		return defaultRetryAfter
	}
	return d
}

// parseRetryAfter reads delay-seconds only, as Clerk's own JS client does;
// an HTTP-date is treated as absent.
func parseRetryAfter(h string) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	n, err := strconv.ParseInt(h, 10, 64)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(h, "-") {
		return maxRetryAfter, true
	}
	if err != nil || n < 0 {
		return 0, false
	}
	if n >= int64(maxRetryAfter/time.Second) {
		return maxRetryAfter, true
	}
	return time.Duration(n) * time.Second, true
}

// backoff is the wait before retry number n (1-based): doubling from
// backoffBase up to backoffCap, with "equal jitter" (half fixed, half random)
// so that clients failing together do not retry together yet still back off.
func backoff(n int) time.Duration {
	d := backoffCap
	if n < 16 {
		d = min(backoffBase<<(n-1), backoffCap)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// sleepCtx is the default Config.Sleep.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
