package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
)

// Hostile data through the real endpoints (a signed webhook, the reconcile
// CLI): forged versions, NUL escapes in metadata, a forged tombstone. The
// rules these check are tested below the listener and the CLI too; here
// they are proved end to end.

// eventually polls cond every 20 ms until it reports true, failing
// with its last explanation when timeout passes first.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// forgedUpdate turns a user's user.created event into a signed-looking
// user.updated under a new svix id, with data.first_name "Forged" and
// data.updated_at set to rawUpdatedAt, JSON text spliced in as is (so it can
// be 9e18 or a number no float64 holds). The envelope timestamp is left
// alone: only the object's version is forged.
func forgedUpdate(t *testing.T, created clerkfake.Event, id, rawUpdatedAt string) clerkfake.Event {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(created.Body))
	dec.UseNumber()
	var doc map[string]any
	mustf(t, dec.Decode(&doc), "decode %s", created.ID)
	doc["type"] = "user.updated"
	data := doc["data"].(map[string]any)
	data["first_name"] = "Forged"
	data["updated_at"] = "UPDATED_AT_PLACEHOLDER"
	body, err := json.Marshal(doc)
	mustf(t, err, "encode %s", id)
	ev := created
	ev.ID, ev.Type = id, "user.updated"
	ev.Body = bytes.Replace(body, []byte(`"UPDATED_AT_PLACEHOLDER"`), []byte(rawUpdatedAt), 1)
	if !json.Valid(ev.Body) || !bytes.Contains(ev.Body, []byte(`"updated_at":`+rawUpdatedAt)) {
		t.Fatalf("forged body is not what was meant: %s", ev.Body)
	}
	return ev
}

// userRowJSON is the whole clerk.users row of id, as JSON text.
func userRowJSON(t *testing.T, pool *pgxpool.Pool, id string) string {
	t.Helper()
	var row string
	mustf(t, pool.QueryRow(context.Background(),
		`SELECT to_jsonb(u)::text FROM clerk.users u WHERE id = $1`, id).Scan(&row), "user row %s", id)
	return row
}

// eventState is what the tables say of one stored event and its River job.
type eventState struct {
	status, err, jobState string
	attempt, jobs         int
}

func readEventState(t *testing.T, pool *pgxpool.Pool, id string) eventState {
	t.Helper()
	ctx := context.Background()
	var e eventState
	var errText *string
	mustf(t, pool.QueryRow(ctx, `SELECT status, error FROM clerk.webhook_events WHERE id = $1`, id).
		Scan(&e.status, &errText), "event %s", id)
	if errText != nil {
		e.err = *errText
	}
	mustf(t, pool.QueryRow(ctx, `SELECT count(*), coalesce(max(state::text), ''), coalesce(max(attempt), 0)
		FROM river_job WHERE args->>'event_id' = $1`, id).Scan(&e.jobs, &e.jobState, &e.attempt), "job of %s", id)
	return e
}

// Sync rule 2 through `syncd serve`: a signed user.updated whose
// data.updated_at is far ahead (the year 3000) or absurd (9e18, written as
// such or in full, and the largest int64) is accepted (202), then failed at
// once with a reason, its River job cancelled after one attempt, and the
// user's row left exactly as it was; a genuine later update still lands.
func TestForgedVersionsThroughTheWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, pool, secret := newServeDB(t)
	p := startServe(t, serveEnv(url, secret))

	m := clerkfake.New(1010)
	u, evs := m.CreateUser()
	if code := deliver(t, p.URL, secret, evs[0]); code != http.StatusAccepted {
		t.Fatalf("user.created: %d, want 202", code)
	}
	eventually(t, 15*time.Second, func() (bool, string) {
		e := readEventState(t, pool, evs[0].ID)
		return e.status == "applied", fmt.Sprintf("user.created is %+v, want applied", e)
	})
	before := userRowJSON(t, pool, u.ID)
	if !strings.Contains(before, `"updated_at"`) || strings.Contains(before, "Forged") {
		t.Fatalf("user row after user.created: %s", before)
	}

	year3000 := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	cases := []struct{ name, updatedAt string }{
		{"year 3000 in ms", fmt.Sprint(year3000)},
		{"9e18 as written", "9e18"},
		{"9e18 in full", "9000000000000000000"},
		{"largest int64", "9223372036854775807"},
	}
	for i, tc := range cases {
		ev := forgedUpdate(t, evs[0], fmt.Sprintf("%s_forged%d", evs[0].ID, i), tc.updatedAt)
		if code := deliver(t, p.URL, secret, ev); code != http.StatusAccepted {
			t.Fatalf("%s: signed user.updated answered %d, want 202", tc.name, code)
		}
		var got eventState
		eventually(t, 15*time.Second, func() (bool, string) {
			got = readEventState(t, pool, ev.ID)
			done := got.status != "pending" && got.jobState != "" && got.jobState != "available" &&
				got.jobState != "running" && got.jobState != "scheduled" && got.jobState != "pending"
			return done, fmt.Sprintf("%s: event %+v not settled", tc.name, got)
		})
		t.Logf("%s: event %s, job %s after attempt %d: %s", tc.name, got.status, got.jobState, got.attempt, got.err)
		if got.status != "failed" || got.err == "" {
			t.Errorf("%s: event status %q error %q, want failed with a reason", tc.name, got.status, got.err)
		} else if !strings.Contains(got.err, "updated_at") {
			t.Errorf("%s: the reason %q does not name updated_at", tc.name, got.err)
		}
		if got.jobs != 1 || got.jobState != "cancelled" || got.attempt != 1 {
			t.Errorf("%s: River job: %d job(s), state %q, attempt %d; want one, cancelled after attempt 1",
				tc.name, got.jobs, got.jobState, got.attempt)
		}
		if after := userRowJSON(t, pool, u.ID); after != before {
			t.Errorf("%s: the user row changed:\nbefore %s\nafter  %s", tc.name, before, after)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	upd, err := m.EditUser(u.ID, func(x *clerkfake.User) { x.FirstName = new("Genuine") })
	mustf(t, err, "edit user")
	if code := deliver(t, p.URL, secret, upd[0]); code != http.StatusAccepted {
		t.Fatalf("genuine user.updated: %d, want 202", code)
	}
	eventually(t, 15*time.Second, func() (bool, string) {
		e := readEventState(t, pool, upd[0].ID)
		return e.status != "pending", fmt.Sprintf("genuine user.updated is %+v", e)
	})
	if e := readEventState(t, pool, upd[0].ID); e.status != "applied" || e.err != "" {
		t.Fatalf("genuine user.updated: %+v, want applied without error", e)
	}
	var first string
	var updatedAt time.Time
	mustf(t, pool.QueryRow(ctx, `SELECT first_name, updated_at FROM clerk.users WHERE id = $1`, u.ID).
		Scan(&first, &updatedAt), "user row")
	want, _ := m.User(u.ID)
	if first != "Genuine" || updatedAt.UnixMilli() != want.UpdatedAt {
		t.Fatalf("user row: first_name %q updated_at %d, want %q and %d", first, updatedAt.UnixMilli(), "Genuine", want.UpdatedAt)
	}
	if diff, err := synctest.Diff(ctx, pool, m, synctest.Options{}); err != nil || len(diff) > 0 {
		t.Fatalf("tables differ from Clerk after the genuine update (%v): %v", err, diff)
	}
}

// reconcileWaitJSON runs `syncd reconcile --wait --json args...` through
// run() and decodes its report.
func reconcileWaitJSON(t *testing.T, e env, args ...string) reconcile.Report {
	t.Helper()
	var stdout, stderr strings.Builder
	err := run(context.Background(), append([]string{"syncd", "reconcile", "--wait", "--json"}, args...), e.get, &stdout, &stderr)
	if err != nil {
		t.Fatalf("reconcile %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("reconcile %v: not a JSON report: %v\n%s", args, err, stdout.String())
	}
	if rep.Status != "succeeded" {
		t.Fatalf("reconcile %v: %+v, want succeeded", args, rep)
	}
	return rep
}

// Reconciliation through the CLI: a Clerk user whose metadata holds \u0000
// (written by the user, or by a backend) is no error: the row is created,
// then updated, with U+FFFD in its place, and later runs find it unchanged.
func TestReconcileStoresNULInMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, e := reconcileFakeClerk(t, 1011, 10, 2, 5)
	users := m.Users()
	created, updated := users[0].ID, users[1].ID
	_, err := m.EditUser(created, func(u *clerkfake.User) {
		u.UnsafeMetadata = json.RawMessage(`{"note":"a\u0000b"}`)
	})
	mustf(t, err, "edit %s", created)

	rep := reconcileWaitJSON(t, e)
	if rep.Users.Errors != 0 || rep.Users.Created != int64(len(users)) {
		t.Fatalf("first run: users %+v, want %d created and 0 errors", rep.Users, len(users))
	}
	pool := syncdtest.OpenPool(t, e["DATABASE_URL"])
	var note string
	mustf(t, pool.QueryRow(ctx, `SELECT unsafe_metadata->>'note' FROM clerk.users WHERE id = $1`, created).Scan(&note), "row of %s", created)
	if note != "a\uFFFDb" {
		t.Errorf("unsafe_metadata.note of a created user %+q, want \"a\\uFFFDb\"", note)
	}

	_, err = m.EditUser(updated, func(u *clerkfake.User) {
		u.PublicMetadata = json.RawMessage(`{"note":"a\u0000b","plan":"pro"}`)
	})
	mustf(t, err, "edit %s", updated)
	rep = reconcileWaitJSON(t, e)
	if rep.Users.Errors != 0 || rep.Users.Updated != 1 || rep.Users.Conflicts != 0 {
		t.Fatalf("second run: users %+v, want 1 updated, 0 errors, 0 conflicts", rep.Users)
	}
	var plan string
	mustf(t, pool.QueryRow(ctx, `SELECT public_metadata->>'note', public_metadata->>'plan' FROM clerk.users WHERE id = $1`, updated).
		Scan(&note, &plan), "row of %s", updated)
	if note != "a\uFFFDb" || plan != "pro" {
		t.Errorf("public_metadata of an updated user: note %+q plan %q, want \"a\\uFFFDb\" and pro", note, plan)
	}

	rep = reconcileWaitJSON(t, e)
	if rep.Users.Errors != 0 || rep.Users.Conflicts != 0 || rep.Users.Unchanged != rep.Users.Seen {
		t.Errorf("third run: users %+v, want all unchanged, 0 errors", rep.Users)
	}
}

// Sync rule 5 for tombstones, through the CLI: a user deleted in the table
// (as a forged user.deleted would leave it) whom Clerk still lists is one
// users conflict that a plain run leaves alone, and that `--authoritative`
// revives to Clerk's state.
func TestReconcileRevivesAForgedTombstone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, e := reconcileFakeClerk(t, 1012, 12, 2, 6)
	rep := reconcileWaitJSON(t, e)
	if rep.Users.Errors != 0 || rep.Users.Created != 12 {
		t.Fatalf("first run: users %+v", rep.Users)
	}
	// A user without memberships: the forged deletion is the user's row
	// alone, so the users conflict is the only one.
	members := map[string]bool{}
	for _, ms := range m.Memberships() {
		members[ms.UserID] = true
	}
	victim := ""
	for _, u := range m.Users() {
		if !members[u.ID] {
			victim = u.ID
			break
		}
	}
	if victim == "" {
		t.Fatal("every fake user has a membership; pick another seed")
	}
	pool := syncdtest.OpenPool(t, e["DATABASE_URL"])
	// What store.TombstoneUser writes for a user.deleted: deleted_at, and
	// synced_at now; the content, version and digest stay.
	tag, err := pool.Exec(ctx, `UPDATE clerk.users SET deleted_at = now(), synced_at = now() WHERE id = $1`, victim)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("tombstone %s: %v (%d rows)", victim, err, tag.RowsAffected())
	}
	deletedAt := func() *time.Time {
		t.Helper()
		var at *time.Time
		mustf(t, pool.QueryRow(ctx, `SELECT deleted_at FROM clerk.users WHERE id = $1`, victim).Scan(&at), "row of %s", victim)
		return at
	}

	rep = reconcileWaitJSON(t, e)
	if rep.Authoritative || rep.Users.Conflicts != 1 || rep.Users.Repaired != 0 || rep.Users.Errors != 0 ||
		rep.Organizations.Conflicts != 0 || rep.Memberships.Conflicts != 0 {
		t.Fatalf("plain run: %+v, want exactly one users conflict, left alone", rep)
	}
	if deletedAt() == nil {
		t.Fatalf("a plain run revived the tombstone of %s", victim)
	}

	rep = reconcileWaitJSON(t, e, "--authoritative")
	if !rep.Authoritative || rep.Users.Conflicts != 1 || rep.Users.Repaired != 1 || rep.Users.Errors != 0 {
		t.Fatalf("authoritative run: %+v, want the users conflict repaired", rep)
	}
	if at := deletedAt(); at != nil {
		t.Fatalf("--authoritative left %s deleted at %s", victim, at)
	}
	if diff, err := synctest.Diff(ctx, pool, m, synctest.Options{}); err != nil || len(diff) > 0 {
		t.Fatalf("tables differ from Clerk after --authoritative (%v): %v", err, diff)
	}
	if rep := reconcileWaitJSON(t, e); rep.Conflicts() != 0 || rep.Users.Unchanged != rep.Users.Seen {
		t.Fatalf("run after the repair: %+v, want no conflicts", rep)
	}
}
