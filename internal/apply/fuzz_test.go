package apply_test

// Fuzz targets for the payload parsers, one per payload: user,
// organization, organization membership, deleted object. Seed corpora live
// in testdata/fuzz/<Target>/, written from clerkfake events by
// TestFuzzCorpus (fuzzcorpus_test.go); `go test` runs them as unit tests,
// scripts/fuzz.sh (make fuzz, make fuzz-short) fuzzes from them.
//
// Every target checks: no panic; a refusal wraps ErrInvalidPayload (so the
// job is failed at once, never retried); the parse is deterministic and
// leaves its input alone; an accepted object has an id and a positive
// version that is exactly the payload's updated_at and lies in 1970..9999
// (what Go and Postgres both represent, so it is never stored wrapped).

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/pgjson"
	"github.com/syncd/syncd/internal/store"
)

// maxMillis is the last millisecond of the year 9999.
const maxMillis int64 = 253402300799999

// oddSeeds are shapes no clerkfake event has.
var oddSeeds = []string{
	`{"id":"","updated_at":1}`, `{"id":"x","updated_at":-1}`, `{"id":1}`, `[]`, `null`, ``, `{`, ` {"id":"x"} `,
	`{"id":"x","updated_at":1e30}`, `{"id":"x","updated_at":9223372036854775807}`, `{"id":"x","updated_at":9e18}`,
	`{"id":"x","updated_at":2,"created_at":-9223372036854775808}`, `{"id":"x","updated_at":2,"public_metadata":null}`,
	`{"id":"x","updated_at":2,"updated_at":0}`, `{"id":"x","updated_at":2,"object":"deleted"}`,
	`{"id":"x","updated_at":2,"unsafe_metadata":{"a":"\u0000"}}`,
	`{"id":"` + strings.Repeat("x", 5000) + `","updated_at":2}`,
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range append(seeds, oddSeeds...) {
		f.Add([]byte(s))
	}
}

// parsed runs parse twice on a private copy of raw and checks the common
// properties; it returns the first result and whether it was accepted.
func parsed[T any](t *testing.T, kind string, raw []byte, parse func([]byte) (T, error)) (T, bool) {
	t.Helper()
	in := bytes.Clone(raw)
	v, err := parse(in)
	if !bytes.Equal(in, raw) {
		t.Fatalf("%s: the parser changed its input", kind)
	}
	w, err2 := parse(bytes.Clone(raw))
	if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || !reflect.DeepEqual(v, w) {
		t.Fatalf("%s: not deterministic: %+v, %v then %+v, %v", kind, v, err, w, err2)
	}
	if err != nil {
		if !errors.Is(err, apply.ErrInvalidPayload) {
			t.Fatalf("%s: error %v does not wrap ErrInvalidPayload", kind, err)
		}
		return v, false
	}
	return v, true
}

// checkVersion: an accepted object's id is set and its version is exactly
// the payload's updated_at, positive and no later than 9999.
func checkVersion(t *testing.T, kind, id string, updatedAt time.Time, raw []byte) {
	t.Helper()
	if id == "" {
		t.Fatalf("%s: accepted without an id", kind)
	}
	var j struct {
		UpdatedAt int64 `json:"updated_at"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(raw), &j); err != nil {
		t.Fatalf("%s %s: accepted, but updated_at does not decode: %v", kind, id, err)
	}
	ms := updatedAt.UnixMilli()
	if ms <= 0 || ms > maxMillis {
		t.Fatalf("%s %s: accepted a version outside 1970..9999: %s", kind, id, updatedAt)
	}
	if ms != j.UpdatedAt {
		t.Fatalf("%s %s: version %d ms, the payload says %d", kind, id, ms, j.UpdatedAt)
	}
}

// checkAccepted checks what every accepted object holds: its id and
// version (checkVersion), a created_at in range, and as Raw the payload made
// storable.
func checkAccepted(t *testing.T, kind, id string, updatedAt, createdAt time.Time, got, raw []byte) {
	t.Helper()
	checkVersion(t, kind, id, updatedAt, raw)
	checkTime(t, kind, id, "created_at", createdAt)
	if !bytes.Equal(got, storable(t, raw)) {
		t.Fatalf("%s %s: raw is not the payload made storable", kind, id)
	}
}

// checkTime: a stored timestamp other than the version is zero or in
// 1970..9999.
func checkTime(t *testing.T, kind, id, field string, at time.Time) {
	t.Helper()
	if ms := at.UnixMilli(); ms < 0 || ms > maxMillis {
		t.Fatalf("%s %s: accepted %s outside 1970..9999: %s", kind, id, field, at)
	}
}

func FuzzParseUser(f *testing.F) {
	addSeeds(f,
		`{"id":"user_1","object":"user","first_name":"Ada","primary_email_address_id":"idn_1","email_addresses":[{"id":"idn_1","email_address":"ada@example.com","verification":{"status":"verified"}}],"public_metadata":{"a":1},"created_at":1,"updated_at":2}`,
		`{"id":"user_1","object":"user","email_addresses":[{"id":"idn_1"},{"id":"idn_1"}],"updated_at":2}`,
		`{"id":"user_1","object":"user","email_addresses":[{"id":"idn_1"},{"id":""}],"updated_at":2,"last_sign_in_at":-1}`,
		`{"id":"user_1","object":"user","primary_email_address_id":"idn_9","email_addresses":[{"id":"idn_1"}],"updated_at":2}`,
	)
	f.Fuzz(func(t *testing.T, raw []byte) {
		u, ok := parsed(t, "user", raw, apply.ParseUser)
		if !ok {
			return
		}
		checkAccepted(t, "user", u.ID, u.UpdatedAt, u.CreatedAt, u.Raw, raw)
		if u.LastSignInAt != nil {
			checkTime(t, "user", u.ID, "last_sign_in_at", *u.LastSignInAt)
		}
		seen := map[string]bool{}
		primaries := 0
		for _, e := range u.EmailAddresses {
			if e.ID == "" || seen[e.ID] {
				t.Fatalf("user %s: email address id %q empty or repeated", u.ID, e.ID)
			}
			seen[e.ID] = true
			if e.IsPrimary {
				primaries++
				if u.PrimaryEmailAddress == nil || *u.PrimaryEmailAddress != e.EmailAddress {
					t.Fatalf("user %s: primary address %s is not primary_email_address %v", u.ID, e.ID, u.PrimaryEmailAddress)
				}
			}
		}
		if primaries > 1 || (primaries == 1) != (u.PrimaryEmailAddress != nil) {
			t.Fatalf("user %s: %d primary addresses, primary_email_address %v", u.ID, primaries, u.PrimaryEmailAddress)
		}
	})
}

func FuzzParseOrganization(f *testing.F) {
	addSeeds(f,
		`{"id":"org_1","object":"organization","name":"Engines","slug":"engines","max_allowed_memberships":5,"created_by":"","updated_at":3}`,
		`{"id":"org_1","object":"organization_membership","updated_at":3}`,
	)
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, ok := parsed(t, "organization", raw, apply.ParseOrganization)
		if !ok {
			return
		}
		checkAccepted(t, "organization", o.ID, o.UpdatedAt, o.CreatedAt, o.Raw, raw)
		if o.CreatedBy != nil && *o.CreatedBy == "" {
			t.Fatalf("organization %s: created_by is an empty string, not NULL", o.ID)
		}
	})
}

// parsedMembership is ParseMembership's two results as one, for parsed.
type parsedMembership struct {
	m   store.Membership
	org *store.Organization
}

func FuzzParseMembership(f *testing.F) {
	addSeeds(f,
		`{"id":"orgmem_1","object":"organization_membership","role":"org:admin","permissions":["a"],"organization":{"id":"org_1","updated_at":3},"public_user_data":{"user_id":"user_1"},"updated_at":4}`,
		`{"id":"orgmem_1","organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"},"updated_at":4}`,
		`{"id":"orgmem_1","organization":{"id":"org_1","updated_at":-3},"public_user_data":{"user_id":"user_1"},"updated_at":4}`,
		`{"id":"orgmem_1","organization":{"id":"org_1","updated_at":9223372036854775807},"public_user_data":{"user_id":"user_1"},"updated_at":4}`,
		`{"id":"orgmem_1","organization":null,"public_user_data":{},"updated_at":4}`,
	)
	f.Fuzz(func(t *testing.T, raw []byte) {
		both, ok := parsed(t, "organization membership", raw, func(b []byte) (parsedMembership, error) {
			m, org, err := apply.ParseMembership(b)
			return parsedMembership{m, org}, err
		})
		if !ok {
			return
		}
		m, org := both.m, both.org
		checkAccepted(t, "organization membership", m.ID, m.UpdatedAt, m.CreatedAt, m.Raw, raw)
		if m.OrganizationID == "" || m.UserID == "" {
			t.Fatalf("organization membership %s without its organization or user", m.ID)
		}
		if org != nil {
			if org.ID != m.OrganizationID {
				t.Fatalf("organization membership %s: snapshot of %s, membership of %s", m.ID, org.ID, m.OrganizationID)
			}
			if ms := org.UpdatedAt.UnixMilli(); ms <= 0 || ms > maxMillis {
				t.Fatalf("organization membership %s: snapshot version outside 1970..9999: %s", m.ID, org.UpdatedAt)
			}
		}
	})
}

// FuzzParseDeleted: the payload of user.deleted and organization.deleted
// carries no version (the event's timestamp is the deletion's), so an
// accepted one has an id and names no other kind of object.
func FuzzParseDeleted(f *testing.F) {
	addSeeds(f,
		`{"object":"user","id":"user_1","deleted":true}`,
		`{"object":"organization","id":"org_1","slug":"acme","deleted":true}`,
		`{"object":"organization","id":"org_1","deleted":false}`,
		`{"id":"user_1"}`,
	)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, kind := range []string{"user", "organization"} {
			d, ok := parsed(t, "deleted "+kind, raw, func(b []byte) (apply.Deleted, error) { return apply.ParseDeleted(kind, b) })
			if !ok {
				continue
			}
			if d.ID == "" {
				t.Fatalf("deleted %s: accepted without an id", kind)
			}
			if d.Object != "" && d.Object != kind {
				t.Fatalf("deleted %s %s: accepted an object %q", kind, d.ID, d.Object)
			}
		}
	})
}

// storable is what the parsers keep as Raw: the payload with what jsonb
// refuses replaced (pgjson.Storable).
func storable(t *testing.T, raw []byte) []byte {
	t.Helper()
	out, err := pgjson.Storable(raw)
	if err != nil {
		t.Fatalf("an accepted payload was not storable: %v", err)
	}
	return out
}
