package reconcile_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/store"
)

// runWith records a manual run with the given options and works it.
func (h *harness) runWith(dry, authoritative bool) store.Run {
	h.t.Helper()
	ctx := context.Background()
	id, err := store.InsertRun(ctx, h.pool, store.NewRun{Trigger: store.TriggerManual, DryRun: dry, Authoritative: authoritative})
	if err != nil {
		h.t.Fatal(err)
	}
	run, err := h.runner.Run(ctx, id)
	if err != nil || run.Status != store.RunSucceeded {
		h.t.Fatalf("run %d: %v (%s %s)", id, err, run.Status, run.Error)
	}
	if run.Authoritative != authoritative {
		h.t.Fatalf("run %d: authoritative %v, want %v", id, run.Authoritative, authoritative)
	}
	return run
}

type conflictCounts struct{ users, orgs, members int64 }

func conflictsOf(r store.Run) conflictCounts {
	return conflictCounts{r.Users.Conflicts, r.Organizations.Conflicts, r.Memberships.Conflicts}
}

func repairedOf(r store.Run) conflictCounts {
	return conflictCounts{r.Users.Repaired, r.Organizations.Repaired, r.Memberships.Repaired}
}

func addsUp(t *testing.T, what string, c store.RunCounts) {
	t.Helper()
	if c.Unchanged+c.Created+c.Updated+c.Errors+c.Conflicts != c.Seen {
		t.Errorf("%s: %+v does not add up to seen", what, c)
	}
}

// Sync rule 5's conflicts: rows holding a version newer than Clerk's (a
// forged far-future version) and tombstones of objects Clerk still lists.
// A run counts them per kind and leaves them alone (run after run); an
// authoritative run makes each equal to what a GET of that object answers
// (the forged versions overwritten, the tombstones revived), after which the
// tables equal Clerk and no conflict is left.
func TestConflictsAreReportedAndRepairedOnlyWhenAuthoritative(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(91)
	forgedUser, _ := m.CreateUser()
	deletedUser, _ := m.CreateUser()
	member, _ := m.CreateUser()
	gone, _ := m.CreateUser()
	org, _, err := m.CreateOrganization(forgedUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	mem, _, err := m.CreateMembership(org.ID, member.ID)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		m.CreateUser()
	}
	h := newHarness(t, m, clerkfake.APIOptions{})
	h.mustRun(false)
	h.requireConverged()

	// What a forged event (before sync rule 2) or a deletion Clerk does not
	// know would have left behind.
	year3000 := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	h.exec(`UPDATE clerk.users SET first_name = 'Forged', banned = true, updated_at = $2, sync_hash = NULL WHERE id = $1`, forgedUser.ID, year3000)
	h.exec(`UPDATE clerk.organizations SET name = 'Forged', updated_at = $2, sync_hash = NULL WHERE id = $1`, org.ID, year3000)
	h.exec(`UPDATE clerk.users SET deleted_at = now() WHERE id = $1`, deletedUser.ID)
	h.exec(`UPDATE clerk.organization_memberships SET deleted_at = now() WHERE id = $1`, mem.ID)
	// Deleted here and in Clerk: a tombstone Clerk does not list is no
	// conflict.
	if _, err := m.DeleteUser(gone.ID); err != nil {
		t.Fatal(err)
	}
	h.exec(`UPDATE clerk.users SET deleted_at = now() WHERE id = $1`, gone.ID)
	want := conflictCounts{users: 2, orgs: 1, members: 1}

	for i := range 2 {
		before := h.fingerprint()
		run := h.runWith(false, false)
		if got := conflictsOf(run); got != want {
			t.Fatalf("run %d: conflicts %+v, want %+v", i+1, got, want)
		}
		if got := repairedOf(run); got != (conflictCounts{}) {
			t.Fatalf("run %d: repaired %+v without --authoritative", i+1, got)
		}
		addsUp(t, "users", run.Users)
		addsUp(t, "organizations", run.Organizations)
		addsUp(t, "memberships", run.Memberships)
		if after := h.fingerprint(); after != before {
			t.Fatalf("run %d wrote rows; conflicts must be left alone", i+1)
		}
	}

	// A dry authoritative run counts what it would repair and writes nothing.
	before := h.fingerprint()
	dry := h.runWith(true, true)
	if got := repairedOf(dry); got != want {
		t.Errorf("dry authoritative run: repaired %+v, want %+v", got, want)
	}
	if h.fingerprint() != before {
		t.Fatal("a dry authoritative run wrote rows")
	}

	auth := h.runWith(false, true)
	if got := conflictsOf(auth); got != want {
		t.Errorf("authoritative run: conflicts %+v, want %+v", got, want)
	}
	if got := repairedOf(auth); got != want {
		t.Errorf("authoritative run: repaired %+v, want %+v", got, want)
	}
	h.requireConverged()
	var name *string
	var banned *bool
	var updated *time.Time
	if err := h.pool.QueryRow(context.Background(), `SELECT first_name, banned, updated_at FROM clerk.users WHERE id = $1`,
		forgedUser.ID).Scan(&name, &banned, &updated); err != nil {
		t.Fatal(err)
	}
	if updated == nil || updated.Year() == 3000 || (banned != nil && *banned) {
		t.Errorf("forged user after the authoritative run: name %v, banned %v, updated_at %v", name, banned, updated)
	}
	var revived int
	h.scan(&revived, `SELECT count(*) FROM clerk.active_users WHERE id = $1`, deletedUser.ID)
	if revived != 1 {
		t.Error("the tombstone of a user Clerk still returns was not revived")
	}

	// Nothing left to repair; the next update by webhook is not superseded.
	after := h.runWith(false, false)
	if got := conflictsOf(after); got != (conflictCounts{}) {
		t.Errorf("run after the repair: conflicts %+v, want none", got)
	}
}

// An authoritative run repairs a row newer than Clerk whose object Clerk no
// longer has (listed, then gone before its GET) into a tombstone: the row
// becomes what the GET answered, a 404.
func TestAuthoritativeRepairOfAnObjectGoneBeforeItsGet(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(92)
	u, _ := m.CreateUser()
	var hide atomic.Bool
	// Once hidden, the listing still shows the user; the single GET does
	// not.
	h := newHarness(t, m, clerkfake.APIOptions{Fault: func(r *http.Request, _ int64) (int, http.Header) {
		if hide.Load() && r.URL.Path == "/v1/users/"+u.ID {
			return http.StatusNotFound, nil
		}
		return 0, nil
	}})
	h.mustRun(false)
	h.exec(`UPDATE clerk.users SET updated_at = '3000-01-01', sync_hash = NULL WHERE id = $1`, u.ID)
	hide.Store(true)
	run := h.runWith(false, true)
	if run.Users.Conflicts != 1 || run.Users.Repaired != 1 {
		t.Fatalf("users: %+v, want one conflict repaired", run.Users)
	}
	var deleted *time.Time
	h.scan(&deleted, `SELECT deleted_at FROM clerk.users WHERE id = $1`, u.ID)
	if deleted == nil {
		t.Error("a conflicting row whose GET answers 404 was not tombstoned")
	}
}
