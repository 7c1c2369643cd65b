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

// upsertOrganizationsSQL writes a batch of organizations under the version
// rule, as upsertUsersSQL does users.
const upsertOrganizationsSQL = `
INSERT INTO clerk.organizations AS t (id, name, slug, image_url, created_by,
    max_allowed_memberships, public_metadata, private_metadata, created_at, updated_at, raw,
    sync_hash, synced_at)
SELECT i.id, i.name, i.slug, i.image_url, i.created_by, i.max_allowed_memberships,
    i.public_metadata::jsonb, i.private_metadata::jsonb, i.created_at, i.updated_at, i.raw::jsonb,
    i.sync_hash, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
    $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::bytea[])
    AS i(id, name, slug, image_url, created_by, max_allowed_memberships, public_metadata,
         private_metadata, created_at, updated_at, raw, sync_hash)
LEFT JOIN LATERAL (SELECT s.deleted_at, s.updated_at, s.sync_hash FROM clerk.organizations s WHERE s.id = i.id LIMIT 1) s ON true
WHERE clerk.write_allowed(s.deleted_at, s.updated_at, s.sync_hash, i.updated_at, i.sync_hash)
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
WHERE clerk.write_allowed(t.deleted_at, t.updated_at, t.sync_hash, EXCLUDED.updated_at, EXCLUDED.sync_hash)
RETURNING t.id, (xmax = 0)`

// UpsertOrganizations writes a batch of organizations in one statement, each
// under the version rule, and returns what happened to each, in the order
// given. An id given twice (the snapshots embedded in a page of memberships
// repeat their organization) is written once, with its newest version.
func UpsertOrganizations(ctx context.Context, db DBTX, orgs []Organization) ([]Write, error) {
	out := make([]Write, len(orgs))
	if len(orgs) == 0 {
		return out, nil
	}
	order := batchOrder(len(orgs), func(i int) string { return orgs[i].ID },
		func(i int) time.Time { return orgs[i].UpdatedAt })
	n := len(order)
	var (
		ids                          = make([]string, n)
		name, slug, image, createdBy = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		maxMembers                   = make([]*int64, n)
		pub, priv, raw               = make([]*string, n), make([]*string, n), make([]*string, n)
		createdAt, updatedAt         = make([]time.Time, n), make([]time.Time, n)
		hashes                       = make([][]byte, n)
	)
	for j, i := range order {
		o := orgs[i]
		h, err := o.hash()
		if err != nil {
			return nil, fmt.Errorf("upsert organization %s: %w", o.ID, err)
		}
		ids[j], name[j], slug[j], image[j], createdBy[j] = o.ID, o.Name, o.Slug, o.ImageURL, o.CreatedBy
		maxMembers[j] = o.MaxAllowedMemberships
		pub[j], priv[j], raw[j] = jsonText(o.PublicMetadata), jsonText(o.PrivateMetadata), jsonText(o.Raw)
		createdAt[j], updatedAt[j] = o.CreatedAt, o.UpdatedAt
		hashes[j] = h
	}
	rows, err := db.Query(ctx, upsertOrganizationsSQL, ids, name, slug, image, createdBy, maxMembers, pub, priv,
		createdAt, updatedAt, raw, hashes)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", describeBatch("organization", ids), classify(err))
	}
	written, err := collectWrites(rows)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", describeBatch("organization", ids), classify(err))
	}
	for j, i := range order {
		out[i] = written[ids[j]]
	}
	return out, nil
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

// TombstoneOrganizationIfUnchangedSince marks a live organization deleted at
// `at` if no write has touched its row since `since`, and reports whether it
// did. Run it under LockOrganizationExclusive, then end the organization's
// memberships with DeleteOrganizationMemberships.
func TombstoneOrganizationIfUnchangedSince(ctx context.Context, db DBTX, id string, since, at time.Time) (bool, error) {
	const q = `
UPDATE clerk.organizations SET deleted_at = $3, synced_at = now()
WHERE id = $1 AND deleted_at IS NULL AND synced_at < $2`
	tag, err := db.Exec(ctx, q, id, since, at)
	if err != nil {
		return false, fmt.Errorf("tombstone organization %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}
