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

// Conflicts (sync rule 5). A listed object whose row the version rule
// refused is in conflict when the row is a tombstone, or holds a version
// newer than the one Clerk lists, and nothing wrote it since the run
// started. Clerk never lists an object older than an event it sent, so the
// row holds what Clerk never had: a forged or broken version (which would
// otherwise win over every real update until that date), or a deletion Clerk
// does not know. Every run counts and logs them and leaves them alone. An
// authoritative run then asks Clerk for each one alone (a GET, not the
// listing, which paging may have served stale) and makes the row equal to
// the answer: the object's state, a tombstone revived included, or a
// tombstone when Clerk answers 404.

// objRef is what a run needs of a listed object to judge and repair a
// conflict.
type objRef struct {
	ID             string
	Version        time.Time
	OrganizationID string // memberships only
	UserID         string // memberships only
}

type pendingConflict struct {
	kind store.Kind
	ref  objRef
}

// findConflicts counts the conflicts among refused, logs each, and queues
// them for repair in an authoritative run.
func (x *runState) findConflicts(ctx context.Context, db store.DBTX, kind store.Kind, refused []objRef) (int64, error) {
	if len(refused) == 0 {
		return 0, nil
	}
	ids := make([]string, len(refused))
	versions := make([]time.Time, len(refused))
	byID := make(map[string]objRef, len(refused))
	for i, r := range refused {
		ids[i], versions[i] = r.ID, r.Version
		byID[r.ID] = r
	}
	cs, err := store.FindConflicts(ctx, db, kind, ids, versions, x.since)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		r := byID[c.ID]
		attrs := []any{"kind", kind, "object_id", c.ID, "clerk_version", r.Version.UTC().Format(time.RFC3339Nano)}
		if c.StoredVersion != nil {
			attrs = append(attrs, "stored_version", c.StoredVersion.UTC().Format(time.RFC3339Nano))
		}
		what := "conflict: the stored version is newer than Clerk's"
		if c.Deleted {
			what = "conflict: deleted here, still listed by Clerk"
		}
		if !x.authoritative {
			x.logger.WarnContext(ctx, what+"; left alone (syncd reconcile --authoritative repairs it)", attrs...)
			continue
		}
		x.logger.WarnContext(ctx, what+"; repairing it from Clerk", attrs...)
		x.pending = append(x.pending, pendingConflict{kind: kind, ref: r})
	}
	return int64(len(cs)), nil
}

// repair makes each queued conflict of kind equal to what a GET of that
// one object answers.
func (x *runState) repair(ctx context.Context, kind store.Kind) error {
	pending := x.pending
	x.pending = nil
	for _, p := range pending {
		if p.kind != kind {
			continue
		}
		var raw json.RawMessage
		var err error
		switch kind {
		case store.KindUser:
			raw, err = x.api.GetUser(ctx, p.ref.ID)
		case store.KindOrganization:
			raw, err = x.api.GetOrganization(ctx, p.ref.ID)
		default:
			raw, err = x.api.GetMembership(ctx, p.ref.OrganizationID, p.ref.UserID)
			if err == nil && objectID(raw) != p.ref.ID {
				// The user is a member again, under a new membership:
				// this one is gone.
				raw, err = nil, clerkapi.ErrNotFound
			}
		}
		switch {
		case errors.Is(err, clerkapi.ErrNotFound):
			raw = nil
		case err != nil:
			return fmt.Errorf("get %s %s: %w", kind, p.ref.ID, err)
		}
		if err := x.repairOne(ctx, kind, p.ref.ID, raw); err != nil {
			return err
		}
	}
	return nil
}

// repairOne writes what Clerk answered for one object (raw nil: 404) in
// its own transaction, inside a savepoint a dry run rolls back.
func (x *runState) repairOne(ctx context.Context, kind store.Kind, id string, raw json.RawMessage) error {
	c := x.counts(kind)
	var write func(sp pgx.Tx) (bool, error)
	if raw == nil {
		write = func(sp pgx.Tx) (bool, error) { return x.repairGone(ctx, sp, kind, id) }
	} else {
		var err error
		write, err = x.repairWrite(ctx, kind, id, raw)
		if err != nil {
			c.Errors++
			x.logger.WarnContext(ctx, "conflict not repaired: Clerk's object cannot be applied",
				"kind", kind, "object_id", id, "error", err.Error())
			return nil
		}
	}
	return pgx.BeginFunc(ctx, x.conn, func(tx pgx.Tx) error {
		var ok bool
		err := x.savepoint(ctx, tx, func(sp pgx.Tx) error {
			var err error
			ok, err = write(sp)
			return err
		})
		switch {
		case errors.Is(err, store.ErrUnstorable):
			c.Errors++
			x.logger.WarnContext(ctx, "conflict not repaired: Clerk's object cannot be stored",
				"kind", kind, "object_id", id, "error", err.Error())
		case err != nil:
			return err
		case ok:
			c.Repaired++
			x.logger.InfoContext(ctx, "conflict repaired", "kind", kind, "object_id", id,
				"clerk_answer", map[bool]string{true: "not found", false: "object"}[raw == nil], "dry_run", x.dry)
		}
		return x.progress(ctx, tx)
	})
}

// repairWrite parses Clerk's answer and returns the write that forces it
// onto the row: the version, tombstone and digest lifted under the
// object's lock, then the same upsert every write uses.
func (x *runState) repairWrite(ctx context.Context, kind store.Kind, id string, raw json.RawMessage) (func(pgx.Tx) (bool, error), error) {
	// Every kind repairs in the same order: lock, lift the version (false
	// when a write since the run started moved it: nothing to repair),
	// write.
	repair := func(lock, write func(sp pgx.Tx) error) func(pgx.Tx) (bool, error) {
		return func(sp pgx.Tx) (bool, error) {
			if err := lock(sp); err != nil {
				return false, err
			}
			if ok, err := store.ClearVersion(ctx, sp, kind, id, x.since); err != nil || !ok {
				return false, err
			}
			err := write(sp)
			return err == nil, err
		}
	}
	switch kind {
	case store.KindUser:
		u, err := apply.ParseUser(raw)
		if err != nil {
			return nil, err
		}
		return repair(
			func(sp pgx.Tx) error { return store.LockUserExclusive(ctx, sp, id) },
			upsertOne(ctx, apply.Users, u)), nil
	case store.KindOrganization:
		o, err := apply.ParseOrganization(raw)
		if err != nil {
			return nil, err
		}
		return repair(
			func(sp pgx.Tx) error { return store.LockOrganizationExclusive(ctx, sp, id) },
			upsertOne(ctx, apply.Organizations, o)), nil
	default:
		m, _, err := apply.ParseMembership(raw)
		if err != nil {
			return nil, err
		}
		return repair(
			// The parents' shared locks first (apply.Memberships takes
			// them again), so a concurrent deletion of either cannot slip
			// between the clear and the write.
			func(sp pgx.Tx) error {
				return store.LockParentsShared(ctx, sp, []string{m.OrganizationID}, []string{m.UserID})
			},
			func(sp pgx.Tx) error {
				_, _, err := apply.Memberships(ctx, sp, []store.Membership{m}, nil)
				return err
			}), nil
	}
}

// upsertOne is the write of one parsed object with upsert (apply.Users,
// apply.Organizations), the same a webhook's would be.
func upsertOne[T any](ctx context.Context, upsert func(context.Context, store.DBTX, []T) ([]store.Write, error), v T) func(pgx.Tx) error {
	return func(sp pgx.Tx) error {
		_, err := upsert(ctx, sp, []T{v})
		return err
	}
}

// repairGone makes a live row whose object Clerk answers 404 for a
// tombstone (its memberships end with it). A tombstone stays one.
func (x *runState) repairGone(ctx context.Context, db pgx.Tx, kind store.Kind, id string) (bool, error) {
	at := time.Now().UTC()
	switch kind {
	case store.KindUser:
		ok, ended, err := apply.DeleteUserIfUnchangedSince(ctx, db, id, x.since, at)
		if ok {
			x.totals.Memberships.Deleted += ended
		}
		return ok, err
	case store.KindOrganization:
		ok, ended, err := apply.DeleteOrganizationIfUnchangedSince(ctx, db, id, x.since, at)
		if ok {
			x.totals.Memberships.Deleted += ended
		}
		return ok, err
	default:
		return apply.DeleteMembershipIfUnchangedSince(ctx, db, id, x.since, at)
	}
}
