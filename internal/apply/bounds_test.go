package apply_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/store"
)

// Timestamps are bounded while parsing: a value that is no Unix time in
// milliseconds between 1970 and 9999 is an invalid payload (so a worker fails
// it at once), never a wrapped 1969 nor a database error worth retrying.
func TestParsersBoundTimestamps(t *testing.T) {
	t.Parallel()
	const year3000 = "32503680000000"
	for _, c := range []struct {
		name  string
		json  string
		valid bool
	}{
		{"ordinary", `{"id":"user_1","object":"user","created_at":1750000000000,"updated_at":1750000000001}`, true},
		{"year 9999", `{"id":"user_1","created_at":1,"updated_at":253402300799999}`, true},
		{"year 3000 parses (rule 2 is the event's business)", `{"id":"user_1","updated_at":` + year3000 + `}`, true},
		{"last_sign_in_at zero is none", `{"id":"user_1","updated_at":2,"last_sign_in_at":0}`, true},
		{"updated_at 9e18", `{"id":"user_1","updated_at":9e18}`, false},
		{"updated_at 9000000000000000000", `{"id":"user_1","updated_at":9000000000000000000}`, false},
		{"updated_at MaxInt64", `{"id":"user_1","updated_at":9223372036854775807}`, false},
		{"updated_at beyond int64", `{"id":"user_1","updated_at":9223372036854775808}`, false},
		{"updated_at negative", `{"id":"user_1","updated_at":-1}`, false},
		{"updated_at year 10000", `{"id":"user_1","updated_at":253402300800000}`, false},
		{"updated_at fractional", `{"id":"user_1","updated_at":1.5}`, false},
		{"created_at MaxInt64", `{"id":"user_1","updated_at":2,"created_at":9223372036854775807}`, false},
		{"created_at negative", `{"id":"user_1","updated_at":2,"created_at":-86400000}`, false},
		{"last_sign_in_at MaxInt64", `{"id":"user_1","updated_at":2,"last_sign_in_at":9223372036854775807}`, false},
		{"last_sign_in_at negative", `{"id":"user_1","updated_at":2,"last_sign_in_at":-2}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := apply.ParseUser([]byte(c.json))
			checkBounded(t, "user", u.UpdatedAt, err, c.valid)
			org := strings.Replace(c.json, `"user_1"`, `"org_1"`, 1)
			org = strings.Replace(org, `"object":"user",`, ``, 1)
			o, err := apply.ParseOrganization([]byte(org))
			if !strings.Contains(c.name, "last_sign_in_at") { // users only
				checkBounded(t, "organization", o.UpdatedAt, err, c.valid)
			}
			mem := strings.Replace(org, `"org_1"`, `"orgmem_1","organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"}`, 1)
			m, _, err := apply.ParseMembership([]byte(mem))
			if !strings.Contains(c.name, "last_sign_in_at") {
				checkBounded(t, "membership", m.UpdatedAt, err, c.valid)
			}
			// The same value in the organization snapshot a membership carries.
			snap := `{"id":"orgmem_1","updated_at":2,"public_user_data":{"user_id":"user_1"},"organization":` + org + `}`
			_, so, err := apply.ParseMembership([]byte(snap))
			if !strings.Contains(c.name, "last_sign_in_at") {
				var v time.Time
				if so != nil {
					v = so.UpdatedAt
				}
				checkBounded(t, "snapshot", v, err, c.valid)
			}
		})
	}
}

func checkBounded(t *testing.T, kind string, version time.Time, err error, valid bool) {
	t.Helper()
	switch {
	case valid && err != nil:
		t.Errorf("%s: %v, want accepted", kind, err)
	case !valid && err == nil:
		t.Errorf("%s: accepted with version %s, want an invalid payload", kind, version)
	case !valid && !errors.Is(err, apply.ErrInvalidPayload):
		t.Errorf("%s: %v does not wrap ErrInvalidPayload (it would be retried)", kind, err)
	}
}

// Sync rule 2 at parse time: each version an event carries (the object's
// updated_at, a membership's organization snapshot, a deletion's envelope
// timestamp) may lie at most an hour after the event's received_at.
func TestParseRefusesVersionsAheadOfReceipt(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) int64 { return received.Add(d).UnixMilli() }
	user := func(v int64) string {
		return fmt.Sprintf(`{"data":{"id":"user_1","object":"user","created_at":1,"updated_at":%d}}`, v)
	}
	org := func(v int64) string {
		return fmt.Sprintf(`{"data":{"id":"org_1","object":"organization","updated_at":%d}}`, v)
	}
	mem := func(v, snap int64) string {
		return fmt.Sprintf(`{"data":{"id":"orgmem_1","updated_at":%d,"public_user_data":{"user_id":"user_1"},"organization":{"id":"org_1","updated_at":%d}}}`, v, snap)
	}
	for _, c := range []struct {
		name    string
		typ     string
		payload string
		occur   time.Duration // the envelope's timestamp, from received
		refused bool
	}{
		{"user now", apply.UserUpdated, user(ms(0)), 0, false},
		{"user an hour ahead", apply.UserUpdated, user(ms(time.Hour)), 0, false},
		{"user an hour and a millisecond ahead", apply.UserUpdated, user(ms(time.Hour + time.Millisecond)), 0, true},
		{"user a year old", apply.UserCreated, user(ms(-365 * 24 * time.Hour)), 0, false},
		{"organization in 3000", apply.OrganizationUpdated, org(32503680000000), 0, true},
		{"membership ahead", apply.OrganizationMembershipUpdated, mem(ms(2*time.Hour), ms(0)), 0, true},
		{"membership's snapshot ahead", apply.OrganizationMembershipCreated, mem(ms(0), ms(2*time.Hour)), 0, true},
		{"membership deletion ahead", apply.OrganizationMembershipDeleted, mem(ms(0), ms(0)), 2 * time.Hour, true},
		{"user deletion ahead", apply.UserDeleted, `{"data":{"id":"user_1","object":"user","deleted":true}}`, 2 * time.Hour, true},
		{"organization deletion now", apply.OrganizationDeleted, `{"data":{"id":"org_1","object":"organization","deleted":true}}`, 0, false},
		{"unsynced type is not checked", "email.created", `{"data":{"id":"ema_1","updated_at":32503680000000}}`, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := store.Event{ID: "msg_1", Type: c.typ, Payload: []byte(c.payload),
				OccurredAt: received.Add(c.occur), ReceivedAt: received}
			_, err := apply.Parse(ev)
			switch {
			case c.refused && (!errors.Is(err, apply.ErrFutureVersion) || !errors.Is(err, apply.ErrInvalidPayload)):
				t.Errorf("got %v, want an invalid payload for a version ahead of receipt", err)
			case c.refused && !strings.Contains(err.Error(), "2026-03-01T12:00:00Z"):
				t.Errorf("%v does not say when the event was received", err)
			case !c.refused && err != nil:
				t.Errorf("got %v, want accepted", err)
			}
		})
	}
}
