package clerkfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Event types, spelled as Clerk sends them (note the camelCase membership
// prefix).
const (
	TypeUserCreated         = "user.created"
	TypeUserUpdated         = "user.updated"
	TypeUserDeleted         = "user.deleted"
	TypeOrganizationCreated = "organization.created"
	TypeOrganizationUpdated = "organization.updated"
	TypeOrganizationDeleted = "organization.deleted"
	TypeMembershipCreated   = "organizationMembership.created"
	TypeMembershipUpdated   = "organizationMembership.updated"
	TypeMembershipDeleted   = "organizationMembership.deleted"

	// TypeSessionCreated is a real Clerk event that syncd does not sync; the
	// model emits it so callers can test that such events are stored and
	// skipped.
	TypeSessionCreated = "session.created"
)

// SyncedTypes lists the event types syncd applies, in a stable order.
func SyncedTypes() []string {
	return []string{
		TypeUserCreated, TypeUserUpdated, TypeUserDeleted,
		TypeOrganizationCreated, TypeOrganizationUpdated, TypeOrganizationDeleted,
		TypeMembershipCreated, TypeMembershipUpdated, TypeMembershipDeleted,
	}
}

// Event is one webhook message as Svix would deliver it.
type Event struct {
	// ID is the svix-id (msg_...): unique per message and the same on every
	// redelivery, which is why it is syncd's dedup key.
	ID string
	// Type is the envelope type, e.g. "user.created".
	Type string
	// Timestamp is the envelope timestamp in Unix ms: data.updated_at for
	// created/updated events, the deletion time for deleted events.
	Timestamp int64
	// ObjectID is data.id.
	ObjectID string
	// Body is the exact JSON body Clerk posts; sign and send these bytes
	// unchanged.
	Body []byte
}

// Synced reports whether syncd applies events of this type.
func (e Event) Synced() bool { return slices.Contains(SyncedTypes(), e.Type) }

type httpRequestJSON struct {
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
}

type eventAttributesJSON struct {
	HTTPRequest httpRequestJSON `json:"http_request"`
}

type envelopeJSON struct {
	Data            any                 `json:"data"`
	Object          string              `json:"object"`
	Type            string              `json:"type"`
	Timestamp       int64               `json:"timestamp"`
	InstanceID      string              `json:"instance_id"`
	EventAttributes eventAttributesJSON `json:"event_attributes"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the package's own wire structs are marshalled here.
		panic(fmt.Sprintf("clerkfake: encoding %T: %v", v, err))
	}
	return b
}

// clientIP draws from the documentation ranges (RFC 5737, RFC 3849) so the
// addresses look real in logs yet belong to nobody.
func (m *Model) clientIP() string {
	switch m.rng.IntN(4) {
	case 0:
		return "192.0.2." + strconv.Itoa(1+m.rng.IntN(254))
	case 1:
		return "198.51.100." + strconv.Itoa(1+m.rng.IntN(254))
	case 2:
		return "203.0.113." + strconv.Itoa(1+m.rng.IntN(254))
	default:
		return fmt.Sprintf("2001:db8::%x", 1+m.rng.IntN(0xfffe))
	}
}

func (m *Model) event(typ string, ts int64, objectID string, data any) Event {
	attrs := eventAttributesJSON{}
	// System-initiated changes (cascades, background jobs) carry empty
	// request attributes in Clerk; keep a few so decoders cope.
	if !m.chance(0.05) {
		attrs.HTTPRequest = httpRequestJSON{ClientIP: m.clientIP(), UserAgent: pick(m.rng, userAgents)}
	}
	body := mustJSON(envelopeJSON{
		Data: data, Object: "event", Type: typ, Timestamp: ts,
		InstanceID: m.instanceID, EventAttributes: attrs,
	})
	return Event{ID: m.newID("msg_"), Type: typ, Timestamp: ts, ObjectID: objectID, Body: body}
}

type sessionJSON struct {
	Object                   string  `json:"object"`
	ID                       string  `json:"id"`
	ClientID                 string  `json:"client_id"`
	UserID                   string  `json:"user_id"`
	Status                   string  `json:"status"`
	LastActiveOrganizationID *string `json:"last_active_organization_id"`
	Actor                    *string `json:"actor"`
	LastActiveAt             int64   `json:"last_active_at"`
	ExpireAt                 int64   `json:"expire_at"`
	AbandonAt                int64   `json:"abandon_at"`
	CreatedAt                int64   `json:"created_at"`
	UpdatedAt                int64   `json:"updated_at"`
}

// sessionCreated emits a session.created event for a live user. It changes
// no truth (a real sign-in would also produce a user.updated, which
// UpdateUser models), so histories that include it still replay to the same
// state.
func (m *Model) sessionCreated(u *User) Event {
	now := m.tick()
	const day = 24 * 60 * 60 * 1000
	s := sessionJSON{
		Object: "session", ID: m.newID("sess_"), ClientID: m.newID("client_"), UserID: u.ID,
		Status: "active", LastActiveAt: now, ExpireAt: now + 7*day, AbandonAt: now + 30*day,
		CreatedAt: now, UpdatedAt: now,
	}
	return m.event(TypeSessionCreated, now, s.ID, s)
}
