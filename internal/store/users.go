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
// when) the result is Written. It is UpsertUsers with one element, so the
// webhook path and reconciliation run the very same statement.
func UpsertUser(ctx context.Context, db DBTX, u User) (Write, error) {
	ws, err := UpsertUsers(ctx, db, []User{u})
	if err != nil {
		return Unchanged, err
	}
	return ws[0], nil
}

// upsertUsersSQL writes a batch of users under the version rule
// (clerk.write_allowed), dropping refused rows before ON CONFLICT would lock
// them; store.go says why both calls and the LATERAL probe. The input is one
// array per column, in the order of the column list of i; it returns the ids
// written and whether each was inserted.
const upsertUsersSQL = `
INSERT INTO clerk.users AS t (id, external_id, username, first_name, last_name, image_url,
    primary_email_address, public_metadata, private_metadata, unsafe_metadata, banned, locked,
    last_sign_in_at, created_at, updated_at, raw, sync_hash, synced_at)
SELECT i.id, i.external_id, i.username, i.first_name, i.last_name, i.image_url,
    i.primary_email_address, i.public_metadata::jsonb, i.private_metadata::jsonb,
    i.unsafe_metadata::jsonb, i.banned, i.locked, i.last_sign_in_at, i.created_at, i.updated_at,
    i.raw::jsonb, i.sync_hash, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::boolean[], $12::boolean[], $13::timestamptz[],
    $14::timestamptz[], $15::timestamptz[], $16::text[], $17::bytea[])
    AS i(id, external_id, username, first_name, last_name, image_url, primary_email_address,
         public_metadata, private_metadata, unsafe_metadata, banned, locked, last_sign_in_at,
         created_at, updated_at, raw, sync_hash)
LEFT JOIN LATERAL (SELECT s.deleted_at, s.updated_at, s.sync_hash FROM clerk.users s WHERE s.id = i.id LIMIT 1) s ON true
WHERE clerk.write_allowed(s.deleted_at, s.updated_at, s.sync_hash, i.updated_at, i.sync_hash)
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
WHERE clerk.write_allowed(t.deleted_at, t.updated_at, t.sync_hash, EXCLUDED.updated_at, EXCLUDED.sync_hash)
RETURNING t.id, (xmax = 0)`

// UpsertUsers writes a batch of users in one statement, each under the
// version rule, and returns what happened to each, in the order given. An
// id given twice is written once, with its newest version; the other copy
// reports Unchanged.
func UpsertUsers(ctx context.Context, db DBTX, users []User) ([]Write, error) {
	order := batchOrder(len(users), func(i int) string { return users[i].ID },
		func(i int) time.Time { return users[i].UpdatedAt })
	n := len(order)
	var (
		ids, primary                     = make([]string, n), make([]*string, n)
		external, username, first, last  = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		image, pub, priv, unsafe, raw    = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		banned, locked                   = make([]bool, n), make([]bool, n)
		lastSignIn, createdAt, updatedAt = make([]*time.Time, n), make([]time.Time, n), make([]time.Time, n)
		hashes                           = make([][]byte, n)
	)
	for j, i := range order {
		u := users[i]
		h, err := u.hash()
		if err != nil {
			return nil, fmt.Errorf("upsert user %s: %w", u.ID, err)
		}
		ids[j], external[j], username[j], first[j], last[j] = u.ID, u.ExternalID, u.Username, u.FirstName, u.LastName
		image[j], primary[j] = u.ImageURL, u.PrimaryEmailAddress
		pub[j], priv[j], unsafe[j], raw[j] = jsonText(u.PublicMetadata), jsonText(u.PrivateMetadata), jsonText(u.UnsafeMetadata), jsonText(u.Raw)
		banned[j], locked[j] = u.Banned, u.Locked
		lastSignIn[j], createdAt[j], updatedAt[j] = u.LastSignInAt, u.CreatedAt, u.UpdatedAt
		hashes[j] = h
	}
	return runUpsert(ctx, db, upsertUsersSQL, "user", len(users), order,
		ids, external, username, first, last, image, primary, pub, priv, unsafe,
		banned, locked, lastSignIn, createdAt, updatedAt, raw, hashes)
}

// DeleteEmailAddressesOfUsers removes the address lists of several users in
// one statement, before they are written again.
func DeleteEmailAddressesOfUsers(ctx context.Context, db DBTX, userIDs []string) error {
	if len(userIDs) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `DELETE FROM clerk.user_email_addresses WHERE user_id = ANY($1::text[])`, userIDs); err != nil {
		return fmt.Errorf("delete email addresses of %s: %w", describeBatch("user", userIDs), err)
	}
	return nil
}

// InsertEmailAddressesOfUsers writes the address lists of several users in
// one statement.
func InsertEmailAddressesOfUsers(ctx context.Context, db DBTX, users []User) error {
	const q = `
INSERT INTO clerk.user_email_addresses (user_id, id, email_address, verified, is_primary)
SELECT a.user_id, a.id, a.email_address, a.verified, a.is_primary
FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::boolean[])
    AS a(user_id, id, email_address, verified, is_primary)
ON CONFLICT (user_id, id) DO UPDATE SET
    email_address = EXCLUDED.email_address, verified = EXCLUDED.verified, is_primary = EXCLUDED.is_primary`
	var userIDs, ids, emails []string
	var verified, primary []bool
	for _, u := range users {
		for _, a := range u.EmailAddresses {
			userIDs = append(userIDs, u.ID)
			ids = append(ids, a.ID)
			emails = append(emails, a.EmailAddress)
			verified = append(verified, a.Verified)
			primary = append(primary, a.IsPrimary)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, q, userIDs, ids, emails, verified, primary); err != nil {
		return fmt.Errorf("insert email addresses of %d users: %w", len(users), classify(err))
	}
	return nil
}

func unixMilli(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}
