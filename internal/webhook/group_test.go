package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// Group commit, tested below the HTTP layer: commitGroup is handed groups
// chosen by the test (so what goes together is certain, not up to timing),
// against a real database and a real River client as the Enqueuer. What is
// checked is what a user sees: each request's answer, the rows of
// clerk.webhook_events and the apply jobs in river_job.

func riverEnqueuer(t *testing.T, pool *pgxpool.Pool) Enqueuer {
	t.Helper()
	c, err := jobs.NewClient(jobs.ClientConfig{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func groupEvent(id, typ, objectID string) store.NewEvent {
	body := fmt.Appendf(nil, `{"data":{"id":%q,"object":"user","updated_at":1750000000000},"object":"event","type":%q,"timestamp":1750000000000,"instance_id":"ins_test"}`, objectID, typ)
	return pendingNew(id, typ, objectID, body)
}

func pendingNew(id, typ, objectID string, body []byte) store.NewEvent {
	ev := store.NewEvent{ID: id, Type: typ, ObjectID: objectID, InstanceID: "ins_test",
		OccurredAt: time.UnixMilli(1750000000000), Payload: body, Status: store.StatusPending}
	if !apply.Handles(typ) {
		ev.Status, ev.Detail = store.StatusSkipped, "event type not synced"
	}
	return ev
}

// commit runs one group through commitGroup, as the batcher would, and
// returns each request's answer in order.
func commit(c *committer, evs ...store.NewEvent) []stored {
	group := make([]*pendingEvent, len(evs))
	for i, ev := range evs {
		group[i] = c.pending(ev, apply.Handles(ev.Type))
	}
	c.commitGroup(group)
	out := make([]stored, len(group))
	for i, p := range group {
		select {
		case out[i] = <-p.done:
		default:
			panic(fmt.Sprintf("request %d (%s) was not answered", i, p.ev.ID))
		}
	}
	return out
}

type eventRow struct {
	status  store.EventStatus
	applied bool // applied_at set
	detail  string
	jobs    int
}

// eventRows reads every stored event with the apply jobs that name it.
func eventRows(t *testing.T, pool *pgxpool.Pool) map[string]eventRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT e.id, e.status, e.applied_at IS NOT NULL, coalesce(e.detail, ''),
		       (SELECT count(*) FROM river_job j WHERE j.kind = 'syncd.apply_event' AND j.args->>'event_id' = e.id)
		FROM clerk.webhook_events e`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]eventRow{}
	for rows.Next() {
		var id string
		var r eventRow
		if err := rows.Scan(&id, &r.status, &r.applied, &r.detail, &r.jobs); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func countJobs(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A payload Postgres cannot hold fails the group's one statement; only its
// own request may be refused for it.
func TestGroupWithUnstorableEventRefusesOnlyThatEvent(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	c := newCommitter(pool, riverEnqueuer(t, pool), 5*time.Second, 0, 0)

	nul := pendingNew("msg_nul", "user.updated", "user_nul",
		[]byte(`{"data":{"id":"user_nul","object":"user","first_name":"a\u0000b","updated_at":1750000000000},"object":"event","type":"user.updated","timestamp":1750000000000}`))
	evs := []store.NewEvent{
		groupEvent("msg_1", "user.created", "user_1"),
		groupEvent("msg_2", "organization.created", "org_1"),
		nul,
		groupEvent("msg_3", "user.updated", "user_1"),
		groupEvent("msg_4", "session.created", "sess_1"),
	}
	res := commit(c, evs...)

	for i, ev := range evs {
		switch ev.ID {
		case "msg_nul":
			if !errors.Is(res[i].err, store.ErrUnstorable) || res[i].inserted {
				t.Errorf("%s answered %+v, want ErrUnstorable", ev.ID, res[i])
			}
		default:
			if res[i].err != nil || !res[i].inserted {
				t.Errorf("%s answered %+v, want stored as new: one bad neighbour must not refuse it", ev.ID, res[i])
			}
		}
	}
	rows := eventRows(t, pool)
	if _, ok := rows["msg_nul"]; ok {
		t.Errorf("the unstorable event has a row")
	}
	for _, id := range []string{"msg_1", "msg_2", "msg_3"} {
		if r, ok := rows[id]; !ok || r.status != store.StatusPending || r.jobs != 1 {
			t.Errorf("%s: row %+v (stored %v), want pending with exactly one apply job", id, r, ok)
		}
	}
	if r := rows["msg_4"]; r.status != store.StatusSkipped || r.jobs != 0 {
		t.Errorf("msg_4 (unsynced): row %+v, want skipped without a job", r)
	}
	if len(rows) != 4 || countJobs(t, pool) != 3 {
		t.Errorf("%d events and %d jobs stored, want 4 and 3", len(rows), countJobs(t, pool))
	}
}

// failingEnqueuer is River refusing the group's job insert (the database is
// real; only the enqueue step reports failure).
type failingEnqueuer struct {
	Enqueuer
	err error
}

func (f failingEnqueuer) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	// Insert for real first, so the rollback also has jobs to take back.
	if _, err := f.Enqueuer.InsertManyTx(ctx, tx, params); err != nil {
		return nil, err
	}
	return nil, f.err
}

func TestGroupWhoseEnqueueFailsStoresNothing(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	riverDown := errors.New("river: insert many failed")
	c := newCommitter(pool, failingEnqueuer{Enqueuer: riverEnqueuer(t, pool), err: riverDown}, 5*time.Second, 0, 0)

	evs := []store.NewEvent{
		groupEvent("msg_1", "user.created", "user_1"),
		groupEvent("msg_2", "session.created", "sess_1"), // unsynced: no job of its own
		groupEvent("msg_3", "organization.created", "org_1"),
		groupEvent("msg_1", "user.created", "user_1"), // a redelivery in the same group
	}
	res := commit(c, evs...)
	for i, r := range res {
		if !errors.Is(r.err, riverDown) || r.inserted {
			t.Errorf("request %d (%s) answered %+v, want the enqueue error", i, evs[i].ID, r)
		}
		if errors.Is(r.err, store.ErrUnstorable) {
			t.Errorf("request %d (%s): a River failure must not read as unstorable (that answers 400, and Svix would not retry)", i, evs[i].ID)
		}
	}
	if rows := eventRows(t, pool); len(rows) != 0 {
		t.Errorf("events stored although the group failed: %v", rows)
	}
	if n := countJobs(t, pool); n != 0 {
		t.Errorf("%d jobs left although the group failed", n)
	}

	// Svix redelivers; with River healthy the same group now goes through.
	c = newCommitter(pool, riverEnqueuer(t, pool), 5*time.Second, 0, 0)
	res = commit(c, evs...)
	want := []bool{true, true, true, false}
	for i, r := range res {
		if r.err != nil || r.inserted != want[i] {
			t.Errorf("redelivery %d (%s) answered %+v, want inserted=%v", i, evs[i].ID, r, want[i])
		}
	}
	if rows := eventRows(t, pool); len(rows) != 3 || countJobs(t, pool) != 2 {
		t.Errorf("after redelivery %d events and %d jobs, want 3 and 2", len(rows), countJobs(t, pool))
	}
}

func TestSameIDTwiceInAGroupAndAgainLaterStoresOnce(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	c := newCommitter(pool, riverEnqueuer(t, pool), 5*time.Second, 0, 0)

	first := commit(c,
		groupEvent("msg_dup", "user.created", "user_1"),
		groupEvent("msg_other", "user.created", "user_2"),
		groupEvent("msg_dup", "user.created", "user_1"),
	)
	if first[0].err != nil || !first[0].inserted {
		t.Errorf("first copy answered %+v, want new", first[0])
	}
	if first[1].err != nil || !first[1].inserted {
		t.Errorf("other event answered %+v, want new", first[1])
	}
	if first[2].err != nil || first[2].inserted {
		t.Errorf("second copy in the same group answered %+v, want duplicate", first[2])
	}
	later := commit(c,
		groupEvent("msg_new", "user.created", "user_3"),
		groupEvent("msg_dup", "user.created", "user_1"),
	)
	if later[0].err != nil || !later[0].inserted {
		t.Errorf("new event in the later group answered %+v, want new", later[0])
	}
	if later[1].err != nil || later[1].inserted {
		t.Errorf("third copy in a later group answered %+v, want duplicate", later[1])
	}
	rows := eventRows(t, pool)
	if r := rows["msg_dup"]; r.jobs != 1 || r.status != store.StatusPending {
		t.Errorf("msg_dup: %+v, want one pending row with one job", r)
	}
	if len(rows) != 3 || countJobs(t, pool) != 3 {
		t.Errorf("%d events and %d jobs, want 3 and 3", len(rows), countJobs(t, pool))
	}
}

func TestUnsyncedTypesInAGroupAreSkippedWithoutJobs(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	c := newCommitter(pool, riverEnqueuer(t, pool), 5*time.Second, 0, 0)
	evs := []store.NewEvent{
		groupEvent("msg_s1", "session.created", "sess_1"),
		groupEvent("msg_u1", "user.created", "user_1"),
		groupEvent("msg_s2", "email.created", "ema_1"),
		groupEvent("msg_s3", "session.created", "sess_2"),
	}
	for i, r := range commit(c, evs...) {
		if r.err != nil || !r.inserted {
			t.Errorf("%s answered %+v, want stored as new", evs[i].ID, r)
		}
	}
	rows := eventRows(t, pool)
	for _, id := range []string{"msg_s1", "msg_s2", "msg_s3"} {
		r, ok := rows[id]
		if !ok || r.status != store.StatusSkipped || !r.applied || r.detail == "" || r.jobs != 0 {
			t.Errorf("%s: %+v (stored %v), want skipped, finished, with why, and no job", id, r, ok)
		}
	}
	if r := rows["msg_u1"]; r.status != store.StatusPending || r.jobs != 1 {
		t.Errorf("msg_u1: %+v, want pending with one job", r)
	}
	if n := countJobs(t, pool); n != 1 {
		t.Errorf("%d jobs, want 1", n)
	}
}

// Through the batcher, as the handler uses it: many requests at once, one
// of them unstorable and several of them copies of one id. However the
// requests happen to be grouped, the answers and rows are the same.
func TestConcurrentStoresThroughTheBatcher(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	c := newCommitter(pool, riverEnqueuer(t, pool), 5*time.Second, 16, 2)

	const n = 60
	var evs []store.NewEvent
	for i := range n {
		evs = append(evs, groupEvent(fmt.Sprintf("msg_%02d", i), "user.updated", fmt.Sprintf("user_%02d", i)))
	}
	for range 5 {
		evs = append(evs, groupEvent("msg_dup", "user.updated", "user_dup"))
	}
	evs = append(evs, pendingNew("msg_nul", "user.created", "user_nul",
		[]byte(`{"data":{"id":"user_nul","object":"user","first_name":"\u0000"},"object":"event","type":"user.created","timestamp":1750000000000}`)))

	type answer struct {
		id string
		stored
	}
	answers := make(chan answer, len(evs))
	var wg sync.WaitGroup
	for _, ev := range evs {
		wg.Go(func() {
			inserted, err := c.store(ev, apply.Handles(ev.Type))
			answers <- answer{ev.ID, stored{inserted, err}}
		})
	}
	wg.Wait()
	close(answers)
	dupNew := 0
	for a := range answers {
		switch {
		case a.id == "msg_nul":
			if !errors.Is(a.err, store.ErrUnstorable) {
				t.Errorf("msg_nul answered %+v, want ErrUnstorable", a.stored)
			}
		case a.err != nil:
			t.Errorf("%s answered %v", a.id, a.err)
		case a.id == "msg_dup":
			if a.inserted {
				dupNew++
			}
		case !a.inserted:
			t.Errorf("%s answered duplicate, want new", a.id)
		}
	}
	if dupNew != 1 {
		t.Errorf("msg_dup answered new %d times, want once", dupNew)
	}
	rows := eventRows(t, pool)
	ids := make([]string, 0, len(rows))
	for id, r := range rows {
		ids = append(ids, id)
		if r.jobs != 1 {
			t.Errorf("%s has %d jobs, want 1", id, r.jobs)
		}
	}
	if len(rows) != n+1 || slices.Contains(ids, "msg_nul") {
		t.Errorf("%d events stored, want %d without msg_nul", len(rows), n+1)
	}
}

// withBody gives a group event the body_sha256 of body, as the handler does.
func withBody(ev store.NewEvent, body string) store.NewEvent {
	sum := sha256.Sum256([]byte(body))
	ev.BodySHA256 = sum[:]
	return ev
}

// Same id, another body: within one group the first copy wins and a copy
// with another body is a conflict; in a later group the stored body wins.
// A conflict refuses only its own request, never its group.
func TestSameIDWithAnotherBodyInAGroupIsAConflict(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	c := newCommitter(pool, riverEnqueuer(t, pool), 5*time.Second, 0, 0)

	a := withBody(groupEvent("msg_x", "user.updated", "user_1"), "body A")
	b := withBody(groupEvent("msg_x", "user.updated", "user_1"), "body B")
	other := withBody(groupEvent("msg_other", "user.updated", "user_2"), "body O")
	cases := []struct {
		name  string
		group []store.NewEvent
		want  []stored
	}{
		{"first group", []store.NewEvent{a, b, other, a},
			[]stored{{inserted: true}, {err: errConflict}, {inserted: true}, {}}},
		{"later group", []store.NewEvent{b, a, withBody(groupEvent("msg_new", "user.created", "user_3"), "body N")},
			[]stored{{err: errConflict}, {}, {inserted: true}}},
	}
	for _, tc := range cases {
		res := commit(c, tc.group...)
		for i, r := range res {
			if r.inserted != tc.want[i].inserted || !errors.Is(r.err, tc.want[i].err) || (r.err == nil) != (tc.want[i].err == nil) {
				t.Errorf("%s: request %d (%s) answered %+v, want %+v", tc.name, i, tc.group[i].ID, r, tc.want[i])
			}
		}
	}
	var sum []byte
	if err := pool.QueryRow(context.Background(), `SELECT body_sha256 FROM clerk.webhook_events WHERE id = 'msg_x'`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sum, a.BodySHA256) {
		t.Errorf("msg_x stored under %x, want the first body's %x", sum, a.BodySHA256)
	}
	if rows := eventRows(t, pool); len(rows) != 3 || countJobs(t, pool) != 3 {
		t.Errorf("%d events and %d jobs, want 3 and 3", len(rows), countJobs(t, pool))
	}
}
