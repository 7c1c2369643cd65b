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
	return runUpsert(ctx, db, upsertOrganizationsSQL, "organization", len(orgs), order,
		ids, name, slug, image, createdBy, maxMembers, pub, priv, createdAt, updatedAt, raw, hashes)
}
