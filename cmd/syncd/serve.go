package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/metrics"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/server"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/webhook"
	"github.com/syncd/syncd/migrations"
)

// Shutdown budget. Kubernetes sends SIGKILL 30 s after SIGTERM by default:
// requests get 10 s to finish, running jobs 15 s before River cancels them.
const (
	httpShutdownTimeout = 10 * time.Second
	jobSoftStopTimeout  = 15 * time.Second
	jobHardStopTimeout  = 5 * time.Second
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("serve", stdout)
	role := fs.String("role", "all", "what this process runs: all, api (HTTP ingest and admin) or worker (River workers)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *role != "all" && *role != "api" && *role != "worker" {
		return usagef("serve: --role must be all, api or worker, not %q", *role)
	}
	serveHTTPIngest := *role != "worker"
	work := *role != "api"

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if serveHTTPIngest {
		if err := cfg.RequireWebhookSecret(); err != nil {
			return err
		}
	}
	logger := newLogger(cfg, stdout).With("role", *role)

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
	poolConns := int32(8)
	if work {
		poolConns += 4
	}
	pool, err := openPinged(ctx, cfg, poolConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	ingestPool := pool
	if serveHTTPIngest {
		ingestPool, err = openPool(ctx, cfg.DatabaseURL, int32(max(4, 3*runtime.GOMAXPROCS(0))))
		if err != nil {
			return err
		}
		defer ingestPool.Close()
	}
	migrator, err := store.NewMigrator(pool, migrations.FS, logger)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if err := migrator.Current(ctx); err != nil {
		// Keep running: /readyz says 503 until someone migrates, and the
		// webhook answers 503 so Svix keeps the events.
		logger.Warn("database schema is not current; run `syncd migrate up`", "error", err.Error())
	}

	met := metrics.New(pool, logger, metrics.BuildInfo{Version: version, Commit: commit})

	// Reconciliation needs the Backend API key; without it the service
	// runs, syncs webhooks, and says why it does not reconcile.
	reconcileEnabled := cfg.ClerkSecretKey != ""
	var registerReconcile func(*river.Workers) error
	var periodic []*river.PeriodicJob
	switch {
	case !reconcileEnabled:
		logger.Info("reconciliation disabled: CLERK_SECRET_KEY is not set; webhooks are synced, but nothing repairs missed ones")
	case work:
		runner, err := reconcile.New(reconcile.Config{Pool: pool, Clerk: clerkConfig(cfg, met.ClerkResponse),
			Logger: logger, Observer: met})
		if err != nil {
			return usagef("serve: %v", err)
		}
		registerReconcile = func(w *river.Workers) error {
			return river.AddWorkerSafely(w, jobs.NewReconcileWorker(pool, runner, logger))
		}
		if cfg.ReconcileSchedule != nil {
			periodic = append(periodic, jobs.ReconcilePeriodicJob(cfg.ReconcileSchedule))
		}
	}

	client, err := jobs.NewClient(jobs.ClientConfig{
		Pool:            pool,
		Logger:          quieter(logger, cfg),
		Work:            work,
		MaxWorkers:      cfg.Workers,
		Observer:        met,
		SoftStopTimeout: jobSoftStopTimeout,
		JobLogger:       logger,
		Register:        registerReconcile,
		PeriodicJobs:    periodic,
		ReconcileQueue:  reconcileEnabled,
		EventRetention:  cfg.EventRetention,
	})
	if err != nil {
		return err
	}

	deps := server.Deps{
		Logger:     logger,
		Metrics:    met.Handler(),
		AdminToken: cfg.AdminToken,
		// With SYNCD_METRICS_ADDR, probes and metrics leave the public
		// listener for their own (probes.go).
		ProbesApart: cfg.MetricsAddr != "",
		Reconciler:  jobs.NewReconciler(pool, client, reconcileEnabled),
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("database: %w", err)
			}
			return migrator.Current(ctx)
		},
	}
	if serveHTTPIngest {
		verifier, err := webhook.NewVerifier(cfg.WebhookSecrets)
		if err != nil {
			return err
		}
		deps.Webhook = webhook.Handler(webhook.Config{
			Pool: ingestPool, Enqueuer: client, Verifier: verifier, Logger: logger, Observer: met,
		})
		deps.Replayer = jobs.NewReplayer(pool, client)
		ui, err := riverui.NewHandler(&riverui.HandlerOpts{
			Endpoints: riverui.NewEndpoints(client, nil),
			Logger:    quieter(logger, cfg),
			Prefix:    "/admin/riverui",
			// Job args are event ids only, but hide them anyway: the UI is
			// for queue health, not for reading data.
			JobListHideArgsByDefault: true,
		})
		if err != nil {
			return fmt.Errorf("river ui: %w", err)
		}
		uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
		defer stopUI()
		if err := ui.Start(uiCtx); err != nil {
			return fmt.Errorf("start river ui: %w", err)
		}
		deps.RiverUI = ui
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on SYNCD_ADDR %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           server.Routes(deps),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// 431 for request headers over 64 KiB, answered by
		// net/http itself a few KiB past it; the webhook checks exactly.
		MaxHeaderBytes: webhook.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	probes, err := listenProbes(cfg, srv, deps)
	if err != nil {
		ln.Close()
		return err
	}

	if work {
		// River gets a context that the signal does not cancel: a cancelled
		// start context would hard-stop running jobs. Shutdown below stops
		// it gracefully instead.
		if err := client.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start river workers: %w", err)
		}
		if reconcileEnabled && cfg.ReconcileSchedule != nil {
			enqueueReconcileOnStart(ctx, pool, client, logger)
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	probes.Serve(serveErr)
	logger.Info("listening", "addr", ln.Addr().String(), "webhook_path", "/webhooks/clerk",
		"workers", cfg.Workers, "admin", cfg.AdminToken != "", "metrics_addr", probes.Addr())

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http server: %w", err)
		}
	}

	// Stop taking requests and let the ones in flight finish: a request
	// answered 2xx has committed its event and job.
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("http shutdown", "error", err.Error())
	}
	if err := probes.Shutdown(shutCtx); err != nil {
		logger.Warn("metrics server shutdown", "error", err.Error())
	}
	cancel()
	if work {
		// Soft stop: no new fetches, running jobs finish (River cancels them
		// after SoftStopTimeout). A cancelled job leaves its event pending
		// and its job retryable, so nothing is lost either way.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobSoftStopTimeout+jobHardStopTimeout)
		if err := client.Stop(stopCtx); err != nil {
			logger.Warn("river stop", "error", err.Error())
		}
		cancel()
	}
	logger.Info("stopped")
	return runErr
}

// reconcileMaxAge is how old the last successful reconciliation may be when
// serve starts before one is run at once rather than at the next tick.
const reconcileMaxAge = 24 * time.Hour

// enqueueReconcileOnStart makes up for a nightly schedule that a new
// deployment, or a leader that keeps restarting, would never reach. Failing
// to enqueue is not worth refusing to serve webhooks over.
func enqueueReconcileOnStart(ctx context.Context, pool *pgxpool.Pool, client *jobs.Client, logger *slog.Logger) {
	enqueued, err := jobs.EnqueueReconcileIfStale(ctx, pool, client, reconcileMaxAge)
	switch {
	case err != nil:
		logger.Warn("could not check for a recent reconciliation", "error", err.Error())
	case enqueued:
		logger.Info("no successful reconciliation in the last 24h: one is enqueued now")
	}
}
