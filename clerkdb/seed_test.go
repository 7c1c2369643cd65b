package clerkdb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncd/syncd/clerkdb"
)

// The tests write rows the way syncd leaves them (the same columns),
// straight into the real tables: clerkdb only reads, and what it must get
// right is how it reads what is there.

type execer interface {
	clerkdb.Querier
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mustExec runs sql, failing tb; a nil tb (an Example) panics instead.
func mustExec(tb testing.TB, db execer, sql string, args ...any) {
	rows, err := db.Query(context.Background(), sql, args...)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	if err == nil {
		return
	}
	if tb == nil {
		panic(fmt.Sprintf("%s: %v", sql, err))
	}
	tb.Helper()
	tb.Fatalf("%s: %v", sql, err)
}

type userRow struct {
	id, first, last string
	emails          []string // the first is primary
	deleted         bool
}

func insertUser(tb testing.TB, db execer, u userRow) {
	var primary *string
	if len(u.emails) > 0 {
		primary = &u.emails[0]
	}
	var deletedAt *time.Time
	if u.deleted {
		deletedAt = &t0
	}
	mustExec(tb, db, `INSERT INTO clerk.users (id, first_name, last_name, primary_email_address,
        public_metadata, private_metadata, unsafe_metadata, banned, locked, created_at, updated_at, deleted_at)
        VALUES ($1, $2, $3, $4, '{}', '{}', '{}', false, false, $5, $5, $6)`,
		u.id, u.first, u.last, primary, t0, deletedAt)
	for i, e := range u.emails {
		mustExec(tb, db, `INSERT INTO clerk.user_email_addresses (id, user_id, email_address, verified, is_primary)
            VALUES ($1, $2, $3, true, $4)`, u.id+"_idn"+string(rune('a'+i)), u.id, e, i == 0)
	}
}

func insertOrg(tb testing.TB, db execer, id, name, slug string, deleted bool) {
	var deletedAt *time.Time
	if deleted {
		deletedAt = &t0
	}
	mustExec(tb, db, `INSERT INTO clerk.organizations (id, name, slug, public_metadata, private_metadata,
        created_at, updated_at, deleted_at) VALUES ($1, $2, $3, '{}', '{}', $4, $4, $5)`,
		id, name, slug, t0, deletedAt)
}

func insertMembership(tb testing.TB, db execer, id, orgID, userID, role string, perms []string, deleted bool) {
	var deletedAt *time.Time
	if deleted {
		deletedAt = &t0
	}
	mustExec(tb, db, `INSERT INTO clerk.organization_memberships (id, organization_id, user_id, role, permissions,
        public_metadata, private_metadata, created_at, updated_at, deleted_at)
        VALUES ($1, $2, $3, $4, $5, '{}', '{}', $6, $6, $7)`,
		id, orgID, userID, role, perms, t0, deletedAt)
}
