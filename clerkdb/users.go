package clerkdb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// User is a live row of clerk.users with its email addresses.
type User struct {
	ID         string
	ExternalID *string
	Username   *string
	FirstName  *string
	LastName   *string
	ImageURL   *string
	// PrimaryEmailAddress is the address itself; nil when the user has
	// none (Clerk allows users without any address).
	PrimaryEmailAddress *string
	EmailAddresses      []EmailAddress
	PublicMetadata      json.RawMessage
	PrivateMetadata     json.RawMessage
	UnsafeMetadata      json.RawMessage
	Banned              bool
	Locked              bool
	LastSignInAt        *time.Time
	CreatedAt           *time.Time
	UpdatedAt           *time.Time
	// SyncedAt is when syncd last wrote the row.
	SyncedAt time.Time
}

// EmailAddress is one of a user's addresses (clerk.user_email_addresses).
type EmailAddress struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
	Verified     bool   `json:"verified"`
	IsPrimary    bool   `json:"is_primary"`
}

// The addresses come back as one jsonb array per user, so a user and its
// addresses are one row and one round trip.
const userColumns = `
    u.id, u.external_id, u.username, u.first_name, u.last_name, u.image_url,
    u.primary_email_address, u.public_metadata, u.private_metadata, u.unsafe_metadata,
    coalesce(u.banned, false), coalesce(u.locked, false),
    u.last_sign_in_at, u.created_at, u.updated_at, u.synced_at,
    coalesce((SELECT jsonb_agg(jsonb_build_object(
                  'id', e.id, 'email_address', e.email_address,
                  'verified', e.verified, 'is_primary', e.is_primary)
                  ORDER BY e.is_primary DESC, e.id)
              FROM clerk.user_email_addresses e
              WHERE e.user_id = u.id), '[]'::jsonb)`

func scanUser(row scanner) (User, error) {
	var u User
	var emails []byte
	err := row.Scan(&u.ID, &u.ExternalID, &u.Username, &u.FirstName, &u.LastName, &u.ImageURL,
		&u.PrimaryEmailAddress, &u.PublicMetadata, &u.PrivateMetadata, &u.UnsafeMetadata,
		&u.Banned, &u.Locked, &u.LastSignInAt, &u.CreatedAt, &u.UpdatedAt, &u.SyncedAt, &emails)
	if err != nil {
		return User{}, err
	}
	if err := json.Unmarshal(emails, &u.EmailAddresses); err != nil {
		return User{}, fmt.Errorf("decode email addresses of user %s: %w", u.ID, err)
	}
	return u, nil
}

// UserByID returns the live user with this id, or ErrNotFound when there is
// none or it was deleted.
func (r *Reader) UserByID(ctx context.Context, id string) (User, error) {
	return readOne(ctx, r.q, scanUser, "user "+id,
		`SELECT `+userColumns+` FROM clerk.users u WHERE u.id = $1 AND u.deleted_at IS NULL`, id)
}

// UsersByEmail returns the live users that have address among their email
// addresses, primary or not, compared case-insensitively, ordered by id.
// Clerk keeps an address on one user at a time, but while events are in
// flight two rows can briefly hold it, so the answer is a list; it is empty,
// not ErrNotFound, when nobody has the address.
func (r *Reader) UsersByEmail(ctx context.Context, address string) ([]User, error) {
	rows, err := r.q.Query(ctx, `SELECT `+userColumns+`
FROM clerk.users u
WHERE u.deleted_at IS NULL
  AND u.id IN (SELECT a.user_id FROM clerk.user_email_addresses a
               WHERE lower(a.email_address) = lower($1))
ORDER BY u.id`, address)
	if err != nil {
		// The address is personal data: it stays out of the error.
		return nil, wrap(err, "users by email address")
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap(err, "users by email address")
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "users by email address")
	}
	return users, nil
}
