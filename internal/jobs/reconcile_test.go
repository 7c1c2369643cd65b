package jobs_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

func insertOnly(t *testing.T, pool *pgxpool.Pool) *jobs.Client {
	t.Helper()
	c, err := jobs.NewClient(jobs.ClientConfig{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two triggers at once (a click on the admin route while the CLI starts
// one, say) give one run: the second gets the first's id, not a second run.
func TestConcurrentStartRunGivesOneRun(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	rc := jobs.NewReconciler(pool, insertOnly(t, pool), true)
	ctx := context.Background()
	const n = 4
	type result struct {
		id      int64
		started bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, started, err := rc.StartRun(ctx, false)
			results[i] = result{id, started, err}
		})
	}
	wg.Wait()
	startedCount := 0
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.id != results[0].id {
			t.Fatalf("runs %d and %d started together", r.id, results[0].id)
		}
		if r.started {
			startedCount++
		}
	}
	if startedCount != 1 {
		t.Fatalf("%d callers were told they started the run, want 1", startedCount)
	}
	run, err := store.GetRun(ctx, pool, results[0].id)
	if err != nil {
		t.Fatal(err)
	}
	if run.JobID == nil || run.Trigger != store.TriggerManual || run.Status != store.RunRunning {
		t.Fatalf("run %+v: want a running manual run with its job", run)
	}
	var jobs int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'syncd.reconcile'`).Scan(&jobs); err != nil || jobs != 1 {
		t.Fatalf("%d reconcile jobs (%v), want 1", jobs, err)
	}
}

// A 'running' row whose job is gone (its process died and the job was
// cleaned up) does not block the next run; one whose lock is still held
// does.
func TestAbandonedRunDoesNotBlockANewOne(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	ctx := context.Background()
	rc := jobs.NewReconciler(pool, insertOnly(t, pool), true)
	ghost := int64(424242)
	stale, err := store.InsertRun(ctx, pool, store.NewRun{Trigger: store.TriggerSchedule, JobID: &ghost})
	if err != nil {
		t.Fatal(err)
	}

	// While some session holds the reconciliation lock the run is alive,
	// whatever River says.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.TryLockReconcile(ctx, conn); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	id, started, err := rc.StartRun(ctx, false)
	if err != nil || started || id != stale {
		t.Fatalf("StartRun with the lock held = %d %v %v; want to join run %d", id, started, err, stale)
	}
	if err := store.UnlockReconcile(ctx, conn); err != nil {
		t.Fatal(err)
	}
	conn.Release()

	id, started, err = rc.StartRun(ctx, true)
	if err != nil || !started || id == stale {
		t.Fatalf("StartRun = %d %v %v; want a new run", id, started, err)
	}
	old, err := store.GetRun(ctx, pool, stale)
	if err != nil {
		t.Fatal(err)
	}
	if old.Status != store.RunFailed || !strings.Contains(old.Error, "abandoned") || old.FinishedAt == nil {
		t.Fatalf("stale run %+v; want failed as abandoned", old)
	}
	run, err := store.GetRun(ctx, pool, id)
	if err != nil || !run.DryRun {
		t.Fatalf("new run %+v %v; want a dry run", run, err)
	}
}

func TestStartRunWithoutAKeyNamesIt(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	rc := jobs.NewReconciler(pool, insertOnly(t, pool), false)
	_, _, err := rc.StartRun(context.Background(), false)
	if !errors.Is(err, jobs.ErrReconcileDisabled) || !strings.Contains(err.Error(), "CLERK_SECRET_KEY") {
		t.Fatalf("err = %v; want ErrReconcileDisabled naming CLERK_SECRET_KEY", err)
	}
	if _, err := rc.RunReport(context.Background(), 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("report of a missing run: %v, want ErrNotFound", err)
	}
}

// The worker end to end through River: a manual run, then a scheduled one
// (created by the worker itself), each deduplicated as it should be; a
// rejected key fails the run and cancels its job instead of retrying.
func TestWorkerRunsManualAndScheduledRuns(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	ctx := context.Background()
	model := clerkfake.New(11)
	model.Populate(80, 6, 50)
	srv := httptest.NewServer(clerkfake.NewAPI(model, clerkfake.APIOptions{}))
	t.Cleanup(srv.Close)

	newClient := func(key string) *jobs.Client {
		runner, err := reconcile.New(reconcile.Config{Pool: pool,
			Clerk: clerkapi.Config{BaseURL: srv.URL + "/v1", SecretKey: key}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := jobs.NewClient(jobs.ClientConfig{
			Pool: pool, Work: true, ReconcileOnly: true, FetchCooldown: 10 * time.Millisecond,
			Register: func(w *river.Workers) error {
				return river.AddWorkerSafely(w, jobs.NewReconcileWorker(pool, runner, nil))
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		startClient(t, c)
		return c
	}
	client := newClient(clerkfake.DefaultSecretKey)
	rc := jobs.NewReconciler(pool, client, true)

	id, started, err := rc.StartRun(ctx, false)
	if err != nil || !started {
		t.Fatalf("StartRun: %v %v", started, err)
	}
	rep := waitFinished(t, rc, id)
	if rep.Status != store.RunSucceeded || rep.Users.Created != 80 || rep.Trigger != store.TriggerManual {
		t.Fatalf("manual run %+v", rep)
	}

	// Fresh success: run-on-start has nothing to do unless asked for any age.
	if enq, err := jobs.EnqueueReconcileIfStale(ctx, pool, client, 24*time.Hour); err != nil || enq {
		t.Fatalf("EnqueueReconcileIfStale after a success = %v %v; want nothing enqueued", enq, err)
	}
	if enq, err := jobs.EnqueueReconcileIfStale(ctx, pool, client, 0); err != nil || !enq {
		t.Fatalf("EnqueueReconcileIfStale(0) = %v %v; want a job", enq, err)
	}
	// A second scheduled job in the same hour is the same job.
	res, err := client.Insert(ctx, jobargs.ReconcileArgs{Trigger: string(store.TriggerSchedule)}, nil)
	if err != nil || !res.UniqueSkippedAsDuplicate {
		t.Fatalf("second scheduled insert: duplicate=%v %v; want it skipped", res != nil && res.UniqueSkippedAsDuplicate, err)
	}
	var schedID int64
	deadline := time.Now().Add(15 * time.Second)
	for schedID == 0 && time.Now().Before(deadline) {
		_ = pool.QueryRow(ctx, `SELECT id FROM clerk.reconciliation_runs WHERE trigger = 'schedule' AND status <> 'running'`).Scan(&schedID)
		time.Sleep(20 * time.Millisecond)
	}
	if schedID == 0 {
		t.Fatal("the scheduled job created no finished run")
	}
	rep = waitFinished(t, rc, schedID)
	if rep.Status != store.RunSucceeded || rep.Users.Unchanged != 80 {
		t.Fatalf("scheduled run %+v", rep)
	}

	// A client whose key Clerk rejects: the run fails, the job is cancelled.
	_ = client.Stop(ctx)
	bad := newClient("sk_test_revoked")
	rc = jobs.NewReconciler(pool, bad, true)
	id, _, err = rc.StartRun(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	rep = waitFinished(t, rc, id)
	if rep.Status != store.RunFailed || !strings.Contains(rep.Error, "CLERK_SECRET_KEY") {
		t.Fatalf("run with a rejected key %+v", rep)
	}
	run, err := store.GetRun(ctx, pool, id)
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		job, err := bad.JobGet(ctx, *run.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if job.State == rivertype.JobStateCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job state %s, want cancelled", job.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFinished(t *testing.T, rc *jobs.Reconciler, id int64) reconcile.Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep, err := rc.RunReport(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Finished() {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still %s after 20s", id, rep.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
