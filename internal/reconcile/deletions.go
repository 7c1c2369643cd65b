package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/store"
)

// candidatePage is how many deletion candidates are read at a time.
const candidatePage = 500

// sweep settles every deletion candidate of a kind once it has been listed:
// a live row that the listing did not return and that nothing wrote since
// the run started. The candidates wait in a temporary table and are read a
// page at a time, so a mass deletion does not fill memory either.
func (x *runState) sweep(ctx context.Context, k kindOps) error {
	n, err := store.CollectCandidates(ctx, x.conn, k.kind, x.since)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	x.logger.InfoContext(ctx, "checking "+string(k.kind)+"s the listing did not return", "candidates", n)
	after := ""
	for {
		cands, err := store.NextCandidates(ctx, x.conn, k.kind, after, candidatePage)
		if err != nil {
			return err
		}
		if len(cands) == 0 {
			return nil
		}
		for _, c := range cands {
			if err := k.settle(ctx, c); err != nil {
				return err
			}
		}
		after = cands[len(cands)-1].ID
	}
}

// tombstoneFunc is apply's deletion of a user or organization unchanged
// since the run started; it reports the memberships it ended.
type tombstoneFunc func(ctx context.Context, db store.DBTX, id string, since, at time.Time) (bool, int64, error)

// settleSingle decides a user or organization candidate from the GET of
// that one object: a Clerk 404 (clerkapi.ErrNotFound, which a bare 404 from
// a proxy does not match) makes it a tombstone; an object still there was
// skipped by offset paging and is applied like a listed one. Any other
// error fails the run: without an answer the row must stay as it is.
func (x *runState) settleSingle(ctx context.Context, k kindOps, c store.Candidate, raw json.RawMessage, getErr error, del tombstoneFunc) error {
	switch {
	case getErr == nil:
		return k.parse([]json.RawMessage{raw})(ctx)
	case !errors.Is(getErr, clerkapi.ErrNotFound):
		return fmt.Errorf("check %s %s: %w", k.kind, c.ID, getErr)
	}
	return x.tombstone(ctx, k.kind, c.ID, func(tx pgx.Tx, at time.Time) (bool, error) {
		ok, ended, err := del(ctx, tx, c.ID, x.since, at)
		if ok {
			x.totals.Memberships.Deleted += ended
		}
		return ok, err
	})
}

// settleMembership decides a membership candidate. Clerk addresses a
// membership by organization and user, so the check asks for the user's
// membership in the organization: none (or the organization gone) makes the
// row a tombstone; the same membership was skipped by paging and is
// applied; a different one means the user left and joined again, so the old
// row is tombstoned and the new membership applied.
func (x *runState) settleMembership(ctx context.Context, k kindOps, c store.Candidate) error {
	raw, err := x.api.GetMembership(ctx, c.OrganizationID, c.UserID)
	switch {
	case errors.Is(err, clerkapi.ErrNotFound):
		raw = nil
	case err != nil:
		return fmt.Errorf("check membership %s: %w", c.ID, err)
	case objectID(raw) == c.ID:
		return k.parse([]json.RawMessage{raw})(ctx)
	}
	err = x.tombstone(ctx, store.KindMembership, c.ID, func(tx pgx.Tx, at time.Time) (bool, error) {
		return apply.DeleteMembershipIfUnchangedSince(ctx, tx, c.ID, x.since, at)
	})
	if err != nil || raw == nil {
		return err
	}
	return k.parse([]json.RawMessage{raw})(ctx)
}

// tombstone writes one deletion in its own transaction, inside a savepoint
// that a dry run rolls back, so a dry run counts exactly what a real run
// would (the memberships a parent's deletion ends included). The statement
// itself re-checks that the row is still live and unwritten since the run
// started, so a webhook that raced the check wins.
func (x *runState) tombstone(ctx context.Context, kind store.Kind, id string, del func(tx pgx.Tx, at time.Time) (bool, error)) error {
	c := x.counts(kind)
	return pgx.BeginFunc(ctx, x.conn, func(tx pgx.Tx) error {
		var ok bool
		err := x.savepoint(ctx, tx, func(sp pgx.Tx) error {
			var err error
			ok, err = del(sp, time.Now().UTC())
			return err
		})
		if err != nil {
			return err
		}
		if !ok {
			return x.progress(ctx, tx)
		}
		c.Deleted++
		x.logger.DebugContext(ctx, "tombstoned: gone from Clerk", "kind", kind, "object_id", id, "dry_run", x.dry)
		if x.dry && kind != store.KindMembership {
			// The rolled-back deletion did not end the parent's
			// memberships; they are accounted for above.
			if err := store.RecordMembershipsSeen(ctx, tx, kind, id); err != nil {
				return err
			}
		}
		return x.progress(ctx, tx)
	})
}
