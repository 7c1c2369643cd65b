package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/store"
)

// ErrReconcileDisabled is StartRun's answer when the process has no
// CLERK_SECRET_KEY; the admin route turns it into a 503.
var ErrReconcileDisabled = errors.New("reconciliation is disabled: CLERK_SECRET_KEY is not set; set it to the instance's Backend API secret key (sk_live_... or sk_test_...) and restart")

// Reconciler starts runs and reports on them: server.Reconciler for POST
// /admin/reconcile and GET /admin/reconcile/runs/{id}, and what `syncd
// reconcile` calls. It only inserts jobs; workers (in serve, or in the
// command itself with --wait) run them.
type Reconciler struct {
	pool    *pgxpool.Pool
	client  *Client
	enabled bool
}

// NewReconciler builds a Reconciler. client may be insert-only. With
// enabled false (no CLERK_SECRET_KEY), StartRun answers
// ErrReconcileDisabled while RunReport still reads past runs.
func NewReconciler(pool *pgxpool.Pool, client *Client, enabled bool) *Reconciler {
	return &Reconciler{pool: pool, client: client, enabled: enabled}
}

// StartRun starts a manual run: the run row and its job are inserted in one
// transaction, so a run never exists without the job that works it. When a
// run is already in progress it returns that run's id with started false.
// A 'running' row left by a dead process is failed first, so that it does
// not block new runs forever.
func (r *Reconciler) StartRun(ctx context.Context, dryRun bool) (int64, bool, error) {
	return r.Start(ctx, RunOptions{DryRun: dryRun})
}

// RunOptions says what kind of manual run to start.
type RunOptions struct {
	// DryRun writes nothing and reports the drift a real run would repair.
	DryRun bool
	// Authoritative also repairs conflicts (sync rule 5): rows newer than
	// Clerk's version, and tombstones of objects Clerk still lists, are made
	// equal to what a GET of that one object answers. POST
	// /admin/reconcile?authoritative=true and `syncd reconcile
	// --authoritative` ask for it; scheduled runs never do.
	Authoritative bool
}

// Start is StartRun with every option. When a run is already in progress
// it is joined whatever its options (the caller can compare them with the
// run's report).
func (r *Reconciler) Start(ctx context.Context, opts RunOptions) (int64, bool, error) {
	if !r.enabled {
		return 0, false, ErrReconcileDisabled
	}
	if _, err := store.FailAbandonedRuns(ctx, r.pool); err != nil {
		return 0, false, err
	}
	var id int64
	started := false
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var err error
		id, err = store.InsertRun(ctx, tx, store.NewRun{Trigger: store.TriggerManual, DryRun: opts.DryRun,
			Authoritative: opts.Authoritative})
		if errors.Is(err, store.ErrRunInProgress) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := r.client.InsertTx(ctx, tx, jobargs.ReconcileArgs{RunID: id, DryRun: opts.DryRun,
			Authoritative: opts.Authoritative, Trigger: string(store.TriggerManual)}, nil)
		if err != nil {
			return fmt.Errorf("enqueue reconciliation run %d: %w", id, err)
		}
		started = true
		return store.SetRunJob(ctx, tx, id, res.Job.ID)
	})
	if err != nil {
		return 0, false, err
	}
	return id, started, nil
}

// RunReport returns a run's report, or an error wrapping
// store.ErrNotFound.
func (r *Reconciler) RunReport(ctx context.Context, runID int64) (reconcile.Report, error) {
	run, err := store.GetRun(ctx, r.pool, runID)
	if err != nil {
		return reconcile.Report{}, err
	}
	return reconcile.NewReport(run, time.Now()), nil
}

// ReconcileWorker works reconciliation runs, one at a time (the reconcile
// queue has one worker per process, and the reconciliation lock one run per
// database).
type ReconcileWorker struct {
	river.WorkerDefaults[jobargs.ReconcileArgs]
	pool   *pgxpool.Pool
	runner *reconcile.Runner
	logger *slog.Logger
}

// NewReconcileWorker builds the worker.
func NewReconcileWorker(pool *pgxpool.Pool, runner *reconcile.Runner, logger *slog.Logger) *ReconcileWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ReconcileWorker{pool: pool, runner: runner, logger: logger}
}

// reconcileBusyRetry is how long a job waits when another session still
// works on reconciliation (a slow first attempt River took for dead).
const reconcileBusyRetry = 30 * time.Second

// Timeout lifts River's one-minute default: a run lasts as long as the
// instance is large (about 40 s per 100k objects at 20 requests/s). Each
// API attempt and each statement has its own bound, so nothing hangs.
func (*ReconcileWorker) Timeout(*river.Job[jobargs.ReconcileArgs]) time.Duration { return -1 }

// Work runs the job's run, creating it first for a scheduled job. A failed
// run is recorded on its row and cancels the job: retrying at once would
// fail the same way, and the next trigger tries again.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[jobargs.ReconcileArgs]) error {
	runID := job.Args.RunID
	if runID == 0 {
		id, ok, err := w.scheduledRun(ctx, job)
		if err != nil || !ok {
			return err
		}
		runID = id
	}
	run, err := w.runner.Run(ctx, runID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, reconcile.ErrNotRunning):
		w.logger.InfoContext(ctx, "reconciliation job has nothing to do: its run is no longer running",
			"run_id", runID, "job_id", job.ID)
		return nil
	case errors.Is(err, reconcile.ErrBusy):
		return river.JobSnooze(reconcileBusyRetry)
	case ctx.Err() != nil:
		// Stopping: River retries the job and the run starts again.
		return err
	case run.ID == 0:
		// The failure was not recorded on the run row (the database
		// failed before or while finishing it): retry, or the row would
		// stay 'running' with no job to finish it.
		w.logger.ErrorContext(ctx, "reconciliation run", "run_id", runID, "error", err.Error())
		return err
	default:
		// Recorded as failed; the next trigger tries again.
		return river.JobCancel(err)
	}
}

// scheduledRun creates the run row of a scheduled job. If a run is in
// progress, the job is done, unless that run is this very job's (a retry
// after the process died mid-run), which then starts again.
func (w *ReconcileWorker) scheduledRun(ctx context.Context, job *river.Job[jobargs.ReconcileArgs]) (int64, bool, error) {
	if _, err := store.FailAbandonedRuns(ctx, w.pool); err != nil {
		return 0, false, err
	}
	jobID := job.ID
	id, err := store.InsertRun(ctx, w.pool, store.NewRun{Trigger: store.TriggerSchedule, DryRun: job.Args.DryRun, JobID: &jobID})
	if errors.Is(err, store.ErrRunInProgress) {
		run, gerr := store.GetRun(ctx, w.pool, id)
		if gerr != nil {
			return 0, false, gerr
		}
		if run.JobID != nil && *run.JobID == job.ID {
			return id, true, nil
		}
		w.logger.InfoContext(ctx, "scheduled reconciliation skipped: a run is in progress",
			"running_run_id", id, "job_id", job.ID)
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// utcSchedule evaluates a cron schedule in UTC, as syncd documents
// for SYNCD_RECONCILE_SCHEDULE, whatever the process's local time zone.
type utcSchedule struct{ river.PeriodicSchedule }

func (s utcSchedule) Next(t time.Time) time.Time { return s.PeriodicSchedule.Next(t.UTC()) }

// ReconcilePeriodicJob is the scheduled run on schedule (a parsed
// SYNCD_RECONCILE_SCHEDULE). Only the elected leader enqueues it; the job's
// hourly uniqueness absorbs a leader change at the wrong moment.
func ReconcilePeriodicJob(schedule river.PeriodicSchedule) *river.PeriodicJob {
	return river.NewPeriodicJob(utcSchedule{schedule}, func() (river.JobArgs, *river.InsertOpts) {
		return jobargs.ReconcileArgs{Trigger: string(store.TriggerSchedule)}, nil
	}, &river.PeriodicJobOpts{ID: "syncd.reconcile"})
}

// EnqueueReconcileIfStale enqueues a scheduled run when the last successful
// run finished more than maxAge ago, or never happened: a nightly schedule
// alone would leave a new deployment, or one whose leader keeps restarting,
// unreconciled. Replicas starting together insert one job (hourly
// uniqueness). It reports whether a job was enqueued.
func EnqueueReconcileIfStale(ctx context.Context, pool *pgxpool.Pool, client *Client, maxAge time.Duration) (bool, error) {
	last, ok, err := store.LastSucceededRunAt(ctx, pool)
	if err != nil {
		return false, err
	}
	if ok && time.Since(last) < maxAge {
		return false, nil
	}
	res, err := client.Insert(ctx, jobargs.ReconcileArgs{Trigger: string(store.TriggerSchedule)}, nil)
	if err != nil {
		return false, fmt.Errorf("enqueue reconciliation on start: %w", err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}
