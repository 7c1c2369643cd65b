package clerkdb_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncd/syncd/clerkdb"
)

// May this user see this organization's page? One query answers it from the
// synced tables, so a removed member is refused as soon as syncd applies the
// webhook, whatever their session token still says.
func ExampleReader_Membership() {
	ctx := context.Background()
	insertUser(nil, examplePool, userRow{id: "user_ex1", first: "Grace", emails: []string{"grace@example.com"}})
	insertOrg(nil, examplePool, "org_ex1", "Acme", "acme", false)
	insertMembership(nil, examplePool, "orgmem_ex1", "org_ex1", "user_ex1", "org:admin",
		[]string{"org:sys_memberships:manage", "org:sys_memberships:read"}, false)

	db := clerkdb.New(examplePool) // a *pgxpool.Pool, *pgx.Conn or pgx.Tx
	m, err := db.Membership(ctx, "org_ex1", "user_ex1")
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Role, m.Permissions, *m.OrganizationSlug)

	// The membership is removed in Clerk and syncd applies the webhook.
	mustExec(nil, examplePool, `UPDATE clerk.organization_memberships SET deleted_at = now() WHERE id = 'orgmem_ex1'`)
	_, err = db.Membership(ctx, "org_ex1", "user_ex1")
	fmt.Println(errors.Is(err, clerkdb.ErrNotFound))
	// Output:
	// org:admin [org:sys_memberships:manage org:sys_memberships:read] acme
	// true
}

// Any of a user's addresses finds them, in any letter case.
func ExampleReader_UsersByEmail() {
	ctx := context.Background()
	insertUser(nil, examplePool, userRow{id: "user_ex2", first: "Alan", last: "Turing",
		emails: []string{"alan@example.com", "A.Turing@Work.example"}})

	users, err := clerkdb.New(examplePool).UsersByEmail(ctx, "a.turing@work.EXAMPLE")
	if err != nil {
		panic(err)
	}
	for _, u := range users {
		fmt.Println(u.ID, *u.FirstName, *u.PrimaryEmailAddress, len(u.EmailAddresses))
	}
	// Output:
	// user_ex2 Alan alan@example.com 2
}

// Page through an organization's active members with the cursor each page
// returns.
func ExampleReader_OrganizationMembers() {
	ctx := context.Background()
	insertOrg(nil, examplePool, "org_ex3", "Initech", "initech", false)
	for i, id := range []string{"user_ex3a", "user_ex3b", "user_ex3c"} {
		insertUser(nil, examplePool, userRow{id: id, emails: []string{id + "@example.com"}})
		insertMembership(nil, examplePool, fmt.Sprintf("orgmem_ex3%d", i), "org_ex3", id, "org:member", nil, false)
	}
	db := clerkdb.New(examplePool)
	p := clerkdb.Page{Limit: 2}
	for {
		page, err := db.OrganizationMembers(ctx, "org_ex3", p)
		if err != nil {
			panic(err)
		}
		for _, m := range page.Members {
			fmt.Println(m.UserID, m.Role, *m.UserPrimaryEmailAddress)
		}
		if page.Next == "" {
			break
		}
		p.After = page.Next
	}
	// Output:
	// user_ex3a org:member user_ex3a@example.com
	// user_ex3b org:member user_ex3b@example.com
	// user_ex3c org:member user_ex3c@example.com
}

// How fresh is the copy? Nil times mean "never yet".
func ExampleReader_SyncStatus() {
	s, err := clerkdb.New(examplePool).SyncStatus(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(s.LastAppliedAt == nil, s.LastReconciledAt == nil)
	// Output: true true
}
