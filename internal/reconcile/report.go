package reconcile

import (
	"time"

	"github.com/syncd/syncd/internal/store"
)

// Report is a run as GET /admin/reconcile/runs/{id} and `syncd reconcile
// --json` show it.
type Report struct {
	RunID   int64           `json:"run_id"`
	Trigger store.Trigger   `json:"trigger"`
	Status  store.RunStatus `json:"status"`
	DryRun  bool            `json:"dry_run"`
	// Authoritative runs repair conflicts (sync rule 5).
	Authoritative bool       `json:"authoritative"`
	StartedAt     time.Time  `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	// DurationSeconds is the run's length, or its length so far while it
	// runs.
	DurationSeconds float64    `json:"duration_seconds"`
	Users           KindReport `json:"users"`
	Organizations   KindReport `json:"organizations"`
	Memberships     KindReport `json:"memberships"`
	APIRequests     int64      `json:"api_requests"`
	APIRateLimited  int64      `json:"api_rate_limited"`
	Error           string     `json:"error,omitempty"`
}

// KindReport is what a run did to one kind of object. In a dry run, created,
// updated, deleted and repaired are what a real run would have done.
type KindReport struct {
	Seen      int64 `json:"seen"`
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated"`
	Deleted   int64 `json:"deleted"`
	Unchanged int64 `json:"unchanged"`
	Errors    int64 `json:"errors"`
	// Conflicts are listed objects whose row is a tombstone or newer than
	// Clerk's version, not written since the run started: left alone
	// unless the run is authoritative (sync rule 5).
	Conflicts int64 `json:"conflicts"`
	// Repaired are the conflicts an authoritative run made equal to what a
	// GET of the object answered.
	Repaired int64 `json:"repaired"`
}

// Conflicts is the run's conflicts of every kind.
func (r Report) Conflicts() int64 {
	return r.Users.Conflicts + r.Organizations.Conflicts + r.Memberships.Conflicts
}

// NewReport turns a stored run into its report; now measures a running
// run's duration so far.
func NewReport(r store.Run, now time.Time) Report {
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return Report{
		RunID:           r.ID,
		Trigger:         r.Trigger,
		Status:          r.Status,
		DryRun:          r.DryRun,
		Authoritative:   r.Authoritative,
		StartedAt:       r.StartedAt.UTC(),
		FinishedAt:      utc(r.FinishedAt),
		DurationSeconds: max(0, end.Sub(r.StartedAt).Seconds()),
		Users:           KindReport(r.Users),
		Organizations:   KindReport(r.Organizations),
		Memberships:     KindReport(r.Memberships),
		APIRequests:     r.APIRequests,
		APIRateLimited:  r.APIRateLimited,
		Error:           r.Error,
	}
}

// Finished reports whether the run has ended, one way or the other.
func (r Report) Finished() bool { return r.Status != store.RunRunning }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
