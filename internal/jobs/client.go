package jobs

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/syncd/syncd/internal/jobargs"
)

// Client is the River client syncd runs, over pgx.
type Client = river.Client[pgx.Tx]

// ClientConfig says how a River client for syncd is built.
type ClientConfig struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// Work makes the client fetch and run jobs. Without it the client only
	// inserts (the api role).
	Work bool
	// MaxWorkers is the sync queue's concurrency (SYNCD_WORKERS).
	MaxWorkers int
	// FetchCooldown is the least time between two fetches of a queue.
	// River's default (100 ms) leaves a batch's slots idle between fetches
	// and caps the apply rate; a few milliseconds lets the next fetch follow
	// a finished batch at once (make bench measures it).
	FetchCooldown time.Duration
	// Observer hears applied events; may be nil.
	Observer Observer
	// Register adds further workers (reconciliation) to the registry.
	Register func(*river.Workers) error
	// PeriodicJobs are scheduled by the elected leader.
	PeriodicJobs []*river.PeriodicJob
	// ReconcileQueue enables the reconcile queue with one worker.
	ReconcileQueue bool
	// ReconcileOnly makes a working client fetch from the reconcile queue
	// alone, never lead (so no periodic jobs and no maintenance) and leave
	// the sync queue to the service: `syncd reconcile --wait` runs one so
	// that a run completes even when no `serve` is running.
	ReconcileOnly bool
	// SoftStopTimeout is how long Stop lets running jobs finish before
	// cancelling them.
	SoftStopTimeout time.Duration
	// JobLogger receives the workers' one line per applied event; Logger
	// (often quieter) is River's own.
	JobLogger *slog.Logger
	// EventRetention is SYNCD_EVENT_RETENTION, as config.Load parsed it. A
	// working client that leads deletes finished events older than that
	// every hour; zero (`off`) keeps them.
	EventRetention time.Duration
}

// DefaultFetchCooldown is the fetch cooldown used when none is set.
const DefaultFetchCooldown = 5 * time.Millisecond

// Recovery is bounded (sync rule 7: every acknowledged event applied within
// two minutes of a process running again) by these two settings. A job
// whose process died stays `running` in river_job until the leader's
// rescuer, which runs every 30 s, finds it running for longer than
// RescueStuckJobsAfter and past its worker's timeout; River's own default
// is an hour. An apply batch is bounded by applyBatchTimeout, so 30 s is
// as long as a live apply job can take: the rescuer never retries one that
// still works, and a dead one is retried at most 30 s + 30 s (rescuer
// tick) + 5 s (River's scheduler tick) after its attempt began. A leader
// that died is replaced within River's 15 s leadership TTL, inside that
// time. Reconciliation, which may run for hours, has no timeout and is
// never taken by this rescuer; RescueAbandonedReconciles recovers it.
const (
	JobTimeout           = 30 * time.Second
	RescueStuckJobsAfter = 30 * time.Second
)

// NewClient builds (but does not start) the River client.
func NewClient(cfg ClientConfig) (*Client, error) {
	rc := &river.Config{
		Logger:          cfg.Logger,
		SoftStopTimeout: cfg.SoftStopTimeout,
		// Completed jobs are kept a day by default; the event row is the
		// permanent record, so a shorter retention keeps river_job small
		// under a steady webhook load.
		CompletedJobRetentionPeriod: 6 * time.Hour,
		JobTimeout:                  JobTimeout,
		RescueStuckJobsAfter:        RescueStuckJobsAfter,
	}
	if cfg.Work {
		jobLogger := cfg.JobLogger
		if jobLogger == nil {
			jobLogger = cfg.Logger
		}
		if jobLogger == nil {
			jobLogger = slog.New(slog.DiscardHandler)
		}
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, NewApplyEventWorker(cfg.Pool, jobLogger, cfg.Observer)); err != nil {
			return nil, fmt.Errorf("register apply worker: %w", err)
		}
		if cfg.Register != nil {
			if err := cfg.Register(workers); err != nil {
				return nil, err
			}
		}
		if cfg.EventRetention > 0 && !cfg.ReconcileOnly {
			if err := river.AddWorkerSafely(workers, NewPruneEventsWorker(cfg.Pool, cfg.EventRetention, jobLogger)); err != nil {
				return nil, fmt.Errorf("register event retention worker: %w", err)
			}
			cfg.PeriodicJobs = append(slices.Clip(cfg.PeriodicJobs), PruneEventsPeriodicJob())
		}
		maxWorkers := cfg.MaxWorkers
		if maxWorkers <= 0 {
			maxWorkers = 20
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{jobargs.QueueSync: {MaxWorkers: maxWorkers}}
		if cfg.ReconcileQueue || cfg.ReconcileOnly {
			rc.Queues[jobargs.QueueReconcile] = river.QueueConfig{MaxWorkers: 1}
		}
		if cfg.ReconcileOnly {
			delete(rc.Queues, jobargs.QueueSync)
			rc.LeaderElectionDisabled = true
			cfg.PeriodicJobs = nil
		}
		rc.FetchCooldown = cfg.FetchCooldown
		if rc.FetchCooldown <= 0 {
			rc.FetchCooldown = DefaultFetchCooldown
		}
		rc.PeriodicJobs = cfg.PeriodicJobs
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}
