package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventStatus is a webhook event's status, as clerk.webhook_events stores
// it (readers query them).
type EventStatus string

// Event statuses.
const (
	StatusPending EventStatus = "pending"
	StatusApplied EventStatus = "applied"
	StatusSkipped EventStatus = "skipped"
	StatusFailed  EventStatus = "failed"
)

// NewEvent is a verified webhook about to enter the inbox.
type NewEvent struct {
	ID         string // the svix-id: the same on every redelivery
	Type       string
	ObjectID   string // data.id; empty when the payload has none
	InstanceID string
	OccurredAt time.Time   // the envelope's timestamp; zero when absent
	Payload    []byte      // the body as jsonb can hold it (\u0000 as U+FFFD)
	BodySHA256 []byte      // SHA-256 of the exact bytes received; nil when unknown
	Status     EventStatus // pending, or skipped for types syncd does not sync
	Detail     string      // why it was skipped, if it was
}

// Event is a stored webhook event.
type Event struct {
	ID         string
	Type       string
	ObjectID   string
	InstanceID string
	OccurredAt time.Time
	ReceivedAt time.Time
	Payload    []byte
	Status     EventStatus
	AppliedAt  *time.Time
	Error      string
	Detail     string
}

// InsertEvents stores a group of events in one statement and returns the
// ids of those that were new; an id already stored is left as it is (a
// redelivery). Ids must be distinct within the group: the caller answers a
// second copy in the same group as a duplicate of the first.
func InsertEvents(ctx context.Context, db DBTX, evs []NewEvent) (map[string]bool, error) {
	const q = `
INSERT INTO clerk.webhook_events (id, type, object_id, instance_id, occurred_at, payload, status, detail, applied_at, body_sha256)
SELECT i.id, i.type, NULLIF(i.object_id, ''), NULLIF(i.instance_id, ''), i.occurred_at, i.payload::jsonb,
       i.status, NULLIF(i.detail, ''), CASE WHEN i.status = 'skipped' THEN now() END, i.body_sha256
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::bytea[])
    AS i(id, type, object_id, instance_id, occurred_at, payload, status, detail, body_sha256)
ON CONFLICT (id) DO NOTHING
RETURNING id`
	n := len(evs)
	ids, types, objects, instances := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	occurred, payloads := make([]*time.Time, n), make([]string, n)
	statuses, details, sums := make([]string, n), make([]string, n), make([][]byte, n)
	for i, ev := range evs {
		ids[i], types[i], objects[i], instances[i] = ev.ID, ev.Type, ev.ObjectID, ev.InstanceID
		if !ev.OccurredAt.IsZero() {
			occurred[i] = &evs[i].OccurredAt
		}
		payloads[i], statuses[i], details[i], sums[i] = string(ev.Payload), string(ev.Status), ev.Detail, ev.BodySHA256
	}
	rows, err := db.Query(ctx, q, ids, types, objects, instances, occurred, payloads, statuses, details, sums)
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", describeBatch("webhook event", ids), classify(err))
	}
	inserted := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert %s: %w", describeBatch("webhook event", ids), err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert %s: %w", describeBatch("webhook event", ids), classify(err))
	}
	return inserted, nil
}

// StoredBodyHashes reads, in one statement, the body_sha256 of the events
// stored under ids: what a delivery that InsertEvents did not insert is
// compared with, to tell a redelivery (same body) from a conflict (another
// body under the same svix-id). An id with no row is absent from the map;
// a row stored before body_sha256 existed maps to nil.
//
// Run it in the inserting transaction, after the insert: under read
// committed the statement sees the rows of concurrent deliveries that the
// insert waited for and skipped.
func StoredBodyHashes(ctx context.Context, db DBTX, ids []string) (map[string][]byte, error) {
	rows, err := db.Query(ctx, `SELECT id, body_sha256 FROM clerk.webhook_events WHERE id = ANY($1::text[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("body hashes of %s: %w", describeBatch("webhook event", ids), err)
	}
	defer rows.Close()
	out := make(map[string][]byte, len(ids))
	for rows.Next() {
		var id string
		var sum []byte
		if err := rows.Scan(&id, &sum); err != nil {
			return nil, fmt.Errorf("body hashes of %s: %w", describeBatch("webhook event", ids), err)
		}
		out[id] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("body hashes of %s: %w", describeBatch("webhook event", ids), err)
	}
	return out, nil
}

const eventColumns = `id, type, coalesce(object_id, ''), coalesce(instance_id, ''),
       coalesce(occurred_at, received_at), received_at, payload::text, status, applied_at,
       coalesce(error, ''), coalesce(detail, '')`

func scanEvent(row pgx.Row) (Event, error) {
	var ev Event
	var payload string
	err := row.Scan(&ev.ID, &ev.Type, &ev.ObjectID, &ev.InstanceID, &ev.OccurredAt, &ev.ReceivedAt,
		&payload, &ev.Status, &ev.AppliedAt, &ev.Error, &ev.Detail)
	ev.Payload = []byte(payload)
	return ev, err
}

// GetEvent reads one event.
func GetEvent(ctx context.Context, db DBTX, id string) (Event, error) {
	ev, err := scanEvent(db.QueryRow(ctx, `SELECT `+eventColumns+` FROM clerk.webhook_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, fmt.Errorf("webhook event %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("get webhook event %s: %w", id, err)
	}
	return ev, nil
}

// FinishEvent records the outcome of applying an event: applied, skipped
// (with why) or failed (with the error).
func FinishEvent(ctx context.Context, db DBTX, id string, status EventStatus, detail, errText string) error {
	const q = `
UPDATE clerk.webhook_events
SET status = $2, detail = NULLIF($3, ''), error = NULLIF($4, ''), applied_at = now()
WHERE id = $1`
	tag, err := db.Exec(ctx, q, id, status, detail, errText)
	if err != nil {
		return fmt.Errorf("finish webhook event %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish webhook event %s: %w", id, ErrNotFound)
	}
	return nil
}

// GetEvents reads several events in one statement; ids not stored are
// absent from the result.
func GetEvents(ctx context.Context, db DBTX, ids []string) (map[string]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM clerk.webhook_events WHERE id = ANY($1::text[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", describeBatch("webhook event", ids), err)
	}
	defer rows.Close()
	out := make(map[string]Event, len(ids))
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", describeBatch("webhook event", ids), err)
		}
		out[ev.ID] = ev
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", describeBatch("webhook event", ids), err)
	}
	return out, nil
}

// Outcome is the recorded result of applying one event.
type Outcome struct {
	ID     string
	Status EventStatus
	Detail string
	Error  string
}

// FinishEvents records the outcomes of a batch of applied events in one
// statement, as FinishEvent does for one. It reports how many rows it
// found.
func FinishEvents(ctx context.Context, db DBTX, outs []Outcome) (int64, error) {
	const q = `
UPDATE clerk.webhook_events AS e
SET status = o.status, detail = NULLIF(o.detail, ''), error = NULLIF(o.error, ''), applied_at = now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS o(id, status, detail, error)
WHERE e.id = o.id`
	n := len(outs)
	ids, statuses, details, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, o := range outs {
		ids[i], statuses[i], details[i], errs[i] = o.ID, string(o.Status), o.Detail, o.Error
	}
	tag, err := db.Exec(ctx, q, ids, statuses, details, errs)
	if err != nil {
		return 0, fmt.Errorf("finish %s: %w", describeBatch("webhook event", ids), err)
	}
	return tag.RowsAffected(), nil
}

// EventFilter selects stored events for a replay.
type EventFilter struct {
	Since time.Time // received at or after
	Type  string    // exact type; empty for all
	Limit int
}

// EventRef identifies an event in a listing.
type EventRef struct {
	ID         string
	Type       string
	ReceivedAt time.Time
}

// ListEvents returns events received since f.Since, oldest first, in pages
// keyed by (received_at, id) so a long replay never holds one huge result.
func ListEvents(ctx context.Context, db DBTX, f EventFilter, after EventRef) ([]EventRef, error) {
	const q = `
SELECT id, type, received_at FROM clerk.webhook_events
WHERE received_at >= $1
  AND ($2 = '' OR type = $2)
  AND ($3 = '' OR (received_at, id) > ($4, $3))
ORDER BY received_at, id
LIMIT $5`
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.Query(ctx, q, f.Since, f.Type, after.ID, after.ReceivedAt, limit)
	if err != nil {
		return nil, fmt.Errorf("list webhook events since %s: %w", f.Since.Format(time.RFC3339), err)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EventRef, error) {
		var e EventRef
		err := r.Scan(&e.ID, &e.Type, &e.ReceivedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhook events: %w", err)
	}
	return refs, nil
}
