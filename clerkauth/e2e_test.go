package clerkauth_test

import (
	"testing"
	"time"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

// The promise of the synced tables: a change made in Clerk reaches every
// service's decision within a second of syncd receiving the webhook, while
// the caller's session token is still valid. Each change goes through a real
// `syncd serve`, as a signed Svix delivery; the authorizer runs with and
// without its cache.
func TestWebhookAppliedBySyncdFlipsTheAnswer(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{0, 500 * time.Millisecond} {
		t.Run("cache="+ttl.String(), func(t *testing.T) {
			t.Parallel()
			pool, url := testdb.New(t)
			syncd := syncdtest.Start(t, url)

			m := clerkfake.New(11)
			admin, evs := m.CreateUser()
			member, more := m.CreateUser()
			evs = append(evs, more...)
			org, more, err := m.CreateOrganization(admin.ID) // admin becomes org:admin
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, more...)
			other, more, _ := m.CreateOrganization(admin.ID)
			evs = append(evs, more...)
			ms, more, err := m.CreateMembership(org.ID, member.ID)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, more...)
			// The member is made an admin, so the role change below is a
			// demotion whatever role the model drew.
			more, _ = m.EditMembership(ms.ID, func(x *clerkfake.Membership) { x.Role = "org:admin" })
			evs = append(evs, more...)
			syncd.Deliver(t, evs...)
			syncdtest.WaitApplied(t, syncdtest.Pending(pool), 10*time.Second)

			in := newInstance(t)
			a, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			h := router(in.verifier, a)
			// Tokens valid for the whole test, naming the organization as
			// active with admin rights: only the tables can take access away.
			tok := func(u clerkfake.User, o clerkfake.Organization) string {
				return in.token(t, clerkfake.SessionToken{UserID: u.ID, OrgID: o.ID, OrgRole: "org:admin", Lifetime: time.Hour})
			}
			memberTok, adminTok, otherTok := tok(member, org), tok(admin, org), tok(admin, other)
			// refusedAfter delivers a change made in Clerk (evs, or the
			// error making it) through syncd and waits until GET path
			// with token answers 403, within a second.
			refusedAfter := func(evs []clerkfake.Event, err error, path, token string) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				syncd.Deliver(t, evs...)
				waitStatus(t, h, path, token, 403, time.Now(), time.Second)
			}
			for _, c := range []struct{ path, token string }{
				{"/orgs/" + org.ID + "/settings", memberTok},
				{"/orgs/" + org.ID + "/members", memberTok},
				{"/orgs/" + other.ID + "/members", otherTok},
			} {
				if res := get(t, h, c.path, c.token); res.Status != 200 {
					t.Fatalf("before any change, GET %s: %d %s", c.path, res.Status, res.Body)
				}
			}

			// A role changed: the demoted member loses the settings page.
			evs, err = m.EditMembership(ms.ID, func(x *clerkfake.Membership) { x.Role = "org:member" })
			refusedAfter(evs, err, "/orgs/"+org.ID+"/settings", memberTok)
			if res := get(t, h, "/orgs/"+org.ID+"/members", memberTok); res.Status != 200 {
				t.Fatalf("still a member after the demotion: %d %s", res.Status, res.Body)
			}

			// A membership deleted: the member loses the organization.
			evs, err = m.DeleteMembership(ms.ID)
			refusedAfter(evs, err, "/orgs/"+org.ID+"/members", memberTok)

			// An organization deleted: even its admin is refused.
			if res := get(t, h, "/orgs/"+other.ID+"/members", otherTok); res.Status != 200 {
				t.Fatalf("before the deletion: %d", res.Status)
			}
			evs, err = m.DeleteOrganization(other.ID)
			refusedAfter(evs, err, "/orgs/"+other.ID+"/members", otherTok)
			if res := get(t, h, "/orgs/"+org.ID+"/settings", adminTok); res.Status != 200 {
				t.Fatalf("the admin of the surviving organization: %d %s", res.Status, res.Body)
			}
		})
	}
}
