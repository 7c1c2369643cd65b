package jobs_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// One event that can never apply, among good ones worked by a real River
// client together: it alone ends failed with its job cancelled; the others
// are applied with their jobs completed, and the tables equal Clerk's
// state.
func TestBatchWithOneUnappliableEventFailsOnlyIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)

	m := clerkfake.New(61)
	var good []clerkfake.Event
	u1, evs := m.CreateUser()
	good = append(good, evs...)
	u2, evs := m.CreateUser()
	good = append(good, evs...)
	o, evs, err := m.CreateOrganization(u1.ID) // with the creator's membership
	if err != nil {
		t.Fatal(err)
	}
	good = append(good, evs...)
	_, evs, err = m.CreateMembership(o.ID, u2.ID)
	if err != nil {
		t.Fatal(err)
	}
	good = append(good, evs...)
	// More objects rather than more versions of one: every good event here
	// is its object's newest version, so each must end applied (an older
	// version in the same batch would be skipped as superseded).
	for range 4 {
		_, evs := m.CreateUser()
		good = append(good, evs...)
	}

	var rows []store.NewEvent
	for _, e := range good {
		rows = append(rows, store.NewEvent{ID: e.ID, Type: e.Type, ObjectID: e.ObjectID, InstanceID: m.InstanceID(),
			OccurredAt: time.UnixMilli(e.Timestamp), Payload: e.Body, Status: store.StatusPending})
	}
	// Authentic (it was signed and stored) but a user without id or
	// updated_at: no retry can ever apply it.
	const badID = "msg_bad_user"
	rows = append(rows, store.NewEvent{ID: badID, Type: clerkfake.TypeUserCreated, InstanceID: m.InstanceID(),
		OccurredAt: time.UnixMilli(clerkfake.StartTime), Status: store.StatusPending,
		Payload: []byte(`{"data":{"object":"user","first_name":"Nobody","email_addresses":[]},"object":"event","type":"user.created","timestamp":1750000000000}`)})
	// The bad one in the middle, so a batch holds good events on both sides.
	mid := len(rows) / 2
	rows[mid], rows[len(rows)-1] = rows[len(rows)-1], rows[mid]
	if _, err := store.InsertEvents(ctx, pool, rows); err != nil {
		t.Fatal(err)
	}

	got := workAll(t, pool, rows)

	bad := got[badID]
	if bad.status != store.StatusFailed || !strings.Contains(bad.errText, "invalid payload") || bad.jobState != "cancelled" {
		t.Errorf("bad event: %+v, want failed with its error and its job cancelled", bad)
	}
	for _, e := range good {
		if o := got[e.ID]; o.status != store.StatusApplied || o.errText != "" || o.jobState != "completed" {
			t.Errorf("%s %s: %+v, want applied with its job completed", e.Type, e.ID, o)
		}
	}
	diffs, err := synctest.Diff(ctx, pool, m, synctest.Options{ExactDeletedAt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("tables differ from Clerk:\n  %s", strings.Join(diffs, "\n  "))
	}
}

type outcome struct {
	status            store.EventStatus
	errText, jobState string
}

// workAll enqueues an apply job for each stored event in one insert, starts
// a River client working the sync queue (so its first fetch takes them
// together), and waits until every event and job has reached its end.
func workAll(t *testing.T, pool *pgxpool.Pool, rows []store.NewEvent) map[string]outcome {
	t.Helper()
	ctx := context.Background()
	client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: slog.New(slog.DiscardHandler),
		Work: true, MaxWorkers: 20})
	if err != nil {
		t.Fatal(err)
	}
	// All jobs are there before the client starts, so its first fetch takes
	// them together and they are applied as one batch.
	params := make([]river.InsertManyParams, len(rows))
	for i, r := range rows {
		params[i] = river.InsertManyParams{Args: jobargs.ApplyEventArgs{EventID: r.ID}}
	}
	if _, err := client.InsertMany(ctx, params); err != nil {
		t.Fatal(err)
	}
	startClient(t, client)

	read := func() map[string]outcome {
		t.Helper()
		rs, err := pool.Query(ctx, `
			SELECT e.id, e.status, coalesce(e.error, ''), coalesce(j.state::text, 'none')
			FROM clerk.webhook_events e
			LEFT JOIN river_job j ON j.kind = 'syncd.apply_event' AND j.args->>'event_id' = e.id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		out := map[string]outcome{}
		for rs.Next() {
			var id string
			var o outcome
			if err := rs.Scan(&id, &o.status, &o.errText, &o.jobState); err != nil {
				t.Fatal(err)
			}
			out[id] = o
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	finalJob := map[string]bool{"completed": true, "cancelled": true, "discarded": true}
	deadline := time.Now().Add(20 * time.Second)
	var got map[string]outcome
	for {
		got = read()
		done := len(got) == len(rows)
		for _, o := range got {
			done = done && o.status != store.StatusPending && finalJob[o.jobState]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not finished after 20 s: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}

	return got
}
