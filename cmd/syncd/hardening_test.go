package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

// jsonError decodes an error body and fails unless it is JSON with an
// "error" and none of the driver's words.
func jsonError(t *testing.T, what, body string) string {
	t.Helper()
	var v map[string]string
	if err := json.Unmarshal([]byte(body), &v); err != nil || v["error"] == "" {
		t.Fatalf("%s: body %q is not a JSON error", what, body)
	}
	for _, leak := range []string{"SQLSTATE", "pgx", "postgres", "127.0.0.1:5432", "invalid byte", "database \""} {
		if strings.Contains(body, leak) {
			t.Fatalf("%s: body %q carries driver text %q", what, body, leak)
		}
	}
	return v["error"]
}

// /readyz says only that syncd is not ready; the pgx error (host, user,
// database) goes to the log.
func TestReadyzBodyIsGenericWhenTheDatabaseGoes(t *testing.T) {
	t.Parallel()
	dbURL, drop, err := testdb.NewShared(context.Background(), "syncd_readyz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drop() }) // the test drops it itself below; this is for when it stops early
	u, _ := url.Parse(dbURL)
	dbName := strings.TrimPrefix(u.Path, "/")
	p := startServe(t, serveEnv(dbURL, clerkfake.NewSecret(nil)), "--role", "api")
	if code, body := get(t, p.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz before: %d %s", code, body)
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the dropped connections, then a failed connect
		code, body := get(t, p.URL+"/readyz")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("readyz with the database gone: %d %s", code, body)
		}
		jsonError(t, "readyz", body)
		for _, leak := range []string{dbName, "user=", u.Host} {
			if strings.Contains(body, leak) {
				t.Fatalf("readyz body %q names %q", body, leak)
			}
		}
		if !strings.Contains(body, `"status": "not ready"`) {
			t.Fatalf("readyz body %q", body)
		}
	}
	if code, body := get(t, p.URL+"/metrics"); code != http.StatusOK || strings.Contains(body, dbName) {
		t.Fatalf("/metrics with the database gone: %d, or it names the database", code)
	}
	if logs := p.Stdout.String(); !strings.Contains(logs, `"msg":"not ready"`) || !strings.Contains(logs, dbName) {
		t.Fatalf("the reason is not in the log:\n%.3000s", logs)
	}
}

// A replay of an id that cannot be stored is 400, of an unknown one 404;
// never a 503 with Postgres' encoding error.
func TestReplayOfMalformedIDs(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	p := startServe(t, serveEnv(url, clerkfake.NewSecret(nil), "SYNCD_ADMIN_TOKEN", testAdminToken))
	auth := []string{"Authorization", "Bearer " + testAdminToken}
	for _, id := range []string{"%FF", "msg_%C3%28", "%00", "msg%0Ax", strings.Repeat("a", 300)} {
		code, body := post(t, p.URL+"/admin/events/"+id+"/replay", auth...)
		if code != http.StatusBadRequest {
			t.Errorf("replay %.20s: %d %s, want 400", id, code, body)
			continue
		}
		jsonError(t, "replay "+id, body)
	}
	code, body := post(t, p.URL+"/admin/events/msg_2unknownAAAAAAAAAAAAAAAAAAAA/replay", auth...)
	if code != http.StatusNotFound {
		t.Fatalf("replay of an unknown id: %d %s, want 404", code, body)
	}
	jsonError(t, "unknown id", body)
	code, body = get(t, p.URL+"/admin/reconcile/runs/99999999999999999999", auth...)
	if code != http.StatusBadRequest {
		t.Fatalf("run id out of range: %d %s, want 400", code, body)
	}
	jsonError(t, "run id", body)
}

// Weak secrets stop serve with exit 2 and a message naming the variable,
// never echoing the value; so do two different webhook secrets under the
// two names.
func TestWeakOrConflictingSecretsRefusedAtStart(t *testing.T) {
	t.Parallel()
	good := clerkfake.NewSecret(nil)
	base := env{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?connect_timeout=1"}
	cases := []struct {
		name    string
		env     env
		mention []string
		secret  string
	}{
		{"one-byte webhook secret", base.with("CLERK_WEBHOOK_SECRET", "whsec_AA=="), []string{"CLERK_WEBHOOK_SECRET", "16"}, "AA=="},
		{"15-byte second secret", base.with("CLERK_WEBHOOK_SECRET", good+" whsec_ZmlmdGVlbi1ieXRlcyEh"),
			[]string{"CLERK_WEBHOOK_SECRET", "secret 2 of 2"}, "ZmlmdGVlbi1ieXRlcyEh"},
		{"weak alias", base.with("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_AAAA"), []string{"CLERK_WEBHOOK_SIGNING_SECRET"}, "AAAA"},
		{"4-character admin token", base.with("CLERK_WEBHOOK_SECRET", good, "SYNCD_ADMIN_TOKEN", "hunt"), []string{"SYNCD_ADMIN_TOKEN", "24"}, "hunt"},
		{"secret and alias differ", base.with("CLERK_WEBHOOK_SECRET", good, "CLERK_WEBHOOK_SIGNING_SECRET", clerkfake.NewSecret(nil)),
			[]string{"CLERK_WEBHOOK_SECRET", "CLERK_WEBHOOK_SIGNING_SECRET"}, strings.TrimPrefix(good, "whsec_")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut lockedBuffer
			err := run(context.Background(), []string{"syncd", "serve"}, tc.env.get, &out, &errOut)
			if err == nil || exitCode(err) != 2 {
				t.Fatalf("serve: %v (exit %d), want exit 2", err, exitCode(err))
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			all := err.Error() + out.String() + errOut.String()
			if strings.Contains(all, tc.secret) {
				t.Errorf("the secret's value is echoed: %q", all)
			}
		})
	}
}

// CLERK_WEBHOOK_SIGNING_SECRET alone is enough to serve and verify.
func TestWebhookSigningSecretAlias(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	// Only the alias is set: CLERK_WEBHOOK_SECRET is absent, not empty.
	p := startServe(t, env{"DATABASE_URL": url, "CLERK_WEBHOOK_SIGNING_SECRET": secret, "SYNCD_RECONCILE_SCHEDULE": "off"})
	u, evs := clerkfake.New(4).CreateUser()
	if code := deliver(t, p.URL, secret, evs[0]); code != http.StatusAccepted {
		t.Fatalf("event signed with the alias's secret: %d", code)
	}
	if code := deliver(t, p.URL, clerkfake.NewSecret(nil), evs[0]); code != http.StatusUnauthorized {
		t.Fatalf("event signed with another secret: %d", code)
	}
	waitApplied(t, pool, 10*time.Second)
	var n int
	mustf(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM clerk.users WHERE id = $1`, u.ID).Scan(&n), "count")
	if n != 1 {
		t.Fatalf("user not synced through the alias")
	}
	// Both names with the same secret is fine too.
	startServe(t, serveEnv(url, secret, "CLERK_WEBHOOK_SIGNING_SECRET", secret), "--role", "api")
}

// With SYNCD_METRICS_ADDR, /metrics and the probes move there; SYNCD_ADDR
// keeps webhooks and admin only.
func TestMetricsAddrSeparatesProbes(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	secret := clerkfake.NewSecret(nil)
	p := startServe(t, serveEnv(url, secret, "SYNCD_ADMIN_TOKEN", testAdminToken, "SYNCD_METRICS_ADDR", "127.0.0.1:0"))
	m := regexp.MustCompile(`"metrics_addr":"([^"]+)"`).FindStringSubmatch(p.Stdout.String())
	if m == nil || m[1] == "" {
		t.Fatalf("no metrics_addr in the listening line:\n%s", p.Stdout)
	}
	probes := "http://" + m[1]
	if probes == p.URL {
		t.Fatalf("metrics on the main address %s", p.URL)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if code, _ := get(t, p.URL+path); code != http.StatusNotFound {
			t.Errorf("GET %s on SYNCD_ADDR: %d, want 404", path, code)
		}
		code, body := get(t, probes+path)
		if code != http.StatusOK {
			t.Errorf("GET %s on SYNCD_METRICS_ADDR: %d %s", path, code, body)
		}
		if path == "/metrics" && !strings.Contains(body, "syncd_webhook_requests_total") {
			t.Errorf("/metrics on SYNCD_METRICS_ADDR lacks syncd's metrics")
		}
	}
	_, evs := clerkfake.New(8).CreateUser()
	if code := deliver(t, p.URL, secret, evs[0]); code != http.StatusAccepted {
		t.Errorf("webhook on SYNCD_ADDR: %d", code)
	}
	if code := deliver(t, probes, secret, evs[0]); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("webhook on SYNCD_METRICS_ADDR: %d, want 404", code)
	}
	if code, _ := get(t, p.URL+"/admin/riverui/", "Authorization", "Bearer "+testAdminToken); code != http.StatusOK {
		t.Errorf("River UI on SYNCD_ADDR: %d", code)
	}
	if code, _ := get(t, probes+"/admin/riverui/", "Authorization", "Bearer "+testAdminToken); code != http.StatusNotFound {
		t.Errorf("River UI on SYNCD_METRICS_ADDR: %d, want 404", code)
	}
	if _, body := get(t, probes+"/metrics"); metricValue(t, body, "syncd_webhook_requests_total", "outcome", "accepted") != 1 {
		t.Errorf("the metrics listener does not count the main listener's webhook")
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("serve returned %v on shutdown", err)
	}
	if resp, err := http.Get(probes + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the metrics listener still answers after shutdown")
	}
}

// A browser can open River UI with Basic auth (the token as the password);
// the 401 asks it to; a state-changing admin request from another origin is
// refused even with the right credentials.
func TestAdminBasicAuthAndCrossOriginRefusal(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	p := startServe(t, serveEnv(url, clerkfake.NewSecret(nil), "SYNCD_ADMIN_TOKEN", testAdminToken))

	do := func(method, path string, hdr ...string) (int, http.Header, string) {
		t.Helper()
		return request(t, method, p.URL+path, hdr...)
	}
	basic := func(user, pass string) string {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header.Get("Authorization")
	}

	for _, authz := range []string{"", basic("admin", "wrong-password-wrong-password"), basic(testAdminToken, ""), "Bearer " + testAdminToken[:10]} {
		status, header, body := do(http.MethodGet, "/admin/riverui/", "Authorization", authz)
		if status != http.StatusUnauthorized {
			t.Fatalf("River UI with %q: %d, want 401", authz, status)
		}
		if got := header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="syncd admin"`) {
			t.Fatalf("401 challenge %q, want Basic realm=\"syncd admin\"", got)
		}
		jsonError(t, "401", body)
	}
	for _, user := range []string{"admin", "", "anyone at all"} {
		status, _, body := do(http.MethodGet, "/admin/riverui/", "Authorization", basic(user, testAdminToken))
		if status != http.StatusOK || !strings.Contains(body, "<html") {
			t.Fatalf("River UI with Basic %q:token: %d %.200s", user, status, body)
		}
	}
	if status, _, _ := do(http.MethodGet, "/admin/riverui/api/jobs?state=completed", "Authorization", basic("me", testAdminToken)); status != http.StatusOK {
		t.Fatalf("River UI API with Basic: %d", status)
	}

	self := p.URL // http://127.0.0.1:port
	replay := "/admin/events/msg_2unknownAAAAAAAAAAAAAAAAAAAA/replay"
	for _, c := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no Origin (curl)", nil, http.StatusNotFound},
		{"same origin", []string{"Origin", self}, http.StatusNotFound},
		{"same origin, Sec-Fetch-Site", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, http.StatusNotFound},
		{"other origin", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"null origin", []string{"Origin", "null"}, http.StatusForbidden},
		{"other port", []string{"Origin", "http://127.0.0.1:1"}, http.StatusForbidden},
		{"cross-site", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site sibling", []string{"Origin", "http://other.127.0.0.1.nip.io", "Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
	} {
		for _, authz := range []string{"Bearer " + testAdminToken, basic("browser", testAdminToken)} {
			hdr := append([]string{"Authorization", authz}, c.hdr...)
			status, _, body := do(http.MethodPost, replay, hdr...)
			if status != c.status {
				t.Errorf("%s, POST replay: %d %s, want %d", c.name, status, body, c.status)
			}
			if c.status == http.StatusForbidden {
				jsonError(t, c.name, body)
			}
		}
	}
	// River UI's own API is guarded the same way: pausing a queue from
	// another origin is refused.
	status, _, body := do(http.MethodPut, "/admin/riverui/api/queues/default", "Authorization", basic("browser", testAdminToken),
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if status != http.StatusForbidden {
		t.Errorf("cross-site River UI queue update: %d %s, want 403", status, body)
	}
	// Reading is not state-changing: a cross-origin GET still needs only
	// the credentials.
	if status, _, _ := do(http.MethodGet, "/admin/riverui/", "Authorization", basic("b", testAdminToken), "Origin", "https://evil.example"); status != http.StatusOK {
		t.Errorf("cross-origin GET: %d", status)
	}
}

// syncd_build_info and the last-success gauge are exported, and a replayed
// event of a type syncd does not know is counted under type="other".
func TestBuildInfoLastSuccessAndBoundedTypeLabel(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	finished := time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)
	_, err := pool.Exec(context.Background(), `INSERT INTO clerk.reconciliation_runs (trigger, status, started_at, finished_at)
		VALUES ('schedule', 'succeeded', $1, $2)`, finished.Add(-time.Minute), finished)
	mustf(t, err, "insert run")
	p := startServe(t, serveEnv(url, secret, "SYNCD_ADMIN_TOKEN", testAdminToken))

	_, body := get(t, p.URL+"/metrics")
	if v := metricValue(t, body, "syncd_build_info", "commit", commit, "goversion", runtime.Version(), "version", version); v != 1 {
		t.Errorf("syncd_build_info = %v", v)
	}
	if v := metricValue(t, body, "syncd_reconcile_last_success_timestamp_seconds"); v != float64(finished.Unix()) {
		t.Errorf("syncd_reconcile_last_success_timestamp_seconds = %v, want %d", v, finished.Unix())
	}

	_, evs := clerkfake.New(12).CreateUser()
	ev := evs[0]
	ev.ID = "msg_2foobarAAAAAAAAAAAAAAAAAAAA"
	ev.Type = "foo.bar"
	ev.Body = bytes.Replace(ev.Body, []byte(`"type":"user.created"`), []byte(`"type":"foo.bar"`), 1)
	if code := deliver(t, p.URL, secret, ev); code/100 != 2 {
		t.Fatalf("deliver foo.bar: %d", code)
	}
	if code, body := post(t, p.URL+"/admin/events/"+ev.ID+"/replay", "Authorization", "Bearer "+testAdminToken); code != http.StatusAccepted {
		t.Fatalf("replay foo.bar: %d %s", code, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body = get(t, p.URL+"/metrics")
		if strings.Contains(body, "foo.bar") {
			t.Fatalf("an unknown event type became a label value:\n%s", syncdtest.LinesWithPrefix(body, "syncd_events_applied_total"))
		}
		if strings.Contains(body, `syncd_events_applied_total{outcome="skipped",type="other"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replayed foo.bar was not counted as type=\"other\":\n%s", syncdtest.LinesWithPrefix(body, "syncd_events_applied_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
