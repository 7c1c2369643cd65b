package clerkfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

type fakeServer struct {
	*httptest.Server
	api *API
	m   *Model
}

func newFakeServer(t *testing.T, m *Model, opts APIOptions) *fakeServer {
	t.Helper()
	api := NewAPI(m, opts)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	return &fakeServer{ts, api, m}
}

// mustUnmarshal decodes a JSON response body into v, failing the test if it
// is not the JSON expected.
func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// get requests path (with query) using the default key unless key is given.
func (s *fakeServer) get(t *testing.T, path string, key ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	k := DefaultSecretKey
	if len(key) > 0 {
		k = key[0]
	}
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body
}

type tErrorBody struct {
	Errors []struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		LongMessage string `json:"long_message"`
	} `json:"errors"`
	TraceID string `json:"clerk_trace_id"`
}

func wantClerkError(t *testing.T, status, wantStatus int, body []byte, code string) {
	t.Helper()
	var e tErrorBody
	if status != wantStatus {
		t.Fatalf("status %d, want %d (%s)", status, wantStatus, body)
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Code != code || e.TraceID == "" || e.Errors[0].LongMessage == "" {
		t.Fatalf("error body %s, want code %s (%v)", body, code, err)
	}
}

type tListed struct {
	ID        string `json:"id"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

func TestAPIPagesUsers(t *testing.T) {
	m := New(1)
	m.Populate(1240, 0, 0)
	for _, u := range m.Users()[:6] {
		if _, err := m.DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	s := newFakeServer(t, m, APIOptions{})

	live := map[string]bool{}
	for _, u := range m.Users() {
		if !u.Deleted {
			live[u.ID] = true
		}
	}
	if len(live) != 1234 {
		t.Fatalf("%d live users", len(live))
	}
	seen := map[string]bool{}
	var sizes []int
	var last *tListed
	for offset := 0; ; offset += 500 {
		status, h, body := s.get(t, "/v1/users?limit=500&offset="+itoa(offset))
		if status != http.StatusOK || h.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d %s", status, body)
		}
		if !bytes.HasPrefix(body, []byte("[")) {
			t.Fatalf("GET /v1/users must answer a bare array, got %.40s", body)
		}
		var page []tListed
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page))
		for i := range page {
			u := &page[i]
			if seen[u.ID] || !live[u.ID] {
				t.Fatalf("user %s duplicated or not live", u.ID)
			}
			seen[u.ID] = true
			if last != nil && u.CreatedAt >= last.CreatedAt {
				t.Fatalf("not newest first: %d after %d", u.CreatedAt, last.CreatedAt)
			}
			last = u
		}
		if len(page) < 500 {
			break
		}
	}
	if !slices.Equal(sizes, []int{500, 500, 234}) || len(seen) != 1234 {
		t.Errorf("page sizes %v, %d distinct users", sizes, len(seen))
	}
	if n := s.api.RequestsTo("/v1/users"); n != 3 {
		t.Errorf("RequestsTo(/v1/users) = %d", n)
	}

	status, _, body := s.get(t, "/v1/users/count")
	if status != http.StatusOK || string(body) != `{"object":"total_count","total_count":1234}` {
		t.Errorf("count: %d %s", status, body)
	}

	// Ascending and updated_at orders.
	for _, order := range []string{"created_at", "%2Bcreated_at", "-updated_at", "updated_at"} {
		_, _, body := s.get(t, "/v1/users?limit=50&order_by="+order)
		var page []tListed
		mustUnmarshal(t, body, &page)
		desc := order[0] == '-'
		for i := 1; i < len(page); i++ {
			a, b := page[i-1], page[i]
			ka, kb := a.CreatedAt, b.CreatedAt
			if order == "-updated_at" || order == "updated_at" {
				ka, kb = a.UpdatedAt, b.UpdatedAt
			}
			if (desc && ka < kb) || (!desc && ka > kb) {
				t.Fatalf("order_by=%s: %d then %d", order, ka, kb)
			}
		}
		if len(page) != 50 {
			t.Fatalf("order_by=%s: %d users", order, len(page))
		}
	}

	// Default limit is 10; offsets past the end give an empty array.
	_, _, body = s.get(t, "/v1/users")
	var page []tListed
	mustUnmarshal(t, body, &page)
	if len(page) != 10 {
		t.Errorf("default limit gave %d", len(page))
	}
	if _, _, body := s.get(t, "/v1/users?offset=5000"); string(body) != "[]" {
		t.Errorf("past the end: %s", body)
	}
	// user_id filter.
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range live {
			if !yield(id) {
				return
			}
		}
	})[:3]
	_, _, body = s.get(t, "/v1/users?user_id="+ids[0]+"&user_id="+ids[1]+"&user_id="+ids[2])
	mustUnmarshal(t, body, &page)
	if len(page) != 3 {
		t.Errorf("user_id filter gave %d users", len(page))
	}
}

func TestAPIErrors(t *testing.T) {
	m := New(2)
	m.History(200)
	s := newFakeServer(t, m, APIOptions{SecretKey: "sk_test_right"})

	status, _, body := s.get(t, "/v1/users", "sk_test_wrong")
	wantClerkError(t, status, http.StatusUnauthorized, body, "authentication_invalid")
	status, _, body = s.get(t, "/v1/users", "")
	wantClerkError(t, status, http.StatusUnauthorized, body, "authentication_invalid")

	var deleted, alive User
	for _, u := range m.Users() {
		if u.Deleted {
			deleted = u
		} else {
			alive = u
		}
	}
	if deleted.ID == "" {
		t.Fatal("history has no deleted user")
	}
	status, _, body = s.get(t, "/v1/users/"+deleted.ID, "sk_test_right")
	wantClerkError(t, status, http.StatusNotFound, body, "resource_not_found")
	status, _, body = s.get(t, "/v1/users/"+alive.ID, "sk_test_right")
	if status != http.StatusOK || !bytes.Equal(body, m.UserJSON(alive.ID)) {
		t.Errorf("GET user: %d %s", status, body)
	}

	for _, q := range []string{"limit=0", "limit=501", "limit=ten", "offset=-1", "order_by=password"} {
		status, _, body = s.get(t, "/v1/users?"+q, "sk_test_right")
		wantClerkError(t, status, http.StatusUnprocessableEntity, body, "form_param_value_invalid")
	}
	status, _, body = s.get(t, "/v1/nothing/here", "sk_test_right")
	wantClerkError(t, status, http.StatusNotFound, body, "resource_not_found")

	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/users", nil)
	req.Header.Set("Authorization", "Bearer sk_test_right")
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET" {
		t.Errorf("POST: %d Allow=%q", res.StatusCode, res.Header.Get("Allow"))
	}
}

type tPage struct {
	Data       []json.RawMessage `json:"data"`
	TotalCount int64             `json:"total_count"`
}

func TestAPIOrganizationsAndMemberships(t *testing.T) {
	m := New(3)
	m.History(600)
	m.Populate(300, 30, 600)
	s := newFakeServer(t, m, APIOptions{})
	_, liveOrgs, liveMems := m.Counts()

	// Organizations: envelope, every live one exactly once.
	seen := map[string]bool{}
	for offset := 0; offset < liveOrgs; offset += 7 {
		status, _, body := s.get(t, "/v1/organizations?limit=7&offset="+itoa(offset))
		var p tPage
		if status != http.StatusOK || json.Unmarshal(body, &p) != nil || p.TotalCount != int64(liveOrgs) {
			t.Fatalf("orgs page: %d %s", status, body)
		}
		for _, raw := range p.Data {
			var o tOrg
			mustUnmarshal(t, raw, &o)
			if seen[o.ID] || o.Object != "organization" {
				t.Fatalf("org %s repeated or malformed", o.ID)
			}
			seen[o.ID] = true
		}
	}
	if len(seen) != liveOrgs {
		t.Errorf("listed %d of %d organizations", len(seen), liveOrgs)
	}

	// Instance-wide memberships: total and embedded objects.
	status, _, body := s.get(t, "/v1/organization_memberships?limit=500")
	var p tPage
	if status != http.StatusOK || json.Unmarshal(body, &p) != nil || p.TotalCount != int64(liveMems) || len(p.Data) != min(500, liveMems) {
		t.Fatalf("memberships: %d total %d, %d items, want %d", status, p.TotalCount, len(p.Data), liveMems)
	}
	var ms tMembership
	mustUnmarshal(t, p.Data[0], &ms)
	if ms.Object != "organization_membership" || ms.PublicUserData.UserID == "" || ms.Organization == nil {
		t.Errorf("membership %s", p.Data[0])
	}

	// Per organization, by id and by slug, with a repeated user_id filter.
	var org Organization
	var members []Membership
	for _, o := range m.Organizations() {
		if o.Deleted {
			continue
		}
		var mine []Membership
		for _, ms := range m.Memberships() {
			if ms.OrganizationID == o.ID && !ms.Deleted {
				mine = append(mine, ms)
			}
		}
		if len(mine) > len(members) {
			org, members = o, mine
		}
	}
	for _, ref := range []string{org.ID, org.Slug} {
		_, _, body = s.get(t, "/v1/organizations/"+ref+"/memberships?limit=500")
		mustUnmarshal(t, body, &p)
		if p.TotalCount != int64(len(members)) || len(p.Data) != len(members) {
			t.Errorf("%s memberships: %d/%d, want %d", ref, len(p.Data), p.TotalCount, len(members))
		}
	}
	_, _, body = s.get(t, "/v1/organizations/"+org.ID+"/memberships?user_id="+members[0].UserID+"&user_id="+members[1].UserID)
	mustUnmarshal(t, body, &p)
	if p.TotalCount != 2 || len(p.Data) != 2 {
		t.Errorf("user_id filter: %s", body)
	}
	status, _, body = s.get(t, "/v1/organizations/"+org.Slug+"?")
	if status != http.StatusOK || !bytes.Equal(body, m.OrganizationJSON(org.ID)) {
		t.Errorf("GET org by slug: %d %s", status, body)
	}
	_, _, body = s.get(t, "/v1/organizations?limit=500&include_members_count=true")
	if !bytes.Contains(body, []byte(`"members_count":`)) {
		t.Error("include_members_count=true gave no members_count")
	}
	_, _, body = s.get(t, "/v1/users/"+members[0].UserID+"/organization_memberships")
	mustUnmarshal(t, body, &p)
	if p.TotalCount < 1 {
		t.Errorf("user memberships: %s", body)
	}

	if _, err := m.DeleteOrganization(org.ID); err != nil {
		t.Fatal(err)
	}
	status, _, body = s.get(t, "/v1/organizations/"+org.ID+"/memberships")
	wantClerkError(t, status, http.StatusNotFound, body, "resource_not_found")
	status, _, body = s.get(t, "/v1/organizations/"+org.ID)
	wantClerkError(t, status, http.StatusNotFound, body, "resource_not_found")
	_, _, body = s.get(t, "/v1/organization_memberships?limit=1")
	mustUnmarshal(t, body, &p)
	if _, _, after := m.Counts(); p.TotalCount != int64(after) || after != liveMems-len(members) {
		t.Errorf("after deleting the org: total %d, model %d, want %d", p.TotalCount, after, liveMems-len(members))
	}
}

func TestAPIFaults(t *testing.T) {
	m := New(4)
	m.Populate(20, 2, 10)
	s := newFakeServer(t, m, APIOptions{RateLimitEvery: 3, RetryAfter: "7", ServerErrorEvery: 4})
	var statuses []int
	for range 12 {
		status, h, body := s.get(t, "/v1/users?limit=5")
		statuses = append(statuses, status)
		switch status {
		case http.StatusTooManyRequests:
			wantClerkError(t, status, status, body, "too_many_requests")
			if h.Get("Retry-After") != "7" {
				t.Errorf("Retry-After %q", h.Get("Retry-After"))
			}
		case http.StatusInternalServerError:
			wantClerkError(t, status, status, body, "internal_clerk_error")
		case http.StatusServiceUnavailable:
			wantClerkError(t, status, status, body, "service_unavailable")
		}
	}
	want := []int{200, 200, 429, 500, 200, 429, 200, 503, 429, 200, 200, 429}
	if !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if s.api.RateLimited() != 4 || s.api.ServerErrors() != 2 || s.api.Requests() != 12 {
		t.Errorf("counters: 429s %d, 5xx %d, total %d", s.api.RateLimited(), s.api.ServerErrors(), s.api.Requests())
	}

	// A Fault hook can target one endpoint, with headers of its choosing.
	s = newFakeServer(t, m, APIOptions{Fault: func(r *http.Request, n int64) (int, http.Header) {
		if r.URL.Path == "/v1/organizations" && n == 2 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"soon"}}
		}
		return 0, nil
	}})
	s.get(t, "/v1/organizations")
	status, h, _ := s.get(t, "/v1/organizations")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "soon" {
		t.Errorf("hook fault: %d %q", status, h.Get("Retry-After"))
	}
	if status, _, _ := s.get(t, "/v1/organizations"); status != http.StatusOK {
		t.Errorf("after the hook fault: %d", status)
	}
}

// Deleting objects between two page requests makes offset paging skip
// live ones: the shape of drift reconciliation has to survive.
func TestAPIBeforeRequestProvokesOffsetSkips(t *testing.T) {
	m := New(5)
	m.Populate(300, 0, 0)
	var n atomic.Int64
	var deletedIDs []string
	s := newFakeServer(t, m, APIOptions{BeforeRequest: func(r *http.Request) {
		if n.Add(1) != 2 {
			return
		}
		// Before page 2: delete the 10 newest users, all on page 1.
		users := m.Users()
		slices.SortFunc(users, func(a, b User) int { return int(b.CreatedAt - a.CreatedAt) })
		for _, u := range users[:10] {
			if _, err := m.DeleteUser(u.ID); err != nil {
				t.Fatal(err)
			}
			deletedIDs = append(deletedIDs, u.ID)
		}
	}})
	seen := map[string]bool{}
	for offset := 0; ; offset += 100 {
		_, _, body := s.get(t, "/v1/users?limit=100&offset="+itoa(offset))
		var page []tListed
		mustUnmarshal(t, body, &page)
		for _, u := range page {
			seen[u.ID] = true
		}
		if len(page) < 100 {
			break
		}
	}
	missed := 0
	for _, u := range m.Users() {
		if !u.Deleted && !seen[u.ID] {
			missed++
		}
	}
	if missed != 10 || len(deletedIDs) != 10 {
		t.Errorf("missed %d live users, want the 10 shifted past the page boundary", missed)
	}
}

// The API reads the model while a test mutates it; -race checks the locking.
func TestAPIConcurrentMutation(t *testing.T) {
	m := New(6)
	m.History(300)
	s := newFakeServer(t, m, APIOptions{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				m.Step()
			}
		}
	}()
	paths := []string{"/v1/users?limit=100", "/v1/users/count", "/v1/organizations?limit=100",
		"/v1/organization_memberships?limit=100", "/v1/users?order_by=-updated_at&limit=20"}
	var readers sync.WaitGroup
	for i := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for j := range 25 {
				p := paths[(i+j)%len(paths)]
				req, _ := http.NewRequest(http.MethodGet, s.URL+p, nil)
				req.Header.Set("Authorization", "Bearer "+DefaultSecretKey)
				res, err := s.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("%s: %d", p, res.StatusCode)
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	wg.Wait()
	if got := s.api.RequestsByPath()["/v1/users/count"]; got != 20 {
		t.Errorf("per-path count %d, want 20", got)
	}
}

// Listing must not re-sort per page: the cached listing is reused until the
// model changes.
func TestAPIListingIsCached(t *testing.T) {
	m := New(7)
	m.Populate(1000, 0, 0)
	m.mu.Lock()
	a := m.liveUsers(sortKey{"updated_at", true})
	b := m.liveUsers(sortKey{"updated_at", true})
	m.mu.Unlock()
	if &a[0] != &b[0] {
		t.Error("unchanged model rebuilt the listing")
	}
	if _, err := m.UpdateUser(a[5].ID); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	c := m.liveUsers(sortKey{"updated_at", true})
	d := m.liveUsers(sortKey{"created_at", true})
	e := m.liveUsers(sortKey{"created_at", true})
	m.mu.Unlock()
	if &a[0] == &c[0] || c[0].ID != a[5].ID {
		t.Error("an update did not refresh the updated_at listing")
	}
	if &d[0] != &e[0] {
		t.Error("created_at listing rebuilt without a create or delete")
	}
}
