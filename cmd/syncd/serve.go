package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/jobs"
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
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if *role != "worker" {
		if err := cfg.RequireWebhookSecret(); err != nil {
			return err
		}
	}
	logger := newLogger(cfg, stdout).With("role", *role)

	a, err := newApp(ctx, cfg, logger, *role)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	runErr := a.Wait(ctx)
	// Shutdown logs each of its failures; the exit status is the serving
	// error's, as a failed drain after a signal is not a failed run.
	_ = a.Shutdown(ctx)
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
