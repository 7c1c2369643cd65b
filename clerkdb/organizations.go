package clerkdb

import (
	"context"
	"encoding/json"
	"time"
)

// Organization is a live row of clerk.organizations.
type Organization struct {
	ID                    string
	Name                  string
	Slug                  *string
	ImageURL              *string
	CreatedBy             *string
	MaxAllowedMemberships *int64
	PublicMetadata        json.RawMessage
	PrivateMetadata       json.RawMessage
	CreatedAt             *time.Time
	UpdatedAt             *time.Time
	SyncedAt              time.Time
}

const organizationColumns = `
    o.id, coalesce(o.name, ''), o.slug, o.image_url, o.created_by, o.max_allowed_memberships,
    o.public_metadata, o.private_metadata, o.created_at, o.updated_at, o.synced_at`

func scanOrganization(row scanner) (Organization, error) {
	var o Organization
	err := row.Scan(&o.ID, &o.Name, &o.Slug, &o.ImageURL, &o.CreatedBy, &o.MaxAllowedMemberships,
		&o.PublicMetadata, &o.PrivateMetadata, &o.CreatedAt, &o.UpdatedAt, &o.SyncedAt)
	return o, err
}

// OrganizationByID returns the live organization with this id, or
// ErrNotFound when there is none or it was deleted.
func (r *Reader) OrganizationByID(ctx context.Context, id string) (Organization, error) {
	return readOne(ctx, r.q, scanOrganization, "organization "+id,
		`SELECT `+organizationColumns+` FROM clerk.organizations o WHERE o.id = $1 AND o.deleted_at IS NULL`, id)
}

// OrganizationBySlug returns the live organization with this slug, or
// ErrNotFound. Clerk keeps slugs unique, but two renames applied out of
// order can leave two live rows with one slug for a moment; the most
// recently updated one wins, as it would once the events settle.
func (r *Reader) OrganizationBySlug(ctx context.Context, slug string) (Organization, error) {
	return readOne(ctx, r.q, scanOrganization, "organization by slug "+slug, `SELECT `+organizationColumns+`
FROM clerk.organizations o
WHERE o.slug = $1 AND o.deleted_at IS NULL
ORDER BY o.updated_at DESC NULLS LAST, o.id
LIMIT 1`, slug)
}
