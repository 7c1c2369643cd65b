package clerkdb_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/clerkdb"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
	"github.com/syncd/syncd/migrations"
)

func newDB(t *testing.T) (*pgxpool.Pool, *clerkdb.Reader) {
	t.Helper()
	pool, _ := testdb.New(t)
	return pool, clerkdb.New(pool)
}

func TestDeletedUserIsNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newDB(t)
	insertUser(t, pool, userRow{id: "user_live", first: "Ada", emails: []string{"ada@example.com"}})
	insertUser(t, pool, userRow{id: "user_gone", first: "Bob", emails: []string{"bob@example.com"}, deleted: true})

	u, err := db.UserByID(ctx, "user_live")
	if err != nil || *u.FirstName != "Ada" || *u.PrimaryEmailAddress != "ada@example.com" ||
		len(u.EmailAddresses) != 1 || !u.EmailAddresses[0].IsPrimary {
		t.Fatalf("UserByID(user_live) = %+v, %v", u, err)
	}
	for _, id := range []string{"user_gone", "user_never"} {
		if _, err := db.UserByID(ctx, id); !errors.Is(err, clerkdb.ErrNotFound) {
			t.Errorf("UserByID(%s) error = %v, want ErrNotFound", id, err)
		}
	}
	users, err := db.UsersByEmail(ctx, "bob@example.com")
	if err != nil || len(users) != 0 {
		t.Errorf("UsersByEmail of a deleted user = %+v, %v; want none", users, err)
	}
}

func TestUsersByEmailMatchesAnyAddressInAnyCase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newDB(t)
	insertUser(t, pool, userRow{id: "user_a", emails: []string{"Ada@Example.com", "ada@work.example"}})
	insertUser(t, pool, userRow{id: "user_b", emails: []string{"b@example.com"}})
	insertUser(t, pool, userRow{id: "user_none"})

	for _, q := range []string{"ada@example.com", "ADA@WORK.EXAMPLE", "Ada@Example.com"} {
		users, err := db.UsersByEmail(ctx, q)
		if err != nil || len(users) != 1 || users[0].ID != "user_a" {
			t.Errorf("UsersByEmail(%q) = %+v, %v; want user_a", q, users, err)
		}
	}
	users, err := db.UsersByEmail(ctx, "nobody@example.com")
	if err != nil || users == nil || len(users) != 0 {
		t.Errorf("UsersByEmail(nobody) = %#v, %v; want an empty list", users, err)
	}
	u, err := db.UserByID(ctx, "user_none")
	if err != nil || u.PrimaryEmailAddress != nil || len(u.EmailAddresses) != 0 {
		t.Errorf("a user without addresses = %+v, %v", u, err)
	}
}

func TestOrganizationByIDAndSlugSkipDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newDB(t)
	insertOrg(t, pool, "org_old", "Old Acme", "acme", true)
	insertOrg(t, pool, "org_new", "Acme", "acme", false)

	o, err := db.OrganizationBySlug(ctx, "acme")
	if err != nil || o.ID != "org_new" || o.Name != "Acme" {
		t.Fatalf("OrganizationBySlug(acme) = %+v, %v; want the live org_new", o, err)
	}
	if o, err := db.OrganizationByID(ctx, "org_new"); err != nil || *o.Slug != "acme" {
		t.Errorf("OrganizationByID(org_new) = %+v, %v", o, err)
	}
	if _, err := db.OrganizationByID(ctx, "org_old"); !errors.Is(err, clerkdb.ErrNotFound) {
		t.Errorf("OrganizationByID of a deleted org: %v, want ErrNotFound", err)
	}
	if _, err := db.OrganizationBySlug(ctx, "nope"); !errors.Is(err, clerkdb.ErrNotFound) {
		t.Errorf("OrganizationBySlug(nope): %v, want ErrNotFound", err)
	}
}

func TestMembershipIsInactiveOnceAnythingItNeedsIsDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newDB(t)
	insertUser(t, pool, userRow{id: "user_1", emails: []string{"one@example.com"}})
	insertUser(t, pool, userRow{id: "user_2", emails: []string{"two@example.com"}, deleted: true})
	insertOrg(t, pool, "org_live", "Live", "live", false)
	insertOrg(t, pool, "org_dead", "Dead", "dead", true)
	insertMembership(t, pool, "orgmem_ok", "org_live", "user_1", "org:admin", []string{"org:sys_profile:manage"}, false)
	insertMembership(t, pool, "orgmem_removed", "org_live", "user_3", "org:member", nil, true)
	insertMembership(t, pool, "orgmem_deadorg", "org_dead", "user_1", "org:admin", nil, false)
	insertMembership(t, pool, "orgmem_deaduser", "org_live", "user_2", "org:member", nil, false)
	// Arrived before its organization and user: active, without their fields.
	insertMembership(t, pool, "orgmem_early", "org_later", "user_later", "org:member", nil, false)

	m, err := db.Membership(ctx, "org_live", "user_1")
	if err != nil || m.ID != "orgmem_ok" || m.Role != "org:admin" ||
		!slices.Equal(m.Permissions, []string{"org:sys_profile:manage"}) ||
		*m.OrganizationName != "Live" || *m.UserPrimaryEmailAddress != "one@example.com" {
		t.Fatalf("Membership(org_live, user_1) = %+v, %v", m, err)
	}
	for _, c := range [][2]string{{"org_live", "user_3"}, {"org_dead", "user_1"}, {"org_live", "user_2"}, {"org_live", "user_9"}} {
		if _, err := db.Membership(ctx, c[0], c[1]); !errors.Is(err, clerkdb.ErrNotFound) {
			t.Errorf("Membership(%s, %s): %v, want ErrNotFound", c[0], c[1], err)
		}
	}
	m, err = db.Membership(ctx, "org_later", "user_later")
	if err != nil || m.OrganizationName != nil || m.UserPrimaryEmailAddress != nil || m.Permissions == nil {
		t.Errorf("early membership = %+v, %v; want it active with nil parent fields and empty permissions", m, err)
	}
	ms, err := db.UserMemberships(ctx, "user_1")
	if err != nil || len(ms) != 1 || ms[0].OrganizationID != "org_live" {
		t.Errorf("UserMemberships(user_1) = %+v, %v; want only org_live", ms, err)
	}
	page, err := db.OrganizationMembers(ctx, "org_dead", clerkdb.Page{})
	if err != nil || len(page.Members) != 0 {
		t.Errorf("members of a deleted org = %+v, %v; want none", page, err)
	}
}

func TestOrganizationMembersPagesWithoutRepeatsOrSkips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newDB(t)
	insertOrg(t, pool, "org_p", "Paged", "paged", false)
	var want []string
	for i := range 7 {
		id := "orgmem_" + string(rune('a'+i))
		insertMembership(t, pool, id, "org_p", "user_"+string(rune('a'+i)), "org:member", nil, i == 3)
		if i != 3 {
			want = append(want, id)
		}
	}
	var got []string
	p := clerkdb.Page{Limit: 2}
	for pages := 0; ; pages++ {
		page, err := db.OrganizationMembers(ctx, "org_p", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Members {
			got = append(got, m.ID)
		}
		if page.Next == "" {
			break
		}
		if pages == 0 {
			// A member who joins and one who leaves between two pages.
			insertMembership(t, pool, "orgmem_z", "org_p", "user_z", "org:member", nil, false)
			mustExec(t, pool, `UPDATE clerk.organization_memberships SET deleted_at = now() WHERE id = 'orgmem_e'`)
			want = slices.DeleteFunc(want, func(s string) bool { return s == "orgmem_e" })
			want = append(want, "orgmem_z")
		}
		p.After = page.Next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged members %v, want %v", got, want)
	}
}

func TestReaderWorksInATransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := newDB(t)
	insertOrg(t, pool, "org_tx", "Tx", "tx", false)
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	db := clerkdb.New(tx)
	if _, err := db.OrganizationByID(ctx, "org_tx"); err != nil {
		t.Fatal(err)
	}
	// Deleted by syncd meanwhile: the transaction's snapshot still has it.
	mustExec(t, pool, `UPDATE clerk.organizations SET deleted_at = now() WHERE id = 'org_tx'`)
	if _, err := db.OrganizationByID(ctx, "org_tx"); err != nil {
		t.Fatalf("inside the snapshot: %v", err)
	}
	if _, err := clerkdb.New(pool).OrganizationByID(ctx, "org_tx"); !errors.Is(err, clerkdb.ErrNotFound) {
		t.Fatalf("outside: %v, want ErrNotFound", err)
	}
}

func TestSyncStatusReportsNewestAppliedEventAndLastSuccessfulRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, db := newDB(t)
	at := func(minute int) time.Time { return t0.Add(time.Duration(minute) * time.Minute) }
	mustExec(t, pool, `INSERT INTO clerk.webhook_events (id, type, payload, received_at, status, applied_at) VALUES
        ('msg_1', 'user.created', '{}', $1, 'applied', $2),
        ('msg_2', 'user.updated', '{}', $3, 'applied', $4),
        ('msg_3', 'session.created', '{}', $5, 'skipped', $5),
        ('msg_4', 'user.updated', '{}', $6, 'pending', NULL)`,
		at(0), at(1), at(10), at(11), at(20), at(30))
	mustExec(t, pool, `INSERT INTO clerk.reconciliation_runs (trigger, status, dry_run, started_at, finished_at) VALUES
        ('schedule', 'succeeded', false, $1, $2),
        ('manual', 'succeeded', true, $3, $4),
        ('manual', 'failed', false, $5, $6)`,
		at(0), at(5), at(40), at(41), at(50), at(51))

	s, err := db.SyncStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.LastAppliedAt == nil || !s.LastAppliedAt.Equal(at(11)) {
		t.Errorf("last_applied_at = %v, want %v (msg_2)", s.LastAppliedAt, at(11))
	}
	if s.LastReconciledAt == nil || !s.LastReconciledAt.Equal(at(5)) {
		t.Errorf("last_reconciled_at = %v, want %v (the one real successful run)", s.LastReconciledAt, at(5))
	}
}

// The view must stay an index probe on webhook_events, which grows with
// every event: read it on every request and it must not scan.
func TestSyncStatusDoesNotScanTheEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := newDB(t)
	mustExec(t, pool, `INSERT INTO clerk.webhook_events (id, type, payload, received_at, status, applied_at)
        SELECT 'msg_' || g, 'user.updated', '{}', $1::timestamptz + g * interval '1 second', 'applied',
               $1::timestamptz + g * interval '1 second'
        FROM generate_series(1, 20000) g`, t0)
	mustExec(t, pool, `ANALYZE clerk.webhook_events`)
	var plan strings.Builder
	rows, err := pool.Query(ctx, `EXPLAIN SELECT * FROM clerk.sync_status`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if strings.Contains(plan.String(), "Seq Scan on webhook_events") {
		t.Fatalf("sync_status scans webhook_events:\n%s", plan.String())
	}
}

// clerk_reader can read the synced copy and its views and nothing else. The
// test suite's own user may not create roles (the migration then only
// warns), so the role is created here as the server's superuser and the
// migrations from 00002_reader on applied again to grant it.
func TestReaderRoleReadsOnlyTheSyncedCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, dbURL := testdb.New(t)
	superuser := connectAsServerUser(t, "")
	if _, err := superuser.Exec(ctx, `DO $$ BEGIN CREATE ROLE clerk_reader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`); err != nil {
		t.Fatal(err)
	}
	m, err := store.NewMigrator(pool, migrations.FS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Down rolls back one migration, newest first; 00002 is not the newest.
	for {
		down, err := m.Down(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(down) == 0 {
			t.Fatal("rolled back every migration without meeting 00002_reader")
		}
		if down[0].Version == 2 {
			break
		}
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	var canLogin bool
	if err := superuser.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'clerk_reader'`).Scan(&canLogin); err != nil || canLogin {
		t.Fatalf("clerk_reader rolcanlogin=%v err=%v, want NOLOGIN", canLogin, err)
	}

	u, _ := url.Parse(dbURL)
	reader := connectAsServerUser(t, strings.TrimPrefix(u.Path, "/"))
	if _, err := reader.Exec(ctx, `SET ROLE clerk_reader`); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"users", "user_email_addresses", "organizations", "organization_memberships",
		"active_users", "active_organizations", "active_memberships", "sync_status"} {
		if _, err := reader.Exec(ctx, `SELECT * FROM clerk.`+rel+` LIMIT 1`); err != nil {
			t.Errorf("clerk_reader cannot read clerk.%s: %v", rel, err)
		}
	}
	for _, stmt := range []string{
		`SELECT * FROM clerk.webhook_events LIMIT 1`,
		`SELECT * FROM clerk.reconciliation_runs LIMIT 1`,
		`INSERT INTO clerk.organizations (id) VALUES ('org_x')`,
		`UPDATE clerk.users SET first_name = 'x'`,
		`DELETE FROM clerk.organization_memberships`,
	} {
		if _, err := reader.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("clerk_reader ran %q: err = %v, want permission denied", stmt, err)
		}
	}
	if _, err := clerkdb.New(reader).SyncStatus(ctx); err != nil {
		t.Errorf("clerkdb as clerk_reader: %v", err)
	}
}

// connectAsServerUser connects with the server URL's own (superuser)
// credentials to database (empty: the server URL's database).
func connectAsServerUser(t *testing.T, database string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	if database != "" {
		cfg.Database = database
	}
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
