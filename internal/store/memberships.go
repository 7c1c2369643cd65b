package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Membership is the synced state of one organization membership.
type Membership struct {
	ID              string
	OrganizationID  string
	UserID          string
	Role            *string
	Permissions     []string
	PublicMetadata  json.RawMessage
	PrivateMetadata json.RawMessage
	CreatedAt       time.Time
	UpdatedAt       time.Time // the version
	Raw             json.RawMessage
}

func (m Membership) hash() ([]byte, error) {
	return syncHash(m.OrganizationID, m.UserID, m.Role, m.permissions(), m.PublicMetadata, m.PrivateMetadata,
		m.CreatedAt.UnixMilli(), m.UpdatedAt.UnixMilli())
}

// permissions is m.Permissions with nil read as the empty list, so that a
// membership without permissions hashes and is stored alike whether Clerk
// sent [] or left the field out.
func (m Membership) permissions() []string {
	if m.Permissions == nil {
		return []string{}
	}
	return m.Permissions
}

// upsertMembershipsSQL writes a batch of memberships under the version
// rule, as upsertUsersSQL does users. Permissions travel as one JSON array
// per row: unnest flattens a two-dimensional text[] instead of yielding one
// array per row. A membership's deleted_at is the earliest deletion of its
// user or organization, or NULL while both live: a membership written after
// its parent was deleted is born deleted, since Clerk removes the
// memberships of a deleted user or organization, whether or not it says so
// in an event.
const upsertMembershipsSQL = `
INSERT INTO clerk.organization_memberships AS t (id, organization_id, user_id, role, permissions,
    public_metadata, private_metadata, created_at, updated_at, deleted_at, raw, sync_hash, synced_at)
SELECT i.id, i.organization_id, i.user_id, i.role,
    ARRAY(SELECT jsonb_array_elements_text(i.permissions::jsonb)),
    i.public_metadata::jsonb, i.private_metadata::jsonb, i.created_at, i.updated_at,
    (SELECT min(p.deleted_at) FROM (
        SELECT deleted_at FROM clerk.users WHERE id = i.user_id
        UNION ALL
        SELECT deleted_at FROM clerk.organizations WHERE id = i.organization_id) p),
    i.raw::jsonb, i.sync_hash, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::timestamptz[], $9::timestamptz[], $10::text[], $11::bytea[])
    AS i(id, organization_id, user_id, role, permissions, public_metadata, private_metadata,
         created_at, updated_at, raw, sync_hash)
LEFT JOIN LATERAL (SELECT s.deleted_at, s.updated_at, s.sync_hash FROM clerk.organization_memberships s WHERE s.id = i.id LIMIT 1) s ON true
WHERE clerk.write_allowed(s.deleted_at, s.updated_at, s.sync_hash, i.updated_at, i.sync_hash)
ON CONFLICT (id) DO UPDATE SET
    organization_id = EXCLUDED.organization_id,
    user_id = EXCLUDED.user_id,
    role = EXCLUDED.role,
    permissions = EXCLUDED.permissions,
    public_metadata = EXCLUDED.public_metadata,
    private_metadata = EXCLUDED.private_metadata,
    created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at,
    deleted_at = EXCLUDED.deleted_at,
    raw = EXCLUDED.raw,
    sync_hash = EXCLUDED.sync_hash,
    synced_at = now()
WHERE clerk.write_allowed(t.deleted_at, t.updated_at, t.sync_hash, EXCLUDED.updated_at, EXCLUDED.sync_hash)
RETURNING t.id, (xmax = 0)`

// UpsertMemberships writes a batch of memberships in one statement, each
// under the version rule and born deleted when a parent is, and returns what
// happened to each, in the order given. Run it under the shared locks of
// every parent in the batch (LockParentsShared).
func UpsertMemberships(ctx context.Context, db DBTX, ms []Membership) ([]Write, error) {
	order := batchOrder(len(ms), func(i int) string { return ms[i].ID },
		func(i int) time.Time { return ms[i].UpdatedAt })
	n := len(order)
	var (
		ids, orgIDs, userIDs, perms = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		role, pub, priv, raw        = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		createdAt, updatedAt        = make([]time.Time, n), make([]time.Time, n)
		hashes                      = make([][]byte, n)
	)
	for j, i := range order {
		m := ms[i]
		h, err := m.hash()
		if err != nil {
			return nil, fmt.Errorf("upsert membership %s: %w", m.ID, err)
		}
		pj, err := json.Marshal(m.permissions())
		if err != nil {
			return nil, fmt.Errorf("upsert membership %s: permissions: %w", m.ID, err)
		}
		ids[j], orgIDs[j], userIDs[j], perms[j] = m.ID, m.OrganizationID, m.UserID, string(pj)
		role[j], pub[j], priv[j], raw[j] = m.Role, jsonText(m.PublicMetadata), jsonText(m.PrivateMetadata), jsonText(m.Raw)
		createdAt[j], updatedAt[j] = m.CreatedAt, m.UpdatedAt
		hashes[j] = h
	}
	return runUpsert(ctx, db, upsertMembershipsSQL, "membership", len(ms), order,
		ids, orgIDs, userIDs, role, perms, pub, priv, createdAt, updatedAt, raw, hashes)
}

// TombstoneMembership marks a membership deleted at `at`. When the
// membership was never seen it is inserted from m, already deleted, so a late
// created or updated event cannot bring it back.
func TombstoneMembership(ctx context.Context, db DBTX, m Membership, at time.Time) (Write, error) {
	const q = `
INSERT INTO clerk.organization_memberships AS t (id, organization_id, user_id, role, permissions,
    public_metadata, private_metadata, created_at, updated_at, deleted_at, raw, sync_hash, synced_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11::jsonb, $12, now())
ON CONFLICT (id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, synced_at = now()
WHERE t.deleted_at IS NULL
RETURNING (xmax = 0)`
	h, err := m.hash()
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone membership %s: %w", m.ID, err)
	}
	var created, updated *time.Time
	if !m.CreatedAt.IsZero() {
		created = &m.CreatedAt
	}
	if !m.UpdatedAt.IsZero() {
		updated = &m.UpdatedAt
	}
	w, err := writeFromRow(db.QueryRow(ctx, q, m.ID, m.OrganizationID, m.UserID, m.Role, m.permissions(),
		jsonText(m.PublicMetadata), jsonText(m.PrivateMetadata), created, updated, at,
		jsonText(m.Raw), h))
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone membership %s: %w", m.ID, err)
	}
	return w, nil
}

// LockMembershipsOf row-locks every live membership of the given users and
// organizations, in id order, in one statement. A batch that deletes
// parents takes it before writing anything: deleting a user ends
// memberships whose organization the batch does not lock, so two batches
// deleting crossing parents (one deletes organization O1 and user U2, the
// other O2 and U1) would otherwise reach the memberships O1-U1 and O2-U2 in
// opposite orders and deadlock.
func LockMembershipsOf(ctx context.Context, db DBTX, userIDs, orgIDs []string) error {
	const q = `
SELECT id FROM clerk.organization_memberships
WHERE (user_id = ANY($1::text[]) OR organization_id = ANY($2::text[])) AND deleted_at IS NULL
ORDER BY id
FOR UPDATE`
	if len(userIDs) == 0 && len(orgIDs) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, q, userIDs, orgIDs); err != nil {
		return fmt.Errorf("lock memberships of %d users and %d organizations: %w", len(userIDs), len(orgIDs), err)
	}
	return nil
}
