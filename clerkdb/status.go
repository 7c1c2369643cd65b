package clerkdb

import (
	"context"
	"time"
)

// SyncStatus says how fresh the synced tables are (the clerk.sync_status
// view).
type SyncStatus struct {
	// LastAppliedAt is when the newest applied webhook event was applied;
	// nil before the first.
	LastAppliedAt *time.Time
	// LastReconciledAt is when the last successful reconciliation finished;
	// nil before the first.
	LastReconciledAt *time.Time
}

// SyncStatus reads clerk.sync_status. It is two index probes, cheap enough
// for every request.
func (r *Reader) SyncStatus(ctx context.Context) (SyncStatus, error) {
	var s SyncStatus
	err := r.q.QueryRow(ctx, `SELECT last_applied_at, last_reconciled_at FROM clerk.sync_status`).
		Scan(&s.LastAppliedAt, &s.LastReconciledAt)
	if err != nil {
		return SyncStatus{}, wrap(err, "sync status")
	}
	return s, nil
}
