package store

import (
	"context"
	"fmt"
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

// LockUserShared takes user id's lock in shared mode (membership writers).
func LockUserShared(ctx context.Context, db DBTX, userID string) error {
	return advisoryLock(ctx, db, `SELECT pg_advisory_xact_lock_shared($1::int, hashtext($2))`, lockClassUser, userID)
}

// LockUserExclusive takes user id's lock exclusively (user deletion).
func LockUserExclusive(ctx context.Context, db DBTX, userID string) error {
	return advisoryLock(ctx, db, `SELECT pg_advisory_xact_lock($1::int, hashtext($2))`, lockClassUser, userID)
}

// LockOrganizationShared takes organization id's lock in shared mode.
func LockOrganizationShared(ctx context.Context, db DBTX, orgID string) error {
	return advisoryLock(ctx, db, `SELECT pg_advisory_xact_lock_shared($1::int, hashtext($2))`, lockClassOrganization, orgID)
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
