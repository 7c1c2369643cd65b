package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/store"
)

// Errors Run returns that callers branch on.
var (
	// ErrBusy: another session holds the reconciliation lock, i.e. an
	// earlier attempt of this run (or another run) is still working. Try
	// again later.
	ErrBusy = errors.New("reconcile: another reconciliation is still working")
	// ErrNotRunning: the run is no longer 'running' (it finished, or was
	// marked abandoned), so there is nothing to do.
	ErrNotRunning = errors.New("reconcile: run is not running")
)

// Config configures a Runner.
type Config struct {
	Pool *pgxpool.Pool
	// Clerk configures the Backend API client; every run builds its own
	// from it, so a run's request counts are its own. SecretKey is
	// CLERK_SECRET_KEY, BaseURL CLERK_API_URL, RPS SYNCD_CLERK_RPS.
	Clerk clerkapi.Config
	// Logger gets one line per run and kind, and one per object that could
	// not be applied (its id, never its content). Nil discards.
	Logger *slog.Logger
	// Observer hears finished runs and drift; nil ignores them.
	Observer Observer
}

// Runner runs reconciliation runs. It is safe for concurrent use, though
// the reconciliation lock lets only one run work at a time.
type Runner struct {
	pool    *pgxpool.Pool
	clerk   clerkapi.Config
	logger  *slog.Logger
	observe Observer
}

// New checks cfg (the Clerk settings included, so a malformed
// CLERK_SECRET_KEY or CLERK_API_URL stops the process at start-up rather
// than failing every run) and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Pool == nil {
		return nil, errors.New("reconcile: no database pool")
	}
	if _, err := clerkapi.New(cfg.Clerk); err != nil {
		return nil, err
	}
	r := &Runner{pool: cfg.Pool, clerk: cfg.Clerk, logger: cfg.Logger, observe: cfg.Observer}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.observe == nil {
		r.observe = noObserver{}
	}
	return r, nil
}

// Run works the run with id runID, which must be 'running' in
// clerk.reconciliation_runs, from scratch: its counts are reset and its
// started_at moved to now, so a run that a dead process left half done is
// simply done again.
//
// It returns the run as recorded. A run that failed is recorded as failed
// and its error returned with it (it matches clerkapi.ErrUnauthorized when
// Clerk rejected the key). When ctx is cancelled (the process is stopping)
// the run is left running and ctx's error returned, so that a retry of its
// job starts it again. ErrBusy and ErrNotRunning mean nothing was done.
func (r *Runner) Run(ctx context.Context, runID int64) (store.Run, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return store.Run{}, fmt.Errorf("reconciliation run %d: acquire a connection: %w", runID, err)
	}
	var locked bool
	defer func() { releaseConn(ctx, conn, locked) }()

	var run store.Run
	run, locked, err = claimRun(ctx, conn, runID)
	if err != nil {
		return store.Run{}, err
	}
	logger := r.logger.With("run_id", runID, "dry_run", run.DryRun, "authoritative", run.Authoritative)
	logger.InfoContext(ctx, "reconciliation started", "trigger", run.Trigger)

	x := &runState{
		conn:          conn,
		id:            runID,
		dry:           run.DryRun,
		authoritative: run.Authoritative,
		since:         run.StartedAt,
		logger:        logger,
	}
	runErr := r.work(ctx, x)
	if runErr != nil && ctx.Err() != nil {
		// Stopping, not failing: River retries the job, which starts the
		// run again.
		logger.WarnContext(ctx, "reconciliation interrupted; it will start again when its job is retried",
			"error", runErr.Error())
		return store.Run{}, fmt.Errorf("reconciliation run %d interrupted: %w", runID, runErr)
	}
	return r.finish(ctx, x, run.StartedAt, runErr)
}

// releaseConn gives the run's connection back to the pool only without the
// lock and the temporary tables; if they cannot be dropped, it is closed.
func releaseConn(ctx context.Context, conn *pgxpool.Conn, locked bool) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ok := store.DropSeen(cctx, conn) == nil
	if locked && store.UnlockReconcile(cctx, conn) != nil {
		ok = false
	}
	if !ok {
		_ = conn.Hijack().Close(cctx)
		return
	}
	conn.Release()
}

// claimRun takes the reconciliation lock on conn and restarts run runID.
// locked says whether the lock was taken, for releaseConn, even when the
// restart then failed.
func claimRun(ctx context.Context, conn *pgxpool.Conn, runID int64) (run store.Run, locked bool, err error) {
	got, err := store.TryLockReconcile(ctx, conn)
	if err != nil {
		return store.Run{}, false, err
	}
	if !got {
		return store.Run{}, false, fmt.Errorf("reconciliation run %d: %w", runID, ErrBusy)
	}
	run, err = store.RestartRun(ctx, conn, runID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, true, fmt.Errorf("reconciliation run %d: %w", runID, ErrNotRunning)
	}
	if err != nil {
		return store.Run{}, true, err
	}
	return run, true, nil
}

// work runs x with a Backend API client of its own, and adds the client's
// request counts to x's totals whatever the outcome.
func (r *Runner) work(ctx context.Context, x *runState) error {
	api, err := clerkapi.New(r.clerk)
	if err != nil {
		return err
	}
	x.api = api
	runErr := x.execute(ctx)
	st := x.api.Stats()
	x.totals.APIRequests, x.totals.APIRateLimited = st.Requests, st.RateLimited
	return runErr
}

// finish records x's outcome (runErr nil or not), tells the observer and
// the log, and returns the run as recorded.
func (r *Runner) finish(ctx context.Context, x *runState, startedAt time.Time, runErr error) (store.Run, error) {
	status, errText := store.RunSucceeded, ""
	if runErr != nil {
		status, errText = store.RunFailed, runErr.Error()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	finished, err := store.FinishRun(fctx, x.conn, x.id, status, x.totals, errText)
	if err != nil {
		return store.Run{}, errors.Join(runErr, err)
	}
	if !finished {
		// Marked abandoned while it worked: the lock should have prevented
		// that, so say so rather than report a result nobody recorded.
		return store.Run{}, errors.Join(runErr, fmt.Errorf("reconciliation run %d: %w (its result was not recorded)", x.id, ErrNotRunning))
	}
	r.observeFinished(x, status)
	final, err := store.GetRun(fctx, x.conn, x.id)
	if err != nil {
		return store.Run{}, errors.Join(runErr, err)
	}
	attrs := finishedAttrs(x.totals, status, startedAt)
	if runErr != nil {
		x.logger.ErrorContext(ctx, "reconciliation failed", append(attrs, "error", errText)...)
		return final, fmt.Errorf("reconciliation run %d failed: %w", x.id, runErr)
	}
	x.logger.InfoContext(ctx, "reconciliation finished", attrs...)
	return final, nil
}

// observeFinished reports the run's status, and the drift it repaired
// unless it was a dry run.
func (r *Runner) observeFinished(x *runState, status store.RunStatus) {
	r.observe.ReconcileFinished(status)
	if x.dry {
		return
	}
	for _, k := range []struct {
		kind store.Kind
		c    store.RunCounts
	}{{store.KindUser, x.totals.Users}, {store.KindOrganization, x.totals.Organizations}, {store.KindMembership, x.totals.Memberships}} {
		r.observe.ReconcileDrift(k.kind, "created", k.c.Created)
		r.observe.ReconcileDrift(k.kind, "updated", k.c.Updated)
		r.observe.ReconcileDrift(k.kind, "deleted", k.c.Deleted)
	}
}

// finishedAttrs are the attributes of the line that ends a run: status,
// duration, API requests and each kind's counts.
func finishedAttrs(t store.RunTotals, status store.RunStatus, startedAt time.Time) []any {
	attrs := []any{"status", status, "duration", time.Since(startedAt).Round(time.Millisecond).String(),
		"api_requests", t.APIRequests, "api_rate_limited", t.APIRateLimited}
	for _, k := range []struct {
		name string
		c    store.RunCounts
	}{{"users", t.Users}, {"organizations", t.Organizations}, {"memberships", t.Memberships}} {
		attrs = append(attrs, slog.Group(k.name, "seen", k.c.Seen, "created", k.c.Created, "updated", k.c.Updated,
			"deleted", k.c.Deleted, "unchanged", k.c.Unchanged, "errors", k.c.Errors,
			"conflicts", k.c.Conflicts, "repaired", k.c.Repaired))
	}
	return attrs
}
