package clerkapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "sk_test_k3yThatMustNeverLeak"

// recorder stands in for Config.Sleep and Config.OnResponse so tests see
// every wait and every status without waiting.
type recorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
	codes  []int
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.sleeps = append(r.sleeps, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recorder) observe(code int) {
	r.mu.Lock()
	r.codes = append(r.codes, code)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]time.Duration, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.sleeps...), append([]int(nil), r.codes...)
}

// newTestClient starts h and a Client pointed at it with a recording sleep;
// mod adjusts the Config before New.
func newTestClient(t *testing.T, h http.Handler, mod func(*Config)) (*Client, *recorder) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	cfg := Config{
		BaseURL:    srv.URL + "/v1",
		SecretKey:  testKey,
		HTTPClient: srv.Client(),
		Sleep:      rec.sleep,
		OnResponse: rec.observe,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, rec
}

// seenRequest is what a test handler keeps of each request.
type seenRequest struct {
	Path   string
	Query  url.Values
	Header http.Header
}

type requestLog struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, seenRequest{Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()})
}

func (l *requestLog) all() []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]seenRequest(nil), l.reqs...)
}

func objects(kind, prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"object":%q,"id":"%s_%05d","created_at":%d}`, kind, prefix, i, 1700000000000-int64(i))
	}
	return out
}

// pageOf slices all by the request's limit and offset, as Clerk does.
func pageOf(t *testing.T, r *http.Request, all []string) []string {
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit < 1 || limit > 500 {
		t.Errorf("bad limit %q", r.URL.Query().Get("limit"))
		return nil
	}
	offset, err := strconv.Atoi(r.URL.Query().Get("offset"))
	if err != nil || offset < 0 {
		t.Errorf("bad offset %q", r.URL.Query().Get("offset"))
		return nil
	}
	if offset > len(all) {
		offset = len(all)
	}
	return all[offset:min(offset+limit, len(all))]
}

func writeArray(w http.ResponseWriter, items []string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
}

func writeEnvelope(w http.ResponseWriter, items []string, total int) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":[%s],"total_count":%d}`, strings.Join(items, ","), total)
}

func writeClerkError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Clerk-Trace-Id", "trace-123")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q,"long_message":%q}],"clerk_trace_id":"trace-123"}`, code, msg, msg)
}

// collect gathers every object's id, failing on duplicates.
func collect(t *testing.T, ids map[string]int, pages *int) PageFunc {
	return func(page []json.RawMessage) error {
		*pages++
		for _, raw := range page {
			var o struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatalf("page holds invalid JSON %s: %v", raw, err)
			}
			ids[o.ID]++
		}
		return nil
	}
}

func TestListUsersPagesBareArrays(t *testing.T) {
	all := objects("user", "user", 1234)
	var log requestLog
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if r.URL.Path != "/v1/users" {
			http.NotFound(w, r)
			return
		}
		writeArray(w, pageOf(t, r, all))
	}), nil)

	ids := map[string]int{}
	var pages int
	if err := c.ListUsers(context.Background(), collect(t, ids, &pages)); err != nil {
		t.Fatalf("ListUsers: %v", err)
	}

	reqs := log.all()
	if len(reqs) != 3 {
		t.Fatalf("made %d requests, want 3 (1234 users at 500 a page, no /users/count)", len(reqs))
	}
	for i, r := range reqs {
		if got, want := r.Query["offset"], []string{strconv.Itoa(i * 500)}; !slices.Equal(got, want) {
			t.Errorf("request %d offset = %v, want %v", i, got, want)
		}
		if got := r.Query["limit"]; !slices.Equal(got, []string{"500"}) {
			t.Errorf("request %d limit = %v, want [500]", i, got)
		}
		if got := r.Query["order_by"]; !slices.Equal(got, []string{"-created_at"}) {
			t.Errorf("request %d order_by = %v, want [-created_at]", i, got)
		}
	}
	if pages != 3 {
		t.Errorf("callback got %d pages, want 3", pages)
	}
	if len(ids) != len(all) {
		t.Errorf("saw %d distinct users, want %d", len(ids), len(all))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("user %s seen %d times", id, n)
		}
	}
	if s := c.Stats(); s.Requests != 3 || s.RateLimited != 0 || s.Retries != 0 {
		t.Errorf("Stats = %+v, want 3 requests and nothing else", s)
	}
}

func TestRequestHeaders(t *testing.T) {
	var log requestLog
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		writeArray(w, nil)
	}), nil)
	if err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	reqs := log.all()
	if len(reqs) != 1 {
		t.Fatalf("made %d requests, want 1", len(reqs))
	}
	h := reqs[0].Header
	if got, want := h.Get("Authorization"), "Bearer "+testKey; got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
	if got := h.Get("Clerk-API-Version"); !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(got) {
		t.Errorf("Clerk-API-Version = %q, want a date version", got)
	}
}

func TestListEnvelopes(t *testing.T) {
	orgs := objects("organization", "org", 5)
	mems := objects("organization_membership", "orgmem", 4)
	var log requestLog
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/v1/organizations":
			writeEnvelope(w, pageOf(t, r, orgs), len(orgs))
		case "/v1/organization_memberships":
			writeEnvelope(w, pageOf(t, r, mems), len(mems))
		default:
			http.NotFound(w, r)
		}
	}), func(cfg *Config) { cfg.PageSize = 2 })

	ids := map[string]int{}
	var pages int
	if err := c.ListOrganizations(context.Background(), collect(t, ids, &pages)); err != nil {
		t.Fatalf("ListOrganizations: %v", err)
	}
	if len(ids) != 5 || pages != 3 {
		t.Errorf("organizations: %d ids in %d pages, want 5 in 3", len(ids), pages)
	}
	if n := len(log.all()); n != 3 {
		t.Errorf("organizations: %d requests, want 3", n)
	}

	ids = map[string]int{}
	pages = 0
	if err := c.ListMemberships(context.Background(), collect(t, ids, &pages)); err != nil {
		t.Fatalf("ListMemberships: %v", err)
	}
	// 4 at 2 a page: the third request finds an empty page; a total_count
	// would have saved it, but a short page is the end signal that cannot
	// go stale.
	if len(ids) != 4 || pages != 2 {
		t.Errorf("memberships: %d ids in %d pages, want 4 in 2", len(ids), pages)
	}
	reqs := log.all()[3:]
	if len(reqs) != 3 {
		t.Fatalf("memberships: %d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Path != "/v1/organization_memberships" {
			t.Errorf("memberships request %d went to %s", i, r.Path)
		}
		if got := r.Query["limit"]; !slices.Equal(got, []string{"2"}) {
			t.Errorf("memberships request %d limit = %v", i, got)
		}
	}
}

func TestPageFuncErrorStopsListing(t *testing.T) {
	all := objects("user", "user", 1200)
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeArray(w, pageOf(t, r, all))
	}), nil)
	stop := errors.New("stop")
	err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return stop })
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unchanged", err)
	}
	if n := c.Stats().Requests; n != 1 {
		t.Errorf("made %d requests after the callback failed, want 1", n)
	}
}

func TestListRejectsMalformedPage(t *testing.T) {
	for name, body := range map[string]string{
		"empty":      "",
		"no data":    `{"total_count":3}`,
		"not a list": `"hello"`,
		"bad json":   `[{"id":`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, body)
			}), nil)
			err := c.ListOrganizations(context.Background(), func([]json.RawMessage) error {
				t.Error("callback called for a malformed page")
				return nil
			})
			if err == nil {
				t.Fatal("no error for a malformed page")
			}
		})
	}
}

func TestGetUser(t *testing.T) {
	const user = `{"object":"user","id":"user_1","updated_at":1700000000000}`
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/users/user_1":
			fmt.Fprint(w, user)
		case "/v1/users/user_gone":
			writeClerkError(w, http.StatusNotFound, "resource_not_found", "not found")
		case "/v1/users/user_proxy404":
			http.Error(w, "<html>404 page not found</html>", http.StatusNotFound)
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
			http.NotFound(w, r)
		}
	}), nil)
	ctx := context.Background()

	raw, err := c.GetUser(ctx, "user_1")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if string(raw) != user {
		t.Errorf("raw = %s, want the body byte for byte", raw)
	}

	_, err = c.GetUser(ctx, "user_gone")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser(gone) = %v, want ErrNotFound", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "resource_not_found" || apiErr.TraceID != "trace-123" {
		t.Errorf("APIError = %+v, want 404 resource_not_found with its trace id", apiErr)
	}

	// Only Clerk may declare an object gone: a tombstone is final.
	_, err = c.GetUser(ctx, "user_proxy404")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser(bare 404) = %v, want an error that is not ErrNotFound", err)
	}

	for _, bad := range []string{"", "../orgs", "user_1?x=1", "a/b", ".."} {
		if _, err := c.GetUser(ctx, bad); err == nil {
			t.Errorf("GetUser(%q) accepted an id that would change the path", bad)
		}
	}
}

func TestGetOrganization(t *testing.T) {
	const org = `{"object":"organization","id":"org_1","slug":"acme"}`
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/organizations/org_1" {
			fmt.Fprint(w, org)
			return
		}
		writeClerkError(w, http.StatusNotFound, "resource_not_found", "not found")
	}), nil)
	raw, err := c.GetOrganization(context.Background(), "org_1")
	if err != nil || string(raw) != org {
		t.Fatalf("GetOrganization = %s, %v", raw, err)
	}
	if _, err := c.GetOrganization(context.Background(), "org_2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetOrganization(missing) = %v, want ErrNotFound", err)
	}
}

// TestMembershipExists checks the answers reconciliation builds from
// GetMembership before it tombstones a membership row: still a member, and
// still the same orgmem id (a user removed and added again gets a new one).
func TestMembershipExists(t *testing.T) {
	membership := func(id, org, user string) string {
		return fmt.Sprintf(`{"object":"organization_membership","id":%q,"organization":{"id":%q},"public_user_data":{"user_id":%q}}`, id, org, user)
	}
	var log requestLog
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/v1/organizations/org_1/memberships":
			var items []string
			for _, m := range [][3]string{{"orgmem_a", "org_1", "user_a"}, {"orgmem_b", "org_1", "user_b"}} {
				if r.URL.Query().Get("user_id") == m[2] {
					items = append(items, membership(m[0], m[1], m[2]))
				}
			}
			writeEnvelope(w, items, len(items))
		case "/v1/organizations/org_sloppy/memberships":
			// A server that ignores the user_id filter.
			writeEnvelope(w, []string{membership("orgmem_x", "org_sloppy", "user_x")}, 1)
		default:
			writeClerkError(w, http.StatusNotFound, "resource_not_found", "organization not found")
		}
	}), nil)
	ctx := context.Background()
	exists := func(org, user, membership string) (bool, error) {
		raw, err := c.GetMembership(ctx, org, user)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var m membershipKeys
		if err := json.Unmarshal(raw, &m); err != nil {
			return false, err
		}
		return membership == "" || m.ID == membership, nil
	}

	for _, tc := range []struct {
		org, user, membership string
		want                  bool
	}{
		{"org_1", "user_a", "orgmem_a", true},
		{"org_1", "user_a", "", true},
		{"org_1", "user_a", "orgmem_old", false}, // removed and re-added
		{"org_1", "user_c", "orgmem_c", false},   // not a member
		{"org_gone", "user_a", "orgmem_a", false},
		{"org_sloppy", "user_a", "", false},
	} {
		got, err := exists(tc.org, tc.user, tc.membership)
		if err != nil {
			t.Errorf("MembershipExists(%s, %s, %s): %v", tc.org, tc.user, tc.membership, err)
			continue
		}
		if got != tc.want {
			t.Errorf("MembershipExists(%s, %s, %s) = %v, want %v", tc.org, tc.user, tc.membership, got, tc.want)
		}
	}
	first := log.all()[0]
	if got := first.Query["user_id"]; !slices.Equal(got, []string{"user_a"}) {
		t.Errorf("user_id query = %v, want [user_a]", got)
	}
	if first.Query.Get("limit") == "" {
		t.Error("membership check sent no limit")
	}

	raw, err := c.GetMembership(ctx, "org_1", "user_b")
	if err != nil || !strings.Contains(string(raw), `"orgmem_b"`) {
		t.Errorf("GetMembership = %s, %v", raw, err)
	}
	if _, err := c.GetMembership(ctx, "org_1", "user_c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMembership(not a member) = %v, want ErrNotFound", err)
	}
}

func TestUnauthorizedIsNotRetriedAndHidesTheKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		code int
	}{
		{"401 clerk body echoing the key", func(w http.ResponseWriter, r *http.Request) {
			writeClerkError(w, http.StatusUnauthorized, "authentication_invalid", "bad key "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}, 401},
		{"401 plain body echoing the key", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "denied: "+r.Header.Get("Authorization"), http.StatusUnauthorized)
		}, 401},
		{"403", func(w http.ResponseWriter, r *http.Request) {
			writeClerkError(w, http.StatusForbidden, "forbidden", "instance suspended")
		}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := newTestClient(t, tc.h, nil)
			err := c.ListUsers(context.Background(), func([]json.RawMessage) error { return nil })
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("err = %v, want ErrUnauthorized", err)
			}
			if errors.Is(err, ErrNotFound) {
				t.Error("a rejected key also matched ErrNotFound")
			}
			msg := err.Error()
			if !strings.Contains(msg, "CLERK_SECRET_KEY") {
				t.Errorf("message %q does not name CLERK_SECRET_KEY", msg)
			}
			if !strings.Contains(msg, strconv.Itoa(tc.code)) {
				t.Errorf("message %q does not give the status", msg)
			}
			if strings.Contains(msg, testKey) || strings.Contains(msg, "k3yThatMustNeverLeak") {
				t.Errorf("message leaks the key: %q", msg)
			}
			if n := c.Stats().Requests; n != 1 {
				t.Errorf("made %d requests, want 1: a rejected key is not retried", n)
			}
			if sleeps, _ := rec.snapshot(); len(sleeps) != 0 {
				t.Errorf("slept %v before giving up", sleeps)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty key", Config{}, "CLERK_SECRET_KEY"},
		{"publishable key", Config{SecretKey: "pk_test_abc"}, "CLERK_SECRET_KEY"},
		{"webhook secret", Config{SecretKey: "whsec_abc"}, "CLERK_SECRET_KEY"},
		{"bare prefix", Config{SecretKey: "sk_"}, "CLERK_SECRET_KEY"},
		{"inner space", Config{SecretKey: "sk_test_a b"}, "CLERK_SECRET_KEY"},
		{"relative url", Config{SecretKey: testKey, BaseURL: "api.clerk.com/v1"}, "CLERK_API_URL"},
		{"ftp url", Config{SecretKey: testKey, BaseURL: "ftp://api.clerk.com/v1"}, "CLERK_API_URL"},
		{"unparseable url", Config{SecretKey: testKey, BaseURL: "http://[::1"}, "CLERK_API_URL"},
		{"url with query", Config{SecretKey: testKey, BaseURL: "https://api.clerk.com/v1?x=1"}, "CLERK_API_URL"},
		{"page too big", Config{SecretKey: testKey, PageSize: 501}, "page size"},
		{"negative page", Config{SecretKey: testKey, PageSize: -1}, "page size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			if tc.cfg.SecretKey != "" && tc.cfg.SecretKey != "sk_" && strings.Contains(err.Error(), tc.cfg.SecretKey) {
				t.Errorf("error %q echoes the key", err)
			}
		})
	}

	c, err := New(Config{SecretKey: " " + testKey + "\n"})
	if err != nil {
		t.Fatalf("New with a trailing newline on the key: %v", err)
	}
	if c.pageSize != DefaultPageSize || c.transport.attemptTimeout != DefaultTimeout ||
		c.transport.maxRetries != DefaultMaxRetries || c.transport.maxThrottleWait != DefaultMaxThrottleWait {
		t.Errorf("defaults not applied: page %d timeout %s retries %d throttle %s",
			c.pageSize, c.transport.attemptTimeout, c.transport.maxRetries, c.transport.maxThrottleWait)
	}
	if c.transport.limiter != nil {
		t.Error("RPS 0 built a limiter; it means unlimited")
	}
}
