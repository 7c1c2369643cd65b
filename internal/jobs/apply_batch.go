package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/store"
)

// Batched apply. River runs up to SYNCD_WORKERS apply jobs at once; rather
// than a transaction each, the jobs that are running together go out in one
// transaction: the events read and their payloads parsed before it begins,
// then one statement per table (apply.Batch), one update marking every
// event, one update completing every job, one commit. A job whose event can
// never apply is marked failed in the same transaction and cancelled.
//
// If the batch transaction fails, each of its jobs is applied again in a
// transaction of its own (applyOne), so one event that trips Postgres fails
// alone and the others go through.

const (
	// maxApplyBatch is far above what River hands out at once (its fetch
	// is bounded by SYNCD_WORKERS); it only bounds a statement's size.
	maxApplyBatch = 500
	// maxApplyInflight lets one batch be fetched and parsed while the
	// previous one commits.
	maxApplyInflight = 2
	// applyLinger gathers the jobs of one River fetch, whose goroutines
	// start one after the other, into one batch.
	applyLinger = 1 * time.Millisecond
	// applyBatchTimeout bounds one batch transaction.
	applyBatchTimeout = 30 * time.Second
)

type applyRequest struct {
	ctx  context.Context // the job's work context: it carries the River client
	job  *river.Job[jobargs.ApplyEventArgs]
	done chan error
}

// batchEntry is one job of a batch on its way through applyBatch.
type batchEntry struct {
	req    *applyRequest
	ev     store.Event
	parsed apply.Parsed
	res    apply.Result
	err    error // set: the job ends with this error and is not completed
	apply  bool  // parsed and part of the batch transaction
}

// applyBatch applies a batch and answers every request in it.
func (w *ApplyEventWorker) applyBatch(batch []*applyRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), applyBatchTimeout)
	defer cancel()
	entries, err := w.tryBatch(ctx, batch)
	if err != nil {
		w.logger.WarnContext(ctx, "batch apply failed; applying its events one by one",
			"events", len(batch), "error", err.Error())
		for _, r := range batch {
			r.done <- w.applyOne(r.ctx, r.job)
		}
		return
	}
	for _, e := range entries {
		id := e.req.job.Args.EventID
		switch {
		case e.apply:
			w.observe.EventApplied(e.ev.Type, e.res.Status, w.now().Sub(e.ev.OccurredAt))
			w.logger.InfoContext(ctx, "event applied", "event_id", id, "type", e.ev.Type,
				"outcome", e.res.Status, "write", e.res.Write.String(), "detail", e.res.Detail)
		case errors.Is(e.err, store.ErrNotFound):
			w.logger.WarnContext(ctx, "event not found", "event_id", id)
		default:
			w.observe.EventApplied(e.ev.Type, store.StatusFailed, w.now().Sub(e.ev.OccurredAt))
			w.logger.WarnContext(ctx, "event cannot be applied", "event_id", id, "type", e.ev.Type,
				"outcome", store.StatusFailed, "error", e.err.Error())
		}
		if e.err != nil {
			e.req.done <- river.JobCancel(e.err)
		} else {
			e.req.done <- nil
		}
	}
}

// tryBatch runs the batch's one transaction. It returns each job's fate, or
// an error when the transaction did not commit.
func (w *ApplyEventWorker) tryBatch(ctx context.Context, batch []*applyRequest) ([]*batchEntry, error) {
	ids := make([]string, len(batch))
	for i, r := range batch {
		ids[i] = r.job.Args.EventID
	}
	evs, err := store.GetEvents(ctx, w.pool, ids)
	if err != nil {
		return nil, err
	}
	entries := make([]*batchEntry, len(batch))
	var parsed []apply.Parsed
	var outcomes []store.Outcome
	var jobIDs []int64
	seen := make(map[string]bool, len(batch))
	for i, r := range batch {
		e := &batchEntry{req: r}
		entries[i] = e
		id := r.job.Args.EventID
		ev, ok := evs[id]
		switch {
		case !ok:
			// The job outlived its event (a database restored from an
			// older backup, say): nothing to apply, and retrying cannot
			// change that.
			e.err = fmt.Errorf("webhook event %s: %w", id, store.ErrNotFound)
			continue
		case seen[id]:
			return nil, fmt.Errorf("event %s twice in one batch", id)
		}
		seen[id] = true
		e.ev = ev
		p, err := apply.Parse(ev)
		if err != nil {
			e.err = fmt.Errorf("apply event %s: %w", id, err)
			outcomes = append(outcomes, store.Outcome{ID: id, Status: store.StatusFailed, Error: e.err.Error()})
			continue
		}
		e.parsed, e.apply = p, true
		parsed = append(parsed, p)
		jobIDs = append(jobIDs, r.job.ID)
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](batch[0].ctx)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		results, err := apply.Batch(ctx, tx, parsed)
		if err != nil {
			return err
		}
		k := 0
		for _, e := range entries {
			if e.apply {
				e.res = results[k]
				k++
				outcomes = append(outcomes, store.Outcome{ID: e.ev.ID, Status: e.res.Status, Detail: e.res.Detail})
			}
		}
		if len(outcomes) > 0 {
			if _, err := store.FinishEvents(ctx, tx, outcomes); err != nil {
				return err
			}
		}
		return completeJobs(ctx, client, tx, jobIDs)
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// completeJobs marks running jobs completed inside tx, as JobCompleteTx does
// for one job, in one statement for all of them. River's own completion
// after Work returns then finds them no longer running and changes nothing.
func completeJobs(ctx context.Context, client *Client, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	n := len(ids)
	now := time.Now()
	p := &riverdriver.JobSetStateIfRunningManyParams{
		ID:              ids,
		Attempt:         make([]*int, n),
		ErrData:         make([][]byte, n),
		FinalizedAt:     make([]*time.Time, n),
		MetadataDoMerge: make([]bool, n),
		MetadataUpdates: make([][]byte, n),
		ScheduledAt:     make([]*time.Time, n),
		State:           make([]rivertype.JobState, n),
	}
	for i := range ids {
		p.FinalizedAt[i] = &now
		p.State[i] = rivertype.JobStateCompleted
	}
	if _, err := client.Driver().UnwrapExecutor(tx).JobSetStateIfRunningMany(ctx, p); err != nil {
		return fmt.Errorf("complete %d apply jobs: %w", n, err)
	}
	return nil
}
