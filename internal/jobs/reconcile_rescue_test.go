package jobs_test

import (
	"context"
	"slices"
	"testing"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// A reconciliation job is handed back to River exactly when it is
// `running`, its attempt began more than the grace ago, and no session
// holds the reconciliation lock: the state a process killed mid-run
// leaves. A live run (lock held), a fresh attempt and a job in another
// state are left alone.
func TestRescueAbandonedReconciles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		state     string
		age       string // how long ago the attempt began
		lockHeld  bool
		rescued   bool
		wantState string
	}{
		{"dead process", "running", "10 minutes", false, true, "retryable"},
		{"live run holds the lock", "running", "10 hours", true, false, "running"},
		{"attempt just began", "running", "5 seconds", false, false, "running"},
		{"already retryable", "retryable", "10 minutes", false, false, "retryable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := testdb.New(t)
			ctx := context.Background()
			rc := jobs.NewReconciler(pool, insertOnly(t, pool), true)
			runID, _, err := rc.StartRun(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			run, err := store.GetRun(ctx, pool, runID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `UPDATE river_job SET state = $2, attempt = 1,
				attempted_at = now() - $3::interval, attempted_by = '{gone}' WHERE id = $1`,
				*run.JobID, tc.state, tc.age); err != nil {
				t.Fatal(err)
			}
			if tc.lockHeld {
				conn, err := pool.Acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Release()
				if ok, err := store.TryLockReconcile(ctx, conn); err != nil || !ok {
					t.Fatalf("take the lock: %v %v", ok, err)
				}
				defer func() { _ = store.UnlockReconcile(ctx, conn) }()
			}

			ids, err := jobs.RescueAbandonedReconciles(ctx, pool)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(ids, *run.JobID); got != tc.rescued {
				t.Fatalf("rescued %v, want job %d rescued: %v", ids, *run.JobID, tc.rescued)
			}
			var state string
			var errs int
			if err := pool.QueryRow(ctx, `SELECT state, coalesce(array_length(errors, 1), 0) FROM river_job WHERE id = $1`,
				*run.JobID).Scan(&state, &errs); err != nil {
				t.Fatal(err)
			}
			if state != tc.wantState || (tc.rescued && errs != 1) {
				t.Fatalf("job is %s with %d recorded errors, want %s", state, errs, tc.wantState)
			}
			// The run itself stays running, for the retried job to restart.
			if run, err := store.GetRun(ctx, pool, runID); err != nil || run.Status != store.RunRunning {
				t.Fatalf("run after the rescue: %+v %v", run, err)
			}
		})
	}
}
