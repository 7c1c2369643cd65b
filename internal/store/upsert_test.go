package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func user(id string, version time.Duration, first string) store.User {
	return store.User{ID: id, FirstName: &first, CreatedAt: t0, UpdatedAt: t0.Add(version),
		PublicMetadata: json.RawMessage(`{"plan":"pro"}`), Raw: json.RawMessage(`{"id":"` + id + `"}`)}
}

// One set-based statement applies the version rule to each row on its own,
// reports each row's fate in input order, and keeps only the newest copy of
// an id given twice.
func TestUpsertUsersAppliesTheRulePerRow(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	ctx := context.Background()
	if _, err := store.UpsertUsers(ctx, pool, []store.User{user("user_newer", time.Hour, "Stored"), user("user_same", 0, "Same")}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.TombstoneParent(ctx, pool, store.KindUser, "user_gone", nil, t0); err != nil {
		t.Fatal(err)
	}
	ws, err := store.UpsertUsers(ctx, pool, []store.User{
		user("user_new", 0, "A"),
		user("user_newer", time.Minute, "Older"), // stored version is newer
		user("user_same", 0, "Same"),             // identical content
		user("user_gone", time.Hour, "Back"),     // deleted rows stay deleted
		user("user_dup", time.Second, "Newest"),
		user("user_dup", 0, "Stale copy"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Write{store.Created, store.Unchanged, store.Unchanged, store.Unchanged, store.Created, store.Unchanged}
	if !slices.Equal(ws, want) {
		t.Fatalf("writes %v, want %v", ws, want)
	}
	for id, first := range map[string]string{"user_newer": "Stored", "user_dup": "Newest"} {
		var got string
		if err := pool.QueryRow(ctx, `SELECT first_name FROM clerk.users WHERE id = $1`, id).Scan(&got); err != nil || got != first {
			t.Errorf("%s first_name %q (%v), want %q", id, got, err, first)
		}
	}
	// The single-row function is the same statement.
	w, err := store.UpsertUser(ctx, pool, user("user_newer", 2*time.Hour, "Newer still"))
	if err != nil || w != store.Updated {
		t.Fatalf("UpsertUser = %v %v, want updated", w, err)
	}
}

// A membership of a deleted user or organization is born deleted, in a
// batch as for one.
func TestUpsertMembershipsBornDeletedUnderDeletedParent(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	ctx := context.Background()
	if _, err := store.TombstoneParent(ctx, pool, store.KindOrganization, "org_gone", nil, t0); err != nil {
		t.Fatal(err)
	}
	role := "org:member"
	ms := []store.Membership{
		{ID: "orgmem_live", OrganizationID: "org_live", UserID: "user_1", Role: &role, Permissions: []string{"a", "b"}, CreatedAt: t0, UpdatedAt: t0},
		{ID: "orgmem_orphan", OrganizationID: "org_gone", UserID: "user_1", Role: &role, CreatedAt: t0, UpdatedAt: t0},
	}
	if err := store.LockParentsShared(ctx, pool, []string{"org_live", "org_gone", "org_live"}, []string{"user_1"}); err != nil {
		t.Fatal(err)
	}
	ws, err := store.UpsertMemberships(ctx, pool, ms)
	if err != nil || !slices.Equal(ws, []store.Write{store.Created, store.Created}) {
		t.Fatalf("writes %v %v", ws, err)
	}
	var liveDeleted, orphanDeleted bool
	var perms []string
	if err := pool.QueryRow(ctx, `SELECT deleted_at IS NOT NULL, permissions FROM clerk.organization_memberships WHERE id = 'orgmem_live'`).Scan(&liveDeleted, &perms); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM clerk.organization_memberships WHERE id = 'orgmem_orphan'`).Scan(&orphanDeleted); err != nil {
		t.Fatal(err)
	}
	if liveDeleted || !orphanDeleted || !slices.Equal(perms, []string{"a", "b"}) {
		t.Fatalf("live deleted=%v perms=%v, orphan deleted=%v", liveDeleted, perms, orphanDeleted)
	}
}

// The reconciliation tombstones give way to a write made since the run
// started.
func TestTombstoneIfUnchangedSince(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	ctx := context.Background()
	if _, err := store.UpsertUser(ctx, pool, user("user_1", 0, "A")); err != nil {
		t.Fatal(err)
	}
	var synced time.Time
	if err := pool.QueryRow(ctx, `SELECT synced_at FROM clerk.users WHERE id = 'user_1'`).Scan(&synced); err != nil {
		t.Fatal(err)
	}
	ok, err := store.TombstoneIfUnchangedSince(ctx, pool, store.KindUser, "user_1", synced, t0)
	if err != nil || ok {
		t.Fatalf("tombstone of a row written at the run's start = %v %v; want refused", ok, err)
	}
	ok, err = store.TombstoneIfUnchangedSince(ctx, pool, store.KindUser, "user_1", synced.Add(time.Millisecond), t0)
	if err != nil || !ok {
		t.Fatalf("tombstone of an unchanged row = %v %v; want done", ok, err)
	}
	ok, err = store.TombstoneIfUnchangedSince(ctx, pool, store.KindUser, "user_1", synced.Add(time.Hour), t0)
	if err != nil || ok {
		t.Fatalf("second tombstone = %v %v; want refused (already deleted)", ok, err)
	}
}
