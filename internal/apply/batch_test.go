package apply_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// Batched apply (apply.Batch) with events from the fake Clerk instance:
// whatever goes together in one batch, and in whatever order, the tables
// end as Clerk's own state (synctest.Diff against the model).

// stored turns a fake Clerk delivery into the stored event a worker reads.
func stored(e clerkfake.Event) store.Event {
	return store.Event{ID: e.ID, Type: e.Type, ObjectID: e.ObjectID, InstanceID: "ins_test",
		OccurredAt: time.UnixMilli(e.Timestamp).UTC(), ReceivedAt: time.Now(), Payload: e.Body,
		Status: store.StatusPending}
}

func storedAll(evs ...clerkfake.Event) []store.Event {
	out := make([]store.Event, len(evs))
	for i, e := range evs {
		out[i] = stored(e)
	}
	return out
}

// batchIn parses evs and applies them as one batch inside tx.
func batchIn(ctx context.Context, tx pgx.Tx, evs []store.Event) ([]apply.Result, error) {
	ps := make([]apply.Parsed, len(evs))
	for i, e := range evs {
		p, err := apply.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("parse %s %s: %w", e.Type, e.ID, err)
		}
		ps[i] = p
	}
	return apply.Batch(ctx, tx, ps)
}

// applyBatch applies evs as one batch in one transaction.
func applyBatch(t *testing.T, pool *pgxpool.Pool, evs ...store.Event) []apply.Result {
	t.Helper()
	var res []apply.Result
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		res, err = batchIn(context.Background(), tx, evs)
		return err
	})
	if err != nil {
		t.Fatalf("apply batch of %d: %v", len(evs), err)
	}
	if len(res) != len(evs) {
		t.Fatalf("%d results for %d events", len(res), len(evs))
	}
	return res
}

func mustEqualModel(t *testing.T, pool *pgxpool.Pool, m *clerkfake.Model) {
	t.Helper()
	diffs, err := synctest.Diff(context.Background(), pool, m, synctest.Options{ExactDeletedAt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("tables differ from Clerk:\n  %s", strings.Join(diffs, "\n  "))
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func only(evs []clerkfake.Event, typ string) clerkfake.Event {
	for _, e := range evs {
		if e.Type == typ {
			return e
		}
	}
	panic("no " + typ + " event")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBatchOfOneUsersVersionsKeepsTheNewest(t *testing.T) {
	t.Parallel()
	m := clerkfake.New(11)
	u, created := m.CreateUser()
	// Two updates that change the address list, so that an older version
	// winning would show in user_email_addresses, not just in a name.
	updated1 := must(m.EditUser(u.ID, func(u *clerkfake.User) {
		u.EmailAddresses = append(u.EmailAddresses, clerkfake.EmailAddress{EmailAddress: "second@example.com", Verified: true})
		first := "Second"
		u.FirstName = &first
	}))
	updated2 := must(m.EditUser(u.ID, func(u *clerkfake.User) {
		u.EmailAddresses = append(u.EmailAddresses[1:], clerkfake.EmailAddress{EmailAddress: "third@example.com"})
		id := u.EmailAddresses[0].ID
		u.PrimaryEmailAddressID = &id
		first := "Third"
		u.FirstName = &first
	}))
	versions := storedAll(created[0], updated1[0], updated2[0]) // oldest to newest
	final, _ := m.User(u.ID)
	for _, perm := range permutations(len(versions)) {
		t.Run(fmt.Sprint(perm), func(t *testing.T) {
			t.Parallel()
			pool, _ := testdb.New(t)
			batch := make([]store.Event, len(perm))
			for i, k := range perm {
				batch[i] = versions[k]
			}
			res := applyBatch(t, pool, batch...)
			for i, k := range perm {
				r := res[i]
				if k == len(versions)-1 {
					if r.Status != store.StatusApplied || r.Write != store.Created {
						t.Errorf("newest version (%s): %+v, want applied and created", batch[i].Type, r)
					}
					continue
				}
				if r.Status != store.StatusSkipped || !strings.Contains(r.Detail, "superseded") {
					t.Errorf("older version %d: %+v, want skipped as superseded", k, r)
				}
			}
			row, ok := readUser(t, pool, u.ID)
			if !ok || deref(row.FirstName) != "Third" || row.Emails != len(final.EmailAddresses) ||
				deref(row.Email) != deref(final.PrimaryEmailAddress()) {
				t.Errorf("user row %+v (exists %v), want the newest: Third with %d addresses", row, ok, len(final.EmailAddresses))
			}
			mustEqualModel(t, pool, m)
		})
	}
}

// A membership and its parent's deletion in one batch: Batch writes upserts
// before deletions, and the deletion's cascade must reach the membership
// whichever order the events came in.
func TestBatchMembershipCreatedAndParentDeleted(t *testing.T) {
	t.Parallel()
	for _, parent := range []string{"user", "organization"} {
		for _, deletionFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/deletion first=%v", parent, deletionFirst), func(t *testing.T) {
				t.Parallel()
				m := clerkfake.New(21)
				u, userCreated := m.CreateUser()
				o, orgCreated := must3(m.CreateOrganization(""))
				ms, memCreated := must3(m.CreateMembership(o.ID, u.ID))
				// Clerk does not promise a membership.deleted with its
				// parent's deletion: keep only the parent's own event.
				var deletion clerkfake.Event
				if parent == "user" {
					deletion = only(must(m.DeleteUser(u.ID)), clerkfake.TypeUserDeleted)
				} else {
					deletion = only(must(m.DeleteOrganization(o.ID)), clerkfake.TypeOrganizationDeleted)
				}
				pool, _ := testdb.New(t)
				applyBatch(t, pool, storedAll(userCreated[0], orgCreated[0])...)

				batch := storedAll(memCreated[0], deletion)
				if deletionFirst {
					batch[0], batch[1] = batch[1], batch[0]
				}
				res := applyBatch(t, pool, batch...)
				for i, r := range res {
					if r.Status != store.StatusApplied {
						t.Errorf("%s: %+v, want applied", batch[i].Type, r)
					}
				}
				row, ok := readMembership(t, pool, ms.ID)
				if !ok || !row.Deleted {
					t.Errorf("membership %+v (exists %v): want it deleted with its %s", row, ok, parent)
				}
				var active int
				if err := pool.QueryRow(context.Background(),
					`SELECT count(*) FROM clerk.active_memberships`).Scan(&active); err != nil {
					t.Fatal(err)
				}
				if active != 0 {
					t.Errorf("%d active memberships, want none", active)
				}
				mustEqualModel(t, pool, m)
			})
		}
	}
}

// An organization's own event and the organization snapshot a membership
// event carries are two versions of one row: in one batch the newer wins,
// whichever it is and in whichever order they come.
func TestBatchOrganizationEventAndMembershipSnapshot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		snapshot string // "older" or "newer" than the organization event
	}{
		{"snapshot older", "older"},
		{"snapshot newer", "newer"},
	}
	for _, c := range cases {
		for _, membershipFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/membership first=%v", c.name, membershipFirst), func(t *testing.T) {
				t.Parallel()
				m := clerkfake.New(31)
				u, userCreated := m.CreateUser()
				o, orgCreated := must3(m.CreateOrganization(""))
				rename := func(name string) clerkfake.Event {
					return must(m.EditOrganization(o.ID, func(o *clerkfake.Organization) { o.Name = name }))[0]
				}
				var orgEvent, memEvent clerkfake.Event
				var wantName string
				if c.snapshot == "older" {
					// The membership carries the organization as created;
					// the organization is renamed after.
					_, evs, err := m.CreateMembership(o.ID, u.ID)
					if err != nil {
						t.Fatal(err)
					}
					memEvent = evs[0]
					orgEvent, wantName = rename("Renamed Once"), "Renamed Once"
				} else {
					// The organization event is older than the state the
					// membership event carries (renamed twice since).
					orgEvent = rename("Renamed Once")
					rename("Renamed Twice") // delivered only inside the membership
					_, evs, err := m.CreateMembership(o.ID, u.ID)
					if err != nil {
						t.Fatal(err)
					}
					memEvent, wantName = evs[0], "Renamed Twice"
				}
				pool, _ := testdb.New(t)
				applyBatch(t, pool, storedAll(userCreated[0], orgCreated[0])...)

				batch := storedAll(orgEvent, memEvent)
				if membershipFirst {
					batch[0], batch[1] = batch[1], batch[0]
				}
				res := applyBatch(t, pool, batch...)
				var name string
				if err := pool.QueryRow(context.Background(),
					`SELECT name FROM clerk.organizations WHERE id = $1`, o.ID).Scan(&name); err != nil {
					t.Fatal(err)
				}
				if name != wantName {
					t.Errorf("organization name %q, want the newest version's %q", name, wantName)
				}
				for i, r := range res {
					switch {
					case batch[i].Type == clerkfake.TypeMembershipCreated && r.Status != store.StatusApplied:
						t.Errorf("membership event: %+v, want applied", r)
					case batch[i].Type == clerkfake.TypeOrganizationUpdated && c.snapshot == "older" && r.Status != store.StatusApplied:
						t.Errorf("organization event (newest): %+v, want applied", r)
					case batch[i].Type == clerkfake.TypeOrganizationUpdated && c.snapshot == "newer" &&
						(r.Status != store.StatusSkipped || !strings.Contains(r.Detail, "superseded")):
						t.Errorf("organization event (older than the snapshot): %+v, want skipped as superseded", r)
					}
				}
				mustEqualModel(t, pool, m)
			})
		}
	}
}

// Deadlock freedom: many transactions, each applying a batch drawn at
// random from one history (so batches overlap and name the same objects in
// crossing orders), all commit, and the tables end as Clerk's state.
func TestConcurrentOverlappingBatchesNeverDeadlock(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	m := clerkfake.New(41)
	history := storedAll(m.History(240)...)
	counts := map[string]int{}
	for _, e := range history {
		counts[e.Type]++
	}
	if counts[clerkfake.TypeUserDeleted] == 0 || counts[clerkfake.TypeOrganizationDeleted] == 0 ||
		counts[clerkfake.TypeMembershipCreated] == 0 || counts[clerkfake.TypeMembershipDeleted] == 0 {
		t.Fatalf("history lacks the deletions and memberships this test is about: %v", counts)
	}

	// Every event goes out at least once (three shuffled passes), cut into
	// batches of random sizes that the workers take concurrently.
	r := rand.New(rand.NewPCG(41, 7))
	batches := make(chan []store.Event, 1024)
	for range 3 {
		order := r.Perm(len(history))
		for len(order) > 0 {
			n := min(len(order), 2+r.IntN(30))
			b := make([]store.Event, n)
			for i, k := range order[:n] {
				b[i] = history[k]
			}
			batches <- b
			order = order[n:]
		}
	}
	close(batches)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1024)
	for range 12 {
		wg.Go(func() {
			for b := range batches {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := batchIn(ctx, tx, b)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			t.Errorf("deadlock: %v", err)
		} else {
			t.Errorf("batch failed: %v", err)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("batches did not finish within 20 s")
	}
	mustEqualModel(t, pool, m)
}

// Two batches that each delete an organization and a user, where each
// deletion's cascade reaches a membership whose other parent the other
// batch deletes. Batch takes advisory locks only on the objects it names,
// so the batches share none; their cascades must still not deadlock on the
// membership rows. A third transaction holds both user rows for a moment
// so that the two batches reach their second deletion together, which is
// the interleaving that crosses (without it the test would depend on
// timing).
func TestBatchesDeletingCrossingParentsDoNotDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := clerkfake.New(51)
	u1, u1Created := m.CreateUser()
	u2, u2Created := m.CreateUser()
	o1, o1Created := must3(m.CreateOrganization(""))
	o2, o2Created := must3(m.CreateOrganization(""))
	_, m1Created := must3(m.CreateMembership(o1.ID, u1.ID))
	_, m2Created := must3(m.CreateMembership(o2.ID, u2.ID))
	setup := storedAll(u1Created[0], u2Created[0], o1Created[0], o2Created[0], m1Created[0], m2Created[0])
	o1Deleted := only(must(m.DeleteOrganization(o1.ID)), clerkfake.TypeOrganizationDeleted)
	u2Deleted := only(must(m.DeleteUser(u2.ID)), clerkfake.TypeUserDeleted)
	o2Deleted := only(must(m.DeleteOrganization(o2.ID)), clerkfake.TypeOrganizationDeleted)
	u1Deleted := only(must(m.DeleteUser(u1.ID)), clerkfake.TypeUserDeleted)

	pool, _ := testdb.New(t)
	applyBatch(t, pool, setup...)

	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	if _, err := blocker.Exec(ctx, `SELECT 1 FROM clerk.users WHERE id = ANY($1) FOR UPDATE`,
		[]string{u1.ID, u2.ID}); err != nil {
		t.Fatal(err)
	}
	var blockerPID int
	if err := blocker.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&blockerPID); err != nil {
		t.Fatal(err)
	}

	batches := [][]store.Event{
		storedAll(o1Deleted, u2Deleted),
		storedAll(o2Deleted, u1Deleted),
	}
	errs := make(chan error, len(batches))
	for _, b := range batches {
		go func() {
			errs <- pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := batchIn(ctx, tx, b)
				return err
			})
		}()
	}
	// Wait until both batches are stuck: as the code stands, each has ended
	// its organization's memberships and waits for a user row the blocker
	// holds (a fixed Batch may instead have one batch wait for the other,
	// which is as good).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting, onBlocker int
		if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE $1 = ANY(pg_blocking_pids(pid)))
			FROM pg_stat_activity
			WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0`, blockerPID).
			Scan(&waiting, &onBlocker); err != nil {
			t.Fatal(err)
		}
		if waiting == 2 && onBlocker >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s %d batches wait (%d on the blocker), want both", waiting, onBlocker)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range batches {
		if err := <-errs; err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
				t.Errorf("deadlock between batches deleting crossing parents: %v", err)
			} else {
				t.Errorf("batch failed: %v", err)
			}
		}
	}
	if t.Failed() {
		return
	}
	mustEqualModel(t, pool, m)
}

func must3[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}
