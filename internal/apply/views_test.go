package apply_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/syncd/syncd/internal/testdb"
)

// The query a product team runs against the views: the members of an
// organization, with their emails and roles.
func TestActiveMembershipsListsMembersWithEmailsAndRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)
	engines := org("org_1", t0, "Analytical Engines") // the snapshot every org_1 membership carries
	applyAll(t, pool,
		ev("user.created", t0, user("user_ada", t0, "Ada", "ada@example.com")),
		ev("user.created", t0, user("user_grace", t0, "Grace", "grace@example.com")),
		ev("user.created", t0, user("user_gone", t0, "Gone", "gone@example.com")),
		ev("organization.created", t0, org("org_1", t0, "Analytical Engines")),
		ev("organizationMembership.created", t0+10, membership("orgmem_ada", "org_1", "user_ada", t0+10, "org:admin", engines)),
		ev("organizationMembership.created", t0+10, membership("orgmem_grace", "org_1", "user_grace", t0+10, "org:member", engines)),
		ev("organizationMembership.created", t0+10, membership("orgmem_gone", "org_1", "user_gone", t0+10, "org:member", engines)),
		// A member whose user has not arrived yet is listed, without an email.
		ev("organizationMembership.created", t0+10, membership("orgmem_late", "org_1", "user_late", t0+10, "org:member", engines)),
		// Another organization's member is not.
		ev("organizationMembership.created", t0+10, membership("orgmem_other", "org_2", "user_ada", t0+10, "org:member", org("org_2", t0, "Other"))),
		ev("user.deleted", t0+20, deleted("user", "user_gone")),
	)
	rows, err := pool.Query(ctx, `SELECT * FROM clerk.active_memberships WHERE organization_id = $1 ORDER BY id`, "org_1")
	if err != nil {
		t.Fatal(err)
	}
	type member struct {
		ID, UserID, Role, OrgName string
		Email                     *string
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (member, error) {
		m, err := pgx.RowToMap(r)
		if err != nil {
			return member{}, err
		}
		var out member
		out.ID, out.UserID, out.Role = m["id"].(string), m["user_id"].(string), m["role"].(string)
		out.OrgName, _ = m["organization_name"].(string)
		if e, ok := m["user_primary_email_address"].(string); ok {
			out.Email = &e
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, user, role, email string }{
		{"orgmem_ada", "user_ada", "org:admin", "ada@example.com"},
		{"orgmem_grace", "user_grace", "org:member", "grace@example.com"},
		{"orgmem_late", "user_late", "org:member", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("active_memberships of org_1: %+v, want %d members", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.UserID != w.user || g.Role != w.role || deref(g.Email) != w.email || g.OrgName != "Analytical Engines" {
			t.Errorf("member %d: %+v (email %q), want %+v", i, g, deref(g.Email), w)
		}
	}
	var users, orgs int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM clerk.active_users), (SELECT count(*) FROM clerk.active_organizations)`).Scan(&users, &orgs); err != nil {
		t.Fatal(err)
	}
	if users != 2 || orgs != 2 {
		t.Fatalf("active_users %d (want 2: the deleted one is gone), active_organizations %d (want 2)", users, orgs)
	}
}
