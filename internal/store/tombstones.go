package store

import (
	"context"
	"fmt"
	"time"
)

// Deletion is final (sync rule 3): a tombstone keeps its row, with
// deleted_at set, so that no late event can bring the object back. Users
// and organizations are deleted by the same statements, on their own
// tables; what differs between them is named here.

// parent is what a deletion of a user or an organization touches: its table,
// the column its deleted event fills besides the id (Clerk sends no more),
// and the column of clerk.organization_memberships that points at it.
type parent struct {
	table, deletedKey, membershipColumn string
}

func parentOf(kind Kind) (parent, error) {
	switch kind {
	case KindUser:
		return parent{"clerk.users", "external_id", "user_id"}, nil
	case KindOrganization:
		return parent{"clerk.organizations", "slug", "organization_id"}, nil
	}
	return parent{}, fmt.Errorf("%q is not a user or an organization", kind)
}

// TombstoneParent marks a user or an organization deleted at `at`,
// inserting the tombstone when it was never seen so that no late event can
// create it. One already deleted keeps its first deletion time. key is what
// the deleted event carries besides the id, the user's external_id or the
// organization's slug; it may be nil.
func TombstoneParent(ctx context.Context, db DBTX, kind Kind, id string, key *string, at time.Time) (Write, error) {
	p, err := parentOf(kind)
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone %s: %w", id, err)
	}
	q := `
INSERT INTO ` + p.table + ` AS t (id, ` + p.deletedKey + `, deleted_at, synced_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, synced_at = now()
WHERE t.deleted_at IS NULL
RETURNING (xmax = 0)`
	w, err := writeFromRow(db.QueryRow(ctx, q, id, key, at))
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone %s %s: %w", kind, id, err)
	}
	return w, nil
}

// EndMembershipsOf marks every live membership of a user or an
// organization deleted, and returns how many it ended. Run it under the
// parent's exclusive lock (LockUserExclusive, LockOrganizationExclusive),
// in the transaction that tombstones the parent.
func EndMembershipsOf(ctx context.Context, db DBTX, kind Kind, id string, at time.Time) (int64, error) {
	p, err := parentOf(kind)
	if err != nil {
		return 0, fmt.Errorf("delete memberships of %s: %w", id, err)
	}
	q := `
UPDATE clerk.organization_memberships SET deleted_at = $2, synced_at = now()
WHERE ` + p.membershipColumn + ` = $1 AND deleted_at IS NULL`
	tag, err := db.Exec(ctx, q, id, at)
	if err != nil {
		return 0, fmt.Errorf("delete memberships of %s %s: %w", kind, id, err)
	}
	return tag.RowsAffected(), nil
}

// TombstoneIfUnchangedSince marks a live row of any kind deleted at `at`,
// but only if no write has touched it since `since` (a reconciliation run's
// start): a row a webhook wrote during the run is newer than what the run
// knows, and sync rule 5 lets the newer write win. It reports whether the
// row was tombstoned. A user or an organization is tombstoned under its
// exclusive lock, and its memberships are then ended with EndMembershipsOf.
func TombstoneIfUnchangedSince(ctx context.Context, db DBTX, kind Kind, id string, since, at time.Time) (bool, error) {
	table, err := syncedTable(kind)
	if err != nil {
		return false, fmt.Errorf("tombstone %s: %w", id, err)
	}
	q := `
UPDATE ` + table + ` SET deleted_at = $3, synced_at = now()
WHERE id = $1 AND deleted_at IS NULL AND synced_at < $2`
	tag, err := db.Exec(ctx, q, id, since, at)
	if err != nil {
		return false, fmt.Errorf("tombstone %s %s: %w", kind, id, err)
	}
	return tag.RowsAffected() == 1, nil
}
