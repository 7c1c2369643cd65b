package clerkfake

import (
	"cmp"
	"slices"
	"strings"
)

// listIndex caches the sorted live-object listings the fake API pages
// through. A listing is rebuilt at most once per change of what it depends
// on, never per page request: at 100k users a sort per request would make
// the fake, not syncd, the thing a benchmark measures.
//
// Two generation counters per kind: setGen moves when the live set changes
// (create, delete) and gen on any change. created_at orderings depend only
// on the live set, because creation order already is created_at order, so a
// stream of updates does not invalidate the default listing.
type listIndex struct {
	userGen, userSetGen uint64
	orgGen, orgSetGen   uint64
	memSetGen           uint64 // membership listings only order by created_at

	users map[string]*cachedList[*User]
	orgs  map[string]*cachedList[*Organization]
	mems  map[string]*cachedList[*Membership]
}

type cachedList[T any] struct {
	gen   uint64
	items []T
}

func (l *listIndex) userChanged(setChanged bool) {
	l.userGen++
	if setChanged {
		l.userSetGen++
	}
}

func (l *listIndex) orgChanged(setChanged bool) {
	l.orgGen++
	if setChanged {
		l.orgSetGen++
	}
}

// memSetChanged records that a membership came or went; a membership's
// own changes leave its list in place (it is ordered by created_at).
func (l *listIndex) memSetChanged() { l.memSetGen++ }

// sortKey is an order_by value split into field and direction; "+x" and "x"
// are the same ascending order in Clerk.
type sortKey struct {
	field string
	desc  bool
}

func parseSortKey(s string) sortKey {
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		return sortKey{rest, true}
	}
	return sortKey{strings.TrimPrefix(s, "+"), false}
}

func (k sortKey) String() string {
	if k.desc {
		return "-" + k.field
	}
	return "+" + k.field
}

// buildList filters seq (creation order) to live objects and orders them.
// With a nil compare the creation order is kept, which is created_at order;
// otherwise ties fall back to creation order (stable sort), then the whole
// list is reversed for descending keys so ties come out mirrored too.
func buildList[T any](seq []T, n int, alive func(T) bool, compare func(a, b T) int, desc bool) []T {
	out := make([]T, 0, n)
	for _, x := range seq {
		if alive(x) {
			out = append(out, x)
		}
	}
	if compare != nil {
		slices.SortStableFunc(out, compare)
	}
	if desc {
		slices.Reverse(out)
	}
	return out
}

func cachedOr[T any](cache *map[string]*cachedList[T], key string, gen uint64, build func() []T) []T {
	if *cache == nil {
		*cache = make(map[string]*cachedList[T])
	}
	if c, ok := (*cache)[key]; ok && c.gen == gen {
		return c.items
	}
	items := build()
	(*cache)[key] = &cachedList[T]{gen: gen, items: items}
	return items
}

// liveUsers returns live users in the given order (created_at or
// updated_at). The slice is shared with the cache: callers hold m.mu and
// must not modify it.
func (m *Model) liveUsers(k sortKey) []*User {
	gen := m.lists.userGen
	var compare func(a, b *User) int
	switch k.field {
	case "created_at":
		gen = m.lists.userSetGen
	case "updated_at":
		compare = func(a, b *User) int { return cmp.Compare(a.UpdatedAt, b.UpdatedAt) }
	}
	return cachedOr(&m.lists.users, k.String(), gen, func() []*User {
		return buildList(m.userSeq, m.activeUsers, func(u *User) bool { return !u.Deleted }, compare, k.desc)
	})
}

// liveOrgs returns live organizations ordered by created_at or name.
func (m *Model) liveOrgs(k sortKey) []*Organization {
	gen := m.lists.orgGen
	var compare func(a, b *Organization) int
	switch k.field {
	case "created_at":
		gen = m.lists.orgSetGen
	case "name":
		compare = func(a, b *Organization) int { return strings.Compare(a.Name, b.Name) }
	}
	return cachedOr(&m.lists.orgs, k.String(), gen, func() []*Organization {
		return buildList(m.orgSeq, m.activeOrgs, func(o *Organization) bool { return !o.Deleted }, compare, k.desc)
	})
}

// liveMemberships returns all live memberships ordered by created_at.
func (m *Model) liveMemberships(k sortKey) []*Membership {
	return cachedOr(&m.lists.mems, k.String(), m.lists.memSetGen, func() []*Membership {
		return buildList(m.memSeq, m.activeMems, func(ms *Membership) bool { return !ms.Deleted }, nil, k.desc)
	})
}

// liveMembershipsOf filters a per-organization or per-user index; those are
// small, so they are not cached.
func liveMembershipsOf(seq []*Membership, k sortKey) []*Membership {
	return buildList(seq, len(seq), func(ms *Membership) bool { return !ms.Deleted }, nil, k.desc)
}
