// Package metrics owns syncd's Prometheus metrics, under the names
// CONTRACT.md promises. The packages that produce the numbers know nothing
// of Prometheus: each declares a small observer interface, and *Metrics
// implements them all.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector syncd exports.
type Metrics struct {
	registry        *prometheus.Registry
	webhookRequests *prometheus.CounterVec
	webhookDuration *prometheus.HistogramVec
	eventsApplied   *prometheus.CounterVec
	applyLag        prometheus.Histogram
	reconcileRuns   *prometheus.CounterVec
	reconcileDrift  *prometheus.CounterVec
	clerkRequests   *prometheus.CounterVec
}

// New registers syncd's metrics, Go runtime and process metrics on a fresh
// registry. pool, when not nil, backs the syncd_queue_jobs gauge, read from
// River's table at scrape time.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
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
	for _, o := range []string{"accepted", "duplicate", "unauthorized", "bad_request", "too_large", "unavailable"} {
		m.webhookRequests.WithLabelValues(o)
	}
	for _, s := range []string{"succeeded", "failed"} {
		m.reconcileRuns.WithLabelValues(s)
	}
	if pool != nil {
		m.registry.MustRegister(&queueCollector{pool: pool, logger: logger, desc: prometheus.NewDesc(
			"syncd_queue_jobs", "River jobs by state (available, retryable, discarded).", []string{"state"}, nil)})
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry exposes the registry for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// WebhookHandled implements webhook.Observer.
func (m *Metrics) WebhookHandled(outcome string, d time.Duration) {
	m.webhookRequests.WithLabelValues(outcome).Inc()
	m.webhookDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// EventApplied implements jobs.Observer.
func (m *Metrics) EventApplied(eventType, outcome string, lag time.Duration) {
	m.eventsApplied.WithLabelValues(eventType, outcome).Inc()
	if outcome != "failed" && lag > 0 {
		m.applyLag.Observe(lag.Seconds())
	}
}

// ReconcileFinished counts a finished run.
func (m *Metrics) ReconcileFinished(status string) {
	m.reconcileRuns.WithLabelValues(status).Inc()
}

// ReconcileDrift counts rows a run repaired.
func (m *Metrics) ReconcileDrift(kind, action string, n int64) {
	if n > 0 {
		m.reconcileDrift.WithLabelValues(kind, action).Add(float64(n))
	}
}

// ClerkResponse counts one Backend API attempt.
func (m *Metrics) ClerkResponse(code int) {
	m.clerkRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// queueCollector reads River's job counts at scrape time, so every replica
// reports the shared queue without a background poller.
type queueCollector struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	desc   *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts := map[string]float64{"available": 0, "retryable": 0, "discarded": 0}
	rows, err := c.pool.Query(ctx, `SELECT state::text, count(*) FROM river_job
		WHERE state IN ('available', 'retryable', 'discarded') GROUP BY state`)
	if err != nil {
		c.logger.Warn("queue metrics", "error", err.Error())
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err == nil {
			counts[state] = float64(n)
		}
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, state)
	}
}
