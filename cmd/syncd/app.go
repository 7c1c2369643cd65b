package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/syncd/syncd/internal/config"
	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/metrics"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/server"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/webhook"
	"github.com/syncd/syncd/migrations"
)

// app is what `syncd serve` runs: its pools, River client and listeners.
// newApp builds it in named steps, Start serves, Wait blocks until the
// signal or a listener fails, and Shutdown stops it in the order that
// loses nothing: HTTP drained, River soft-stopped, then the pools closed.
type app struct {
	cfg    config.Config
	logger *slog.Logger
	// ingest: this process serves the webhook (role all or api);
	// work: it runs River's workers (role all or worker).
	ingest, work     bool
	reconcileEnabled bool

	pool, ingestPool *pgxpool.Pool
	migrator         *store.Migrator
	met              *metrics.Metrics
	client           *jobs.Client
	deps             server.Deps
	stopUI           context.CancelFunc
	stopWatch        func() // ends jobs.WatchReconciles and waits for it

	ln       net.Listener
	srv      *http.Server
	probes   *probeListener
	serveErr chan error
}

// newApp opens and builds everything serve needs, listeners included, but
// starts nothing. On failure it closes what it had opened.
func newApp(ctx context.Context, cfg config.Config, logger *slog.Logger, role string) (*app, error) {
	a := &app{cfg: cfg, logger: logger, ingest: role != "worker", work: role != "api"}
	steps := []func(context.Context) error{
		a.openPools,
		a.openMigrator,
		a.newRiverClient,
		a.buildHTTP,
		a.listen,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			a.release()
			return nil, err
		}
	}
	return a, nil
}

// openPools opens the shared pool and, when serving the webhook, its own.
//
// The workers (and admin, readiness, metrics) share one pool; the
// webhook path has its own, small one. An ingest transaction is short and
// spends its time on Postgres' CPU, so more of them at once than a few per
// core only lengthens the tail (the README's Performance section has the
// figures), and a burst of webhooks can never take the
// connections the workers need, nor the other way round.
//
// Workers do not hold a connection each: the jobs running together are
// applied in one transaction (at most two batches at once), so the
// pool needs a few connections for batches, River's fetching and
// maintenance, and a reconciliation, whatever SYNCD_WORKERS says.
func (a *app) openPools(ctx context.Context) error {
	poolConns := int32(8)
	if a.work {
		poolConns += 4
	}
	pool, err := openPinged(ctx, a.cfg, poolConns)
	if err != nil {
		return err
	}
	a.pool, a.ingestPool = pool, pool
	if a.ingest {
		ingestPool, err := openPool(ctx, a.cfg.DatabaseURL, int32(max(4, 3*runtime.GOMAXPROCS(0))))
		if err != nil {
			return err
		}
		a.ingestPool = ingestPool
	}
	return nil
}

// openMigrator checks the schema and the metrics that report on it.
func (a *app) openMigrator(ctx context.Context) error {
	migrator, err := store.NewMigrator(a.pool, migrations.FS, a.logger)
	if err != nil {
		return err
	}
	a.migrator = migrator
	if err := migrator.Current(ctx); err != nil {
		// Keep running: /readyz says 503 until someone migrates, and the
		// webhook answers 503 so Svix keeps the events.
		a.logger.Warn("database schema is not current; run `syncd migrate up`", "error", err.Error())
	}
	a.met = metrics.New(a.pool, a.logger, metrics.BuildInfo{Version: version, Commit: commit})
	return nil
}

// reconcileJobs says how River runs reconciliation: its worker and the
// periodic job, both nil where this process does not reconcile.
//
// Reconciliation needs the Backend API key; without it the service
// runs, syncs webhooks, and says why it does not reconcile.
func (a *app) reconcileJobs() (func(*river.Workers) error, []*river.PeriodicJob, error) {
	a.reconcileEnabled = a.cfg.ClerkSecretKey != ""
	switch {
	case !a.reconcileEnabled:
		a.logger.Info("reconciliation disabled: CLERK_SECRET_KEY is not set; webhooks are synced, but nothing repairs missed ones")
	case a.work:
		runner, err := reconcile.New(reconcile.Config{Pool: a.pool, Clerk: clerkConfig(a.cfg, a.met.ClerkResponse),
			Logger: a.logger, Observer: a.met})
		if err != nil {
			return nil, nil, usagef("serve: %v", err)
		}
		register := func(w *river.Workers) error {
			return river.AddWorkerSafely(w, jobs.NewReconcileWorker(a.pool, runner, a.logger))
		}
		var periodic []*river.PeriodicJob
		if a.cfg.ReconcileSchedule != nil {
			periodic = append(periodic, jobs.ReconcilePeriodicJob(a.cfg.ReconcileSchedule))
		}
		return register, periodic, nil
	}
	return nil, nil, nil
}

// newRiverClient builds the River client: a worker with role all or
// worker, an insert-only client with role api.
func (a *app) newRiverClient(context.Context) error {
	register, periodic, err := a.reconcileJobs()
	if err != nil {
		return err
	}
	a.client, err = jobs.NewClient(jobs.ClientConfig{
		Pool:            a.pool,
		Logger:          quieter(a.logger, a.cfg),
		Work:            a.work,
		MaxWorkers:      a.cfg.Workers,
		Observer:        a.met,
		SoftStopTimeout: jobSoftStopTimeout,
		JobLogger:       a.logger,
		Register:        register,
		PeriodicJobs:    periodic,
		ReconcileQueue:  a.reconcileEnabled,
		EventRetention:  a.cfg.EventRetention,
	})
	return err
}

// buildHTTP gathers the handlers' dependencies: admin, readiness and
// metrics always; the webhook, replay and River UI when serving ingest.
func (a *app) buildHTTP(ctx context.Context) error {
	a.deps = server.Deps{
		Logger:     a.logger,
		Metrics:    a.met.Handler(),
		AdminToken: a.cfg.AdminToken,
		// With SYNCD_METRICS_ADDR, probes and metrics leave the public
		// listener for their own (probes.go).
		ProbesApart: a.cfg.MetricsAddr != "",
		Reconciler:  jobs.NewReconciler(a.pool, a.client, a.reconcileEnabled),
		Ready: func(ctx context.Context) error {
			if err := a.pool.Ping(ctx); err != nil {
				return fmt.Errorf("database: %w", err)
			}
			return a.migrator.Current(ctx)
		},
	}
	if !a.ingest {
		return nil
	}
	verifier, err := webhook.NewVerifier(a.cfg.WebhookSecrets)
	if err != nil {
		return err
	}
	a.deps.Webhook = webhook.Handler(webhook.Config{
		Pool: a.ingestPool, Enqueuer: a.client, Verifier: verifier, Logger: a.logger, Observer: a.met,
	})
	a.deps.Replayer = jobs.NewReplayer(a.pool, a.client)
	return a.startRiverUI(ctx)
}

// startRiverUI serves River's UI under /admin/riverui until release.
func (a *app) startRiverUI(ctx context.Context) error {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(a.client, nil),
		Logger:    quieter(a.logger, a.cfg),
		Prefix:    "/admin/riverui",
		// Job args are event ids only, but hide them anyway: the UI is
		// for queue health, not for reading data.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return fmt.Errorf("river ui: %w", err)
	}
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	a.stopUI = stopUI
	if err := ui.Start(uiCtx); err != nil {
		return fmt.Errorf("start river ui: %w", err)
	}
	a.deps.RiverUI = ui
	return nil
}

// listen opens SYNCD_ADDR and, when set, SYNCD_METRICS_ADDR.
func (a *app) listen(context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on SYNCD_ADDR %s: %w", a.cfg.Addr, err)
	}
	a.srv = &http.Server{
		Handler:           server.Routes(a.deps),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// 431 for request headers over 64 KiB, answered by
		// net/http itself a few KiB past it; the webhook checks exactly.
		MaxHeaderBytes: webhook.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	probes, err := listenProbes(a.cfg, a.srv, a.deps)
	if err != nil {
		ln.Close()
		return err
	}
	a.ln, a.probes = ln, probes
	return nil
}

// Start starts River's workers (with role all or worker) and serves both
// listeners. If it fails, it closes everything newApp opened.
func (a *app) Start(ctx context.Context) error {
	if a.work {
		// River gets a context that the signal does not cancel: a cancelled
		// start context would hard-stop running jobs. Shutdown stops it
		// gracefully instead.
		if err := a.client.Start(context.WithoutCancel(ctx)); err != nil {
			a.ln.Close()
			_ = a.probes.Shutdown(ctx) // never served: this only closes its listener
			a.release()
			return fmt.Errorf("start river workers: %w", err)
		}
		if a.reconcileEnabled && a.cfg.ReconcileSchedule != nil {
			enqueueReconcileOnStart(ctx, a.pool, a.client, a.logger)
		}
		if a.reconcileEnabled {
			a.watchReconciles(ctx)
		}
	}
	a.serveErr = make(chan error, 1)
	go func() { a.serveErr <- a.srv.Serve(a.ln) }()
	a.probes.Serve(a.serveErr)
	a.logger.Info("listening", "addr", a.ln.Addr().String(), "webhook_path", "/webhooks/clerk",
		"workers", a.cfg.Workers, "admin", a.cfg.AdminToken != "", "metrics_addr", a.probes.Addr())
	return nil
}

// watchReconciles retries, from now on, the reconciliation jobs of
// processes that died mid-run (River's rescuer leaves them alone, since a
// run has no timeout).
func (a *app) watchReconciles(ctx context.Context) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.WatchReconciles(wctx, a.pool, a.logger)
	}()
	a.stopWatch = func() { cancel(); <-done }
}

// Wait blocks until ctx is done (the signal) or a listener fails, and
// returns that failure.
func (a *app) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		a.logger.Info("shutting down")
	case err := <-a.serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	return nil
}

// Shutdown stops what Start started, within the budgets above, and closes
// the pools. Each failure is logged as it happens and returned, joined; none
// stops the steps after it.
func (a *app) Shutdown(ctx context.Context) error {
	httpErr := a.drainHTTP(ctx)
	riverErr := a.stopRiver(ctx)
	a.logger.Info("stopped")
	a.release()
	return errors.Join(httpErr, riverErr)
}

// drainHTTP stops taking requests and lets the ones in flight finish: a
// request answered 2xx has committed its event and job.
func (a *app) drainHTTP(ctx context.Context) error {
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	var errs []error
	if err := a.srv.Shutdown(shutCtx); err != nil {
		a.logger.Warn("http shutdown", "error", err.Error())
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := a.probes.Shutdown(shutCtx); err != nil {
		a.logger.Warn("metrics server shutdown", "error", err.Error())
		errs = append(errs, fmt.Errorf("metrics server shutdown: %w", err))
	}
	return errors.Join(errs...)
}

// stopRiver soft-stops the workers: no new fetches, running jobs finish
// (River cancels them after SoftStopTimeout). A cancelled job leaves its
// event pending and its job retryable, so nothing is lost either way.
func (a *app) stopRiver(ctx context.Context) error {
	if !a.work {
		return nil
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobSoftStopTimeout+jobHardStopTimeout)
	defer cancel()
	if err := a.client.Stop(stopCtx); err != nil {
		a.logger.Warn("river stop", "error", err.Error())
		return fmt.Errorf("river stop: %w", err)
	}
	return nil
}

// release closes what newApp opened, in the reverse order: the River UI,
// the migrator, the ingest pool, the shared pool. Each may be unset when a
// step failed.
func (a *app) release() {
	if a.stopWatch != nil {
		a.stopWatch()
	}
	if a.stopUI != nil {
		a.stopUI()
	}
	if a.migrator != nil {
		a.migrator.Close()
	}
	if a.ingestPool != nil && a.ingestPool != a.pool {
		a.ingestPool.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
}
