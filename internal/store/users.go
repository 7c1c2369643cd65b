package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// User is the synced state of one Clerk user, as clerk.users holds it.
type User struct {
	ID                  string
	ExternalID          *string
	Username            *string
	FirstName           *string
	LastName            *string
	ImageURL            *string
	PrimaryEmailAddress *string
	PublicMetadata      json.RawMessage
	PrivateMetadata     json.RawMessage
	UnsafeMetadata      json.RawMessage
	Banned              bool
	Locked              bool
	LastSignInAt        *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time // the version
	EmailAddresses      []EmailAddress
	Raw                 json.RawMessage // the object as Clerk sent it
}

// EmailAddress is one row of clerk.user_email_addresses.
type EmailAddress struct {
	ID           string
	EmailAddress string
	Verified     bool
	IsPrimary    bool
}

func (u User) hash() ([]byte, error) {
	return syncHash(u.ExternalID, u.Username, u.FirstName, u.LastName, u.ImageURL,
		u.PrimaryEmailAddress, u.PublicMetadata, u.PrivateMetadata, u.UnsafeMetadata,
		u.Banned, u.Locked, unixMilli(u.LastSignInAt), u.CreatedAt.UnixMilli(), u.UpdatedAt.UnixMilli(),
		u.EmailAddresses)
}

// UpsertUser writes u unless the row is deleted, newer than u, or already
// holds exactly u. The caller replaces the email addresses when (and only
// when) the result is Written.
func UpsertUser(ctx context.Context, db DBTX, u User) (Write, error) {
	const q = `
INSERT INTO clerk.users AS t (id, external_id, username, first_name, last_name, image_url,
    primary_email_address, public_metadata, private_metadata, unsafe_metadata, banned, locked,
    last_sign_in_at, created_at, updated_at, raw, sync_hash, synced_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15,
    $16::jsonb, $17, now())
ON CONFLICT (id) DO UPDATE SET
    external_id = EXCLUDED.external_id,
    username = EXCLUDED.username,
    first_name = EXCLUDED.first_name,
    last_name = EXCLUDED.last_name,
    image_url = EXCLUDED.image_url,
    primary_email_address = EXCLUDED.primary_email_address,
    public_metadata = EXCLUDED.public_metadata,
    private_metadata = EXCLUDED.private_metadata,
    unsafe_metadata = EXCLUDED.unsafe_metadata,
    banned = EXCLUDED.banned,
    locked = EXCLUDED.locked,
    last_sign_in_at = EXCLUDED.last_sign_in_at,
    created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at,
    raw = EXCLUDED.raw,
    sync_hash = EXCLUDED.sync_hash,
    synced_at = now()
WHERE t.deleted_at IS NULL
  AND (t.updated_at IS NULL OR t.updated_at <= EXCLUDED.updated_at)
  AND t.sync_hash IS DISTINCT FROM EXCLUDED.sync_hash
RETURNING (xmax = 0)`
	h, err := u.hash()
	if err != nil {
		return Unchanged, fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	w, err := writeFromRow(db.QueryRow(ctx, q, u.ID, u.ExternalID, u.Username, u.FirstName, u.LastName,
		u.ImageURL, u.PrimaryEmailAddress, jsonArg(u.PublicMetadata), jsonArg(u.PrivateMetadata),
		jsonArg(u.UnsafeMetadata), u.Banned, u.Locked, u.LastSignInAt, u.CreatedAt, u.UpdatedAt,
		jsonArg(u.Raw), h))
	if err != nil {
		return Unchanged, fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	return w, nil
}

// DeleteUserEmailAddresses removes a user's address list before it is
// written again.
func DeleteUserEmailAddresses(ctx context.Context, db DBTX, userID string) error {
	if _, err := db.Exec(ctx, `DELETE FROM clerk.user_email_addresses WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("delete email addresses of user %s: %w", userID, err)
	}
	return nil
}

// InsertUserEmailAddresses writes a user's address list in one statement.
func InsertUserEmailAddresses(ctx context.Context, db DBTX, userID string, addrs []EmailAddress) error {
	if len(addrs) == 0 {
		return nil
	}
	const q = `
INSERT INTO clerk.user_email_addresses (user_id, id, email_address, verified, is_primary)
SELECT $1, a.id, a.email_address, a.verified, a.is_primary
FROM unnest($2::text[], $3::text[], $4::boolean[], $5::boolean[]) AS a(id, email_address, verified, is_primary)
ON CONFLICT (user_id, id) DO UPDATE SET
    email_address = EXCLUDED.email_address, verified = EXCLUDED.verified, is_primary = EXCLUDED.is_primary`
	ids := make([]string, len(addrs))
	emails := make([]string, len(addrs))
	verified := make([]bool, len(addrs))
	primary := make([]bool, len(addrs))
	for i, a := range addrs {
		ids[i], emails[i], verified[i], primary[i] = a.ID, a.EmailAddress, a.Verified, a.IsPrimary
	}
	if _, err := db.Exec(ctx, q, userID, ids, emails, verified, primary); err != nil {
		return fmt.Errorf("insert email addresses of user %s: %w", userID, err)
	}
	return nil
}

// TombstoneUser marks a user deleted at `at`, inserting the tombstone when
// the user was never seen so that no late event can create it. A user that
// is already deleted keeps its first deletion time. externalID may be nil.
func TombstoneUser(ctx context.Context, db DBTX, id string, externalID *string, at time.Time) (Write, error) {
	const q = `
INSERT INTO clerk.users AS t (id, external_id, deleted_at, synced_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, synced_at = now()
WHERE t.deleted_at IS NULL
RETURNING (xmax = 0)`
	w, err := writeFromRow(db.QueryRow(ctx, q, id, externalID, at))
	if err != nil {
		return Unchanged, fmt.Errorf("tombstone user %s: %w", id, err)
	}
	return w, nil
}

// DeleteUserMemberships marks every live membership of a user deleted. Run it
// under LockUserExclusive, in the transaction that tombstones the user.
func DeleteUserMemberships(ctx context.Context, db DBTX, userID string, at time.Time) (int64, error) {
	const q = `
UPDATE clerk.organization_memberships SET deleted_at = $2, synced_at = now()
WHERE user_id = $1 AND deleted_at IS NULL`
	tag, err := db.Exec(ctx, q, userID, at)
	if err != nil {
		return 0, fmt.Errorf("delete memberships of user %s: %w", userID, err)
	}
	return tag.RowsAffected(), nil
}

func unixMilli(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}
