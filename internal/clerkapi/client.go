package clerkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/clerk/clerk-sdk-go/v2"
	"golang.org/x/time/rate"
)

const (
	// DefaultBaseURL is Clerk's production Backend API, /v1 included because
	// the SDK appends resource paths to it.
	DefaultBaseURL = "https://api.clerk.com/v1"
	// MaxPageSize is the largest limit the Backend API accepts.
	MaxPageSize = 500
	// DefaultPageSize uses the maximum: the budget is counted in requests,
	// not in objects.
	DefaultPageSize = MaxPageSize
	// DefaultTimeout bounds one HTTP attempt. A page of 500 users can be
	// several megabytes; the SDK's 5 s default is too short for it.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRetries is the number of retries after a 5xx answer or a
	// network error (5 attempts in all).
	DefaultMaxRetries = 4
	// DefaultMaxThrottleWait bounds the total time one request spends
	// waiting out 429s before the 429 is returned to the caller.
	DefaultMaxThrottleWait = 5 * time.Minute
)

// Config configures a Client. Only SecretKey is required.
type Config struct {
	// BaseURL is the Backend API base, CLERK_API_URL; empty means
	// DefaultBaseURL. Tests pass an httptest URL + "/v1".
	BaseURL string
	// SecretKey is CLERK_SECRET_KEY (sk_live_... or sk_test_...).
	SecretKey string

	// RPS is the pace of HTTP attempts, retries included. Zero or negative
	// means unlimited; the service passes SYNCD_CLERK_RPS (20 unless set).
	RPS float64
	// Limiter, if set, replaces the limiter built from RPS, e.g. to share
	// one budget between several clients of the same instance.
	Limiter Limiter

	// PageSize is the limit of list requests: 1..MaxPageSize, zero means
	// DefaultPageSize.
	PageSize int

	// HTTPClient supplies the base transport (and its CheckRedirect and
	// Jar); it is not modified. Its Timeout is used per attempt when Timeout
	// is zero. Nil means a clone of http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds one HTTP attempt, body included; zero means
	// HTTPClient.Timeout or else DefaultTimeout.
	Timeout time.Duration

	// MaxRetries is the number of retries after a 5xx answer or a network
	// error; zero means DefaultMaxRetries, negative means none.
	MaxRetries int
	// MaxThrottleWait bounds the total 429 waiting of one request; zero
	// means DefaultMaxThrottleWait, negative means 429s are not retried.
	MaxThrottleWait time.Duration

	// OnResponse, if set, is called after every HTTP attempt with its
	// status code, or 0 when no response arrived. It feeds
	// syncd_clerk_api_requests_total{code} without this package importing
	// Prometheus. It runs on the caller's goroutine and must be safe for
	// concurrent use if the Client is.
	OnResponse func(code int)

	// Sleep waits between retries; nil means a timer that honours ctx.
	// Tests inject a recorder to stay fast.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the Clerk Backend API for reconciliation. It is safe for
// concurrent use.
type Client struct {
	backend   clerk.Backend
	transport *transport
	pageSize  int
	secret    string // only to scrub it from server-supplied error text
}

// Stats are counters since the Client was created.
type Stats struct {
	// Requests counts HTTP attempts, retries included: what the rate budget
	// is charged.
	Requests int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// Retries counts retries after 5xx answers and network errors.
	Retries int64
}

// PageFunc receives one page of raw JSON objects; it may keep the slice.
// Returning an error stops the listing and is returned unchanged.
type PageFunc func(page []json.RawMessage) error

// New validates cfg and builds a Client. Its errors name the setting to fix.
func New(cfg Config) (*Client, error) {
	key, err := secretKey(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	baseURL, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	pageSize, err := pageSizeOf(cfg.PageSize)
	if err != nil {
		return nil, err
	}
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{
		backend: clerk.NewBackend(&clerk.BackendConfig{
			HTTPClient: httpClient(cfg.HTTPClient, t),
			URL:        clerk.String(baseURL),
			Key:        clerk.String(key),
		}),
		transport: t,
		pageSize:  pageSize,
		secret:    key,
	}, nil
}

// secretKey checks CLERK_SECRET_KEY and returns it trimmed.
func secretKey(raw string) (string, error) {
	key := strings.TrimSpace(raw)
	switch {
	case key == "":
		return "", errors.New("clerkapi: CLERK_SECRET_KEY is not set: reconciliation needs the instance's Backend API secret key (sk_live_... or sk_test_...)")
	case strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", errors.New("clerkapi: CLERK_SECRET_KEY contains whitespace or control characters: set it to the key alone")
	case !strings.HasPrefix(key, "sk_") || len(key) == len("sk_"):
		return "", errors.New("clerkapi: CLERK_SECRET_KEY is not a Backend API secret key: it must start with sk_ (a pk_ publishable key or a whsec_ webhook secret will not work)")
	}
	return key, nil
}

// pageSizeOf is Config.PageSize, DefaultPageSize when zero.
func pageSizeOf(pageSize int) (int, error) {
	switch {
	case pageSize == 0:
		return DefaultPageSize, nil
	case pageSize < 0 || pageSize > MaxPageSize:
		return 0, fmt.Errorf("clerkapi: page size %d is out of range: the Backend API accepts 1 to %d", pageSize, MaxPageSize)
	}
	return pageSize, nil
}

// newTransport builds the transport that limits, times and retries each
// request, from cfg with its defaults filled in.
func newTransport(cfg Config) (*transport, error) {
	if math.IsNaN(cfg.RPS) {
		return nil, errors.New("clerkapi: SYNCD_CLERK_RPS is not a number: set requests per second, e.g. 20")
	}
	limiter := cfg.Limiter
	if limiter == nil && cfg.RPS > 0 && !math.IsInf(cfg.RPS, 1) {
		// Burst 1 spaces requests evenly: a burst at the start of a run is
		// exactly what trips the instance's 10 s window.
		limiter = rate.NewLimiter(rate.Limit(cfg.RPS), 1)
	}
	timeout := cfg.Timeout
	if timeout <= 0 && cfg.HTTPClient != nil {
		timeout = cfg.HTTPClient.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	sleep := cfg.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	return &transport{
		base:            baseTransport(cfg.HTTPClient),
		limiter:         limiter,
		sleep:           sleep,
		attemptTimeout:  timeout,
		maxRetries:      orDefault(cfg.MaxRetries, DefaultMaxRetries),
		maxThrottleWait: orDefault(cfg.MaxThrottleWait, DefaultMaxThrottleWait),
		onResponse:      cfg.OnResponse,
	}, nil
}

// orDefault is def for zero, zero for a negative v (none), and v otherwise.
func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// baseTransport is the given client's transport, or a clone of the default
// one.
func baseTransport(given *http.Client) http.RoundTripper {
	if given != nil && given.Transport != nil {
		return given.Transport
	}
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		return dt.Clone()
	}
	return http.DefaultTransport
}

// httpClient sends through t, keeping the given client's redirect policy
// and cookie jar. No Timeout here on purpose: it would span the retries
// and their waits; the transport bounds each attempt instead.
func httpClient(given *http.Client, t *transport) *http.Client {
	hc := &http.Client{Transport: t}
	if given != nil {
		hc.CheckRedirect = given.CheckRedirect
		hc.Jar = given.Jar
	}
	return hc
}

func parseBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultBaseURL, nil
	}
	const fix = "set it to the Backend API base, e.g. " + DefaultBaseURL + ", or leave it unset"
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error would echo the value, which may hold credentials.
		return "", errors.New("clerkapi: CLERK_API_URL cannot be parsed as a URL: " + fix)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("clerkapi: CLERK_API_URL %q is not an absolute http(s) URL: %s", u.Redacted(), fix)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("clerkapi: CLERK_API_URL %q must not have a query or fragment: %s", u.Redacted(), fix)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:    c.transport.requests.Load(),
		RateLimited: c.transport.rateLimited.Load(),
		Retries:     c.transport.retries.Load(),
	}
}

// ListUsers streams every user of the instance, newest first, through
// GET /users. It pages by hand rather than with the SDK's user.List, which
// spends a second request on /users/count for every page.
//
// Offset paging is not a snapshot. An object created mid-run shifts the
// others back, so one may be delivered twice (upserts absorb that); an
// object deleted mid-run shifts them forward, so one may be skipped, which
// is why absence from a listing is not proof of deletion (see GetUser). The
// same holds for the other listings.
func (c *Client) ListUsers(ctx context.Context, fn PageFunc) error {
	return c.list(ctx, "/users", url.Values{"order_by": {"-created_at"}}, fn)
}

// ListOrganizations streams every organization through GET /organizations.
func (c *Client) ListOrganizations(ctx context.Context, fn PageFunc) error {
	return c.list(ctx, "/organizations", nil, fn)
}

// ListMemberships streams every organization membership of the instance
// through GET /organization_memberships, one request per page for the whole
// instance instead of one listing per organization.
func (c *Client) ListMemberships(ctx context.Context, fn PageFunc) error {
	return c.list(ctx, "/organization_memberships", nil, fn)
}

// GetUser returns the user's raw JSON, or an error matching ErrNotFound if
// Clerk no longer has it.
func (c *Client) GetUser(ctx context.Context, id string) (json.RawMessage, error) {
	return c.getObject(ctx, "users", id)
}

// GetOrganization returns the organization's raw JSON, or an error matching
// ErrNotFound if Clerk no longer has it.
func (c *Client) GetOrganization(ctx context.Context, id string) (json.RawMessage, error) {
	return c.getObject(ctx, "organizations", id)
}

// GetMembership returns the raw JSON of userID's membership in orgID, or an
// error matching ErrNotFound if there is none or the organization is gone.
// Clerk addresses memberships by organization and user, not by orgmem id.
func (c *Client) GetMembership(ctx context.Context, orgID, userID string) (json.RawMessage, error) {
	if !validID.MatchString(orgID) {
		return nil, fmt.Errorf("clerkapi: invalid organization id %q", orgID)
	}
	if !validID.MatchString(userID) {
		return nil, fmt.Errorf("clerkapi: invalid user id %q", userID)
	}
	path := "/organizations/" + orgID + "/memberships"
	var found json.RawMessage
	err := c.list(ctx, path, url.Values{"user_id": {userID}}, func(page []json.RawMessage) error {
		for _, raw := range page {
			var m membershipKeys
			if err := json.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("clerkapi: GET %s: decoding a membership: %w", path, err)
			}
			// The user_id filter is the server's; checking again costs
			// nothing and keeps a server that ignores it from producing a
			// false "exists".
			if m.PublicUserData.UserID == userID && (m.Organization.ID == "" || m.Organization.ID == orgID) {
				found = raw
				return errStop
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return found, nil
	case err != nil:
		return nil, err
	}
	return nil, fmt.Errorf("clerkapi: user %s has no membership in organization %s: %w", userID, orgID, ErrNotFound)
}

type membershipKeys struct {
	ID           string `json:"id"`
	Organization struct {
		ID string `json:"id"`
	} `json:"organization"`
	PublicUserData struct {
		UserID string `json:"user_id"`
	} `json:"public_user_data"`
}

var errStop = errors.New("clerkapi: stop paging")

// validID keeps ids (from our own tables, but still) from changing the
// request path. Clerk ids and slugs fit it.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (c *Client) list(ctx context.Context, path string, extra url.Values, fn PageFunc) error {
	limit := int64(c.pageSize)
	var offset int64
	for {
		params := &listParams{
			ListParams: clerk.ListParams{Limit: clerk.Int64(limit), Offset: clerk.Int64(offset)},
			extra:      extra,
		}
		var r rawReader
		if err := c.get(ctx, path, params, &r); err != nil {
			return err
		}
		page, err := decodePage(r.body())
		if err != nil {
			return fmt.Errorf("clerkapi: GET %s (offset %d): %w", path, offset, err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		// A short page is the only end signal that works for both shapes:
		// /users has no total_count, and a total taken mid-run goes stale.
		if int64(len(page)) < limit {
			return nil
		}
		offset += int64(len(page))
	}
}

func (c *Client) getObject(ctx context.Context, collection, id string) (json.RawMessage, error) {
	if !validID.MatchString(id) {
		return nil, fmt.Errorf("clerkapi: invalid %s id %q", strings.TrimSuffix(collection, "s"), id)
	}
	path := "/" + collection + "/" + id
	var r rawReader
	if err := c.get(ctx, path, nil, &r); err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(r.body())
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("clerkapi: GET %s: response is not a JSON object", path)
	}
	return json.RawMessage(body), nil
}

// get makes one logical GET (retries happen below, in the transport) and
// turns failures into errors callers can branch on.
func (c *Client) get(ctx context.Context, path string, params clerk.Params, r *rawReader) error {
	info := &callInfo{}
	req := clerk.NewAPIRequest(http.MethodGet, path)
	if params != nil {
		req.SetParams(params)
	}
	err := c.backend.Call(withCallInfo(ctx, info), req, r)
	if err == nil {
		return nil
	}
	// A *url.Error means http.Client.Do failed (network, cancellation while
	// waiting to retry); otherwise the SDK got an answer and judged it.
	var transportErr *url.Error
	if !errors.As(err, &transportErr) && info.status >= http.StatusBadRequest {
		return newAPIError(http.MethodGet, path, info, err, c.secret)
	}
	// No error status: the request never got an answer, was cancelled, or
	// the body was not JSON.
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("clerkapi: GET %s: %w: %w", path, ctxErr, err)
	}
	if info.attempts > 1 {
		return fmt.Errorf("clerkapi: GET %s: gave up after %d attempts: %w", path, info.attempts, err)
	}
	return fmt.Errorf("clerkapi: GET %s: %w", path, err)
}

// listParams exists because clerk.ListParams alone is not a clerk.Params;
// embedding both makes ToQuery ambiguous, so it is defined here.
type listParams struct {
	clerk.APIParams
	clerk.ListParams
	extra url.Values
}

func (p *listParams) ToQuery() url.Values {
	q := p.ListParams.ToQuery()
	for k, vs := range p.extra {
		q[k] = append([]string(nil), vs...)
	}
	return q
}

// rawReader keeps the body as the SDK read it. Its no-op UnmarshalJSON
// stops the SDK from decoding into a struct (a bare array would not even
// fit one); pages and objects are cut from Response.RawJSON instead.
type rawReader struct {
	clerk.APIResource
}

func (*rawReader) UnmarshalJSON([]byte) error { return nil }

func (r *rawReader) body() []byte {
	if r.Response == nil {
		return nil
	}
	return r.Response.RawJSON
}

// decodePage accepts both list shapes: the bare array of GET /users and the
// {data,total_count} envelope of the others, so a server moving /users to
// the envelope does not break reconciliation.
func decodePage(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty response body")
	}
	switch body[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("decoding page: %w", err)
		}
		return items, nil
	case '{':
		var env struct {
			Data *[]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, fmt.Errorf("decoding page: %w", err)
		}
		if env.Data == nil {
			return nil, errors.New("response object has no data array")
		}
		return *env.Data, nil
	}
	return nil, errors.New("response is neither a JSON array nor a {data} object")
}
