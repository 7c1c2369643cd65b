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
	perms := m.Permissions
	if perms == nil {
		perms = []string{}
	}
	return syncHash(m.OrganizationID, m.UserID, m.Role, perms, m.PublicMetadata, m.PrivateMetadata,
		m.CreatedAt.UnixMilli(), m.UpdatedAt.UnixMilli())
}

// parentDeletedAt is the earliest deletion of a membership's user or
// organization, or NULL while both live. A membership written after its
// parent was deleted is born deleted: Clerk removes the memberships of a
// deleted user or organization, whether or not it says so in an event.
const parentDeletedAt = `(SELECT min(p.deleted_at) FROM (
    SELECT deleted_at FROM clerk.users WHERE id = $3
    UNION ALL
    SELECT deleted_at FROM clerk.organizations WHERE id = $2) p)`

// UpsertMembership writes m unless the row is deleted, newer, or equal. Run
// it under LockOrganizationShared and LockUserShared for m's parents.
func UpsertMembership(ctx context.Context, db DBTX, m Membership) (Write, error) {
	q := `
INSERT INTO clerk.organization_memberships AS t (id, organization_id, user_id, role, permissions,
    public_metadata, private_metadata, created_at, updated_at, deleted_at, raw, sync_hash, synced_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, ` + parentDeletedAt + `, $10::jsonb, $11, now())
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
WHERE t.deleted_at IS NULL
  AND (t.updated_at IS NULL OR t.updated_at <= EXCLUDED.updated_at)
  AND t.sync_hash IS DISTINCT FROM EXCLUDED.sync_hash
RETURNING (xmax = 0)`
	h, err := m.hash()
	if err != nil {
		return Unchanged, fmt.Errorf("upsert membership %s: %w", m.ID, err)
	}
	perms := m.Permissions
	if perms == nil {
		perms = []string{}
	}
	w, err := writeFromRow(db.QueryRow(ctx, q, m.ID, m.OrganizationID, m.UserID, m.Role, perms,
		jsonArg(m.PublicMetadata), jsonArg(m.PrivateMetadata), m.CreatedAt, m.UpdatedAt,
		jsonArg(m.Raw), h))
	if err != nil {
		return Unchanged, fmt.Errorf("upsert membership %s: %w", m.ID, err)
	}
	return w, nil
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
	perms := m.Permissions
	if perms == nil {
		perms = []string{}
	}
	var created, updated *time.Time
	if !m.CreatedAt.IsZero() {
		created = &m.CreatedAt
	}
	if !m.UpdatedAt.IsZero() {
		updated = &m.UpdatedAt
	}
	w, err := writeFromRow(db.QueryRow(ctx, q, m.ID, m.OrganizationID, m.UserID, m.Role, perms,
		jsonArg(m.PublicMetadata), jsonArg(m.PrivateMetadata), created, updated, at,
		jsonArg(m.Raw), h))
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone membership %s: %w", m.ID, err)
	}
	return w, nil
}
