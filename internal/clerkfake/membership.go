package clerkfake

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Membership is the truth about one organization membership.
type Membership struct {
	ID              string // orgmem_...
	OrganizationID  string
	UserID          string
	Role            string // role key: org:admin, org:member or a custom org:<key>
	RoleName        string
	Permissions     []string
	PublicMetadata  json.RawMessage
	PrivateMetadata json.RawMessage
	CreatedAt       int64 // Unix ms
	UpdatedAt       int64 // Unix ms; not moved by the deletion
	Deleted         bool
	DeletedAt       int64 // Unix ms: the organizationMembership.deleted timestamp, or the parent's deletion time
}

func (ms *Membership) clone() Membership {
	c := *ms
	c.Permissions = slices.Clone(ms.Permissions)
	c.PublicMetadata = cloneRaw(ms.PublicMetadata)
	c.PrivateMetadata = cloneRaw(ms.PrivateMetadata)
	return c
}

type role struct {
	key, name   string
	permissions []string
}

// The two system roles plus custom ones, so that syncd cannot get away with
// assuming a closed set of role keys.
var (
	roleAdmin = role{"org:admin", "Admin", []string{
		"org:sys_domains:manage", "org:sys_domains:read", "org:sys_memberships:manage",
		"org:sys_memberships:read", "org:sys_profile:delete", "org:sys_profile:manage",
	}}
	roleMember  = role{"org:member", "Member", []string{"org:sys_memberships:read"}}
	customRoles = []role{
		{"org:billing_manager", "Billing Manager", []string{"org:invoices:manage", "org:invoices:read", "org:sys_memberships:read"}},
		{"org:viewer", "Viewer", []string{"org:reports:read", "org:sys_memberships:read"}},
	}
)

// extraPermission stands in for a role definition being edited in the
// dashboard, which changes a member's permissions without a role change.
const extraPermission = "org:reports:export"

func (m *Model) randomRole() role {
	switch r := m.rng.IntN(20); {
	case r < 3:
		return roleAdmin
	case r < 17:
		return roleMember
	default:
		return pick(m.rng, customRoles)
	}
}

func (m *Model) membershipPublicMetadata() json.RawMessage {
	if m.chance(0.5) {
		return emptyObject
	}
	return metadata(map[string]any{"department": pick(m.rng, departments), "title": pick(m.rng, []string{"Engineer", "Manager", "Analyst", "Director"})})
}

func (m *Model) membershipPrivateMetadata() json.RawMessage {
	if m.chance(0.6) {
		return emptyObject
	}
	return metadata(map[string]any{"cost_center": fmt.Sprintf("CC-%04d", m.rng.IntN(10000))})
}

// CreateMembership adds a live user to a live organization with a random
// role. It fails with ErrNotFound for a missing or deleted parent and with
// ErrConflict when the user is already a member or the organization is full.
func (m *Model) CreateMembership(orgID, userID string) (Membership, []Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.liveOrg(orgID)
	if err != nil {
		return Membership{}, nil, err
	}
	u, err := m.liveUser(userID)
	if err != nil {
		return Membership{}, nil, err
	}
	if err := m.canJoin(o, u); err != nil {
		return Membership{}, nil, err
	}
	ms := m.addMembership(o, u, m.tick(), m.randomRole())
	return ms.clone(), []Event{m.membershipEvent(TypeMembershipCreated, ms.UpdatedAt, ms)}, nil
}

// UpdateMembership applies a random change: role (and with it the
// permissions), permissions alone, or metadata.
func (m *Model) UpdateMembership(id string) ([]Event, error) {
	return withLive(m, id, m.liveMembership, infallible(m.updateMembership))
}

// EditMembership applies a chosen change to a copy of the membership; the
// model keeps ID, the organization, the user, CreatedAt and the deletion
// state, and sets UpdatedAt.
func (m *Model) EditMembership(id string, edit func(*Membership)) ([]Event, error) {
	return withLive(m, id, m.liveMembership, infallible(func(ms *Membership) []Event { return m.editMembership(ms, edit) }))
}

func (m *Model) editMembership(ms *Membership, edit func(*Membership)) []Event {
	next := ms.clone()
	edit(&next)
	next.ID, next.OrganizationID, next.UserID = ms.ID, ms.OrganizationID, ms.UserID
	next.CreatedAt, next.Deleted, next.DeletedAt = ms.CreatedAt, false, 0
	next.UpdatedAt = m.tick()
	return m.saveMembership(ms, next)
}

// DeleteMembership removes a user from an organization.
func (m *Model) DeleteMembership(id string) ([]Event, error) {
	return withLive(m, id, m.liveMembership, infallible(func(ms *Membership) []Event {
		return []Event{m.deleteMembership(ms)}
	}))
}

func (m *Model) liveMembership(id string) (*Membership, error) {
	return liveIn(m.mems, "membership", id)
}

func (m *Model) canJoin(o *Organization, u *User) error {
	if existing, ok := m.members[memberKey{o.ID, u.ID}]; ok {
		return fmt.Errorf("%w: user %s is already in organization %s (%s)", ErrConflict, u.ID, o.ID, existing.ID)
	}
	if o.MaxAllowedMemberships > 0 && m.activeMemberCount(o.ID) >= o.MaxAllowedMemberships {
		return fmt.Errorf("%w: organization %s has reached its %d memberships", ErrConflict, o.ID, o.MaxAllowedMemberships)
	}
	return nil
}

func (m *Model) addMembership(o *Organization, u *User, now int64, r role) *Membership {
	ms := &Membership{
		ID:              m.newID("orgmem_"),
		OrganizationID:  o.ID,
		UserID:          u.ID,
		Role:            r.key,
		RoleName:        r.name,
		Permissions:     slices.Clone(r.permissions),
		PublicMetadata:  emptyObject,
		PrivateMetadata: emptyObject,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	if m.chance(0.3) {
		ms.PublicMetadata = m.membershipPublicMetadata()
	}
	m.insertMembership(ms)
	return ms
}

func (m *Model) insertMembership(ms *Membership) {
	m.mems[ms.ID] = ms
	m.memSeq = append(m.memSeq, ms)
	m.orgMems[ms.OrganizationID] = append(m.orgMems[ms.OrganizationID], ms)
	m.userMems[ms.UserID] = append(m.userMems[ms.UserID], ms)
	m.members[memberKey{ms.OrganizationID, ms.UserID}] = ms
	m.nMembers[ms.OrganizationID]++
	m.activeMems++
	m.lists.mems.changed(true)
}

// createRandomMembership looks for a live user outside a live organization
// with room; nil when a few random probes find none (e.g. everyone is in
// every organization already).
func (m *Model) createRandomMembership() []Event {
	for range 16 {
		o, u := m.pickOrg(), m.pickUser()
		if o == nil || u == nil {
			return nil
		}
		if m.canJoin(o, u) != nil {
			continue
		}
		ms := m.addMembership(o, u, m.tick(), m.randomRole())
		return []Event{m.membershipEvent(TypeMembershipCreated, ms.UpdatedAt, ms)}
	}
	return nil
}

func (m *Model) updateMembership(ms *Membership) []Event {
	now := m.tick()
	next := ms.clone()
	switch m.rng.IntN(4) {
	case 0:
		r := m.randomRole()
		for r.key == next.Role {
			r = m.randomRole()
		}
		next.Role, next.RoleName, next.Permissions = r.key, r.name, slices.Clone(r.permissions)
	case 1:
		if i := slices.Index(next.Permissions, extraPermission); i >= 0 {
			next.Permissions = slices.Delete(next.Permissions, i, i+1)
		} else {
			next.Permissions = append(next.Permissions, extraPermission)
			slices.Sort(next.Permissions)
		}
	case 2:
		next.PublicMetadata = m.membershipPublicMetadata()
	case 3:
		next.PrivateMetadata = m.membershipPrivateMetadata()
	}
	next.UpdatedAt = now
	return m.saveMembership(ms, next)
}

// saveMembership replaces the live membership ms by its edited copy next and
// reports the change. Its listings need no refresh: they order by
// created_at, which an edit keeps.
func (m *Model) saveMembership(ms *Membership, next Membership) []Event {
	*ms = next
	return []Event{m.membershipEvent(TypeMembershipUpdated, ms.UpdatedAt, ms)}
}

// deleteMembership emits organizationMembership.deleted with the full
// membership as Clerk does: its updated_at stays the last update, and only
// the envelope timestamp says when it was deleted.
func (m *Model) deleteMembership(ms *Membership) Event {
	now := m.tick()
	// Render before marking: the payload shows the membership as it was.
	ev := m.membershipEvent(TypeMembershipDeleted, now, ms)
	m.markMembershipDeleted(ms, now)
	return ev
}

// deleteWithMemberships deletes a user or organization together with its
// live memberships (mems, any of them already deleted are skipped) the way
// Clerk does: about half get their own organizationMembership.deleted
// first; then deleteParent tombstones the parent at now and renders its
// deleted event, and the rest of the memberships are tombstoned at that same
// time without an event of their own.
func (m *Model) deleteWithMemberships(mems []*Membership, deleteParent func(now int64) Event) []Event {
	var evs []Event
	var silent []*Membership
	for _, ms := range mems {
		if ms.Deleted {
			continue
		}
		if m.chance(0.5) {
			evs = append(evs, m.deleteMembership(ms))
		} else {
			silent = append(silent, ms)
		}
	}
	now := m.tick()
	parent := deleteParent(now)
	for _, ms := range silent {
		m.markMembershipDeleted(ms, now)
	}
	return append(evs, parent)
}

func (m *Model) markMembershipDeleted(ms *Membership, at int64) {
	ms.Deleted, ms.DeletedAt = true, at
	delete(m.members, memberKey{ms.OrganizationID, ms.UserID})
	m.nMembers[ms.OrganizationID]--
	m.activeMems--
	m.lists.mems.changed(true)
}

type publicUserDataJSON struct {
	UserID          string  `json:"user_id"`
	FirstName       *string `json:"first_name"`
	LastName        *string `json:"last_name"`
	ImageURL        string  `json:"image_url"`
	HasImage        bool    `json:"has_image"`
	Identifier      string  `json:"identifier"`
	ProfileImageURL string  `json:"profile_image_url"`
	Username        *string `json:"username"`
}

type membershipJSON struct {
	Object          string             `json:"object"`
	ID              string             `json:"id"`
	Role            string             `json:"role"`
	RoleName        string             `json:"role_name"`
	Permissions     []string           `json:"permissions"`
	PublicMetadata  json.RawMessage    `json:"public_metadata"`
	PrivateMetadata json.RawMessage    `json:"private_metadata"`
	Organization    organizationJSON   `json:"organization"`
	PublicUserData  publicUserDataJSON `json:"public_user_data"`
	CreatedAt       int64              `json:"created_at"`
	UpdatedAt       int64              `json:"updated_at"`
}

// wire embeds the organization and user as they are now: Clerk sends a
// snapshot of the current organization inside every membership payload.
func (m *Model) membershipWire(ms *Membership) membershipJSON {
	o, u := m.orgs[ms.OrganizationID], m.users[ms.UserID]
	perms := ms.Permissions
	if perms == nil {
		perms = []string{}
	}
	return membershipJSON{
		Object: "organization_membership", ID: ms.ID, Role: ms.Role, RoleName: ms.RoleName,
		Permissions: perms, PublicMetadata: orEmpty(ms.PublicMetadata),
		PrivateMetadata: orEmpty(ms.PrivateMetadata), Organization: o.wire(),
		PublicUserData: publicUserDataJSON{
			UserID: u.ID, FirstName: u.FirstName, LastName: u.LastName, ImageURL: u.ImageURL,
			HasImage: u.HasImage, Identifier: u.identifier(), ProfileImageURL: u.ImageURL,
			Username: u.Username,
		},
		CreatedAt: ms.CreatedAt, UpdatedAt: ms.UpdatedAt,
	}
}

func (m *Model) membershipEvent(typ string, ts int64, ms *Membership) Event {
	return m.event(typ, ts, ms.ID, m.membershipWire(ms))
}

// MembershipJSON renders one membership as the Backend API does, with the
// current organization and user embedded. nil means the id is unknown.
func (m *Model) MembershipJSON(id string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return wireJSON(m.mems, id, m.membershipWire)
}
