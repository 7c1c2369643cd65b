package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/syncd/syncd/internal/reconcile"
)

// Deps is what the routes are built from.
type Deps struct {
	Logger     *slog.Logger
	Ready      func(ctx context.Context) error // nil error: ready
	Metrics    http.Handler
	Webhook    http.Handler
	AdminToken string // empty: every /admin route answers 404
	Reconciler Reconciler
	Replayer   Replayer
	RiverUI    http.Handler
	// ProbesApart leaves /metrics, /healthz and /readyz out of Routes: they
	// are served by ProbeRoutes on SYNCD_METRICS_ADDR.
	ProbesApart bool
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Replayer re-applies one stored event. It returns an error wrapping
// store.ErrNotFound when there is no such event.
type Replayer interface {
	ReplayEvent(ctx context.Context, id string) error
}

// Reconciler starts reconciliation runs and reports on them.
type Reconciler interface {
	// StartRun starts a run, or returns the id of the one in progress.
	StartRun(ctx context.Context, dryRun bool) (runID int64, started bool, err error)
	// RunReport returns a run's report, or an error wrapping
	// store.ErrNotFound.
	RunReport(ctx context.Context, runID int64) (reconcile.Report, error)
}
