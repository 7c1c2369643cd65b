package apply

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/syncd/syncd/internal/pgjson"
	"github.com/syncd/syncd/internal/store"
)

// ErrInvalidPayload marks an object or event that can never be applied
// (not JSON, no id, no version, wrong shape). Retrying it is pointless.
var ErrInvalidPayload = errors.New("invalid payload")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPayload, fmt.Sprintf(format, args...))
}

type emailJSON struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
	Verification *struct {
		Status string `json:"status"`
	} `json:"verification"`
}

type userJSON struct {
	Object                string          `json:"object"`
	ID                    string          `json:"id"`
	ExternalID            *string         `json:"external_id"`
	Username              *string         `json:"username"`
	FirstName             *string         `json:"first_name"`
	LastName              *string         `json:"last_name"`
	ImageURL              *string         `json:"image_url"`
	PrimaryEmailAddressID *string         `json:"primary_email_address_id"`
	EmailAddresses        []emailJSON     `json:"email_addresses"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	PrivateMetadata       json.RawMessage `json:"private_metadata"`
	UnsafeMetadata        json.RawMessage `json:"unsafe_metadata"`
	Banned                bool            `json:"banned"`
	Locked                bool            `json:"locked"`
	LastSignInAt          *int64          `json:"last_sign_in_at"`
	CreatedAt             int64           `json:"created_at"`
	UpdatedAt             int64           `json:"updated_at"`
}

// readObject is how every parser starts. It first makes its input storable
// (pgjson.Storable): a string Clerk accepted but jsonb refuses (a \u0000 in
// metadata an end user wrote) is kept with U+FFFD in its place, in the
// parsed fields and in Raw alike, so that neither a webhook nor a
// reconciliation listing refuses the object and freezes its row. It then
// decodes that JSON object into a T, and returns it with the storable
// bytes, which the parser keeps as Raw. what names the object in an error.
func readObject[T any](what string, raw []byte) (T, []byte, error) {
	var j T
	raw, err := pgjson.Storable(raw)
	if err != nil {
		return j, nil, invalid("%s: %v", what, err)
	}
	if err := decodeObject(raw, &j); err != nil {
		return j, nil, invalid("%s: %v", what, err)
	}
	return j, raw, nil
}

// ParseUser reads a Clerk user object.
func ParseUser(raw []byte) (store.User, error) {
	j, raw, err := readObject[userJSON]("user", raw)
	if err != nil {
		return store.User{}, err
	}
	if err := checkObject("user", j.Object, j.ID, j.UpdatedAt,
		stamp{"created_at", &j.CreatedAt}, stamp{"last_sign_in_at", j.LastSignInAt}); err != nil {
		return store.User{}, err
	}
	u := store.User{
		ID:           j.ID,
		ExternalID:   j.ExternalID,
		Username:     j.Username,
		FirstName:    j.FirstName,
		LastName:     j.LastName,
		ImageURL:     j.ImageURL,
		Banned:       j.Banned,
		Locked:       j.Locked,
		LastSignInAt: millisPtr(j.LastSignInAt),
		CreatedAt:    time.UnixMilli(j.CreatedAt).UTC(),
		UpdatedAt:    time.UnixMilli(j.UpdatedAt).UTC(),
		Raw:          json.RawMessage(raw),
	}
	u.PublicMetadata = metadata(j.PublicMetadata)
	u.PrivateMetadata = metadata(j.PrivateMetadata)
	u.UnsafeMetadata = metadata(j.UnsafeMetadata)
	seen := make(map[string]bool, len(j.EmailAddresses))
	for i, e := range j.EmailAddresses {
		if e.ID == "" {
			return store.User{}, invalid("user %s: email_addresses[%d] has no id", j.ID, i)
		}
		if seen[e.ID] {
			return store.User{}, invalid("user %s: email address %s listed twice", j.ID, e.ID)
		}
		seen[e.ID] = true
		primary := j.PrimaryEmailAddressID != nil && *j.PrimaryEmailAddressID == e.ID
		u.EmailAddresses = append(u.EmailAddresses, store.EmailAddress{
			ID:           e.ID,
			EmailAddress: e.EmailAddress,
			Verified:     e.Verification != nil && e.Verification.Status == "verified",
			IsPrimary:    primary,
		})
		if primary {
			addr := e.EmailAddress
			u.PrimaryEmailAddress = &addr
		}
	}
	return u, nil
}

type organizationJSON struct {
	Object                string          `json:"object"`
	ID                    string          `json:"id"`
	Name                  *string         `json:"name"`
	Slug                  *string         `json:"slug"`
	ImageURL              *string         `json:"image_url"`
	CreatedBy             *string         `json:"created_by"`
	MaxAllowedMemberships *int64          `json:"max_allowed_memberships"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	PrivateMetadata       json.RawMessage `json:"private_metadata"`
	CreatedAt             int64           `json:"created_at"`
	UpdatedAt             int64           `json:"updated_at"`
}

// ParseOrganization reads a Clerk organization object.
func ParseOrganization(raw []byte) (store.Organization, error) {
	j, raw, err := readObject[organizationJSON]("organization", raw)
	if err != nil {
		return store.Organization{}, err
	}
	if err := checkObject("organization", j.Object, j.ID, j.UpdatedAt, stamp{"created_at", &j.CreatedAt}); err != nil {
		return store.Organization{}, err
	}
	return store.Organization{
		ID:                    j.ID,
		Name:                  j.Name,
		Slug:                  j.Slug,
		ImageURL:              j.ImageURL,
		CreatedBy:             emptyToNil(j.CreatedBy),
		MaxAllowedMemberships: j.MaxAllowedMemberships,
		PublicMetadata:        metadata(j.PublicMetadata),
		PrivateMetadata:       metadata(j.PrivateMetadata),
		CreatedAt:             time.UnixMilli(j.CreatedAt).UTC(),
		UpdatedAt:             time.UnixMilli(j.UpdatedAt).UTC(),
		Raw:                   json.RawMessage(raw),
	}, nil
}

type membershipJSON struct {
	Object          string          `json:"object"`
	ID              string          `json:"id"`
	Role            *string         `json:"role"`
	Permissions     []string        `json:"permissions"`
	PublicMetadata  json.RawMessage `json:"public_metadata"`
	PrivateMetadata json.RawMessage `json:"private_metadata"`
	Organization    json.RawMessage `json:"organization"`
	PublicUserData  *struct {
		UserID string `json:"user_id"`
	} `json:"public_user_data"`
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"`
}

// ParseMembership reads a Clerk organization membership and the snapshot of
// its organization embedded in it (nil when the snapshot is absent).
func ParseMembership(raw []byte) (store.Membership, *store.Organization, error) {
	j, raw, err := readObject[membershipJSON]("organization membership", raw)
	if err != nil {
		return store.Membership{}, nil, err
	}
	if err := checkObject("organization_membership", j.Object, j.ID, j.UpdatedAt, stamp{"created_at", &j.CreatedAt}); err != nil {
		return store.Membership{}, nil, err
	}
	if j.PublicUserData == nil || j.PublicUserData.UserID == "" {
		return store.Membership{}, nil, invalid("organization membership %s: no public_user_data.user_id", j.ID)
	}
	if isNull(j.Organization) {
		return store.Membership{}, nil, invalid("organization membership %s: no organization", j.ID)
	}
	// The snapshot must at least name its organization; a snapshot without a
	// version is used for the id alone and never written.
	var ref struct {
		ID        string `json:"id"`
		UpdatedAt int64  `json:"updated_at"`
	}
	if err := json.Unmarshal(j.Organization, &ref); err != nil || ref.ID == "" {
		return store.Membership{}, nil, invalid("organization membership %s: organization has no id", j.ID)
	}
	m := store.Membership{
		ID:              j.ID,
		OrganizationID:  ref.ID,
		UserID:          j.PublicUserData.UserID,
		Role:            j.Role,
		Permissions:     j.Permissions,
		PublicMetadata:  metadata(j.PublicMetadata),
		PrivateMetadata: metadata(j.PrivateMetadata),
		CreatedAt:       time.UnixMilli(j.CreatedAt).UTC(),
		UpdatedAt:       time.UnixMilli(j.UpdatedAt).UTC(),
		Raw:             json.RawMessage(raw),
	}
	if ref.UpdatedAt == 0 {
		return m, nil, nil
	}
	org, err := ParseOrganization(j.Organization)
	if err != nil {
		return store.Membership{}, nil, fmt.Errorf("organization membership %s: %w", j.ID, err)
	}
	return m, &org, nil
}

// Deleted is the payload of user.deleted and organization.deleted: Clerk
// sends only the id and a flag, never a version.
type Deleted struct {
	Object     string  `json:"object"`
	ID         string  `json:"id"`
	Slug       *string `json:"slug"`
	ExternalID *string `json:"external_id"`
	Deleted    bool    `json:"deleted"`
}

// ParseDeleted reads a deleted-object payload of the given object kind.
func ParseDeleted(kind string, raw []byte) (Deleted, error) {
	d, _, err := readObject[Deleted]("deleted "+kind, raw)
	if err != nil {
		return Deleted{}, err
	}
	if d.ID == "" {
		return Deleted{}, invalid("deleted %s: no id", kind)
	}
	if d.Object != "" && d.Object != kind {
		return Deleted{}, invalid("deleted %s %s: object is %q", kind, d.ID, d.Object)
	}
	return d, nil
}

func decodeObject(raw []byte, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(trimmed, v)
}

// checkObject insists on an id and a version: without updated_at the write
// could not be ordered against others, so it must not be guessed. It then
// bounds updated_at and the object's other timestamps.
func checkObject(kind, object, id string, updatedAt int64, stamps ...stamp) error {
	if id == "" {
		return invalid("%s: no id", kind)
	}
	if object != "" && object != kind {
		return invalid("%s %s: object is %q", kind, id, object)
	}
	if updatedAt == 0 {
		return invalid("%s %s: no updated_at", kind, id)
	}
	if err := checkMillis(kind, id, "updated_at", updatedAt); err != nil {
		return err
	}
	for _, s := range stamps {
		if s.ms == nil {
			continue
		}
		if err := checkMillis(kind, id, s.field, *s.ms); err != nil {
			return err
		}
	}
	return nil
}

// Clerk's timestamps are Unix milliseconds. Postgres' timestamptz ends in
// the year 294276 and Go's time.UnixMilli wraps silently long before int64
// does (9223372036854775807 comes out as 1969), so a value outside year
// 1970 to 9999 is refused as a payload that can never apply: never stored
// wrapped, never retried in the hope that Postgres changes its mind.
const (
	// MaxMillis is 9999-12-31T23:59:59.999Z.
	MaxMillis int64 = 253402300799999
)

// checkMillis bounds one timestamp field.
func checkMillis(kind, id, field string, ms int64) error {
	if ms < 0 || ms > MaxMillis {
		return invalid("%s %s: %s %d is not a Unix time in milliseconds between 1970 and 9999", kind, id, field, ms)
	}
	return nil
}

// stamp is an optional timestamp field to bound.
type stamp struct {
	field string
	ms    *int64
}

func metadata(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return nil
	}
	return raw
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func millisPtr(ms *int64) *time.Time {
	if ms == nil || *ms <= 0 {
		return nil
	}
	t := time.UnixMilli(*ms).UTC()
	return &t
}

func emptyToNil(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}
