package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/metrics"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

func scrape(t *testing.T, m *metrics.Metrics) (int, string) {
	t.Helper()
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Label values come from closed lists: whatever type or outcome a caller
// passes, no new series beyond them appears.
func TestLabelValuesAreBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New(nil, nil, metrics.BuildInfo{Version: "v1.2.3", Commit: "abc123"})
	m.EventApplied("user.updated", "applied", time.Second)
	m.EventApplied("foo.bar", "skipped", time.Second)
	m.EventApplied(strings.Repeat("x", 5000), "exploded", 0)
	m.WebhookHandled("teapot", time.Millisecond)
	m.ReconcileFinished("maybe")
	m.ReconcileDrift("session", "created", 1)

	code, body := scrape(t, m)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`syncd_events_applied_total{outcome="applied",type="user.updated"} 1`,
		`syncd_events_applied_total{outcome="skipped",type="other"} 1`,
		`syncd_events_applied_total{outcome="other",type="other"} 1`,
		`syncd_webhook_requests_total{outcome="other"} 1`,
		`syncd_webhook_requests_total{outcome="conflict"} 0`,
		`syncd_reconcile_runs_total{status="other"} 1`,
		`syncd_reconcile_drift_total{action="created",kind="other"} 1`,
		`syncd_build_info{commit="abc123",goversion="` + runtime.Version() + `",version="v1.2.3"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, leaked := range []string{"foo.bar", "xxxx", "exploded", "teapot", "maybe", "session"} {
		if strings.Contains(body, leaked) {
			t.Errorf("a label value %q reached /metrics", leaked)
		}
	}
}

// The database gauges read the tables at scrape time; when the database is
// unreachable they are left out and logged, and /metrics still answers 200
// with no driver text (host, user, database) in the body.
func TestDatabaseGaugesAndAnUnreachableDatabase(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	m := metrics.New(pool, nil, metrics.BuildInfo{})
	_, body := scrape(t, m)
	if !strings.Contains(body, "\nsyncd_reconcile_last_success_timestamp_seconds 0\n") {
		t.Fatalf("no run yet: want the last-success gauge at 0 in:\n%s", syncdtest.LinesWithPrefix(body, "syncd_reconcile"))
	}
	finished := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if _, err := pool.Exec(context.Background(), `INSERT INTO clerk.reconciliation_runs (trigger, status, dry_run, started_at, finished_at)
		VALUES ('manual', 'succeeded', false, $1, $2), ('manual', 'succeeded', true, $2, $3), ('manual', 'failed', false, $2, $3)`,
		finished.Add(-time.Minute), finished, finished.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, body = scrape(t, m)
	if !strings.Contains(body, "\nsyncd_reconcile_last_success_timestamp_seconds 1.772600767e+09\n") {
		t.Fatalf("want the finish of the last successful, not dry, run (%d) in:\n%s", finished.Unix(), syncdtest.LinesWithPrefix(body, "syncd_reconcile"))
	}

	down, err := pgxpool.New(context.Background(), "postgres://someuser@127.0.0.1:1/somedb?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	code, body := scrape(t, metrics.New(down, nil, metrics.BuildInfo{}))
	if code != http.StatusOK || !strings.Contains(body, "syncd_build_info") {
		t.Fatalf("/metrics with the database down: %d\n%.500s", code, body)
	}
	for _, leak := range []string{"someuser", "somedb", "127.0.0.1", "SQLSTATE", "dial", "connect"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics body carries %q", leak)
		}
	}
}
