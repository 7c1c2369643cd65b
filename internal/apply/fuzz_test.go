package apply_test

import (
	"errors"
	"testing"

	"github.com/syncd/syncd/internal/apply"
)

// FuzzParsers: the payload parsers never panic, and whatever they accept
// carries what the sync rules need (an id and a version).
func FuzzParsers(f *testing.F) {
	for _, seed := range []string{
		`{"id":"user_1","object":"user","first_name":"Ada","primary_email_address_id":"idn_1","email_addresses":[{"id":"idn_1","email_address":"ada@example.com","verification":{"status":"verified"}}],"public_metadata":{"a":1},"created_at":1,"updated_at":2}`,
		`{"id":"user_1","object":"user","email_addresses":[{"id":"idn_1"},{"id":"idn_1"}],"updated_at":2}`,
		`{"id":"org_1","object":"organization","name":"Engines","slug":"engines","max_allowed_memberships":5,"updated_at":3}`,
		`{"id":"orgmem_1","object":"organization_membership","role":"org:admin","permissions":["a"],"organization":{"id":"org_1","updated_at":3},"public_user_data":{"user_id":"user_1"},"updated_at":4}`,
		`{"id":"orgmem_1","organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"},"updated_at":4}`,
		`{"object":"user","id":"user_1","deleted":true}`,
		`{"id":"","updated_at":1}`, `{"id":"x","updated_at":-1}`, `{"id":1}`, `[]`, `null`, ``, `{`,
		`{"id":"user_1","updated_at":1e30}`, `{"id":"user_1","updated_at":2,"public_metadata":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(kind, id string, versioned bool, err error) {
			if err != nil {
				if !errors.Is(err, apply.ErrInvalidPayload) {
					t.Fatalf("%s: error %v does not wrap ErrInvalidPayload", kind, err)
				}
				return
			}
			if id == "" {
				t.Fatalf("%s: accepted without an id", kind)
			}
			if !versioned {
				t.Fatalf("%s %s: accepted without a version", kind, id)
			}
		}
		u, err := apply.ParseUser(raw)
		check("user", u.ID, u.UpdatedAt.UnixMilli() > 0, err)
		if err == nil {
			primaries := 0
			for _, e := range u.EmailAddresses {
				if e.IsPrimary {
					primaries++
				}
			}
			if primaries > 1 || (primaries == 1) != (u.PrimaryEmailAddress != nil) {
				t.Fatalf("user %s: %d primary addresses, primary_email_address %v", u.ID, primaries, u.PrimaryEmailAddress)
			}
		}
		o, err := apply.ParseOrganization(raw)
		check("organization", o.ID, o.UpdatedAt.UnixMilli() > 0, err)
		m, org, err := apply.ParseMembership(raw)
		check("membership", m.ID, m.UpdatedAt.UnixMilli() > 0, err)
		if err == nil {
			if m.OrganizationID == "" || m.UserID == "" {
				t.Fatalf("membership %s without its organization or user", m.ID)
			}
			if org != nil && org.ID != m.OrganizationID {
				t.Fatalf("membership %s: snapshot of %s, membership of %s", m.ID, org.ID, m.OrganizationID)
			}
		}
		d, err := apply.ParseDeleted("user", raw)
		check("deleted user", d.ID, true, err)
	})
}
