package clerkfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// StartTime is the clock of a new Model in Unix milliseconds (mid June 2025).
// A fixed start, rather than time.Now, is what makes a seed reproduce the
// same bytes on every run.
const StartTime int64 = 1_750_000_000_000

// Errors returned by the mutators. They are wrapped with the offending id, so
// compare with errors.Is.
var (
	// ErrNotFound: the id is unknown or the object is already deleted.
	ErrNotFound = errors.New("clerkfake: not found")
	// ErrConflict: the change would break an invariant Clerk enforces
	// (user already in the organization, organization full, slug taken,
	// primary email that is not one of the user's addresses).
	ErrConflict = errors.New("clerkfake: conflict")
)

// memberKey identifies a membership the way Clerk's mutation endpoints do:
// by organization and user, because a user is in an organization at most
// once at a time.
type memberKey struct{ org, user string }

// Model is the truth of one fake Clerk instance. All methods are safe for
// concurrent use: the fake API reads it from HTTP goroutines while a test
// mutates it.
//
// Every operation advances the clock by a random 1..1000 ms, so each object's
// updated_at, and the timestamps of the events in a history, strictly
// increase. Deleted objects stay in the model as tombstones (Deleted,
// DeletedAt) because Clerk never reuses ids and tests compare tombstones too.
type Model struct {
	mu sync.Mutex

	rng          *rand.Rand
	now          int64
	instanceID   string
	serial       int // keeps generated emails, usernames and slugs unique
	unsyncedRate float64

	users map[string]*User
	orgs  map[string]*Organization
	mems  map[string]*Membership

	// Creation order. Because every creation advances the clock, this is
	// also created_at order, which lets the fake API list newest-first
	// without sorting 100k objects.
	userSeq []*User
	orgSeq  []*Organization
	memSeq  []*Membership

	orgMems  map[string][]*Membership // every membership of an org, creation order
	userMems map[string][]*Membership // every membership of a user, creation order
	members  map[memberKey]*Membership
	nMembers map[string]int64         // live memberships per organization
	slugs    map[string]*Organization // active organizations only

	activeUsers, activeOrgs, activeMems int

	lists listIndex
}

// New returns an empty instance whose whole future is determined by seed.
func New(seed uint64) *Model {
	m := &Model{
		// The second PCG word only has to differ from the first; a fixed
		// odd constant keeps seed 0 from being degenerate.
		rng:      rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)),
		now:      StartTime,
		users:    make(map[string]*User),
		orgs:     make(map[string]*Organization),
		mems:     make(map[string]*Membership),
		orgMems:  make(map[string][]*Membership),
		userMems: make(map[string][]*Membership),
		members:  make(map[memberKey]*Membership),
		nMembers: make(map[string]int64),
		slugs:    make(map[string]*Organization),
	}
	m.instanceID = m.newID("ins_")
	return m
}

// InstanceID is the ins_ id carried by every event envelope.
func (m *Model) InstanceID() string { return m.instanceID }

// SetUnsyncedRate makes Step emit, with probability p, an event of a type
// syncd does not sync (session.created) instead of a mutation. It is off by
// default so that histories of existing seeds do not change when the option
// is introduced elsewhere.
func (m *Model) SetUnsyncedRate(p float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unsyncedRate = p
}

// tick advances the clock; callers hold m.mu.
func (m *Model) tick() int64 {
	m.now += 1 + m.rng.Int64N(1000)
	return m.now
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ksuidEpoch is the KSUID epoch (2014-05-13). Clerk and Svix ids are KSUIDs:
// base62 of a 4-byte timestamp followed by 16 random bytes, which is why
// real ids start with "2" or "3" and sort roughly by age. The fake keeps both
// properties cheaply: the first 6 characters are the leading base62 digits
// of timestamp<<128 (scaled in float64, which is exact enough at this
// magnitude), the other 21 are random (about 125 bits, so collisions are not
// a practical concern).
const ksuidEpoch = 1_400_000_000

var ksuidScale = math.Ldexp(1, 128) / math.Pow(62, 21)

func (m *Model) newID(prefix string) string {
	var b [27]byte
	lead := uint64(float64(m.now/1000-ksuidEpoch) * ksuidScale)
	for i := 5; i >= 0; i-- {
		b[i] = base62[lead%62]
		lead /= 62
	}
	for i := 6; i < len(b); {
		r := m.rng.Uint64()
		// 62^10 < 2^64: ten characters per draw, with a bias far too small
		// to matter for ids.
		for j := 0; j < 10 && i < len(b); j++ {
			b[i] = base62[r%62]
			r /= 62
			i++
		}
	}
	return prefix + string(b[:])
}

func (m *Model) chance(p float64) bool { return m.rng.Float64() < p }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index drawn with probability proportional to its weight.
func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (m *Model) pickUser() *User             { return pickLive(m.rng, m.userSeq, m.activeUsers) }
func (m *Model) pickOrg() *Organization      { return pickLive(m.rng, m.orgSeq, m.activeOrgs) }
func (m *Model) pickMembership() *Membership { return pickLive(m.rng, m.memSeq, m.activeMems) }

// object is what users, organizations and memberships have in common in
// the model: an id, a tombstone flag rather than removal, and deep copies
// for callers. It lets one function serve the three kinds where only the
// type differs.
type object[T any] interface {
	*T
	objectID() string
	isDeleted() bool
	clone() T
}

func (u *User) objectID() string         { return u.ID }
func (u *User) isDeleted() bool          { return u.Deleted }
func (o *Organization) objectID() string { return o.ID }
func (o *Organization) isDeleted() bool  { return o.Deleted }
func (ms *Membership) objectID() string  { return ms.ID }
func (ms *Membership) isDeleted() bool   { return ms.Deleted }

// pickLive returns a random live object of seq, or nil when active (the
// number of live ones) is zero. Random probes are O(1) while most objects
// are alive; the scan fallback keeps it correct when almost everything is
// deleted.
func pickLive[T any, P object[T]](r *rand.Rand, seq []P, active int) P {
	if active == 0 || len(seq) == 0 {
		return nil
	}
	for range 32 {
		if p := seq[r.IntN(len(seq))]; !p.isDeleted() {
			return p
		}
	}
	start := r.IntN(len(seq))
	for i := range seq {
		if p := seq[(start+i)%len(seq)]; !p.isDeleted() {
			return p
		}
	}
	return nil
}

// liveIn returns the live object id of one kind, or ErrNotFound naming
// kind and id; callers hold m.mu.
func liveIn[T any, P object[T]](byID map[string]P, kind, id string) (P, error) {
	p, ok := byID[id]
	if !ok || p.isDeleted() {
		return nil, fmt.Errorf("%w: %s %s", ErrNotFound, kind, id)
	}
	return p, nil
}

// copiesByID returns a copy of every object of seq, tombstones included,
// sorted by id; callers hold m.mu.
func copiesByID[T any, P object[T]](seq []P) []T {
	sorted := slices.SortedFunc(slices.Values(seq), func(a, b P) int { return strings.Compare(a.objectID(), b.objectID()) })
	out := make([]T, len(sorted))
	for i, p := range sorted {
		out[i] = p.clone()
	}
	return out
}

// copyOf returns a copy of the object id, possibly a tombstone; callers
// hold m.mu.
func copyOf[T any, P object[T]](byID map[string]P, id string) (T, bool) {
	p, ok := byID[id]
	if !ok {
		var zero T
		return zero, false
	}
	return p.clone(), true
}

// wireJSON renders the object id, possibly a tombstone, as the Backend API
// does, or nil for an unknown id; callers hold m.mu.
func wireJSON[P any, W any](byID map[string]P, id string, wire func(P) W) []byte {
	p, ok := byID[id]
	if !ok {
		return nil
	}
	return mustJSON(wire(p))
}

// Users returns every user ever created, deleted ones included, sorted by id.
func (m *Model) Users() []User {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copiesByID(m.userSeq)
}

// Organizations returns every organization ever created, deleted ones
// included, sorted by id.
func (m *Model) Organizations() []Organization {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copiesByID(m.orgSeq)
}

// Memberships returns every membership ever created, deleted ones included,
// sorted by id.
func (m *Model) Memberships() []Membership {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copiesByID(m.memSeq)
}

// User returns one user (possibly a tombstone) by id.
func (m *Model) User(id string) (User, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copyOf(m.users, id)
}

// Organization returns one organization (possibly a tombstone) by id.
func (m *Model) Organization(id string) (Organization, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copyOf(m.orgs, id)
}

// Membership returns one membership (possibly a tombstone) by id.
func (m *Model) Membership(id string) (Membership, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copyOf(m.mems, id)
}

// Counts returns the number of live users, organizations and memberships.
func (m *Model) Counts() (users, orgs, memberships int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.activeUsers, m.activeOrgs, m.activeMems
}

// Accessors hand out deep copies so that a caller editing a returned value
// can never change the truth behind the model's lock.

func cloneStr(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return bytes.Clone(r)
}

func ptr[T any](v T) *T { return &v }

var emptyObject = json.RawMessage(`{}`)

// metadata encodes a generated metadata object. encoding/json sorts map keys,
// so the bytes are a pure function of the rng state.
func metadata(v map[string]any) json.RawMessage {
	if len(v) == 0 {
		return emptyObject
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("clerkfake: metadata: " + err.Error()) // only plain values are generated
	}
	return b
}

// orEmpty returns the metadata bytes or an empty object, because Clerk always
// sends an object and never null for the metadata the fake models.
func orEmpty(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return emptyObject
	}
	return r
}

// withLive is the shape of every public mutator of an existing object: under
// the model's lock, find the live object id (ErrNotFound for an unknown or
// deleted one) and change it.
func withLive[P any](m *Model, id string, live func(string) (P, error), change func(P) ([]Event, error)) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := live(id)
	if err != nil {
		return nil, err
	}
	return change(p)
}

// infallible adapts for withLive a change that cannot fail once its object
// is known to be live.
func infallible[P any](change func(P) []Event) func(P) ([]Event, error) {
	return func(p P) ([]Event, error) { return change(p), nil }
}
