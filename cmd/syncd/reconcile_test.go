package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/config"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// reconcileFakeClerk serves a populated fake instance and returns the environment
// that points syncd at it.
func reconcileFakeClerk(t *testing.T, seed uint64, users, orgs, mems int) (*clerkfake.Model, env) {
	t.Helper()
	m := clerkfake.New(seed)
	m.Populate(users, orgs, mems)
	srv := httptest.NewServer(clerkfake.NewAPI(m, clerkfake.APIOptions{}))
	t.Cleanup(srv.Close)
	return m, env{
		"DATABASE_URL":     testdb.NewURL(t),
		"CLERK_SECRET_KEY": clerkfake.DefaultSecretKey,
		"CLERK_API_URL":    srv.URL + "/v1",
		"SYNCD_CLERK_RPS":  "1000",
		"SYNCD_LOG_LEVEL":  "warn",
	}
}

type reconcileReport struct {
	RunID   int64  `json:"run_id"`
	Status  string `json:"status"`
	Trigger string `json:"trigger"`
	DryRun  bool   `json:"dry_run"`
	Users   struct {
		Seen, Created, Updated, Deleted, Unchanged int64
	} `json:"users"`
	Memberships struct {
		Created int64
	} `json:"memberships"`
	APIRequests int64  `json:"api_requests"`
	Error       string `json:"error"`
}

// config imports nothing of the domain, so it spells Clerk's API URL
// itself: CLERK_API_URL unset must mean the client's own default.
func TestClerkAPIURLDefaultsAgree(t *testing.T) {
	t.Parallel()
	if config.DefaultClerkAPIURL != clerkapi.DefaultBaseURL {
		t.Fatalf("config.DefaultClerkAPIURL %q, clerkapi.DefaultBaseURL %q", config.DefaultClerkAPIURL, clerkapi.DefaultBaseURL)
	}
}

// `syncd reconcile --wait --json` with no server running: the command works
// the run itself and prints the report as JSON; a second run finds nothing.
func TestReconcileCommandWaitsAndPrintsJSON(t *testing.T) {
	t.Parallel()
	m, e := reconcileFakeClerk(t, 21, 620, 12, 300)
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"syncd", "reconcile", "--wait", "--json"}, e.get, &stdout, &stderr)
	if err != nil {
		t.Fatalf("reconcile: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep reconcileReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Status != "succeeded" || rep.Trigger != "manual" || rep.Users.Created != 620 || rep.Memberships.Created != 300 || rep.APIRequests == 0 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("started reconciliation run %d", rep.RunID)) {
		t.Fatalf("stderr does not name the run:\n%s", stderr.String())
	}
	pool := syncdtest.OpenPool(t, e["DATABASE_URL"])
	diff, err := synctest.Diff(context.Background(), pool, m, synctest.Options{})
	if err != nil || len(diff) > 0 {
		t.Fatalf("tables differ from Clerk (%v): %v", err, diff)
	}

	// Text this time, and a dry run: a table with one line per kind.
	stdout.Reset()
	err = run(context.Background(), []string{"syncd", "reconcile", "--wait", "--dry-run"}, e.get, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	t.Logf("text report:\n%s", out)
	for _, want := range []string{"started reconciliation run", "dry run: nothing was written", "succeeded",
		"KIND", "users", "organizations", "memberships", "620", "Backend API requests:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// A key Clerk rejects: the run fails, the report says so naming
// CLERK_SECRET_KEY, and the command exits 1.
func TestReconcileCommandExitsOneWhenTheRunFails(t *testing.T) {
	t.Parallel()
	_, e := reconcileFakeClerk(t, 22, 5, 1, 2)
	e = e.with("CLERK_SECRET_KEY", "sk_test_revoked")
	var stdout strings.Builder
	err := run(context.Background(), []string{"syncd", "reconcile", "--wait", "--json"}, e.get, &stdout, io.Discard)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("err = %v (exit %d), want exit 1", err, exitCode(err))
	}
	var rep reconcileReport
	if jerr := json.Unmarshal([]byte(stdout.String()), &rep); jerr != nil {
		t.Fatalf("no JSON report: %v\n%s", jerr, stdout.String())
	}
	if rep.Status != "failed" || !strings.Contains(rep.Error, "CLERK_SECRET_KEY") || !strings.Contains(err.Error(), "CLERK_SECRET_KEY") {
		t.Fatalf("report %+v, error %v; want failed naming CLERK_SECRET_KEY", rep, err)
	}
}

// Configuration mistakes exit 2 and name the variable.
func TestReconcileCommandNeedsItsConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  env
		want string
	}{
		{env{"CLERK_SECRET_KEY": "sk_test_x"}, "DATABASE_URL"},
		{env{"DATABASE_URL": "postgres://127.0.0.1:1/x"}, "CLERK_SECRET_KEY"},
	} {
		err := run(context.Background(), []string{"syncd", "reconcile", "--wait"}, tc.env.get, io.Discard, io.Discard)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err = %v (exit %d); want exit 2 naming %s", tc.env, err, exitCode(err), tc.want)
		}
	}
}

// Without --wait the command only starts the run and says how to follow it.
func TestReconcileCommandWithoutWait(t *testing.T) {
	t.Parallel()
	_, e := reconcileFakeClerk(t, 23, 3, 1, 1)
	var stdout strings.Builder
	if err := run(context.Background(), []string{"syncd", "reconcile"}, e.get, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "started reconciliation run 1") || !strings.Contains(stdout.String(), "/admin/reconcile/runs/1") {
		t.Fatalf("output:\n%s", stdout.String())
	}
	// Nothing works the queue, so the run is still in progress: a second
	// trigger joins it.
	stdout.Reset()
	if err := run(context.Background(), []string{"syncd", "reconcile", "--json"}, e.get, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var started struct {
		RunID   int64 `json:"run_id"`
		Started bool  `json:"started"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &started); err != nil || started.RunID != 1 || started.Started {
		t.Fatalf("second trigger: %s (%v); want run 1, not started", stdout.String(), err)
	}
}

// serve with CLERK_SECRET_KEY reconciles on start (no run yet succeeded)
// and on POST /admin/reconcile; without it, it serves and the route says
// what is missing.
func TestServeReconciles(t *testing.T) {
	t.Parallel()
	m, e := reconcileFakeClerk(t, 24, 40, 3, 20)
	e = e.with("CLERK_WEBHOOK_SECRET", clerkfake.NewSecret(nil), "SYNCD_ADMIN_TOKEN", "admin-token-of-24-characters", "SYNCD_LOG_LEVEL", "info")
	p := startServe(t, e)
	pool := syncdtest.OpenPool(t, e["DATABASE_URL"])

	// Run on start.
	var startID int64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		err := pool.QueryRow(context.Background(),
			`SELECT id FROM clerk.reconciliation_runs WHERE trigger = 'schedule' AND status = 'succeeded'`).Scan(&startID)
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if startID == 0 {
		t.Fatalf("no scheduled run succeeded after start\n%s", p.Stdout)
	}

	_, err := m.UpdateUser(m.Users()[0].ID)
	mustf(t, err, "update a user in Clerk")
	status, body := reconcileAdminDo(t, p.URL, http.MethodPost, "/admin/reconcile")
	if status != http.StatusAccepted {
		t.Fatalf("POST /admin/reconcile: %d %s", status, body)
	}
	var started struct {
		RunID int64 `json:"run_id"`
	}
	if err := json.Unmarshal(body, &started); err != nil || started.RunID == 0 {
		t.Fatalf("POST body %s", body)
	}
	var rep reconcileReport
	deadline = time.Now().Add(20 * time.Second)
	for rep.Status != "succeeded" && rep.Status != "failed" && time.Now().Before(deadline) {
		status, body = reconcileAdminDo(t, p.URL, http.MethodGet, fmt.Sprintf("/admin/reconcile/runs/%d", started.RunID))
		if status != http.StatusOK {
			t.Fatalf("GET run: %d %s", status, body)
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rep.Status != "succeeded" || rep.Users.Updated != 1 {
		t.Fatalf("run %+v", rep)
	}
	_, metrics := reconcileAdminDo(t, p.URL, http.MethodGet, "/metrics")
	for _, want := range []string{`syncd_reconcile_runs_total{status="succeeded"} 2`, `syncd_clerk_api_requests_total{code="200"}`,
		`syncd_reconcile_drift_total{action="updated",kind="user"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The same service without the key.
	e2 := e.with("CLERK_SECRET_KEY", "", "DATABASE_URL", testdb.NewURL(t))
	p2 := startServe(t, e2)
	status, body = reconcileAdminDo(t, p2.URL, http.MethodPost, "/admin/reconcile")
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "CLERK_SECRET_KEY") {
		t.Fatalf("POST /admin/reconcile without a key: %d %s; want 503 naming CLERK_SECRET_KEY", status, body)
	}
	if !strings.Contains(p2.Stdout.String(), "reconciliation disabled") {
		t.Fatalf("serve did not log that reconciliation is disabled:\n%s", p2.Stdout)
	}
}

func reconcileAdminDo(t *testing.T, base, method, path string) (int, []byte) {
	t.Helper()
	status, _, body := request(t, method, base+path, "Authorization", "Bearer admin-token-of-24-characters")
	return status, []byte(body)
}
