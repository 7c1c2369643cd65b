package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/config"
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

// DefaultEventRetention is SYNCD_EVENT_RETENTION's default: 30 days.
const DefaultEventRetention = 720 * time.Hour

// ParseEventRetention reads SYNCD_EVENT_RETENTION: empty for the default,
// `off` to keep events forever (0), a Go duration such as 720h or 90m, or a
// whole number of days such as 30d. A bad value is a *config.Error naming
// the variable.
func ParseEventRetention(raw string) (time.Duration, error) {
	v := strings.TrimSpace(raw)
	switch strings.ToLower(v) {
	case "":
		return DefaultEventRetention, nil
	case "off":
		return 0, nil
	}
	bad := func(problem string) error {
		return &config.Error{Var: "SYNCD_EVENT_RETENTION", Problem: problem,
			Fix: "set it to a duration such as 720h or 30d, or to off to keep finished events forever"}
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, bad(fmt.Sprintf("%q is not a whole number of days from 1 to 36500", raw))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, bad(fmt.Sprintf("%q is not a duration", raw))
		}
	}
	if d < time.Minute {
		return 0, bad(fmt.Sprintf("%q is shorter than a minute (events must outlive their apply job)", raw))
	}
	return d, nil
}

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
