package clerkfake

// op is one kind of random operation; run returns nil when the current state
// does not allow it (nothing to update, everyone already a member...).
type op struct {
	weight int
	run    func(*Model) []Event
}

// ops weights favour updates and memberships, with deletions rare enough
// that a 50-event history still has a population, yet frequent enough that
// it almost always contains some.
var ops = []op{
	{14, func(m *Model) []Event { _, evs := m.createUser(); return evs }},
	{26, onRandom((*Model).pickUser, (*Model).updateUser)},
	{4, onRandom((*Model).pickUser, (*Model).deleteUser)},
	{5, func(m *Model) []Event { _, evs := m.createOrganization(m.pickUser()); return evs }},
	{8, onRandom((*Model).pickOrg, (*Model).updateOrganization)},
	{2, onRandom((*Model).pickOrg, (*Model).deleteOrganization)},
	{18, (*Model).createRandomMembership},
	{9, onRandom((*Model).pickMembership, (*Model).updateMembership)},
	{5, onRandom((*Model).pickMembership, func(m *Model, ms *Membership) []Event {
		return []Event{m.deleteMembership(ms)}
	})},
}

// onRandom makes the op that changes a random live object, drawn by pick;
// it does nothing when there is none.
func onRandom[T any, P object[T]](pick func(*Model) P, change func(*Model, P) []Event) func(*Model) []Event {
	return func(m *Model) []Event {
		if p := pick(m); p != nil {
			return change(m, p)
		}
		return nil
	}
}

var opWeights = func() []int {
	w := make([]int, len(ops))
	for i, o := range ops {
		w[i] = o.weight
	}
	return w
}()

// Step performs one random operation and returns the events it caused (one,
// or several for an organization with its creator's membership or a
// cascading delete).
func (m *Model) Step() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.step()
}

func (m *Model) step() []Event {
	if m.unsyncedRate > 0 && m.activeUsers > 0 && m.chance(m.unsyncedRate) {
		return []Event{m.sessionCreated(m.pickUser())}
	}
	// Bootstrap a population first so that memberships and organization
	// events show up even in short histories.
	switch {
	case m.activeUsers < 3:
		_, evs := m.createUser()
		return evs
	case m.activeOrgs < 2:
		_, evs := m.createOrganization(m.pickUser())
		return evs
	}
	if evs := ops[weighted(m.rng, opWeights)].run(m); evs != nil {
		return evs
	}
	_, evs := m.createUser()
	return evs
}

// History performs random operations until at least n events have been
// produced and returns them in the order Clerk emitted them. It may return a
// few more than n, because one operation can emit several events and a
// history always ends on a complete operation (so the truth matches it).
func (m *Model) History(n int) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := make([]Event, 0, n+4)
	for len(evs) < n {
		evs = append(evs, m.step()...)
	}
	return evs
}
