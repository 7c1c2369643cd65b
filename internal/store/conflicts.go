package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Sync rule 5's conflicts: a listed object whose row the version rule keeps
// from what Clerk lists, because the row is a tombstone or its version is
// newer than Clerk's, and that no write touched since the run started (a
// write during the run came from a webhook and wins). Clerk never answers
// with an older version of an object than one it sent, so such a row holds
// a version Clerk never had (a forged or broken event) or a deletion Clerk
// does not know. A run reports them; an authoritative run repairs them.

// Conflict is one such row.
type Conflict struct {
	ID            string
	Deleted       bool       // a tombstone of an object Clerk still lists
	StoredVersion *time.Time // the row's updated_at
}

func syncedTable(kind Kind) (string, error) {
	switch kind {
	case KindUser:
		return "clerk.users", nil
	case KindOrganization:
		return "clerk.organizations", nil
	case KindMembership:
		return "clerk.organization_memberships", nil
	}
	return "", fmt.Errorf("unknown kind %q", kind)
}

// FindConflicts returns, among the listed objects of one kind (ids with the
// versions Clerk listed, in the same order), those whose rows are in
// conflict, in id order.
func FindConflicts(ctx context.Context, db DBTX, kind Kind, ids []string, versions []time.Time, since time.Time) ([]Conflict, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	table, err := syncedTable(kind)
	if err != nil {
		return nil, fmt.Errorf("find conflicts: %w", err)
	}
	q := `
SELECT t.id, t.deleted_at IS NOT NULL, t.updated_at
FROM unnest($1::text[], $2::timestamptz[]) AS i(id, version)
JOIN ` + table + ` t ON t.id = i.id
WHERE t.synced_at < $3 AND (t.deleted_at IS NOT NULL OR t.updated_at > i.version)
ORDER BY t.id`
	rows, err := db.Query(ctx, q, ids, versions, since)
	if err != nil {
		return nil, fmt.Errorf("find conflicts among %s: %w", describeBatch(string(kind), ids), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conflict, error) {
		var c Conflict
		err := r.Scan(&c.ID, &c.Deleted, &c.StoredVersion)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("find conflicts among %s: %w", describeBatch(string(kind), ids), err)
	}
	return out, nil
}

// ClearVersion lifts what keeps the version rule from writing a row (its
// version, its tombstone and its content digest) so that the upsert that
// follows in the same transaction writes what Clerk answered, whatever the
// row held: the authoritative repair of a conflict. It does so only while
// no write has touched the row since `since`, and reports whether it did.
// Run it under the object's exclusive lock (users and organizations).
func ClearVersion(ctx context.Context, db DBTX, kind Kind, id string, since time.Time) (bool, error) {
	table, err := syncedTable(kind)
	if err != nil {
		return false, fmt.Errorf("clear version: %w", err)
	}
	q := `UPDATE ` + table + ` SET updated_at = NULL, deleted_at = NULL, sync_hash = NULL
WHERE id = $1 AND synced_at < $2`
	tag, err := db.Exec(ctx, q, id, since)
	if err != nil {
		return false, fmt.Errorf("clear version of %s %s: %w", kind, id, err)
	}
	return tag.RowsAffected() == 1, nil
}
