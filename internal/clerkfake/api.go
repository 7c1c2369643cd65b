package clerkfake

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// DefaultSecretKey is the Backend API key the fake accepts when
// APIOptions.SecretKey is empty.
const DefaultSecretKey = "sk_test_clerkfake"

// Paging limits of Clerk's list endpoints.
const (
	defaultLimit = 10
	maxLimit     = 500
)

// APIOptions configures the fake Backend API.
type APIOptions struct {
	// SecretKey is the only key accepted as "Authorization: Bearer <key>";
	// empty means DefaultSecretKey.
	SecretKey string

	// RateLimitEvery makes every Nth request (counting all requests) answer
	// 429 with Retry-After, as Clerk does when an instance exceeds its
	// budget. 0 disables it.
	RateLimitEvery int
	// RetryAfter is the Retry-After value of those 429s, in seconds;
	// empty means "1". Any string is sent as is, so a test can check how a
	// client copes with a malformed value.
	RetryAfter string
	// ServerErrorEvery makes every Nth request answer a 5xx, alternating
	// 500 and 503. A request picked by both RateLimitEvery and
	// ServerErrorEvery is rate limited.
	ServerErrorEvery int

	// Fault, when set, is consulted first for every authenticated GET with
	// its 1-based sequence number n. A non-zero status is answered with a
	// Clerk error body and the given headers (a 429 without a Retry-After
	// header is sent without one); 0 lets the request through.
	Fault func(r *http.Request, n int64) (status int, header http.Header)

	// BeforeRequest runs at the start of every request, outside the model's
	// lock, so it may mutate the model: deleting objects between two page
	// requests is how a test provokes the skips of offset paging.
	BeforeRequest func(r *http.Request)

	// Sessions, when set, serves GET /v1/jwks from its signing keys.
	Sessions *Sessions
}

// API is a fake Clerk Backend API serving a Model under /v1, with Clerk's
// response shapes, so a client built with base URL server.URL+"/v1" works
// unchanged against it. It implements http.Handler.
//
// Supported: GET /v1/users (bare array; order_by created_at or updated_at;
// user_id filter), /v1/users/count, /v1/users/{id},
// /v1/users/{id}/organization_memberships, /v1/organizations (order_by
// created_at or name; include_members_count), /v1/organizations/{id or slug},
// /v1/organizations/{id}/memberships (user_id filter) and the instance-wide
// /v1/organization_memberships. Lists page with limit (1..500, default 10)
// and offset and default to -created_at, newest first.
type API struct {
	model *Model
	opts  APIOptions
	mux   *http.ServeMux

	requests     atomic.Int64
	rateLimited  atomic.Int64
	serverErrors atomic.Int64

	mu     sync.Mutex
	byPath map[string]int64
}

// NewAPI returns a fake Backend API over m.
func NewAPI(m *Model, opts APIOptions) *API {
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSecretKey
	}
	if opts.RetryAfter == "" {
		opts.RetryAfter = "1"
	}
	a := &API{model: m, opts: opts, mux: http.NewServeMux(), byPath: make(map[string]int64)}
	a.mux.HandleFunc("/v1/users", a.listUsers)
	a.mux.HandleFunc("/v1/users/count", a.countUsers)
	a.mux.HandleFunc("/v1/users/{id}", a.getUser)
	a.mux.HandleFunc("/v1/users/{id}/organization_memberships", a.listUserMemberships)
	a.mux.HandleFunc("/v1/organizations", a.listOrganizations)
	a.mux.HandleFunc("/v1/organizations/{id}", a.getOrganization)
	a.mux.HandleFunc("/v1/organizations/{id}/memberships", a.listOrganizationMemberships)
	a.mux.HandleFunc("/v1/organization_memberships", a.listAllMemberships)
	a.mux.Handle("/v1/jwks", opts.Sessions.jwksHandler())
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found",
			"The requested resource "+r.URL.Path+" does not exist in this fake", "")
	})
	return a
}

// Requests is the number of requests received, whatever their answer.
func (a *API) Requests() int64 { return a.requests.Load() }

// RequestsTo is the number of requests received for one URL path, e.g.
// "/v1/users" (query strings not included).
func (a *API) RequestsTo(path string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byPath[path]
}

// RequestsByPath returns a copy of the per-path request counts.
func (a *API) RequestsByPath() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int64, len(a.byPath))
	for k, v := range a.byPath {
		out[k] = v
	}
	return out
}

// RateLimited is the number of 429 answers served.
func (a *API) RateLimited() int64 { return a.rateLimited.Load() }

// ServerErrors is the number of injected 5xx answers served.
func (a *API) ServerErrors() int64 { return a.serverErrors.Load() }

// ServeHTTP answers one Backend API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.requests.Add(1)
	a.mu.Lock()
	a.byPath[r.URL.Path]++
	a.mu.Unlock()

	if a.opts.BeforeRequest != nil {
		a.opts.BeforeRequest(r)
	}
	if r.Header.Get("Authorization") != "Bearer "+a.opts.SecretKey {
		writeError(w, http.StatusUnauthorized, "authentication_invalid", "Invalid authentication",
			"Unable to authenticate the request, you need to supply an active API key", "")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "request_method_not_allowed", "method not allowed",
			"The fake Backend API only serves GET requests", "")
		return
	}
	if status, header := a.fault(r, n); status != 0 {
		for k, vs := range header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if status == http.StatusTooManyRequests {
			a.rateLimited.Add(1)
		} else if status >= 500 {
			a.serverErrors.Add(1)
		}
		code, msg := faultError(status)
		writeError(w, status, code, msg, "Injected by clerkfake", "")
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) fault(r *http.Request, n int64) (int, http.Header) {
	if a.opts.Fault != nil {
		if status, h := a.opts.Fault(r, n); status != 0 {
			return status, h
		}
	}
	if every := int64(a.opts.RateLimitEvery); every > 0 && n%every == 0 {
		return http.StatusTooManyRequests, http.Header{"Retry-After": {a.opts.RetryAfter}}
	}
	if every := int64(a.opts.ServerErrorEvery); every > 0 && n%every == 0 {
		if (n/every)%2 == 1 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusServiceUnavailable, nil
	}
	return 0, nil
}

func faultError(status int) (code, message string) {
	switch {
	case status == http.StatusTooManyRequests:
		return "too_many_requests", "Too many requests"
	case status == http.StatusServiceUnavailable:
		return "service_unavailable", "Service unavailable"
	case status >= 500:
		return "internal_clerk_error", "Oops, an unexpected error occurred"
	default:
		return "request_invalid", http.StatusText(status)
	}
}

type clerkErrorJSON struct {
	Code        string            `json:"code"`
	Message     string            `json:"message"`
	LongMessage string            `json:"long_message"`
	Meta        map[string]string `json:"meta,omitempty"`
}

type errorBodyJSON struct {
	Errors  []clerkErrorJSON `json:"errors"`
	TraceID string           `json:"clerk_trace_id"`
}

// writeError answers with Clerk's error shape. param, when set, is reported
// in meta.param_name as Clerk does for invalid parameters.
func writeError(w http.ResponseWriter, status int, code, message, long, param string) {
	e := clerkErrorJSON{Code: code, Message: message, LongMessage: long}
	if param != "" {
		e.Meta = map[string]string{"param_name": param}
	}
	trace := fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
	w.Header().Set("Clerk-Trace-Id", trace)
	writeJSON(w, status, mustJSON(errorBodyJSON{Errors: []clerkErrorJSON{e}, TraceID: trace}))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func notFound(w http.ResponseWriter, kind, id string) {
	writeError(w, http.StatusNotFound, "resource_not_found", "not found",
		fmt.Sprintf("No %s was found with id %s", kind, id), "")
}

// listQuery is the parsed paging and ordering of a list request.
type listQuery struct {
	limit, offset int
	order         sortKey
}

// parseList validates limit, offset and order_by the way Clerk does,
// answering 422 itself when they are invalid.
func parseList(w http.ResponseWriter, r *http.Request, orders ...string) (listQuery, bool) {
	q := r.URL.Query()
	lq := listQuery{limit: defaultLimit, order: sortKey{"created_at", true}}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusUnprocessableEntity, "form_param_value_invalid", "is invalid",
				"limit must be an integer greater than zero and less than 501", "limit")
			return lq, false
		}
		lq.limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusUnprocessableEntity, "form_param_value_invalid", "is invalid",
				"offset must be an integer greater than or equal to zero", "offset")
			return lq, false
		}
		lq.offset = n
	}
	if s := q.Get("order_by"); s != "" {
		k := parseSortKey(s)
		if !slices.Contains(orders, k.field) {
			writeError(w, http.StatusUnprocessableEntity, "form_param_value_invalid", "is invalid",
				fmt.Sprintf("order_by %q is not supported by the fake; use one of %v with an optional +/- prefix", s, orders), "order_by")
			return lq, false
		}
		lq.order = k
	}
	return lq, true
}

func pageOf[T any](items []T, lq listQuery) []T {
	if lq.offset >= len(items) {
		return nil
	}
	return items[lq.offset:min(lq.offset+lq.limit, len(items))]
}

// userIDFilter reads repeated user_id parameters (the SDKs send user_id=a&
// user_id=b; user_id[] is accepted too).
func userIDFilter(r *http.Request) map[string]bool {
	q := r.URL.Query()
	ids := slices.Concat(q["user_id"], q["user_id[]"])
	if len(ids) == 0 {
		return nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}

func filterBy[T any](items []T, keep func(T) bool) []T {
	out := make([]T, 0, len(items))
	for _, x := range items {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

type listJSON[T any] struct {
	Data       []T   `json:"data"`
	TotalCount int64 `json:"total_count"`
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	lq, ok := parseList(w, r, "created_at", "updated_at")
	if !ok {
		return
	}
	ids := userIDFilter(r)
	m := a.model
	m.mu.Lock()
	users := m.liveUsers(lq.order)
	if ids != nil {
		users = filterBy(users, func(u *User) bool { return ids[u.ID] })
	}
	page := pageOf(users, lq)
	out := make([]userJSON, len(page))
	for i, u := range page {
		out[i] = u.wire()
	}
	body := mustJSON(out)
	m.mu.Unlock()
	// GET /v1/users is the one list endpoint without an envelope.
	writeJSON(w, http.StatusOK, body)
}

func (a *API) countUsers(w http.ResponseWriter, r *http.Request) {
	ids := userIDFilter(r)
	m := a.model
	m.mu.Lock()
	n := m.activeUsers
	if ids != nil {
		n = 0
		for id := range ids {
			if u, ok := m.users[id]; ok && !u.Deleted {
				n++
			}
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, mustJSON(struct {
		Object     string `json:"object"`
		TotalCount int64  `json:"total_count"`
	}{"total_count", int64(n)}))
}

// writeFound answers 200 with what render returns under the model's lock,
// or Clerk's 404 for the kind and id the path names when render returns nil
// (the object is unknown or deleted).
func (a *API) writeFound(w http.ResponseWriter, kind, id string, render func(m *Model) []byte) {
	a.model.mu.Lock()
	body := render(a.model)
	a.model.mu.Unlock()
	if body == nil {
		notFound(w, kind, id)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.writeFound(w, "user", id, func(m *Model) []byte {
		if u, ok := m.users[id]; ok && !u.Deleted {
			return mustJSON(u.wire())
		}
		return nil
	})
}

// membershipPage renders one page of memberships in the {data,
// total_count} envelope; callers hold the model lock.
func (m *Model) membershipPage(mems []*Membership, lq listQuery) []byte {
	page := pageOf(mems, lq)
	out := listJSON[membershipJSON]{Data: make([]membershipJSON, len(page)), TotalCount: int64(len(mems))}
	for i, ms := range page {
		out.Data[i] = m.membershipWire(ms)
	}
	return mustJSON(out)
}

func (a *API) listUserMemberships(w http.ResponseWriter, r *http.Request) {
	lq, ok := parseList(w, r, "created_at")
	if !ok {
		return
	}
	id := r.PathValue("id")
	a.writeFound(w, "user", id, func(m *Model) []byte {
		if u, ok := m.users[id]; ok && !u.Deleted {
			return m.membershipPage(liveMembershipsOf(m.userMems[id], lq.order), lq)
		}
		return nil
	})
}

func (a *API) listOrganizations(w http.ResponseWriter, r *http.Request) {
	lq, ok := parseList(w, r, "created_at", "name")
	if !ok {
		return
	}
	withCount, _ := strconv.ParseBool(r.URL.Query().Get("include_members_count"))
	m := a.model
	m.mu.Lock()
	orgs := m.liveOrgs(lq.order)
	page := pageOf(orgs, lq)
	out := listJSON[organizationJSON]{Data: make([]organizationJSON, len(page)), TotalCount: int64(len(orgs))}
	for i, o := range page {
		out.Data[i] = o.wire()
		if withCount {
			// Clerk only fills members_count when asked to.
			out.Data[i].MembersCount = ptr(m.nMembers[o.ID])
		}
	}
	body := mustJSON(out)
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// liveOrgByIDOrSlug resolves a path parameter the way Clerk does: the
// organization endpoints accept a slug wherever they accept an id.
func (m *Model) liveOrgByIDOrSlug(idOrSlug string) *Organization {
	if o, ok := m.orgs[idOrSlug]; ok && !o.Deleted {
		return o
	}
	return m.slugs[idOrSlug]
}

func (a *API) getOrganization(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.writeFound(w, "organization", id, func(m *Model) []byte {
		if o := m.liveOrgByIDOrSlug(id); o != nil {
			return mustJSON(o.wire())
		}
		return nil
	})
}

func (a *API) listOrganizationMemberships(w http.ResponseWriter, r *http.Request) {
	lq, ok := parseList(w, r, "created_at")
	if !ok {
		return
	}
	id := r.PathValue("id")
	ids := userIDFilter(r)
	a.writeFound(w, "organization", id, func(m *Model) []byte {
		o := m.liveOrgByIDOrSlug(id)
		if o == nil {
			return nil
		}
		mems := liveMembershipsOf(m.orgMems[o.ID], lq.order)
		if ids != nil {
			mems = filterBy(mems, func(ms *Membership) bool { return ids[ms.UserID] })
		}
		return m.membershipPage(mems, lq)
	})
}

func (a *API) listAllMemberships(w http.ResponseWriter, r *http.Request) {
	lq, ok := parseList(w, r, "created_at")
	if !ok {
		return
	}
	m := a.model
	m.mu.Lock()
	body := m.membershipPage(m.liveMemberships(lq.order), lq)
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// Compile-time check that the API is usable wherever a handler is.
var _ http.Handler = (*API)(nil)
