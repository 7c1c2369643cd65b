package jobs

import (
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncd/syncd/internal/apply"
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

// Syncs reports whether events of this type get an apply job. Other types
// are stored as skipped.
func Syncs(eventType string) bool { return apply.Handles(eventType) }
