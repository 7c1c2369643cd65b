package clerkfake

import (
	"bytes"
	"encoding/json"
	"errors"
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

// pickActive returns a random live element of seq. Random probes are O(1)
// while most objects are alive; the scan fallback keeps it correct when
// almost everything is deleted.
func pickActive[T any](r *rand.Rand, seq []T, alive func(T) bool) (T, bool) {
	var zero T
	if len(seq) == 0 {
		return zero, false
	}
	for range 32 {
		if x := seq[r.IntN(len(seq))]; alive(x) {
			return x, true
		}
	}
	start := r.IntN(len(seq))
	for i := range seq {
		if x := seq[(start+i)%len(seq)]; alive(x) {
			return x, true
		}
	}
	return zero, false
}

func (m *Model) pickUser() *User {
	if m.activeUsers == 0 {
		return nil
	}
	u, _ := pickActive(m.rng, m.userSeq, func(u *User) bool { return !u.Deleted })
	return u
}

func (m *Model) pickOrg() *Organization {
	if m.activeOrgs == 0 {
		return nil
	}
	o, _ := pickActive(m.rng, m.orgSeq, func(o *Organization) bool { return !o.Deleted })
	return o
}

func (m *Model) pickMembership() *Membership {
	if m.activeMems == 0 {
		return nil
	}
	ms, _ := pickActive(m.rng, m.memSeq, func(ms *Membership) bool { return !ms.Deleted })
	return ms
}

// Users returns every user ever created, deleted ones included, sorted by id.
func (m *Model) Users() []User {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]User, 0, len(m.userSeq))
	for _, u := range m.userSeq {
		out = append(out, u.clone())
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Organizations returns every organization ever created, deleted ones
// included, sorted by id.
func (m *Model) Organizations() []Organization {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Organization, 0, len(m.orgSeq))
	for _, o := range m.orgSeq {
		out = append(out, o.clone())
	}
	slices.SortFunc(out, func(a, b Organization) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Memberships returns every membership ever created, deleted ones included,
// sorted by id.
func (m *Model) Memberships() []Membership {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Membership, 0, len(m.memSeq))
	for _, ms := range m.memSeq {
		out = append(out, ms.clone())
	}
	slices.SortFunc(out, func(a, b Membership) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// User returns one user (possibly a tombstone) by id.
func (m *Model) User(id string) (User, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return User{}, false
	}
	return u.clone(), true
}

// Organization returns one organization (possibly a tombstone) by id.
func (m *Model) Organization(id string) (Organization, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orgs[id]
	if !ok {
		return Organization{}, false
	}
	return o.clone(), true
}

// Membership returns one membership (possibly a tombstone) by id.
func (m *Model) Membership(id string) (Membership, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.mems[id]
	if !ok {
		return Membership{}, false
	}
	return ms.clone(), true
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
