package apply_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

const t0 = int64(1_750_000_000_000) // ms

// Payload builders: the shapes of Clerk's webhook payloads, reduced to what the
// rules look at plus enough personal data to notice it going astray.

func user(id string, updatedAt int64, first string, emails ...string) map[string]any {
	var addrs []any
	var primary any
	for i, e := range emails {
		eid := fmt.Sprintf("idn_%s_%d", id, i)
		if i == 0 {
			primary = eid
		}
		addrs = append(addrs, map[string]any{"id": eid, "object": "email_address", "email_address": e,
			"verification": map[string]any{"status": "verified", "strategy": "email_code"}, "linked_to": []any{}})
	}
	if addrs == nil {
		addrs = []any{}
	}
	return map[string]any{"id": id, "object": "user", "first_name": first, "last_name": "Lovelace",
		"username": nil, "external_id": nil, "image_url": "https://img.clerk.com/x", "has_image": false,
		"primary_email_address_id": primary, "email_addresses": addrs, "phone_numbers": []any{},
		"public_metadata": map[string]any{"plan": "pro"}, "private_metadata": map[string]any{},
		"unsafe_metadata": map[string]any{}, "banned": false, "locked": false, "last_sign_in_at": nil,
		"created_at": t0, "updated_at": updatedAt}
}

func org(id string, updatedAt int64, name string) map[string]any {
	return map[string]any{"id": id, "object": "organization", "name": name, "slug": "slug-" + id,
		"image_url": "https://img.clerk.com/o", "has_image": false, "max_allowed_memberships": 5,
		"admin_delete_enabled": true, "public_metadata": map[string]any{}, "private_metadata": map[string]any{},
		"created_by": "user_creator", "created_at": t0, "updated_at": updatedAt}
}

func membership(id, orgID, userID string, updatedAt int64, role string, orgSnapshot map[string]any) map[string]any {
	if orgSnapshot == nil {
		orgSnapshot = org(orgID, t0, "Snapshot Org")
	}
	return map[string]any{"id": id, "object": "organization_membership", "role": role, "role_name": "Member",
		"permissions": []any{"org:sys_memberships:read"}, "public_metadata": map[string]any{},
		"private_metadata": map[string]any{}, "organization": orgSnapshot,
		"public_user_data": map[string]any{"user_id": userID, "first_name": "Ada", "last_name": "Lovelace",
			"identifier": "ada@example.com", "image_url": "https://img.clerk.com/u", "has_image": false},
		"created_at": t0, "updated_at": updatedAt}
}

func deleted(object, id string) map[string]any {
	return map[string]any{"object": object, "id": id, "deleted": true}
}

// seq numbers events; parallel tests build events concurrently.
var seq atomic.Int64

func ev(typ string, timestamp int64, data any) store.Event {
	n := seq.Add(1)
	body, err := json.Marshal(map[string]any{"data": data, "object": "event", "type": typ,
		"timestamp": timestamp, "instance_id": "ins_test"})
	if err != nil {
		panic(err)
	}
	return store.Event{ID: fmt.Sprintf("msg_%d", n), Type: typ, Payload: body,
		OccurredAt: time.UnixMilli(timestamp).UTC()}
}

// applyAll applies each event in its own transaction, as the worker does.
func applyAll(t *testing.T, pool *pgxpool.Pool, events ...store.Event) []apply.Result {
	t.Helper()
	var out []apply.Result
	for _, e := range events {
		var res apply.Result
		err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
			var err error
			res, err = apply.Event(context.Background(), tx, e)
			return err
		})
		if err != nil {
			t.Fatalf("apply %s %s: %v", e.Type, e.ID, err)
		}
		out = append(out, res)
	}
	return out
}

type userRow struct {
	FirstName *string
	Email     *string
	UpdatedAt *time.Time
	Deleted   bool
	Emails    int
}

func readUser(t *testing.T, pool *pgxpool.Pool, id string) (userRow, bool) {
	t.Helper()
	var r userRow
	err := pool.QueryRow(context.Background(), `
		SELECT first_name, primary_email_address, updated_at, deleted_at IS NOT NULL,
		       (SELECT count(*) FROM clerk.user_email_addresses WHERE user_id = u.id)
		FROM clerk.users u WHERE id = $1`, id).Scan(&r.FirstName, &r.Email, &r.UpdatedAt, &r.Deleted, &r.Emails)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

type memberRow struct {
	Role    string
	Deleted bool
}

func readMembership(t *testing.T, pool *pgxpool.Pool, id string) (memberRow, bool) {
	t.Helper()
	var r memberRow
	err := pool.QueryRow(context.Background(),
		`SELECT coalesce(role, ''), deleted_at IS NOT NULL FROM clerk.organization_memberships WHERE id = $1`, id).
		Scan(&r.Role, &r.Deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func str(s string) *string { return &s }

func TestUserRules(t *testing.T) {
	t.Parallel()
	created := ev("user.created", t0, user("user_1", t0, "Ada", "ada@example.com"))
	updated := ev("user.updated", t0+1000, user("user_1", t0+1000, "Augusta", "augusta@example.com", "ada@example.com"))
	del := ev("user.deleted", t0+2000, deleted("user", "user_1"))

	cases := []struct {
		name        string
		events      []store.Event
		wantExists  bool
		wantDeleted bool
		wantFirst   string
		wantEmail   *string
		wantEmails  int
		wantStatus  []string
	}{
		{"in order", []store.Event{created, updated}, true, false, "Augusta", str("augusta@example.com"), 2,
			[]string{"applied", "applied"}},
		{"older update after newer", []store.Event{updated, created}, true, false, "Augusta", str("augusta@example.com"), 2,
			[]string{"applied", "skipped"}},
		{"update after delete", []store.Event{created, del, updated}, true, true, "Ada", str("ada@example.com"), 1,
			[]string{"applied", "applied", "skipped"}},
		{"delete before create", []store.Event{del, created, updated}, true, true, "", nil, 0,
			[]string{"applied", "skipped", "skipped"}},
		{"duplicate", []store.Event{created, updated, updated, created}, true, false, "Augusta", str("augusta@example.com"), 2,
			[]string{"applied", "applied", "applied", "skipped"}},
		{"duplicate delete", []store.Event{del, del}, true, true, "", nil, 0,
			[]string{"applied", "applied"}},
		{"equal versions: the later arrival lands", []store.Event{
			ev("user.updated", t0+5, user("user_1", t0+5, "First", "a@example.com")),
			ev("user.updated", t0+5, user("user_1", t0+5, "Second", "b@example.com")),
		}, true, false, "Second", str("b@example.com"), 1, []string{"applied", "applied"}},
		{"no primary email", []store.Event{ev("user.created", t0, user("user_1", t0, "Phone"))},
			true, false, "Phone", nil, 0, []string{"applied"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := testdb.New(t)
			results := applyAll(t, pool, tc.events...)
			for i, r := range results {
				if string(r.Status) != tc.wantStatus[i] {
					t.Errorf("event %d (%s): status %s (%s), want %s", i, tc.events[i].Type, r.Status, r.Detail, tc.wantStatus[i])
				}
			}
			row, ok := readUser(t, pool, "user_1")
			if ok != tc.wantExists {
				t.Fatalf("row exists = %v, want %v", ok, tc.wantExists)
			}
			if row.Deleted != tc.wantDeleted {
				t.Errorf("deleted = %v, want %v", row.Deleted, tc.wantDeleted)
			}
			if got := deref(row.FirstName); got != tc.wantFirst {
				t.Errorf("first_name = %q, want %q", got, tc.wantFirst)
			}
			if deref(row.Email) != deref(tc.wantEmail) || (row.Email == nil) != (tc.wantEmail == nil) {
				t.Errorf("primary_email_address = %v, want %v", ptr(row.Email), ptr(tc.wantEmail))
			}
			if row.Emails != tc.wantEmails {
				t.Errorf("%d email address rows, want %d", row.Emails, tc.wantEmails)
			}
		})
	}
}

func TestPrimaryEmailFollowsPrimaryID(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	u := user("user_1", t0, "Ada", "first@example.com", "second@example.com")
	u["primary_email_address_id"] = "idn_user_1_1"
	applyAll(t, pool, ev("user.created", t0, u))
	var primary string
	var flagged []string
	if err := pool.QueryRow(context.Background(), `SELECT primary_email_address,
		(SELECT array_agg(email_address) FROM clerk.user_email_addresses WHERE user_id = 'user_1' AND is_primary)
		FROM clerk.users WHERE id = 'user_1'`).Scan(&primary, &flagged); err != nil {
		t.Fatal(err)
	}
	if primary != "second@example.com" || len(flagged) != 1 || flagged[0] != "second@example.com" {
		t.Fatalf("primary %q, flagged %v; want second@example.com both", primary, flagged)
	}
}

func TestMembershipRules(t *testing.T) {
	t.Parallel()
	mCreated := ev("organizationMembership.created", t0+100, membership("orgmem_1", "org_1", "user_1", t0+100, "org:member", nil))
	mUpdated := ev("organizationMembership.updated", t0+200, membership("orgmem_1", "org_1", "user_1", t0+200, "org:admin", nil))
	mDeleted := ev("organizationMembership.deleted", t0+300, membership("orgmem_1", "org_1", "user_1", t0+200, "org:admin", nil))
	uCreated := ev("user.created", t0, user("user_1", t0, "Ada", "ada@example.com"))
	oCreated := ev("organization.created", t0, org("org_1", t0, "Analytical Engines"))
	uDeleted := ev("user.deleted", t0+250, deleted("user", "user_1"))
	oDeleted := ev("organization.deleted", t0+250, deleted("organization", "org_1"))

	cases := []struct {
		name        string
		events      []store.Event
		wantRole    string
		wantDeleted bool
	}{
		{"before its user and organization", []store.Event{mCreated, uCreated, oCreated}, "org:member", false},
		{"update before create", []store.Event{mUpdated, mCreated}, "org:admin", false},
		{"deleted before created", []store.Event{mDeleted, mCreated, mUpdated}, "org:admin", true},
		{"user deleted, then a late membership event", []store.Event{uCreated, uDeleted, mCreated}, "org:member", true},
		{"organization deleted, then a late update", []store.Event{mCreated, oDeleted, mUpdated}, "org:member", true},
		{"user deletion ends the membership", []store.Event{mCreated, mUpdated, uDeleted}, "org:admin", true},
		{"organization deletion ends the membership", []store.Event{mCreated, oDeleted}, "org:member", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := testdb.New(t)
			applyAll(t, pool, tc.events...)
			m, ok := readMembership(t, pool, "orgmem_1")
			if !ok {
				t.Fatal("membership row missing")
			}
			if m.Role != tc.wantRole || m.Deleted != tc.wantDeleted {
				t.Fatalf("membership role %q deleted %v, want %q %v", m.Role, m.Deleted, tc.wantRole, tc.wantDeleted)
			}
		})
	}
}

func TestMembershipSnapshotObeysOrganizationVersion(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	newer := ev("organization.updated", t0+500, org("org_1", t0+500, "Renamed"))
	stale := ev("organizationMembership.created", t0+100,
		membership("orgmem_1", "org_1", "user_1", t0+100, "org:member", org("org_1", t0+100, "Old Name")))
	applyAll(t, pool, newer, stale)
	var name string
	if err := pool.QueryRow(context.Background(), `SELECT name FROM clerk.organizations WHERE id = 'org_1'`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "Renamed" {
		t.Fatalf("organization name %q: an older snapshot overwrote a newer row", name)
	}
	// And a snapshot of an organization not seen yet creates it.
	applyAll(t, pool, ev("organizationMembership.created", t0+100,
		membership("orgmem_2", "org_2", "user_1", t0+100, "org:member", org("org_2", t0+100, "Fresh"))))
	if err := pool.QueryRow(context.Background(), `SELECT name FROM clerk.organizations WHERE id = 'org_2'`).Scan(&name); err != nil || name != "Fresh" {
		t.Fatalf("snapshot did not create org_2: %q %v", name, err)
	}
}

// A user or organization deleted while a membership update is in flight:
// whichever transaction commits first, the membership ends deleted. The user
// case has no row both transactions write, so only the advisory locks order
// them.
func TestParentDeletedWhileMembershipUpdateInFlight(t *testing.T) {
	t.Parallel()
	parents := []struct {
		name   string
		setup  store.Event
		delete store.Event
	}{
		{"organization", ev("organization.created", t0, org("org_1", t0, "Engines")),
			ev("organization.deleted", t0+200, deleted("organization", "org_1"))},
		{"user", ev("user.created", t0, user("user_1", t0, "Ada", "ada@example.com")),
			ev("user.deleted", t0+200, deleted("user", "user_1"))},
	}
	for _, p := range parents {
		for _, membershipFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/membership first=%v", p.name, membershipFirst), func(t *testing.T) {
				t.Parallel()
				pool, _ := testdb.New(t)
				applyAll(t, pool, p.setup)
				mUpdate := ev("organizationMembership.updated", t0+100,
					membership("orgmem_1", "org_1", "user_1", t0+100, "org:admin", nil))
				first, second := mUpdate, p.delete
				if !membershipFirst {
					first, second = p.delete, mUpdate
				}
				applyRacing(t, pool, first, second)
				m, ok := readMembership(t, pool, "orgmem_1")
				if !ok || !m.Deleted {
					t.Fatalf("membership %+v exists=%v; want it deleted with its %s", m, ok, p.name)
				}
			})
		}
	}
}

func TestInvalidPayloadsAreRejectedAndWriteNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ev   store.Event
	}{
		{"user without id", ev("user.created", t0, map[string]any{"object": "user", "updated_at": t0})},
		{"user without updated_at", ev("user.updated", t0, map[string]any{"object": "user", "id": "user_1"})},
		{"user with a number for a name", ev("user.updated", t0, map[string]any{"object": "user", "id": "user_1", "first_name": 7, "updated_at": t0})},
		{"organization object mismatch", ev("organization.created", t0, map[string]any{"object": "user", "id": "org_1", "updated_at": t0})},
		{"membership without user", ev("organizationMembership.created", t0, map[string]any{"object": "organization_membership", "id": "orgmem_1", "organization": org("org_1", t0, "x"), "updated_at": t0})},
		{"membership without organization", ev("organizationMembership.created", t0, map[string]any{"object": "organization_membership", "id": "orgmem_1", "public_user_data": map[string]any{"user_id": "user_1"}, "updated_at": t0})},
		{"deleted user without id", ev("user.deleted", t0, map[string]any{"object": "user", "deleted": true})},
		{"data is an array", ev("user.created", t0, []any{1, 2})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := testdb.New(t)
			err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
				_, err := apply.Event(context.Background(), tx, tc.ev)
				return err
			})
			if err == nil || !isInvalid(err) {
				t.Fatalf("err = %v, want ErrInvalidPayload", err)
			}
			var n int
			if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM clerk.users) +
				(SELECT count(*) FROM clerk.organizations) + (SELECT count(*) FROM clerk.organization_memberships)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d rows written by an invalid payload", n)
			}
		})
	}
}

func TestUnsyncedTypeIsSkipped(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	res := applyAll(t, pool, ev("session.created", t0, map[string]any{"id": "sess_1", "object": "session"}))
	if res[0].Status != store.StatusSkipped {
		t.Fatalf("status %s, want skipped", res[0].Status)
	}
}

func isInvalid(err error) bool { return errors.Is(err, apply.ErrInvalidPayload) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// Two versions of one user applied at once: the newer one waits for the
// older one's row lock, then replaces the address list the older one just
// committed. (Folding the address replacement into the upsert's statement
// broke this: its snapshot predates the older commit, so the older
// version's new address survived.)
func TestConcurrentUserVersionsLeaveTheNewerAddressList(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	applyAll(t, pool, ev("user.created", t0, user("user_1", t0, "Ada", "ada@example.com")))
	older := ev("user.updated", t0+100, user("user_1", t0+100, "Ada", "ada@example.com", "second@example.com"))
	newer := ev("user.updated", t0+200, user("user_1", t0+200, "Ada"))
	applyRacing(t, pool, older, newer) // the newer version waits on the older's row
	row, _ := readUser(t, pool, "user_1")
	if row.Emails != 0 || row.Email != nil {
		t.Fatalf("%d address rows, primary %v; the newer version has none", row.Emails, ptr(row.Email))
	}
}

// applyRacing applies first in one transaction and, while that is open,
// second in another; the race under test is that the second transaction is
// waiting on the first's locks when the first commits. It fails the test if
// either event fails.
func applyRacing(t *testing.T, pool *pgxpool.Pool, first, second store.Event) {
	t.Helper()
	ctx := context.Background()
	tx1, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	if _, err := apply.Event(ctx, tx1, first); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- pgx.BeginFunc(ctx, pool, func(tx2 pgx.Tx) error {
			_, err := apply.Event(ctx, tx2, second)
			return err
		})
	}()
	waitBlockedBy(t, pool, tx1, done)
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitBlockedBy returns once Postgres shows another backend waiting on a lock
// that tx holds (pg_blocking_pids), so a test of two racing transactions
// really races however loaded the machine is. It fails the test if the
// other transaction finished without ever waiting (done received first) or
// nothing waits within ten seconds.
func waitBlockedBy(t *testing.T, pool *pgxpool.Pool, tx pgx.Tx, done <-chan error) {
	t.Helper()
	ctx := context.Background()
	var pid int32
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := pool.QueryRow(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`, pid).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the second transaction finished (%v) without waiting for the first: nothing raced", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no transaction waited on the first one's locks within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
