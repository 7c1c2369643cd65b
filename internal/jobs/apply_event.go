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
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/batching"
	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/store"
)

// Observer hears the outcome of every applied event (for metrics). The
// outcome is applied, skipped or failed; lag runs from the event's
// timestamp to the commit.
type Observer interface {
	EventApplied(eventType string, outcome store.EventStatus, lag time.Duration)
}

type noObserver struct{}

func (noObserver) EventApplied(string, store.EventStatus, time.Duration) {}

// ApplyEventWorker applies stored webhook events. Its jobs do not apply
// one at a time: each Work hands its job to a batcher (batch.go), and the
// jobs River is running together are applied in one transaction.
type ApplyEventWorker struct {
	river.WorkerDefaults[jobargs.ApplyEventArgs]
	pool    *pgxpool.Pool
	logger  *slog.Logger
	observe Observer
	now     func() time.Time
	batches *batching.Batcher[*applyRequest]
}

// NewApplyEventWorker builds the worker. observe may be nil.
func NewApplyEventWorker(pool *pgxpool.Pool, logger *slog.Logger, observe Observer) *ApplyEventWorker {
	if observe == nil {
		observe = noObserver{}
	}
	w := &ApplyEventWorker{pool: pool, logger: logger, observe: observe, now: time.Now}
	w.batches = batching.New(maxApplyBatch, maxApplyInflight, w.applyBatch).Linger(applyLinger)
	return w
}

// Work applies the event with whatever other jobs are being worked at the
// same moment: the event is applied and marked, and the job completed, in
// one transaction. A payload that can never apply marks the event failed
// and cancels the job; any other error is left to River's retries.
func (w *ApplyEventWorker) Work(ctx context.Context, job *river.Job[jobargs.ApplyEventArgs]) error {
	r := &applyRequest{ctx: ctx, job: job, done: make(chan error, 1)}
	w.batches.Add(r)
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// River is stopping hard or the job timed out. If the batch commits
		// after all, its completion of the job stands (JobCompleteTx's
		// rule); if not, the job is retried.
		return ctx.Err()
	}
}

// applyOne applies one event in its own transaction: the path a job takes
// when the batch it was in failed, so that one bad event fails alone.
func (w *ApplyEventWorker) applyOne(ctx context.Context, job *river.Job[jobargs.ApplyEventArgs]) error {
	id := job.Args.EventID
	var ev store.Event
	var res apply.Result
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		var err error
		// No row lock: River runs at most one job per event at a time (the
		// job is unique while in flight), and the update below is the
		// event's only write.
		ev, err = store.GetEvent(ctx, tx, id)
		if err != nil {
			return err
		}
		res, err = apply.Event(ctx, tx, ev)
		if err != nil {
			return err
		}
		if err := store.FinishEvent(ctx, tx, id, res.Status, res.Detail, ""); err != nil {
			return err
		}
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	switch {
	case err == nil:
		w.observe.EventApplied(ev.Type, res.Status, w.now().Sub(ev.OccurredAt))
		w.logger.InfoContext(ctx, "event applied", "event_id", id, "type", ev.Type,
			"outcome", res.Status, "write", res.Write.String(), "detail", res.Detail)
		return nil
	case errors.Is(err, store.ErrNotFound):
		// The job outlived its event (a database restored from an older
		// backup, say): nothing to apply, and retrying cannot change that.
		w.logger.WarnContext(ctx, "event not found", "event_id", id)
		return river.JobCancel(err)
	case errors.Is(err, apply.ErrInvalidPayload):
		if ferr := w.fail(ctx, id, err); ferr != nil {
			return fmt.Errorf("apply event %s: %w (and recording the failure: %v)", id, err, ferr)
		}
		w.observe.EventApplied(ev.Type, store.StatusFailed, w.now().Sub(ev.OccurredAt))
		w.logger.WarnContext(ctx, "event cannot be applied", "event_id", id, "type", ev.Type,
			"outcome", store.StatusFailed, "error", err.Error())
		return river.JobCancel(err)
	default:
		err = fmt.Errorf("apply event %s: %w", id, err)
		if job.Attempt >= job.MaxAttempts {
			// River discards the job after this attempt; leave the event
			// marked so `syncd status` and a replay can find it.
			if ferr := w.fail(ctx, id, err); ferr != nil {
				w.logger.ErrorContext(ctx, "recording final failure", "event_id", id, "error", ferr.Error())
			}
			w.observe.EventApplied(ev.Type, store.StatusFailed, 0)
		}
		w.logger.ErrorContext(ctx, "apply event", "event_id", id, "attempt", job.Attempt, "error", err.Error())
		return err
	}
}

func (w *ApplyEventWorker) fail(ctx context.Context, id string, cause error) error {
	return store.FinishEvent(ctx, w.pool, id, store.StatusFailed, "", cause.Error())
}
