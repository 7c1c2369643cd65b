package clerkfake

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Organization is the truth about one Clerk organization.
type Organization struct {
	ID                    string
	Name                  string
	Slug                  string
	ImageURL              string
	HasImage              bool
	CreatedBy             string // user id; may name a since-deleted user, or be empty
	MaxAllowedMemberships int64  // 0 means unlimited
	AdminDeleteEnabled    bool
	PublicMetadata        json.RawMessage
	PrivateMetadata       json.RawMessage
	CreatedAt             int64 // Unix ms
	UpdatedAt             int64 // Unix ms
	Deleted               bool
	DeletedAt             int64 // Unix ms; the organization.deleted event timestamp
}

func (o *Organization) clone() Organization {
	c := *o
	c.PublicMetadata = cloneRaw(o.PublicMetadata)
	c.PrivateMetadata = cloneRaw(o.PrivateMetadata)
	return c
}

// CreateOrganization creates a random organization. A non-empty createdBy
// must be a live user, who becomes its org:admin as in Clerk, so the events
// are organization.created followed by organizationMembership.created.
func (m *Model) CreateOrganization(createdBy string) (Organization, []Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var creator *User
	if createdBy != "" {
		u, err := m.liveUser(createdBy)
		if err != nil {
			return Organization{}, nil, err
		}
		creator = u
	}
	o, evs := m.createOrganization(creator)
	return o.clone(), evs, nil
}

// UpdateOrganization applies a random change: name, slug, image, membership
// limit, admin_delete_enabled or metadata.
func (m *Model) UpdateOrganization(id string) ([]Event, error) {
	return withLive(m, id, m.liveOrg, infallible(m.updateOrganization))
}

// EditOrganization applies a chosen change to a copy of the organization;
// the model keeps ID, CreatedAt and the deletion state and sets UpdatedAt.
// A slug already used by another live organization is a conflict.
func (m *Model) EditOrganization(id string, edit func(*Organization)) ([]Event, error) {
	return withLive(m, id, m.liveOrg, func(o *Organization) ([]Event, error) { return m.editOrganization(o, edit) })
}

func (m *Model) editOrganization(o *Organization, edit func(*Organization)) ([]Event, error) {
	next := o.clone()
	edit(&next)
	next.ID, next.CreatedAt, next.Deleted, next.DeletedAt = o.ID, o.CreatedAt, false, 0
	if other, ok := m.slugs[next.Slug]; ok && other != o {
		return nil, fmt.Errorf("%w: slug %q is taken by %s", ErrConflict, next.Slug, other.ID)
	}
	next.UpdatedAt = m.tick()
	return m.saveOrganization(o, next), nil
}

// DeleteOrganization deletes an organization and its memberships, emitting
// organizationMembership.deleted for a random subset of them only, as for
// DeleteUser.
func (m *Model) DeleteOrganization(id string) ([]Event, error) {
	return withLive(m, id, m.liveOrg, infallible(m.deleteOrganization))
}

func (m *Model) liveOrg(id string) (*Organization, error) {
	return liveIn(m.orgs, "organization", id)
}

// newSlug lower-cases a display name into Clerk's slug alphabet; the serial
// suffix keeps slugs unique while names repeat.
func (m *Model) newSlug(name string) string {
	m.serial++
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-") + "-" + strconv.Itoa(m.serial)
}

func (m *Model) orgPublicMetadata() json.RawMessage {
	if m.chance(0.3) {
		return emptyObject
	}
	v := map[string]any{"industry": pick(m.rng, industries), "tier": pick(m.rng, plans)}
	if m.chance(0.3) {
		v["features"] = map[string]any{"sso": m.chance(0.5), "audit_log": m.chance(0.5)}
	}
	return metadata(v)
}

func (m *Model) orgPrivateMetadata() json.RawMessage {
	if m.chance(0.4) {
		return emptyObject
	}
	return metadata(map[string]any{"billing_account": "acct_" + m.newID("")[6:22], "crm_id": m.rng.IntN(1_000_000)})
}

var membershipLimits = []int64{0, 0, 0, 5, 10, 25, 100}

func (m *Model) newOrganization(now int64, createdBy string) *Organization {
	name := pick(m.rng, orgNames)
	o := &Organization{
		ID:                    m.newID("org_"),
		Name:                  name,
		Slug:                  m.newSlug(name),
		CreatedBy:             createdBy,
		MaxAllowedMemberships: pick(m.rng, membershipLimits),
		AdminDeleteEnabled:    m.chance(0.8),
		PublicMetadata:        emptyObject,
		PrivateMetadata:       emptyObject,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	o.HasImage = m.chance(0.4)
	o.ImageURL = m.imageURL(o.ID, o.HasImage)
	if m.chance(0.5) {
		o.PublicMetadata = m.orgPublicMetadata()
	}
	if m.chance(0.3) {
		o.PrivateMetadata = m.orgPrivateMetadata()
	}
	return o
}

func (m *Model) addOrganization(o *Organization) {
	m.orgs[o.ID] = o
	m.orgSeq = append(m.orgSeq, o)
	m.slugs[o.Slug] = o
	m.activeOrgs++
	m.lists.orgs.changed(true)
}

func (m *Model) createOrganization(creator *User) (*Organization, []Event) {
	createdBy := ""
	if creator != nil {
		createdBy = creator.ID
	}
	o := m.newOrganization(m.tick(), createdBy)
	m.addOrganization(o)
	evs := []Event{m.orgEvent(TypeOrganizationCreated, o)}
	if creator != nil {
		ms := m.addMembership(o, creator, m.tick(), roleAdmin)
		evs = append(evs, m.membershipEvent(TypeMembershipCreated, ms.UpdatedAt, ms))
	}
	return o, evs
}

func (m *Model) activeMemberCount(orgID string) int64 { return m.nMembers[orgID] }

func (m *Model) updateOrganization(o *Organization) []Event {
	now := m.tick()
	next := o.clone()
	switch m.rng.IntN(7) {
	case 0:
		next.Name = pick(m.rng, orgNames)
	case 1:
		next.Slug = m.newSlug(next.Name)
	case 2:
		next.HasImage = !next.HasImage || m.chance(0.5)
		next.ImageURL = m.imageURL(next.ID, next.HasImage)
	case 3:
		// Clerk refuses a limit below the current member count.
		limit := pick(m.rng, membershipLimits)
		if n := m.activeMemberCount(o.ID); limit != 0 && limit < n {
			limit = n + int64(m.rng.IntN(10))
		}
		next.MaxAllowedMemberships = limit
	case 4:
		next.AdminDeleteEnabled = !next.AdminDeleteEnabled
	case 5:
		next.PublicMetadata = m.orgPublicMetadata()
	case 6:
		next.PrivateMetadata = m.orgPrivateMetadata()
	}
	next.UpdatedAt = now
	return m.saveOrganization(o, next)
}

// saveOrganization replaces the live organization o by its edited copy next,
// moving it in the slug index, and reports the change.
func (m *Model) saveOrganization(o *Organization, next Organization) []Event {
	delete(m.slugs, o.Slug)
	*o = next
	m.slugs[o.Slug] = o
	m.lists.orgs.changed(false)
	return []Event{m.orgEvent(TypeOrganizationUpdated, o)}
}

// deleteOrganization mirrors deleteUser: explicit membership deletes first,
// then the organization, whose timestamp the silent cascade shares.
func (m *Model) deleteOrganization(o *Organization) []Event {
	return m.deleteWithMemberships(m.orgMems[o.ID], func(now int64) Event {
		o.Deleted, o.DeletedAt = true, now
		delete(m.slugs, o.Slug)
		m.activeOrgs--
		m.lists.orgs.changed(true)
		return m.event(TypeOrganizationDeleted, now, o.ID, deletedOrgJSON{
			Object: "organization", ID: o.ID, Slug: o.Slug, Deleted: true,
		})
	})
}

type organizationJSON struct {
	Object                string          `json:"object"`
	ID                    string          `json:"id"`
	Name                  string          `json:"name"`
	Slug                  string          `json:"slug"`
	ImageURL              string          `json:"image_url"`
	HasImage              bool            `json:"has_image"`
	MembersCount          *int64          `json:"members_count,omitempty"`
	MaxAllowedMemberships int64           `json:"max_allowed_memberships"`
	AdminDeleteEnabled    bool            `json:"admin_delete_enabled"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	PrivateMetadata       json.RawMessage `json:"private_metadata"`
	CreatedBy             string          `json:"created_by"`
	CreatedAt             int64           `json:"created_at"`
	UpdatedAt             int64           `json:"updated_at"`
}

type deletedOrgJSON struct {
	Object  string `json:"object"`
	ID      string `json:"id"`
	Slug    string `json:"slug"`
	Deleted bool   `json:"deleted"`
}

func (o *Organization) wire() organizationJSON {
	return organizationJSON{
		Object: "organization", ID: o.ID, Name: o.Name, Slug: o.Slug, ImageURL: o.ImageURL,
		HasImage: o.HasImage, MaxAllowedMemberships: o.MaxAllowedMemberships,
		AdminDeleteEnabled: o.AdminDeleteEnabled, PublicMetadata: orEmpty(o.PublicMetadata),
		PrivateMetadata: orEmpty(o.PrivateMetadata), CreatedBy: o.CreatedBy,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

func (m *Model) orgEvent(typ string, o *Organization) Event {
	return m.event(typ, o.UpdatedAt, o.ID, o.wire())
}

// OrganizationJSON renders one organization as the Backend API does (the
// same object as in organization.created/updated data). A deleted
// organization renders its last state; nil means the id is unknown.
func (m *Model) OrganizationJSON(id string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return wireJSON(m.orgs, id, (*Organization).wire)
}
