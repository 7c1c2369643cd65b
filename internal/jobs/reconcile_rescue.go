package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/store"
)

// River's rescuer judges a job by its age alone, so it cannot tell a
// reconciliation that works through a million users from one whose process
// died: ReconcileWorker has no timeout, and the rescuer never takes its
// jobs. The reconciliation lock tells them apart. A live run holds it on
// its connection for as long as it works; a dead process's session, and
// the lock with it, is gone. A reconciliation job `running` without the
// lock is therefore abandoned and is handed back to River for a retry,
// which restarts its run from scratch (Runner.Run).
const (
	// reconcileRescueEvery is how often a working process looks for
	// abandoned reconciliation jobs.
	reconcileRescueEvery = 10 * time.Second
	// reconcileClaimGrace is how long an attempt may take to reach its
	// lock (a free connection, the run row) before it counts as
	// abandoned.
	reconcileClaimGrace = 30 * time.Second
)

// RescueAbandonedReconciles makes every abandoned reconciliation job
// retryable at once, with River's own rescue statement (which records the
// attempt's error and skips any job attempted again meanwhile), and returns
// their ids.
func RescueAbandonedReconciles(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	abandoned, horizon, err := store.AbandonedReconcileJobs(ctx, pool, jobargs.ReconcileArgs{}.Kind(), reconcileClaimGrace)
	if err != nil || len(abandoned) == 0 {
		return nil, err
	}
	now := time.Now().UTC()
	params := &riverdriver.JobRescueManyParams{StuckHorizon: horizon}
	for _, j := range abandoned {
		attemptErr, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt,
			Error: "abandoned: the process working this reconciliation stopped (nothing holds the reconciliation lock); retried"})
		if err != nil {
			return nil, err
		}
		params.ID = append(params.ID, j.ID)
		params.Error = append(params.Error, attemptErr)
		params.FinalizedAt = append(params.FinalizedAt, nil)
		params.ScheduledAt = append(params.ScheduledAt, now)
		params.State = append(params.State, string(rivertype.JobStateRetryable))
	}
	if _, err := riverpgxv5.New(pool).GetExecutor().JobRescueMany(ctx, params); err != nil {
		return nil, fmt.Errorf("retry abandoned reconciliation jobs %v: %w", params.ID, err)
	}
	return params.ID, nil
}

// WatchReconciles runs RescueAbandonedReconciles every
// reconcileRescueEvery until ctx ends. Every working process runs it; two
// rescuing the same job at once are harmless, since the rescue statement
// only takes a job still `running` from before the horizon.
func WatchReconciles(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) {
	t := time.NewTicker(reconcileRescueEvery)
	defer t.Stop()
	for {
		ids, err := RescueAbandonedReconciles(ctx, pool)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.WarnContext(ctx, "looking for abandoned reconciliation jobs", "error", err.Error())
		case len(ids) > 0:
			logger.WarnContext(ctx, "reconciliation jobs abandoned by a stopped process are retried", "job_ids", ids)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
