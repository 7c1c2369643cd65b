package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/testdb"
)

// testAdminToken is long enough for SYNCD_ADMIN_TOKEN's 24 characters.
const testAdminToken = "test-admin-token-0123456789abcdef"

func get(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	status, _, body := request(t, http.MethodGet, url, hdr...)
	return status, body
}

func post(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	status, _, body := request(t, http.MethodPost, url, hdr...)
	return status, body
}

// request sends a bodiless request with header pairs and returns the
// answer's status, headers and body.
func request(t *testing.T, method, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// metricValue reads one sample of the Prometheus text output.
func metricValue(t *testing.T, body, name string, labels ...string) float64 {
	t.Helper()
	sel := name
	if len(labels) > 0 {
		var parts []string
		for i := 0; i+1 < len(labels); i += 2 {
			parts = append(parts, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
		}
		sel += "{" + strings.Join(parts, ",") + "}"
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sel) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("metric %s not found in:\n%s", sel, body)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetricsCountWhatWasSent(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	p := startServe(t, serveEnv(url, secret))

	m := clerkfake.New(11)
	evs := m.History(12)
	synced := deliverAll(t, p.URL, secret, evs)
	for _, ev := range evs[:3] { // redeliveries
		if code := deliver(t, p.URL, secret, ev); code != http.StatusOK {
			t.Fatalf("redeliver: %d", code)
		}
	}
	for range 2 { // signed with a secret syncd does not have
		if code := deliver(t, p.URL, clerkfake.NewSecret(nil), evs[0]); code != http.StatusUnauthorized {
			t.Fatalf("foreign secret: %d", code)
		}
	}
	waitApplied(t, pool, 30*time.Second)

	code, body := get(t, p.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, c := range []struct {
		outcome string
		want    float64
	}{{"accepted", float64(len(evs))}, {"duplicate", 3}, {"unauthorized", 2}, {"bad_request", 0}, {"too_large", 0}, {"unavailable", 0}} {
		if got := metricValue(t, body, "syncd_webhook_requests_total", "outcome", c.outcome); got != c.want {
			t.Errorf("syncd_webhook_requests_total{outcome=%q} = %v, want %v", c.outcome, got, c.want)
		}
	}
	if got := metricValue(t, body, "syncd_webhook_duration_seconds_count", "outcome", "accepted"); got != float64(len(evs)) {
		t.Errorf("duration histogram counted %v accepted requests, want %d", got, len(evs))
	}
	applied := 0.0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "syncd_events_applied_total{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			applied += v
		}
	}
	if applied != float64(synced) {
		t.Errorf("syncd_events_applied_total sums to %v, want %d synced events", applied, synced)
	}
	if got := metricValue(t, body, "syncd_apply_lag_seconds_count"); got == 0 {
		t.Errorf("apply lag histogram is empty")
	}
	for _, state := range []string{"available", "retryable", "discarded"} {
		if got := metricValue(t, body, "syncd_queue_jobs", "state", state); got != 0 {
			t.Errorf("syncd_queue_jobs{state=%q} = %v after the queue drained", state, got)
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	base := serveEnv(testdb.NewURL(t), clerkfake.NewSecret(nil))

	t.Run("no token configured: 404", func(t *testing.T) {
		p := startServe(t, base)
		for _, path := range []string{"/admin/riverui/", "/admin/reconcile/runs/1"} {
			if code, _ := get(t, p.URL+path, "Authorization", "Bearer anything"); code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, code)
			}
		}
		if code, _ := post(t, p.URL+"/admin/events/msg_x/replay"); code != http.StatusNotFound {
			t.Errorf("replay: %d, want 404", code)
		}
	})
	t.Run("token configured", func(t *testing.T) {
		p := startServe(t, base.with("SYNCD_ADMIN_TOKEN", "s3cret-admin-token-0123456789"))
		for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret-admin-token-0123456789"}} {
			if code, _ := get(t, p.URL+"/admin/riverui/", hdr...); code != http.StatusUnauthorized {
				t.Errorf("River UI with %v: %d, want 401", hdr, code)
			}
			if code, _ := post(t, p.URL+"/admin/events/msg_x/replay", hdr...); code != http.StatusUnauthorized {
				t.Errorf("replay with %v: %d, want 401", hdr, code)
			}
		}
		auth := []string{"Authorization", "Bearer s3cret-admin-token-0123456789"}
		code, body := get(t, p.URL+"/admin/riverui/", auth...)
		if code != http.StatusOK || !strings.Contains(body, "<html") {
			t.Errorf("River UI with the token: %d %.200s", code, body)
		}
		if code, _ := get(t, p.URL+"/admin/riverui/api/jobs?state=completed", auth...); code != http.StatusOK {
			t.Errorf("River UI API with the token: %d", code)
		}
		if code, body := post(t, p.URL+"/admin/events/msg_unknown/replay", auth...); code != http.StatusNotFound {
			t.Errorf("replay of an unknown event: %d %s, want 404", code, body)
		}
		// Health, readiness and metrics are not behind the token.
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			if code, _ := get(t, p.URL+path); code != http.StatusOK {
				t.Errorf("GET %s: %d", path, code)
			}
		}
	})
}

func TestReplayReappliesAStoredEvent(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	p := startServe(t, serveEnv(url, secret, "SYNCD_ADMIN_TOKEN", testAdminToken))
	m := clerkfake.New(3)
	u, evs := m.CreateUser()
	if code := deliver(t, p.URL, secret, evs[0]); code != http.StatusAccepted {
		t.Fatal(code)
	}
	waitApplied(t, pool, 10*time.Second)
	// Drift: someone edits the row by hand.
	if _, err := pool.Exec(context.Background(), `UPDATE clerk.users SET first_name = 'tampered', sync_hash = NULL WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, p.URL+"/admin/events/"+evs[0].ID+"/replay", "Authorization", "Bearer "+testAdminToken); code != http.StatusAccepted {
		t.Fatalf("replay: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var first *string
		if err := pool.QueryRow(context.Background(), `SELECT first_name FROM clerk.users WHERE id = $1`, u.ID).Scan(&first); err != nil {
			t.Fatal(err)
		}
		if (first == nil && u.FirstName == nil) || (first != nil && u.FirstName != nil && *first == *u.FirstName) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first_name still %v after the replay", first)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The CLI does the same by time range.
	var out, errOut lockedBuffer
	if err := run(context.Background(), []string{"syncd", "replay", "--since", "2000-01-01T00:00:00Z", "--type", "user.created"},
		env{"DATABASE_URL": url}.get, &out, &errOut); err != nil {
		t.Fatalf("syncd replay --since: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "enqueued 1 events") {
		t.Fatalf("syncd replay printed %q", out.String())
	}
}

func TestRolesSplitIngestAndApply(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	e := serveEnv(url, secret)
	api := startServe(t, e, "--role", "api")
	m := clerkfake.New(5)
	evs := m.History(20)
	synced := deliverAll(t, api.URL, secret, evs)
	// The api role enqueues and applies nothing.
	time.Sleep(300 * time.Millisecond)
	var pending, available int
	if err := pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'),
		(SELECT count(*) FROM river_job WHERE state = 'available')`).Scan(&pending, &available); err != nil {
		t.Fatal(err)
	}
	if pending != synced || available != synced {
		t.Fatalf("with only --role api: %d pending events, %d available jobs; want %d of each", pending, available, synced)
	}
	// A worker without the webhook secret applies them.
	startServe(t, env{"DATABASE_URL": url, "SYNCD_RECONCILE_SCHEDULE": "off"}, "--role", "worker")
	waitApplied(t, pool, 30*time.Second)
	if code, _ := get(t, api.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("api readyz: %d", code)
	}
}

// SIGTERM in the middle of a burst: every delivery that got a 2xx is stored
// and, once a worker runs again, applied. Deliveries cut off by the shutdown
// got no 2xx, so Svix would send them again.
func TestShutdownDuringBurstLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	e := serveEnv(url, secret)
	p := startServe(t, e)
	m := clerkfake.New(9)
	var evs []clerkfake.Event
	for len(evs) < 400 {
		_, created := m.CreateUser()
		evs = append(evs, created...)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	next := make(chan clerkfake.Event)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range next {
				req, err := clerkfake.NewWebhookRequest(p.URL+"/webhooks/clerk", secret, ev, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue // the server went away: not acknowledged
				}
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					mu.Lock()
					acked[ev.ID] = true
					mu.Unlock()
				}
			}
		}()
	}
	stopped := make(chan error, 1)
	for i, ev := range evs {
		if i == 150 {
			go func() { stopped <- p.Stop() }()
		}
		next <- ev
	}
	close(next)
	wg.Wait()
	if err := <-stopped; err != nil {
		t.Fatalf("serve returned %v on shutdown", err)
	}
	if len(acked) < 100 || len(acked) == len(evs) {
		t.Fatalf("%d of %d deliveries acknowledged: the shutdown did not fall inside the burst", len(acked), len(evs))
	}
	stored := map[string]string{}
	rows, err := pool.Query(context.Background(), `SELECT id, status FROM clerk.webhook_events`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		stored[id] = status
	}
	for id := range acked {
		if _, ok := stored[id]; !ok {
			t.Errorf("event %s was acknowledged but is not stored", id)
		}
	}
	// A new process applies whatever the old one left pending.
	startServe(t, e, "--role", "worker")
	waitApplied(t, pool, 30*time.Second)
	var notApplied int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM clerk.webhook_events e
		WHERE e.status <> 'applied' OR NOT EXISTS (SELECT 1 FROM clerk.users u WHERE u.id = e.object_id)`).Scan(&notApplied); err != nil {
		t.Fatal(err)
	}
	if notApplied != 0 {
		t.Fatalf("%d stored events not applied after restart", notApplied)
	}
	t.Logf("%d of %d deliveries acknowledged before shutdown; all applied", len(acked), len(evs))
}

// Logs carry ids, types and outcomes only: after a full history (users with
// names and emails, organizations, memberships, deletions, invalid and
// rejected requests), no name or email address from the payloads appears.
func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	p := startServe(t, serveEnv(url, secret, "SYNCD_LOG_LEVEL", "debug", "SYNCD_ADMIN_TOKEN", testAdminToken))
	m := clerkfake.New(21)
	evs := m.History(150)
	for _, ev := range evs {
		deliver(t, p.URL, secret, ev)
	}
	deliver(t, p.URL, "whsec_"+strings.Repeat("QUJD", 8), evs[0]) // rejected signature
	waitApplied(t, pool, 30*time.Second)
	get(t, p.URL+"/metrics")
	get(t, p.URL+"/admin/riverui/", "Authorization", "Bearer "+testAdminToken)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	logs := p.Stdout.String()
	if !strings.Contains(logs, `"msg":"event applied"`) || !strings.Contains(logs, `"msg":"webhook"`) {
		t.Fatalf("expected one line per webhook and per applied event; logs:\n%.2000s", logs)
	}
	var personal []string
	for _, u := range m.Users() {
		for _, e := range u.EmailAddresses {
			personal = append(personal, e.EmailAddress)
		}
		for _, s := range []*string{u.FirstName, u.LastName, u.Username} {
			if s != nil && len(*s) > 2 {
				personal = append(personal, `"`+*s+`"`, " "+*s+" ")
			}
		}
	}
	for _, o := range m.Organizations() {
		personal = append(personal, o.Name)
	}
	personal = append(personal, secret, strings.TrimPrefix(secret, "whsec_"), testAdminToken)
	for _, s := range personal {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}
