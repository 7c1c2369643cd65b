package jobargs

import (
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Queue names.
const (
	QueueSync      = "sync"
	QueueReconcile = "reconcile"
)

// inFlight are the states in which a second ApplyEventArgs for the same
// event is a duplicate. Completed jobs are left out on purpose: permanent
// dedup is clerk.webhook_events' primary key, and leaving completed out lets
// a replay enqueue the event again once its first job has finished.
var inFlight = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// ApplyEventArgs asks a worker to apply one stored webhook event.
type ApplyEventArgs struct {
	EventID string `json:"event_id" river:"unique"`
}

// Kind is River's name for the job.
func (ApplyEventArgs) Kind() string { return "syncd.apply_event" }

// InsertOpts makes the job unique by event id while it is in flight.
func (ApplyEventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:      QueueSync,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: inFlight},
	}
}

// ReconcileArgs asks the reconcile worker to work one reconciliation run.
// Manual triggers create the run row first and carry its id; the schedule
// carries RunID 0 and the worker creates the row, so a tick that finds a run
// in progress simply does nothing.
//
// The run's row is the authority on dry_run and authoritative; the args
// carry them for whoever reads the job in River UI.
type ReconcileArgs struct {
	RunID         int64  `json:"run_id" river:"unique"`
	DryRun        bool   `json:"dry_run,omitempty"`
	Authoritative bool   `json:"authoritative,omitempty"`
	Trigger       string `json:"trigger"`
}

// Kind is River's name for the job.
func (ReconcileArgs) Kind() string { return "syncd.reconcile" }

// reconcileUniquePeriod is the window in which scheduled jobs (all RunID 0)
// are one: the schedule ticks of every replica that was leader in it, and
// run-on-start of every replica starting in it, insert one job between
// them. Manual jobs differ by RunID and are never deduplicated.
const reconcileUniquePeriod = time.Hour

// InsertOpts puts the job on the reconcile queue, unique by run and hour.
// Three attempts: a failed run cancels its job (the next trigger tries
// again), so attempts are only spent when a process dies mid-run.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueReconcile,
		MaxAttempts: 3,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByPeriod: reconcileUniquePeriod},
	}
}

// PruneInterval is how often the leader prunes finished events
// (SYNCD_EVENT_RETENTION), and the period in which PruneEventsArgs jobs are
// one.
const PruneInterval = time.Hour

// PruneEventsArgs asks for one pass of event retention.
type PruneEventsArgs struct{}

// Kind is River's name for the job.
func (PruneEventsArgs) Kind() string { return "syncd.prune_events" }

// InsertOpts puts the job on the sync queue, one per period: the ticks of
// replicas that were leader in the same period insert one job.
func (PruneEventsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueSync,
		MaxAttempts: 3,
		UniqueOpts:  river.UniqueOpts{ByPeriod: PruneInterval},
	}
}
