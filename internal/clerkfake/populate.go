package clerkfake

import (
	"encoding/json"
	"maps"
	"slices"
)

// Populate adds users, then organizations, then memberships straight into
// the truth, without rendering events: it exists to give benchmarks and
// reconciliation tests a large instance (100k users in well under a second)
// where generating and discarding a webhook history would dominate.
//
// Objects are simpler than Step's (one verified primary address, a few
// shared metadata shapes) but still realistic. Organizations get a random
// live creator without the creator's admin membership, so the counts are
// exactly those asked for. Memberships join random live users to random
// live organizations with room; if the instance cannot hold that many
// distinct pairs, Populate stops short rather than loop forever.
func (m *Model) Populate(users, orgs, memberships int) {
	m.mu.Lock()
	defer m.mu.Unlock()

	growMap(&m.users, users)
	m.userSeq = slices.Grow(m.userSeq, users)
	for range users {
		m.addUser(m.bulkUser(m.tick()))
	}

	growMap(&m.orgs, orgs)
	m.orgSeq = slices.Grow(m.orgSeq, orgs)
	for range orgs {
		createdBy := ""
		if u := m.pickUser(); u != nil {
			createdBy = u.ID
		}
		o := m.newOrganization(m.tick(), createdBy)
		o.MaxAllowedMemberships = 0 // random caps would make the requested count unreachable
		m.addOrganization(o)
	}

	growMap(&m.mems, memberships)
	growMap(&m.members, memberships)
	m.memSeq = slices.Grow(m.memSeq, memberships)
	misses := 0
	for made := 0; made < memberships && misses < 1000+10*memberships; {
		o, u := m.pickOrg(), m.pickUser()
		if o == nil || u == nil {
			return
		}
		if m.canJoin(o, u) != nil {
			misses++
			continue
		}
		ms := &Membership{
			ID: m.newID("orgmem_"), OrganizationID: o.ID, UserID: u.ID,
			PublicMetadata: emptyObject, PrivateMetadata: emptyObject,
		}
		ms.CreatedAt = m.tick()
		ms.UpdatedAt = ms.CreatedAt
		r := m.randomRole()
		// Sharing the role's permission slice is safe: the model replaces
		// slices on change and never edits one in place.
		ms.Role, ms.RoleName, ms.Permissions = r.key, r.name, r.permissions
		if m.rng.IntN(8) == 0 {
			ms.PublicMetadata = bulkMembershipMetadata[m.rng.IntN(len(bulkMembershipMetadata))]
		}
		m.insertMembership(ms)
		made++
	}
}

// growMap pre-sizes an empty map; Go cannot grow a populated one in place,
// and rehashing as 100k entries trickle in is a large share of the cost.
func growMap[K comparable, V any](mp *map[K]V, n int) {
	if n <= len(*mp) {
		return
	}
	bigger := make(map[K]V, len(*mp)+n)
	maps.Copy(bigger, *mp)
	*mp = bigger
}

// Prebuilt metadata shapes for bulk objects: marshalling a map per object
// would cost more than everything else Populate does. The bytes are shared,
// which is safe because the model never edits metadata in place.
var (
	bulkUserMetadata = []json.RawMessage{
		json.RawMessage(`{"plan":"free"}`),
		json.RawMessage(`{"onboarded":true,"plan":"pro"}`),
		json.RawMessage(`{"plan":"team","seats":12}`),
	}
	bulkPrivateMetadata = []json.RawMessage{
		json.RawMessage(`{"stripe_customer_id":"cus_Q4bX9kLmN2pR7s"}`),
		json.RawMessage(`{"risk_score":12}`),
	}
	bulkMembershipMetadata = []json.RawMessage{
		json.RawMessage(`{"department":"Engineering","title":"Engineer"}`),
		json.RawMessage(`{"department":"Sales","title":"Manager"}`),
	}
)

func (m *Model) bulkUser(now int64) *User {
	first, last := m.randomName()
	e := m.newEmail(first, last, true, now)
	u := &User{
		ID:                    m.newID("user_"),
		FirstName:             ptr(first.display),
		LastName:              ptr(last.display),
		PrimaryEmailAddressID: ptr(e.ID),
		EmailAddresses:        []EmailAddress{e},
		PublicMetadata:        emptyObject,
		PrivateMetadata:       emptyObject,
		UnsafeMetadata:        emptyObject,
		PasswordEnabled:       true,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	switch r := m.rng.IntN(16); {
	case r < 4:
		u.PublicMetadata = bulkUserMetadata[r%len(bulkUserMetadata)]
	case r < 6:
		u.PrivateMetadata = bulkPrivateMetadata[r%len(bulkPrivateMetadata)]
	case r < 8:
		u.Username = m.newUsername(first, last)
	case r == 8:
		u.ExternalID = m.externalID()
	}
	if m.rng.IntN(2) == 0 {
		u.LastSignInAt = ptr(now)
	}
	u.ImageURL = m.imageURL(u.ID, false)
	return u
}
