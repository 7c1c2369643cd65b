package clerkdb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Membership is an active organization membership with what a service
// usually shows next to it. The organization and user fields are nil while
// that row has not been synced yet: Svix does not order deliveries, so a
// membership can arrive before its organization or user.
type Membership struct {
	ID             string
	OrganizationID string
	UserID         string
	// Role is the role key as Clerk stores it, e.g. "org:admin" (instances
	// from before December 2023 may use "admin" and "basic_member").
	Role            string
	Permissions     []string
	PublicMetadata  json.RawMessage
	PrivateMetadata json.RawMessage
	CreatedAt       *time.Time
	UpdatedAt       *time.Time
	SyncedAt        time.Time

	OrganizationName        *string
	OrganizationSlug        *string
	UserPrimaryEmailAddress *string
	UserFirstName           *string
	UserLastName            *string
}

// A membership is active when it is not deleted and neither is its
// organization nor its user. syncd marks memberships deleted together with
// their parent (sync rule 3), but the parents are checked as well, so a
// reader never depends on which event of a deletion arrived first. A parent
// not synced yet does not make a membership inactive.
const membershipFrom = `
FROM clerk.organization_memberships m
LEFT JOIN clerk.organizations o ON o.id = m.organization_id
LEFT JOIN clerk.users u ON u.id = m.user_id
WHERE m.deleted_at IS NULL AND o.deleted_at IS NULL AND u.deleted_at IS NULL`

const membershipColumns = `
    m.id, m.organization_id, m.user_id, coalesce(m.role, ''), coalesce(m.permissions, '{}'),
    m.public_metadata, m.private_metadata, m.created_at, m.updated_at, m.synced_at,
    o.name, o.slug, u.primary_email_address, u.first_name, u.last_name`

func scanMembership(row scanner) (Membership, error) {
	var m Membership
	err := row.Scan(&m.ID, &m.OrganizationID, &m.UserID, &m.Role, &m.Permissions,
		&m.PublicMetadata, &m.PrivateMetadata, &m.CreatedAt, &m.UpdatedAt, &m.SyncedAt,
		&m.OrganizationName, &m.OrganizationSlug, &m.UserPrimaryEmailAddress, &m.UserFirstName, &m.UserLastName)
	return m, err
}

// Membership returns the active membership of userID in orgID, with its
// role and permissions, or ErrNotFound when there is none (never a member,
// removed, or the organization or user deleted).
func (r *Reader) Membership(ctx context.Context, orgID, userID string) (Membership, error) {
	return readOne(ctx, r.q, scanMembership, fmt.Sprintf("membership of %s in %s", userID, orgID),
		`SELECT `+membershipColumns+membershipFrom+`
  AND m.organization_id = $1 AND m.user_id = $2
ORDER BY m.updated_at DESC NULLS LAST, m.id
LIMIT 1`, orgID, userID)
}

// UserMemberships returns userID's active memberships, oldest first (by
// created_at, then id). It is empty when the user has none or is not
// synced.
func (r *Reader) UserMemberships(ctx context.Context, userID string) ([]Membership, error) {
	what := "memberships of user " + userID
	rows, err := r.q.Query(ctx, `SELECT `+membershipColumns+membershipFrom+`
  AND m.user_id = $1
ORDER BY m.created_at NULLS LAST, m.id`, userID)
	if err != nil {
		return nil, wrap(err, what)
	}
	return collectMemberships(rows, what, 0)
}

// Page asks for one page of a list.
type Page struct {
	// After is the cursor from the previous page's Next; empty for the
	// first page.
	After string
	// Limit is the page size: 0 means DefaultPageSize, and it is capped at
	// MaxPageSize.
	Limit int
}

// Page sizes of OrganizationMembers.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// MembersPage is one page of an organization's members.
type MembersPage struct {
	Members []Membership
	// Next is the cursor of the following page, empty on the last one.
	Next string
}

// OrganizationMembers returns one page of orgID's active members in a
// stable order (membership id), so that paging through a list that changes
// meanwhile neither repeats nor skips a member that stayed. A deleted
// organization has no members.
func (r *Reader) OrganizationMembers(ctx context.Context, orgID string, p Page) (MembersPage, error) {
	limit := p.Limit
	switch {
	case limit <= 0:
		limit = DefaultPageSize
	case limit > MaxPageSize:
		limit = MaxPageSize
	}
	what := "members of organization " + orgID
	// One more row than asked says whether there is a next page.
	rows, err := r.q.Query(ctx, `SELECT `+membershipColumns+membershipFrom+`
  AND m.organization_id = $1 AND m.id > $2
ORDER BY m.id
LIMIT $3`, orgID, p.After, limit+1)
	if err != nil {
		return MembersPage{}, wrap(err, what)
	}
	ms, err := collectMemberships(rows, what, limit+1)
	if err != nil {
		return MembersPage{}, err
	}
	page := MembersPage{Members: ms}
	if len(ms) > limit {
		page.Members = ms[:limit]
		page.Next = ms[limit-1].ID
	}
	return page, nil
}

type rowsScanner interface {
	scanner
	Next() bool
	Err() error
	Close()
}

func collectMemberships(rows rowsScanner, what string, capacity int) ([]Membership, error) {
	defer rows.Close()
	out := make([]Membership, 0, capacity)
	for rows.Next() {
		m, err := scanMembership(rows)
		if err != nil {
			return nil, wrap(err, what)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, what)
	}
	return out, nil
}
