package store

import (
	"context"
	"fmt"
	"time"
)

// DeleteFinishedEvents deletes up to limit events that are finished
// (applied or skipped) and were received before `before`, oldest first, and
// returns how many it deleted. Failed and pending events are never deleted:
// they are what an operator still has to look at or replay. One call is one
// short statement (an index range on received_at), so a caller pruning a
// large backlog calls it again until it deletes fewer than limit.
func DeleteFinishedEvents(ctx context.Context, db DBTX, before time.Time, limit int) (int64, error) {
	const q = `
DELETE FROM clerk.webhook_events
WHERE id IN (
    SELECT id FROM clerk.webhook_events
    WHERE received_at < $1 AND status IN ('applied', 'skipped')
    ORDER BY received_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED)`
	tag, err := db.Exec(ctx, q, before, limit)
	if err != nil {
		return 0, fmt.Errorf("delete finished webhook events received before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}
