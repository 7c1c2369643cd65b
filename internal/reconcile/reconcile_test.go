package reconcile_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// harness is one database, one fake Clerk instance served over HTTP, and a
// Runner pointed at it.
type harness struct {
	t      *testing.T
	pool   *pgxpool.Pool
	model  *clerkfake.Model
	api    *clerkfake.API
	url    string // the fake's base URL, /v1 included
	sleeps *sleepRecorder
	obs    *observer
	runner *reconcile.Runner
}

type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

// sleep stands in for the client's waits so that Retry-After and backoff
// cost no wall time.
func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

type observer struct {
	mu       sync.Mutex
	finished []store.RunStatus
	drift    map[string]int64
}

func (o *observer) ReconcileFinished(status store.RunStatus) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, status)
}

func (o *observer) ReconcileDrift(kind store.Kind, action string, n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drift[string(kind)+"/"+action] += n
}

func newHarness(t *testing.T, model *clerkfake.Model, opts clerkfake.APIOptions, wrap ...func(http.Handler) http.Handler) *harness {
	t.Helper()
	pool, _ := testdb.New(t)
	api := clerkfake.NewAPI(model, opts)
	var h http.Handler = api
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hs := &harness{t: t, pool: pool, model: model, api: api, url: srv.URL + "/v1",
		sleeps: &sleepRecorder{}, obs: &observer{drift: map[string]int64{}}}
	hs.runner = hs.newRunner(clerkfake.DefaultSecretKey)
	return hs
}

func (h *harness) newRunner(key string) *reconcile.Runner {
	h.t.Helper()
	r, err := reconcile.New(reconcile.Config{
		Pool:     h.pool,
		Clerk:    clerkapi.Config{BaseURL: h.url, SecretKey: key, Sleep: h.sleeps.sleep},
		Observer: h.obs,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// run records a manual run and works it with r (the harness's runner when
// nil).
func (h *harness) run(r *reconcile.Runner, dry bool) (store.Run, error) {
	h.t.Helper()
	if r == nil {
		r = h.runner
	}
	ctx := context.Background()
	id, err := store.InsertRun(ctx, h.pool, store.NewRun{Trigger: store.TriggerManual, DryRun: dry})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.Run(ctx, id)
}

func (h *harness) mustRun(dry bool) store.Run {
	h.t.Helper()
	run, err := h.run(nil, dry)
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	if run.Status != store.RunSucceeded {
		h.t.Fatalf("run %d: status %s (%s)", run.ID, run.Status, run.Error)
	}
	return run
}

func (h *harness) requireConverged() {
	h.t.Helper()
	diff, err := synctest.Diff(context.Background(), h.pool, h.model, synctest.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(diff) > 0 {
		h.t.Fatalf("%d differences from Clerk, e.g.:\n%s", len(diff), strings.Join(diff[:min(len(diff), 20)], "\n"))
	}
}

// fingerprint digests every synced row with its synced_at, so two equal
// fingerprints mean no row was written in between.
func (h *harness) fingerprint() string {
	h.t.Helper()
	var parts []string
	for _, q := range []string{
		`SELECT coalesce(string_agg(id || '|' || synced_at::text || '|' || coalesce(deleted_at::text, '') || '|' || md5(coalesce(raw::text, '')), ',' ORDER BY id), '') FROM clerk.users`,
		`SELECT coalesce(string_agg(id || '|' || synced_at::text || '|' || coalesce(deleted_at::text, '') || '|' || md5(coalesce(raw::text, '')), ',' ORDER BY id), '') FROM clerk.organizations`,
		`SELECT coalesce(string_agg(id || '|' || synced_at::text || '|' || coalesce(deleted_at::text, '') || '|' || md5(coalesce(raw::text, '')), ',' ORDER BY id), '') FROM clerk.organization_memberships`,
		`SELECT coalesce(string_agg(user_id || '|' || id || '|' || email_address, ',' ORDER BY user_id, id), '') FROM clerk.user_email_addresses`,
	} {
		var s string
		if err := h.pool.QueryRow(context.Background(), q).Scan(&s); err != nil {
			h.t.Fatal(err)
		}
		parts = append(parts, s)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:])
}

func (h *harness) exec(q string, args ...any) int64 {
	h.t.Helper()
	tag, err := h.pool.Exec(context.Background(), q, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return tag.RowsAffected()
}

// scan reads the one row q returns into dest, failing the test when it
// cannot.
func (h *harness) scan(dest any, q string, args ...any) {
	h.t.Helper()
	if err := h.pool.QueryRow(context.Background(), q, args...).Scan(dest); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

// applyUser writes u in a transaction of its own, as the webhook path does.
func applyUser(ctx context.Context, pool *pgxpool.Pool, u store.User) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := apply.User(ctx, tx, u)
		return err
	})
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Drift of every kind, built on a synced instance: rows missing from the
// tables, rows older than Clerk (Clerk changed, or the row was rolled back),
// and rows Clerk no longer has (deleted there, or never known to it). One
// run repairs all of it; the next finds nothing to do and writes nothing.
func TestDriftOfEveryKindIsRepaired(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(1)
	m.Populate(300, 40, 400)
	h := newHarness(t, m, clerkfake.APIOptions{})
	first := h.mustRun(false)
	if first.Users.Created != 300 || first.Organizations.Created != 40 || first.Memberships.Created != 400 {
		t.Fatalf("first run created %d users, %d organizations, %d memberships; want 300, 40, 400",
			first.Users.Created, first.Organizations.Created, first.Memberships.Created)
	}
	h.requireConverged()

	users, orgs, mems := m.Users(), m.Organizations(), m.Memberships()
	// Missing rows.
	h.exec(`DELETE FROM clerk.users WHERE id = ANY($1)`, []string{users[0].ID, users[1].ID, users[2].ID})
	h.exec(`DELETE FROM clerk.user_email_addresses WHERE user_id = ANY($1)`, []string{users[0].ID, users[1].ID, users[2].ID})
	h.exec(`DELETE FROM clerk.organizations WHERE id = ANY($1)`, []string{orgs[0].ID, orgs[1].ID})
	h.exec(`DELETE FROM clerk.organization_memberships WHERE id = ANY($1)`, []string{mems[0].ID, mems[1].ID, mems[2].ID})
	// Stale rows: Clerk moved on...
	must[[]clerkfake.Event](t)(m.UpdateUser(users[3].ID))
	must[[]clerkfake.Event](t)(m.EditUser(users[4].ID, func(u *clerkfake.User) { u.FirstName = ptr("Renamed") }))
	must[[]clerkfake.Event](t)(m.UpdateOrganization(orgs[2].ID))
	must[[]clerkfake.Event](t)(m.EditMembership(mems[3].ID, func(ms *clerkfake.Membership) { ms.Role = "org:viewer" }))
	// ...or the row went back in time.
	h.exec(`UPDATE clerk.users SET first_name = 'Stale', updated_at = updated_at - interval '1 day', sync_hash = NULL WHERE id = $1`, users[5].ID)
	h.exec(`UPDATE clerk.organizations SET name = 'Stale', updated_at = updated_at - interval '1 day', sync_hash = NULL WHERE id = $1`, orgs[3].ID)
	h.exec(`UPDATE clerk.organization_memberships SET role = 'org:stale', updated_at = updated_at - interval '1 day', sync_hash = NULL WHERE id = $1`, mems[4].ID)
	// Extra rows: deleted in Clerk without a webhook...
	must[[]clerkfake.Event](t)(m.DeleteUser(users[6].ID))
	must[[]clerkfake.Event](t)(m.DeleteOrganization(orgs[4].ID))
	liveMem := func(skip int) clerkfake.Membership {
		for _, ms := range m.Memberships()[skip:] {
			if !ms.Deleted {
				return ms
			}
		}
		t.Fatal("no live membership")
		return clerkfake.Membership{}
	}
	gone := liveMem(10)
	must[[]clerkfake.Event](t)(m.DeleteMembership(gone.ID))
	// ...or never known to it.
	ghostUser, err := apply.ParseUser(m.UserJSON(users[7].ID))
	if err != nil {
		t.Fatal(err)
	}
	ghostUser.ID = "user_ghost"
	ghostUser.EmailAddresses = nil
	ghostMem, ghostOrg, err := apply.ParseMembership(m.MembershipJSON(liveMem(20).ID))
	if err != nil {
		t.Fatal(err)
	}
	ghostMem.ID = "orgmem_ghost"
	ghostMem.UserID = "user_ghost"
	err = pgx.BeginFunc(context.Background(), h.pool, func(tx pgx.Tx) error {
		if _, err := apply.User(context.Background(), tx, ghostUser); err != nil {
			return err
		}
		_, err := apply.Membership(context.Background(), tx, ghostMem, ghostOrg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	second := h.mustRun(false)
	h.requireConverged()
	checkCounts(t, "users", second.Users, store.RunCounts{Created: 3, Updated: 3, Deleted: 2})
	checkCounts(t, "organizations", second.Organizations, store.RunCounts{Created: 2, Updated: 2, Deleted: 1})
	// Memberships: 3 missing, 2 stale; deleted are the one removed in Clerk,
	// the ghost, and whatever the deleted user and organization ended.
	if second.Memberships.Created != 3 || second.Memberships.Updated != 2 || second.Memberships.Deleted < 2 {
		t.Fatalf("memberships %+v: want 3 created, 2 updated, at least 2 deleted", second.Memberships)
	}
	var ghostDeleted bool
	if err := h.pool.QueryRow(context.Background(),
		`SELECT deleted_at IS NOT NULL FROM clerk.users WHERE id = 'user_ghost'`).Scan(&ghostDeleted); err != nil || !ghostDeleted {
		t.Fatalf("user_ghost deleted=%v (%v); want a tombstone", ghostDeleted, err)
	}
	if second.APIRequests == 0 {
		t.Fatal("no API requests recorded")
	}
	h.obs.mu.Lock()
	if h.obs.drift["user/created"] != 300+3 || h.obs.drift["organization/deleted"] != 1 {
		t.Errorf("drift metrics %v", h.obs.drift)
	}
	if len(h.obs.finished) != 2 || h.obs.finished[1] != store.RunSucceeded {
		t.Errorf("finished metrics %v", h.obs.finished)
	}
	h.obs.mu.Unlock()

	before := h.fingerprint()
	third := h.mustRun(false)
	if after := h.fingerprint(); after != before {
		t.Fatal("a run with no drift wrote rows")
	}
	for name, c := range map[string]store.RunCounts{"users": third.Users, "organizations": third.Organizations, "memberships": third.Memberships} {
		if c.Created+c.Updated+c.Deleted+c.Errors != 0 || c.Unchanged != c.Seen || c.Seen == 0 {
			t.Errorf("third run %s: %+v; want everything seen and unchanged", name, c)
		}
	}
}

func checkCounts(t *testing.T, what string, got, want store.RunCounts) {
	t.Helper()
	if got.Created != want.Created || got.Updated != want.Updated || got.Deleted != want.Deleted || got.Errors != want.Errors {
		t.Fatalf("%s: created/updated/deleted/errors = %d/%d/%d/%d, want %d/%d/%d/%d", what,
			got.Created, got.Updated, got.Deleted, got.Errors, want.Created, want.Updated, want.Deleted, want.Errors)
	}
	if got.Unchanged+got.Created+got.Updated+got.Errors != got.Seen {
		t.Fatalf("%s: %+v does not add up to seen", what, got)
	}
}

func ptr[T any](v T) *T { return &v }

// 1,234 users page as 500 + 500 + 234: three requests, each user once.
func TestPagingOf1234Users(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(2)
	m.Populate(1234, 0, 0)
	h := newHarness(t, m, clerkfake.APIOptions{})
	run := h.mustRun(false)
	if run.Users.Seen != 1234 || run.Users.Created != 1234 {
		t.Fatalf("users %+v; want 1234 seen and created", run.Users)
	}
	if n := h.api.RequestsTo("/v1/users"); n != 3 {
		t.Fatalf("%d requests to /v1/users, want 3", n)
	}
	if n := h.api.RequestsTo("/v1/users/count"); n != 0 {
		t.Fatalf("%d requests to /v1/users/count, want none", n)
	}
	h.requireConverged()
}

// A share of requests answers 429 with Retry-After, another share 5xx: the
// run waits as told, retries, and ends as correct as a clean one.
func TestRateLimitsAndServerErrorsStillConverge(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(3)
	m.Populate(700, 30, 600)
	h := newHarness(t, m, clerkfake.APIOptions{RateLimitEvery: 3, RetryAfter: "2", ServerErrorEvery: 5})
	run := h.mustRun(false)
	h.requireConverged()
	if run.APIRateLimited == 0 || run.APIRateLimited != h.api.RateLimited() {
		t.Fatalf("run recorded %d 429s, the fake served %d", run.APIRateLimited, h.api.RateLimited())
	}
	if run.APIRequests != h.api.Requests() {
		t.Fatalf("run recorded %d requests, the fake served %d", run.APIRequests, h.api.Requests())
	}
	if h.api.ServerErrors() == 0 {
		t.Fatal("no 5xx served; the test tests nothing")
	}
	waited2s := 0
	for _, d := range h.sleeps.all() {
		if d == 2*time.Second {
			waited2s++
		}
	}
	if int64(waited2s) < run.APIRateLimited {
		t.Fatalf("waited Retry-After (2s) %d times for %d 429s", waited2s, run.APIRateLimited)
	}
}

// A key Clerk rejects fails the run on its first request: recorded as
// failed with an error naming CLERK_SECRET_KEY, and not one row touched.
func TestBadKeyFailsTheRunAndChangesNothing(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(4)
	m.Populate(50, 5, 40)
	h := newHarness(t, m, clerkfake.APIOptions{})
	h.mustRun(false)
	must[[]clerkfake.Event](t)(m.UpdateUser(m.Users()[0].ID))
	must[[]clerkfake.Event](t)(m.DeleteOrganization(m.Organizations()[0].ID))
	before := h.fingerprint()

	run, err := h.run(h.newRunner("sk_test_revoked"), false)
	if !errors.Is(err, clerkapi.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if run.Status != store.RunFailed || !strings.Contains(run.Error, "CLERK_SECRET_KEY") {
		t.Fatalf("run status %q error %q; want failed naming CLERK_SECRET_KEY", run.Status, run.Error)
	}
	if strings.Contains(run.Error, "sk_test_revoked") {
		t.Fatal("the error quotes the key")
	}
	if after := h.fingerprint(); after != before {
		t.Fatal("a failed run changed rows")
	}
	if run.APIRequests != 1 {
		t.Fatalf("%d requests; a rejected key should stop the run at the first", run.APIRequests)
	}
	h.obs.mu.Lock()
	defer h.obs.mu.Unlock()
	if h.obs.finished[len(h.obs.finished)-1] != store.RunFailed {
		t.Fatalf("finished metrics %v", h.obs.finished)
	}
}

// Objects created and deleted while the listing pages through: deleting
// objects already listed shifts the rest forward, so offset paging skips
// some. None of the skipped (live) objects may be tombstoned; they are found
// by their single GET and applied. A second, quiet run then converges.
func TestChangesDuringTheRunCauseNoWrongfulTombstone(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(5)
	m.Populate(1200, 30, 1100)
	var armed atomic.Bool
	var fired, skippedUsers, skippedMembers atomic.Int32
	hook := func(r *http.Request) {
		if !armed.Load() {
			return
		}
		// Single-object checks of objects that are still live: what the
		// listing skipped.
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/users/"); ok {
			if u, found := m.User(id); found && !u.Deleted {
				skippedUsers.Add(1)
			}
		}
		if strings.HasSuffix(r.URL.Path, "/memberships") && r.URL.Query().Get("user_id") != "" {
			skippedMembers.Add(1)
		}
		if r.URL.Query().Get("offset") != "500" {
			return
		}
		switch r.URL.Path {
		case "/v1/users":
			if fired.Add(1) != 1 {
				return
			}
			// The newest users were on the first page; deleting them moves
			// older ones into offsets already read.
			us := m.Users()
			byAge := newestFirst(len(us), func(i int) int64 { return us[i].CreatedAt }, func(i int) bool { return !us[i].Deleted })
			for _, i := range byAge[:25] {
				must[[]clerkfake.Event](t)(m.DeleteUser(us[i].ID))
			}
			// And some are created, which shifts the others back.
			for range 7 {
				m.CreateUser()
			}
		case "/v1/organization_memberships":
			if fired.Add(1) != 2 {
				return
			}
			ms := m.Memberships()
			byAge := newestFirst(len(ms), func(i int) int64 { return ms[i].CreatedAt }, func(i int) bool { return !ms[i].Deleted })
			for _, i := range byAge[:30] {
				must[[]clerkfake.Event](t)(m.DeleteMembership(ms[i].ID))
			}
		}
	}
	h := newHarness(t, m, clerkfake.APIOptions{BeforeRequest: hook})
	h.mustRun(false)
	armed.Store(true)
	h.mustRun(false)
	armed.Store(false)

	diff, err := synctest.Diff(context.Background(), h.pool, m, synctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		// Expected leftovers: objects created mid-run (missing) and objects
		// deleted after they were listed (live here, deleted there), for the
		// webhooks or the next run. A live object tombstoned is the bug.
		if strings.Contains(d, "live in Clerk, deleted in the table") {
			t.Errorf("wrongful tombstone: %s", d)
		}
	}
	if fired.Load() < 2 || skippedUsers.Load() == 0 || skippedMembers.Load() == 0 {
		t.Fatalf("hook fired %d times, %d live users and %d memberships checked; the test did not provoke the skips",
			fired.Load(), skippedUsers.Load(), skippedMembers.Load())
	}
	t.Logf("%d skipped users and %d membership candidates checked by GET", skippedUsers.Load(), skippedMembers.Load())
	// Nothing was lost for good: the skipped objects were applied, and a
	// second run leaves the tables equal to Clerk.
	h.mustRun(false)
	h.requireConverged()
}

// newestFirst returns the indexes of the live objects in the order the
// Backend API lists them (-created_at).
func newestFirst(n int, createdAt func(int) int64, live func(int) bool) []int {
	var out []int
	for i := range n {
		if live(i) {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b int) int { return cmp.Compare(createdAt(b), createdAt(a)) })
	return out
}

// A row a webhook wrote with a newer version than the listing's keeps its
// newer state, and a row a webhook wrote during the run is never a deletion
// candidate, even when Clerk (as listed) does not have it.
func TestNewerWebhookRowsWin(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(6)
	m.Populate(40, 4, 30)
	ctx := context.Background()
	var h *harness
	var once sync.Once
	hook := func(r *http.Request) {
		if r.URL.Path != "/v1/users" {
			return
		}
		once.Do(func() {
			// A user.created arrives mid-run for a user the listing will not
			// show (created after the page was served, say).
			u, err := apply.ParseUser(m.UserJSON(m.Users()[0].ID))
			if err != nil {
				panic(err)
			}
			u.ID = "user_from_webhook"
			u.EmailAddresses = nil
			if err := applyUser(ctx, h.pool, u); err != nil {
				panic(err)
			}
		})
	}
	h = newHarness(t, m, clerkfake.APIOptions{BeforeRequest: hook})
	target := m.Users()[1]
	newer, err := apply.ParseUser(m.UserJSON(target.ID))
	if err != nil {
		t.Fatal(err)
	}
	newer.FirstName = ptr("FromWebhook")
	newer.UpdatedAt = newer.UpdatedAt.Add(time.Hour)
	if err := applyUser(ctx, h.pool, newer); err != nil {
		t.Fatal(err)
	}

	h.mustRun(false)
	var first string
	h.scan(&first, `SELECT first_name FROM clerk.users WHERE id = $1`, target.ID)
	if first != "FromWebhook" {
		t.Fatalf("first_name %q: an older listed version overwrote a newer webhook row", first)
	}
	var deleted bool
	h.scan(&deleted, `SELECT deleted_at IS NOT NULL FROM clerk.users WHERE id = 'user_from_webhook'`)
	if deleted {
		t.Fatal("a row written by a webhook during the run was tombstoned")
	}
}

// A dry run reports the drift a real run would repair, writes nothing to
// the synced tables, and is recorded as a run with dry_run set.
func TestDryRunReportsDriftAndWritesNothing(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(7)
	m.Populate(120, 10, 100)
	h := newHarness(t, m, clerkfake.APIOptions{})
	h.mustRun(false)
	users := m.Users()
	h.exec(`DELETE FROM clerk.users WHERE id = $1`, users[0].ID)
	must[[]clerkfake.Event](t)(m.UpdateUser(users[1].ID))
	must[[]clerkfake.Event](t)(m.DeleteUser(users[2].ID))
	must[[]clerkfake.Event](t)(m.DeleteMembership(m.Memberships()[50].ID))
	// An organization gone with its members: a real run ends them with it.
	must[[]clerkfake.Event](t)(m.DeleteOrganization(m.Organizations()[3].ID))
	before := h.fingerprint()
	finishedBefore := len(h.obs.finished)

	run := h.mustRun(true)
	if after := h.fingerprint(); after != before {
		t.Fatal("a dry run wrote rows")
	}
	if !run.DryRun {
		t.Fatal("run not recorded as a dry run")
	}
	if run.Users.Created != 1 || run.Users.Updated != 1 || run.Users.Deleted != 1 {
		t.Fatalf("dry run users %+v; want 1 created, 1 updated, 1 deleted", run.Users)
	}
	if run.Memberships.Deleted < 1 {
		t.Fatalf("dry run memberships %+v; want at least 1 deleted", run.Memberships)
	}
	h.obs.mu.Lock()
	if len(h.obs.finished) != finishedBefore+1 || h.obs.drift["user/created"] != 120 {
		t.Errorf("a dry run reported drift metrics: %v", h.obs.drift)
	}
	h.obs.mu.Unlock()

	// The real run repairs exactly what the dry run announced.
	repaired := h.mustRun(false)
	if repaired.Users.Created != 1 || repaired.Users.Updated != 1 || repaired.Users.Deleted != 1 {
		t.Fatalf("real run users %+v after the dry run", repaired.Users)
	}
	// ...kind by kind, at the same cost in API requests.
	checkCounts(t, "dry run users", run.Users, repaired.Users)
	checkCounts(t, "dry run organizations", run.Organizations, repaired.Organizations)
	checkCounts(t, "dry run memberships", run.Memberships, repaired.Memberships)
	if run.APIRequests != repaired.APIRequests {
		t.Errorf("dry run made %d API requests, the real run %d", run.APIRequests, repaired.APIRequests)
	}
	h.requireConverged()
}

// An object that cannot be parsed or stored is an error in the report, not
// the end of the run; it is not mistaken for a deletion either.
func TestBadObjectsAreCountedNotFatal(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(8)
	m.Populate(60, 3, 20)
	users := m.Users()
	unstorable, broken := users[10].ID, users[20].ID
	// A user whose first_name is a number does not parse at all.
	corrupt := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/users" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var page []map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			for _, u := range page {
				if u["id"] == broken {
					u["first_name"] = 7
				}
			}
			body, _ := json.Marshal(page)
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		})
	}
	h := newHarness(t, m, clerkfake.APIOptions{}, corrupt)
	// Both users exist in the table from before, so a wrongful tombstone
	// would show.
	for _, id := range []string{unstorable, broken} {
		u, err := apply.ParseUser(m.UserJSON(id))
		if err != nil {
			t.Fatal(err)
		}
		if err := applyUser(context.Background(), h.pool, u); err != nil {
			t.Fatal(err)
		}
	}
	// jsonb cannot hold \u0000, which an end user can write into their own
	// metadata: the object is stored with U+FFFD in its place rather than
	// refused, so the user's row cannot be frozen. The broken object is
	// counted as an error and the run goes on.
	must[[]clerkfake.Event](t)(m.EditUser(unstorable, func(u *clerkfake.User) {
		u.PublicMetadata = json.RawMessage(`{"note":"a\u0000b"}`)
	}))
	run := h.mustRun(false)
	if run.Users.Errors != 1 || run.Users.Seen != 60 || run.Users.Created != 58 || run.Users.Updated != 1 || run.Status != store.RunSucceeded {
		t.Fatalf("users %+v; want 1 error, 60 seen, 58 created, 1 updated", run.Users)
	}
	var note string
	h.scan(&note, `SELECT public_metadata->>'note' FROM clerk.users WHERE id = $1`, unstorable)
	if note != "a\uFFFDb" {
		t.Fatalf("stored note %q, want the NUL replaced by U+FFFD", note)
	}
	var deleted int
	h.scan(&deleted, `SELECT count(*) FROM clerk.users WHERE id = ANY($1) AND deleted_at IS NOT NULL`, []string{unstorable, broken})
	if deleted != 0 {
		t.Fatal("an object that failed to apply was tombstoned")
	}
}

// A run that is not running any more is left alone, and a second worker on
// the same run waits for the first instead of doubling it.
func TestRunOnlyWorksARunningRun(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(9)
	m.Populate(10, 1, 5)
	h := newHarness(t, m, clerkfake.APIOptions{})
	run := h.mustRun(false)
	if _, err := h.runner.Run(context.Background(), run.ID); !errors.Is(err, reconcile.ErrNotRunning) {
		t.Fatalf("re-running a finished run: %v, want ErrNotRunning", err)
	}

	ctx := context.Background()
	conn, err := h.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if ok, err := store.TryLockReconcile(ctx, conn); err != nil || !ok {
		t.Fatalf("take the lock: %v %v", ok, err)
	}
	id, err := store.InsertRun(ctx, h.pool, store.NewRun{Trigger: store.TriggerManual})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner.Run(ctx, id); !errors.Is(err, reconcile.ErrBusy) {
		t.Fatalf("run while another session holds the lock: %v, want ErrBusy", err)
	}
	if err := store.UnlockReconcile(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner.Run(ctx, id); err != nil {
		t.Fatalf("run after the lock was released: %v", err)
	}
}

// The report is what the admin route and the CLI show.
func TestReport(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	rep := reconcile.NewReport(store.Run{ID: 7, Trigger: "schedule", Status: "succeeded", StartedAt: start, FinishedAt: &end,
		RunTotals: store.RunTotals{Users: store.RunCounts{Seen: 3, Created: 1, Unchanged: 2}, APIRequests: 4}}, time.Now())
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"run_id":7`, `"duration_seconds":90`, `"users":{"seen":3,"created":1,"updated":0,"deleted":0,"unchanged":2,"errors":0,"conflicts":0,"repaired":0}`, `"authoritative":false`, `"api_requests":4`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report %s lacks %s", b, want)
		}
	}
	if !rep.Finished() {
		t.Error("a succeeded run is finished")
	}
	_ = fmt.Sprint(rep)
}
