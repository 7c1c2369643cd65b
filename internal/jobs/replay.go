package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/store"
)

// Replayer enqueues stored events to be applied again. Applying is
// idempotent under the version rules, so a replay can only bring the tables
// closer to the events, never apply one twice in effect.
type Replayer struct {
	pool   *pgxpool.Pool
	client *Client
}

// NewReplayer builds a Replayer; client may be insert-only.
func NewReplayer(pool *pgxpool.Pool, client *Client) *Replayer {
	return &Replayer{pool: pool, client: client}
}

// ReplayEvent enqueues one stored event. It returns an error wrapping
// store.ErrNotFound when there is no such event. If the event's job is
// still in flight, that job is the replay.
func (r *Replayer) ReplayEvent(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := store.GetEvent(ctx, tx, id); err != nil {
			return err
		}
		if _, err := r.client.InsertTx(ctx, tx, jobargs.ApplyEventArgs{EventID: id}, nil); err != nil {
			return fmt.Errorf("enqueue replay of %s: %w", id, err)
		}
		return nil
	})
}

// ReplaySince enqueues every event received at or after since (of one type
// when eventType is not empty), a page at a time, and returns how many it
// enqueued.
func (r *Replayer) ReplaySince(ctx context.Context, since time.Time, eventType string) (int, error) {
	filter := store.EventFilter{Since: since, Type: eventType, Limit: 1000}
	var after store.EventRef
	total := 0
	for {
		refs, err := store.ListEvents(ctx, r.pool, filter, after)
		if err != nil {
			return total, err
		}
		if len(refs) == 0 {
			return total, nil
		}
		params := make([]river.InsertManyParams, len(refs))
		for i, ref := range refs {
			params[i] = river.InsertManyParams{Args: jobargs.ApplyEventArgs{EventID: ref.ID}}
		}
		err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			_, err := r.client.InsertManyTx(ctx, tx, params)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("enqueue replay of %d events: %w", len(refs), err)
		}
		total += len(refs)
		after = refs[len(refs)-1]
	}
}
