package store

import (
	"context"
	"fmt"
	"slices"
)

// Advisory lock classes. Postgres keeps two-key advisory locks apart from
// one-key ones (which River and goose use), and the class keeps users and
// organizations apart from each other.
const (
	lockClassUser         = 0x5359_0001
	lockClassOrganization = 0x5359_0002
)

// A membership write and the deletion of its user or organization must not
// interleave: the deletion marks the parent's memberships deleted, and a
// membership inserted concurrently would miss that mark and stay active
// forever. Membership writers take the parents' locks shared, deletions take
// them exclusive; both hold them until the transaction ends. The order is
// always organization before user, so the locks cannot deadlock.

// LockUserExclusive takes user id's lock exclusively (user deletion).
func LockUserExclusive(ctx context.Context, db DBTX, userID string) error {
	return advisoryLock(ctx, db, `SELECT pg_advisory_xact_lock($1::int, hashtext($2))`, lockClassUser, userID)
}

// LockOrganizationExclusive takes organization id's lock exclusively.
func LockOrganizationExclusive(ctx context.Context, db DBTX, orgID string) error {
	return advisoryLock(ctx, db, `SELECT pg_advisory_xact_lock($1::int, hashtext($2))`, lockClassOrganization, orgID)
}

func advisoryLock(ctx context.Context, db DBTX, q string, class int, id string) error {
	if _, err := db.Exec(ctx, q, class, id); err != nil {
		return fmt.Errorf("advisory lock %x/%s: %w", class, id, err)
	}
	return nil
}

// LockParentsShared takes, in shared mode, the advisory locks of every
// organization and then every user given (the comment above says why
// membership writers hold them). Ids are deduplicated and sorted, and all organization
// locks come before any user lock, so two batches, or a batch and a single
// membership, always lock in the same order and cannot deadlock; deletions
// take one exclusive lock at a time.
func LockParentsShared(ctx context.Context, db DBTX, orgIDs, userIDs []string) error {
	return lockSorted(ctx, db, `SELECT pg_advisory_xact_lock_shared($1::int, hashtext(a.id)) FROM unnest($2::text[]) AS a(id)`,
		orgIDs, userIDs)
}

// LockObjectsExclusive takes, exclusively, the advisory locks of every
// organization and then every user given, deduplicated and sorted: the
// order LockParentsShared uses, so it cannot deadlock with it. A batch of
// events takes it first for every object it may write (membership parents
// included), which also keeps two batches from locking rows in crossing
// orders: any two batches that could touch the same user, organization or
// membership row through an upsert share one of these locks and run one
// after the other.
func LockObjectsExclusive(ctx context.Context, db DBTX, orgIDs, userIDs []string) error {
	return lockSorted(ctx, db, `SELECT pg_advisory_xact_lock($1::int, hashtext(a.id)) FROM unnest($2::text[]) AS a(id)`,
		orgIDs, userIDs)
}

// lockSorted runs q, which locks each id of an array in the array's order,
// for the organizations and then the users, each set deduplicated and
// sorted: that order is what keeps every locker of these classes from
// deadlocking with another. unnest yields the array in order and the locks
// are taken row by row as it does.
func lockSorted(ctx context.Context, db DBTX, q string, orgIDs, userIDs []string) error {
	for _, set := range []struct {
		class int
		ids   []string
	}{{lockClassOrganization, orgIDs}, {lockClassUser, userIDs}} {
		ids := slices.Clone(set.ids)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if len(ids) == 0 {
			continue
		}
		if _, err := db.Exec(ctx, q, set.class, ids); err != nil {
			return fmt.Errorf("advisory locks %x for %d ids: %w", set.class, len(ids), err)
		}
	}
	return nil
}
