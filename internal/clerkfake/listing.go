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
type listIndex struct {
	users kindLists[User, *User]
	orgs  kindLists[Organization, *Organization]
	mems  kindLists[Membership, *Membership]
}

// kindLists holds the cached listings of one kind, keyed by order. It keeps
// two generation counters: setGen moves when the live set changes (create,
// delete) and gen on any change. created_at orderings depend only on the
// live set, because creation order already is created_at order, so a stream
// of updates does not invalidate the default listing.
type kindLists[T any, P object[T]] struct {
	gen, setGen uint64
	cache       map[string]*cachedList[P]
}

type cachedList[T any] struct {
	gen   uint64
	items []T
}

// changed records a change of one object of the kind; setChanged says it
// came or went. Memberships only ever report the latter: their listings
// only order by created_at.
func (l *kindLists[T, P]) changed(setChanged bool) {
	l.gen++
	if setChanged {
		l.setGen++
	}
}

// live returns the live objects of seq (creation order; active of them are
// live) in order k, where compare orders by k.field and is nil for
// created_at. The slice is shared with the cache: callers hold m.mu and
// must not modify it.
func (l *kindLists[T, P]) live(k sortKey, seq []P, active int, compare func(a, b P) int) []P {
	gen := l.gen
	if compare == nil {
		gen = l.setGen
	}
	key := k.String()
	if c, ok := l.cache[key]; ok && c.gen == gen {
		return c.items
	}
	if l.cache == nil {
		l.cache = make(map[string]*cachedList[P])
	}
	items := buildList(seq, active, compare, k.desc)
	l.cache[key] = &cachedList[P]{gen: gen, items: items}
	return items
}

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
func buildList[T any, P object[T]](seq []P, n int, compare func(a, b P) int, desc bool) []P {
	out := make([]P, 0, n)
	for _, p := range seq {
		if !p.isDeleted() {
			out = append(out, p)
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

// liveUsers returns live users in the given order (created_at or
// updated_at); see kindLists.live.
func (m *Model) liveUsers(k sortKey) []*User {
	var compare func(a, b *User) int
	if k.field == "updated_at" {
		compare = func(a, b *User) int { return cmp.Compare(a.UpdatedAt, b.UpdatedAt) }
	}
	return m.lists.users.live(k, m.userSeq, m.activeUsers, compare)
}

// liveOrgs returns live organizations ordered by created_at or name.
func (m *Model) liveOrgs(k sortKey) []*Organization {
	var compare func(a, b *Organization) int
	if k.field == "name" {
		compare = func(a, b *Organization) int { return strings.Compare(a.Name, b.Name) }
	}
	return m.lists.orgs.live(k, m.orgSeq, m.activeOrgs, compare)
}

// liveMemberships returns all live memberships ordered by created_at.
func (m *Model) liveMemberships(k sortKey) []*Membership {
	return m.lists.mems.live(k, m.memSeq, m.activeMems, nil)
}

// liveMembershipsOf filters a per-organization or per-user index; those are
// small, so they are not cached.
func liveMembershipsOf(seq []*Membership, k sortKey) []*Membership {
	return buildList(seq, len(seq), nil, k.desc)
}
