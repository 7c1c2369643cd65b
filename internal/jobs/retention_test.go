package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// seedEvents stores n events of each status received `age` ago and
// returns their ids by status.
func seedEvents(t *testing.T, pool *pgxpool.Pool, prefix string, n int, age time.Duration) map[store.EventStatus][]string {
	t.Helper()
	ctx := context.Background()
	ids := map[store.EventStatus][]string{}
	var evs []store.NewEvent
	for _, st := range []store.EventStatus{store.StatusPending, store.StatusApplied, store.StatusSkipped, store.StatusFailed} {
		for i := range n {
			id := fmt.Sprintf("msg_%s_%s_%04d", prefix, st, i)
			ids[st] = append(ids[st], id)
			evs = append(evs, store.NewEvent{ID: id, Type: "email.created", ObjectID: "ema_1",
				Payload: []byte(`{"data":{"id":"ema_1","otp":"123456"},"type":"email.created"}`), Status: store.StatusPending})
		}
	}
	if _, err := store.InsertEvents(ctx, pool, evs); err != nil {
		t.Fatal(err)
	}
	for st, list := range ids {
		if _, err := pool.Exec(ctx, `UPDATE clerk.webhook_events SET status = $2, received_at = now() - $3::interval
			WHERE id = ANY($1)`, list, st, fmt.Sprintf("%d seconds", int(age.Seconds()))); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func remaining(t *testing.T, pool *pgxpool.Pool, ids []string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM clerk.webhook_events WHERE id = ANY($1)`, ids).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// SYNCD_EVENT_RETENTION through a working River client, as serve runs it:
// the leader's retention job deletes applied and skipped events received
// longer ago than the retention, and keeps failed and pending ones, and
// everything recent.
func TestEventRetentionDeletesOnlyOldFinishedEvents(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	old := seedEvents(t, pool, "old", 3, 48*time.Hour)
	recent := seedEvents(t, pool, "recent", 3, time.Hour)

	client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: slog.New(slog.DiscardHandler),
		Work: true, MaxWorkers: 2, EventRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	startClient(t, client)
	deadline := time.Now().Add(30 * time.Second)
	for remaining(t, pool, append(old[store.StatusApplied], old[store.StatusSkipped]...)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("old applied and skipped events still there after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, st := range []store.EventStatus{store.StatusPending, store.StatusFailed} {
		if n := remaining(t, pool, old[st]); n != len(old[st]) {
			t.Errorf("%d of %d old %s events kept, want all", n, len(old[st]), st)
		}
	}
	for st, ids := range recent {
		if n := remaining(t, pool, ids); n != len(ids) {
			t.Errorf("%d of %d recent %s events kept, want all", n, len(ids), st)
		}
	}
}

// `off` keeps every event; a large backlog is deleted in bounded batches,
// all of it.
func TestEventRetentionOffKeepsAndBacklogIsDeletedInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)
	old := seedEvents(t, pool, "old", 1200, 400*24*time.Hour)

	client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: slog.New(slog.DiscardHandler),
		Work: true, MaxWorkers: 2, EventRetention: 0 /* SYNCD_EVENT_RETENTION=off */})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // leader elected, periodic jobs (if any) run on start
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = client.Stop(stopCtx)
	if n := remaining(t, pool, old[store.StatusApplied]); n != 1200 {
		t.Fatalf("SYNCD_EVENT_RETENTION=off: %d of 1200 old applied events kept", n)
	}

	n, err := jobs.PruneEvents(ctx, pool, time.Now().Add(-24*time.Hour), 500)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2400 {
		t.Errorf("pruned %d events, want the 2400 old applied and skipped ones", n)
	}
	if r := remaining(t, pool, append(old[store.StatusFailed], old[store.StatusPending]...)); r != 2400 {
		t.Errorf("%d of 2400 old failed and pending events kept", r)
	}
}
