package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Organization is the synced state of one Clerk organization.
type Organization struct {
	ID                    string
	Name                  *string
	Slug                  *string
	ImageURL              *string
	CreatedBy             *string
	MaxAllowedMemberships *int64
	PublicMetadata        json.RawMessage
	PrivateMetadata       json.RawMessage
	CreatedAt             time.Time
	UpdatedAt             time.Time // the version
	Raw                   json.RawMessage
}

func (o Organization) hash() ([]byte, error) {
	return syncHash(o.Name, o.Slug, o.ImageURL, o.CreatedBy, o.MaxAllowedMemberships,
		o.PublicMetadata, o.PrivateMetadata, o.CreatedAt.UnixMilli(), o.UpdatedAt.UnixMilli())
}

// UpsertOrganization writes o unless the row is deleted, newer, or equal.
func UpsertOrganization(ctx context.Context, db DBTX, o Organization) (Write, error) {
	const q = `
INSERT INTO clerk.organizations AS t (id, name, slug, image_url, created_by,
    max_allowed_memberships, public_metadata, private_metadata, created_at, updated_at, raw,
    sync_hash, synced_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11::jsonb, $12, now())
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name,
    slug = EXCLUDED.slug,
    image_url = EXCLUDED.image_url,
    created_by = EXCLUDED.created_by,
    max_allowed_memberships = EXCLUDED.max_allowed_memberships,
    public_metadata = EXCLUDED.public_metadata,
    private_metadata = EXCLUDED.private_metadata,
    created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at,
    raw = EXCLUDED.raw,
    sync_hash = EXCLUDED.sync_hash,
    synced_at = now()
WHERE t.deleted_at IS NULL
  AND (t.updated_at IS NULL OR t.updated_at <= EXCLUDED.updated_at)
  AND t.sync_hash IS DISTINCT FROM EXCLUDED.sync_hash
RETURNING (xmax = 0)`
	h, err := o.hash()
	if err != nil {
		return Unchanged, fmt.Errorf("upsert organization %s: %w", o.ID, err)
	}
	w, err := writeFromRow(db.QueryRow(ctx, q, o.ID, o.Name, o.Slug, o.ImageURL, o.CreatedBy,
		o.MaxAllowedMemberships, jsonArg(o.PublicMetadata), jsonArg(o.PrivateMetadata),
		o.CreatedAt, o.UpdatedAt, jsonArg(o.Raw), h))
	if err != nil {
		return Unchanged, fmt.Errorf("upsert organization %s: %w", o.ID, err)
	}
	return w, nil
}

// TombstoneOrganization marks an organization deleted at `at`, inserting the
// tombstone when it was never seen. slug may be nil.
func TombstoneOrganization(ctx context.Context, db DBTX, id string, slug *string, at time.Time) (Write, error) {
	const q = `
INSERT INTO clerk.organizations AS t (id, slug, deleted_at, synced_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, synced_at = now()
WHERE t.deleted_at IS NULL
RETURNING (xmax = 0)`
	w, err := writeFromRow(db.QueryRow(ctx, q, id, slug, at))
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone organization %s: %w", id, err)
	}
	return w, nil
}

// DeleteOrganizationMemberships marks every live membership of an
// organization deleted. Run it under LockOrganizationExclusive.
func DeleteOrganizationMemberships(ctx context.Context, db DBTX, orgID string, at time.Time) (int64, error) {
	const q = `
UPDATE clerk.organization_memberships SET deleted_at = $2, synced_at = now()
WHERE organization_id = $1 AND deleted_at IS NULL`
	tag, err := db.Exec(ctx, q, orgID, at)
	if err != nil {
		return 0, fmt.Errorf("delete memberships of organization %s: %w", orgID, err)
	}
	return tag.RowsAffected(), nil
}
