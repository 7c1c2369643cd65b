// Package metrics owns syncd's Prometheus metrics, under the names
// dashboards are built on (never renamed). The packages that produce the numbers know nothing
// of Prometheus: each declares a small observer interface, and *Metrics
// implements them all.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/store"
)

// BuildInfo labels syncd_build_info.
type BuildInfo struct {
	Version string
	Commit  string
}

// OtherLabel stands in for a label value syncd does not know: an event
// type it does not sync (a replayed foo.bar), an outcome it does not
// define. Label values come from a closed list, so no input can grow the
// number of series.
const OtherLabel = "other"

// Metrics holds every collector syncd exports.
type Metrics struct {
	registry        *prometheus.Registry
	logger          *slog.Logger
	webhookRequests *prometheus.CounterVec
	webhookDuration *prometheus.HistogramVec
	eventsApplied   *prometheus.CounterVec
	applyLag        prometheus.Histogram
	reconcileRuns   *prometheus.CounterVec
	reconcileDrift  *prometheus.CounterVec
	clerkRequests   *prometheus.CounterVec
}

// New registers syncd's metrics, Go runtime and process metrics on a fresh
// registry. pool, when not nil, backs the syncd_queue_jobs and
// syncd_reconcile_last_success_timestamp_seconds gauges, read from the
// database at scrape time (so every replica reports the shared state,
// whichever one ran the jobs).
func New(pool *pgxpool.Pool, logger *slog.Logger, build BuildInfo) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		logger:   logger,
		webhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_webhook_requests_total",
			Help: "Webhook requests answered, by outcome.",
		}, []string{"outcome"}),
		webhookDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncd_webhook_duration_seconds",
			Help:    "Time to answer a webhook request, by outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		eventsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_events_applied_total",
			Help: "Stored events processed by the workers, by type and outcome (applied, skipped, failed).",
		}, []string{"type", "outcome"}),
		applyLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "syncd_apply_lag_seconds",
			Help:    "Time from an event's timestamp to its application.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
		}),
		reconcileRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_reconcile_runs_total",
			Help: "Reconciliation runs finished, by status.",
		}, []string{"status"}),
		reconcileDrift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_reconcile_drift_total",
			Help: "Rows reconciliation repaired, by kind and action.",
		}, []string{"kind", "action"}),
		clerkRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_clerk_api_requests_total",
			Help: "Clerk Backend API requests made, by HTTP status code (0 for a network error).",
		}, []string{"code"}),
	}
	m.registry.MustRegister(m.webhookRequests, m.webhookDuration, m.eventsApplied, m.applyLag,
		m.reconcileRuns, m.reconcileDrift, m.clerkRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every outcome starts at zero, so a dashboard's rate() sees the series
	// before the first failure happens.
	for _, o := range webhookOutcomes {
		m.webhookRequests.WithLabelValues(o)
	}
	for _, s := range []string{"succeeded", "failed"} {
		m.reconcileRuns.WithLabelValues(s)
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncd_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "commit", "goversion"})
	m.registry.MustRegister(buildInfo)
	buildInfo.WithLabelValues(or(build.Version, "dev"), or(build.Commit, "unknown"), runtime.Version()).Set(1)
	if pool != nil {
		m.registry.MustRegister(&dbGauge{what: "queue metrics", logger: logger, read: queueJobs(pool), desc: prometheus.NewDesc(
			"syncd_queue_jobs", "River jobs by state (available, retryable, discarded).", []string{"state"}, nil)})
		m.registry.MustRegister(&dbGauge{what: "reconcile metrics", logger: logger, read: lastReconcileSuccess(pool), desc: prometheus.NewDesc(
			"syncd_reconcile_last_success_timestamp_seconds",
			"Unix time the last successful (not dry) reconciliation run finished; 0 before the first.", nil, nil)})
	}
	return m
}

// The closed lists label values come from.
var (
	webhookOutcomes = []string{"accepted", "duplicate", "conflict", "unauthorized", "bad_request", "too_large", "unavailable"}
	applyOutcomes   = map[string]bool{"applied": true, "skipped": true, "failed": true}
	runStatuses     = map[string]bool{"succeeded": true, "failed": true}
	driftKinds      = map[string]bool{"user": true, "organization": true, "membership": true}
	driftActions    = map[string]bool{"created": true, "updated": true, "deleted": true}
)

func bounded(v string, known func(string) bool) string {
	if known(v) {
		return v
	}
	return OtherLabel
}

func in(set map[string]bool) func(string) bool { return func(v string) bool { return set[v] } }

func isWebhookOutcome(v string) bool {
	for _, o := range webhookOutcomes {
		if o == v {
			return true
		}
	}
	return false
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Handler serves the registry in the Prometheus text format. A collector
// that fails (the database is down) is logged and left out: the default,
// a 500 carrying the error text, would put driver messages in the body.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{m.logger},
	})
}

type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) { p.l.Warn("metrics", "error", fmt.Sprint(v...)) }

// Registry exposes the registry for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// WebhookHandled implements webhook.Observer.
func (m *Metrics) WebhookHandled(outcome string, d time.Duration) {
	outcome = bounded(outcome, isWebhookOutcome)
	m.webhookRequests.WithLabelValues(outcome).Inc()
	m.webhookDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// EventApplied implements jobs.Observer. An event type syncd does not sync
// (a replayed foo.bar: types come from signed but otherwise arbitrary
// payloads) is counted as "other".
func (m *Metrics) EventApplied(eventType string, status store.EventStatus, lag time.Duration) {
	eventType = bounded(eventType, apply.Handles)
	outcome := bounded(string(status), in(applyOutcomes))
	m.eventsApplied.WithLabelValues(eventType, outcome).Inc()
	if outcome != string(store.StatusFailed) && lag > 0 {
		m.applyLag.Observe(lag.Seconds())
	}
}

// ReconcileFinished counts a finished run.
func (m *Metrics) ReconcileFinished(status store.RunStatus) {
	m.reconcileRuns.WithLabelValues(bounded(string(status), in(runStatuses))).Inc()
}

// ReconcileDrift counts rows a run repaired.
func (m *Metrics) ReconcileDrift(kind store.Kind, action string, n int64) {
	if n > 0 {
		m.reconcileDrift.WithLabelValues(bounded(string(kind), in(driftKinds)), bounded(action, in(driftActions))).Add(float64(n))
	}
}

// ClerkResponse counts one Backend API attempt.
func (m *Metrics) ClerkResponse(code int) {
	m.clerkRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// dbGauge is a gauge read from the database at scrape time, so every
// replica reports the shared state without a background poller, and a
// restarted process reports it at once. When the read fails the gauge is
// logged and left out of this scrape: an invalid metric would put the
// driver's text in the /metrics body.
type dbGauge struct {
	desc *prometheus.Desc
	// what names the gauge in the warning logged when read fails.
	what   string
	logger *slog.Logger
	// read returns the gauge's values, each with its label values.
	read func(ctx context.Context) ([]labeledValue, error)
}

type labeledValue struct {
	value  float64
	labels []string
}

func (g *dbGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *dbGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	values, err := g.read(ctx)
	if err != nil {
		g.logger.Warn(g.what, "error", err.Error())
		return
	}
	for _, v := range values {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v.value, v.labels...)
	}
}

// queueJobs counts River's jobs by state; a state with no job reads 0.
func queueJobs(pool *pgxpool.Pool) func(ctx context.Context) ([]labeledValue, error) {
	return func(ctx context.Context) ([]labeledValue, error) {
		counts := map[string]float64{"available": 0, "retryable": 0, "discarded": 0}
		rows, err := pool.Query(ctx, `SELECT state::text, count(*) FROM river_job
		WHERE state IN ('available', 'retryable', 'discarded') GROUP BY state`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var n int64
			if err := rows.Scan(&state, &n); err == nil {
				counts[state] = float64(n)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		values := make([]labeledValue, 0, len(counts))
		for state, n := range counts {
			values = append(values, labeledValue{value: n, labels: []string{state}})
		}
		return values, nil
	}
}

// lastReconcileSuccess reads when the last successful, not dry,
// reconciliation finished (Unix seconds), 0 before the first: the run may
// have been worked by another replica.
func lastReconcileSuccess(pool *pgxpool.Pool) func(ctx context.Context) ([]labeledValue, error) {
	return func(ctx context.Context) ([]labeledValue, error) {
		at, ok, err := store.LastSucceededRunAt(ctx, pool)
		if err != nil {
			return nil, err
		}
		v := 0.0
		if ok {
			v = float64(at.UnixNano()) / 1e9
		}
		return []labeledValue{{value: v}}, nil
	}
}
