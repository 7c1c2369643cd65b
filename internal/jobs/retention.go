package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/store"
)

// Event retention (SYNCD_EVENT_RETENTION): finished webhook events (applied
// or skipped) received longer ago than the retention are deleted by a
// periodic job, a bounded batch at a time. Their payloads are whole Clerk
// objects (and, for unsynced types such as email.created, one-time codes),
// so keeping them forever is both growth without bound and a liability.
// Failed and pending events are kept whatever their age. River's own job
// rows are kept a few hours only (CompletedJobRetentionPeriod in client.go).

const (
	// pruneBatch bounds one delete statement (and its transaction): a
	// first pass over months of events does not hold locks or WAL for long.
	pruneBatch = 1000
)

// PruneEventsWorker deletes finished events older than the retention.
type PruneEventsWorker struct {
	river.WorkerDefaults[jobargs.PruneEventsArgs]
	pool      *pgxpool.Pool
	retention time.Duration
	logger    *slog.Logger
	now       func() time.Time
}

// NewPruneEventsWorker builds the worker; retention must be positive.
func NewPruneEventsWorker(pool *pgxpool.Pool, retention time.Duration, logger *slog.Logger) *PruneEventsWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &PruneEventsWorker{pool: pool, retention: retention, logger: logger, now: time.Now}
}

// Timeout lifts River's one-minute default for a first pass over a large
// backlog; each batch is its own short statement.
func (*PruneEventsWorker) Timeout(*river.Job[jobargs.PruneEventsArgs]) time.Duration {
	return 30 * time.Minute
}

// Work deletes batch after batch until none is left older than the
// retention.
func (w *PruneEventsWorker) Work(ctx context.Context, job *river.Job[jobargs.PruneEventsArgs]) error {
	n, err := PruneEvents(ctx, w.pool, w.now().Add(-w.retention), pruneBatch)
	if n > 0 || err != nil {
		w.logger.InfoContext(ctx, "finished webhook events deleted", "deleted", n,
			"retention", w.retention.String())
	}
	return err
}

// PruneEvents deletes finished events received before `before`, batch
// events per transaction, until a batch comes back short. It returns how
// many it deleted.
func PruneEvents(ctx context.Context, pool *pgxpool.Pool, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		n, err := store.DeleteFinishedEvents(ctx, pool, before, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}

// PruneEventsPeriodicJob schedules event retention every jobargs.PruneInterval,
// and once when the leader starts.
func PruneEventsPeriodicJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(jobargs.PruneInterval), func() (river.JobArgs, *river.InsertOpts) {
		return jobargs.PruneEventsArgs{}, nil
	}, &river.PeriodicJobOpts{ID: "syncd.prune_events", RunOnStart: true})
}
