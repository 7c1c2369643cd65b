package store

import (
	"context"
	"fmt"
	"time"
)

// Counts is live and deleted rows of one synced table.
type Counts struct {
	Active  int64 `json:"active"`
	Deleted int64 `json:"deleted"`
}

// Overview is what `syncd status` reports.
type Overview struct {
	Users                    Counts     `json:"users"`
	Organizations            Counts     `json:"organizations"`
	Memberships              Counts     `json:"memberships"`
	EventsPending            int64      `json:"events_pending"`
	EventsFailed             int64      `json:"events_failed"`
	EventsAppliedLastHour    int64      `json:"events_applied_last_hour"`
	OldestPendingReceivedAt  *time.Time `json:"oldest_pending_received_at,omitempty"`
	LastReconciliationID     *int64     `json:"last_reconciliation_id,omitempty"`
	LastReconciliationStatus *RunStatus `json:"last_reconciliation_status,omitempty"`
	LastReconciliationAt     *time.Time `json:"last_reconciliation_finished_at,omitempty"`
	LastReconciliationError  *string    `json:"last_reconciliation_error,omitempty"`
}

// ReadOverview counts rows and events in one statement (one snapshot).
func ReadOverview(ctx context.Context, db DBTX) (Overview, error) {
	const q = `
SELECT
    (SELECT count(*) FILTER (WHERE deleted_at IS NULL) FROM clerk.users),
    (SELECT count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM clerk.users),
    (SELECT count(*) FILTER (WHERE deleted_at IS NULL) FROM clerk.organizations),
    (SELECT count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM clerk.organizations),
    (SELECT count(*) FILTER (WHERE deleted_at IS NULL) FROM clerk.organization_memberships),
    (SELECT count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM clerk.organization_memberships),
    (SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'),
    (SELECT count(*) FROM clerk.webhook_events WHERE status = 'failed'),
    (SELECT count(*) FROM clerk.webhook_events WHERE status = 'applied' AND applied_at > now() - interval '1 hour'),
    (SELECT min(received_at) FROM clerk.webhook_events WHERE status = 'pending'),
    r.id, r.status, r.finished_at, r.error
FROM (SELECT 1) one
LEFT JOIN LATERAL (
    SELECT id, status, finished_at, error FROM clerk.reconciliation_runs ORDER BY id DESC LIMIT 1
) r ON true`
	var o Overview
	err := db.QueryRow(ctx, q).Scan(
		&o.Users.Active, &o.Users.Deleted,
		&o.Organizations.Active, &o.Organizations.Deleted,
		&o.Memberships.Active, &o.Memberships.Deleted,
		&o.EventsPending, &o.EventsFailed, &o.EventsAppliedLastHour, &o.OldestPendingReceivedAt,
		&o.LastReconciliationID, &o.LastReconciliationStatus, &o.LastReconciliationAt, &o.LastReconciliationError)
	if err != nil {
		return Overview{}, fmt.Errorf("read status overview: %w", err)
	}
	return o, nil
}
