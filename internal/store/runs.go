package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Trigger is what started a reconciliation run, as the runs table stores it.
type Trigger string

// Reconciliation run triggers.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
)

// RunStatus is a reconciliation run's status, as the runs table stores it.
type RunStatus string

// Reconciliation run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Kind is a kind of synced object, as reconciliation and its metrics label
// it.
type Kind string

// Object kinds.
const (
	KindUser         Kind = "user"
	KindOrganization Kind = "organization"
	KindMembership   Kind = "membership"
)

// ErrRunInProgress is returned by InsertRun when a run is already running;
// InsertRun returns that run's id with it.
var ErrRunInProgress = errors.New("a reconciliation run is already in progress")

// RunCounts is what a run did to one kind of object.
type RunCounts struct {
	Seen      int64 // listed by Clerk, or found by a single GET
	Created   int64
	Updated   int64
	Deleted   int64
	Unchanged int64
	Errors    int64 // objects that could not be parsed or stored
	// Conflicts are listed objects whose row is newer than Clerk's version,
	// or a tombstone, and was not written since the run started (sync rule
	// 5): left alone, and not counted as unchanged.
	Conflicts int64
	// Repaired are the conflicts an authoritative run made equal to what a
	// GET of the object answered.
	Repaired int64
}

// RunTotals is the progress of a run: its counts and its API usage.
type RunTotals struct {
	Users          RunCounts
	Organizations  RunCounts
	Memberships    RunCounts
	APIRequests    int64
	APIRateLimited int64
}

// Run is one row of clerk.reconciliation_runs.
type Run struct {
	ID      int64
	Trigger Trigger
	Status  RunStatus
	DryRun  bool
	// Authoritative runs repair conflicts (`syncd reconcile --authoritative`).
	Authoritative bool
	JobID         *int64
	StartedAt     time.Time
	FinishedAt    *time.Time
	Error         string
	RunTotals
}

// NewRun is a run about to start.
type NewRun struct {
	Trigger       Trigger
	DryRun        bool
	Authoritative bool
	JobID         *int64 // nil when the job is inserted after the row (SetRunJob)
}

// totalsColumns lists the count columns in the order totalsArgs and scanRun
// use them.
func totalsColumns() []string {
	cols := make([]string, 0, 26)
	for _, kind := range []string{"users", "organizations", "memberships"} {
		for _, c := range []string{"seen", "created", "updated", "deleted", "unchanged", "errors", "conflicts", "repaired"} {
			cols = append(cols, kind+"_"+c)
		}
	}
	return append(cols, "api_requests", "api_rate_limited")
}

func totalsArgs(t RunTotals) []any {
	var args []any
	for _, c := range []RunCounts{t.Users, t.Organizations, t.Memberships} {
		args = append(args, c.Seen, c.Created, c.Updated, c.Deleted, c.Unchanged, c.Errors, c.Conflicts, c.Repaired)
	}
	return append(args, t.APIRequests, t.APIRateLimited)
}

func totalsDests(t *RunTotals) []any {
	var dests []any
	for _, c := range []*RunCounts{&t.Users, &t.Organizations, &t.Memberships} {
		dests = append(dests, &c.Seen, &c.Created, &c.Updated, &c.Deleted, &c.Unchanged, &c.Errors, &c.Conflicts, &c.Repaired)
	}
	return append(dests, &t.APIRequests, &t.APIRateLimited)
}

// setTotals is "col = $n, ..." for the count columns, numbered from first.
func setTotals(first int) string {
	cols := totalsColumns()
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprintf("%s = $%d", c, first+i)
	}
	return strings.Join(parts, ", ")
}

func runColumns() string {
	return `id, trigger, status, dry_run, authoritative, job_id, started_at, finished_at, coalesce(error, ''), ` +
		strings.Join(totalsColumns(), ", ")
}

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	dests := append([]any{&r.ID, &r.Trigger, &r.Status, &r.DryRun, &r.Authoritative, &r.JobID, &r.StartedAt, &r.FinishedAt, &r.Error},
		totalsDests(&r.RunTotals)...)
	err := row.Scan(dests...)
	return r, err
}

// InsertRun records a new running run and returns its id. When a run is
// already running (the one-running index forbids a second), it returns that
// run's id and ErrRunInProgress instead: the caller joins the run in
// progress. A concurrent InsertRun waits for the other's transaction, so of
// two callers racing, one starts the run and the other joins it.
func InsertRun(ctx context.Context, db DBTX, r NewRun) (int64, error) {
	const insert = `
INSERT INTO clerk.reconciliation_runs (trigger, dry_run, job_id, authoritative) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING id`
	// The running run may finish between the refused insert and the read;
	// then the insert is simply tried again.
	for range 5 {
		var id int64
		err := db.QueryRow(ctx, insert, r.Trigger, r.DryRun, r.JobID, r.Authoritative).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("insert reconciliation run: %w", err)
		}
		err = db.QueryRow(ctx, `SELECT id FROM clerk.reconciliation_runs WHERE status = 'running'`).Scan(&id)
		if err == nil {
			return id, ErrRunInProgress
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("read the running reconciliation run: %w", err)
		}
	}
	return 0, errors.New("insert reconciliation run: runs keep starting and finishing concurrently; try again")
}

// SetRunJob records the River job that runs a run.
func SetRunJob(ctx context.Context, db DBTX, runID, jobID int64) error {
	tag, err := db.Exec(ctx, `UPDATE clerk.reconciliation_runs SET job_id = $2 WHERE id = $1`, runID, jobID)
	if err != nil {
		return fmt.Errorf("set job of reconciliation run %d: %w", runID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("reconciliation run %d: %w", runID, ErrNotFound)
	}
	return nil
}

// RestartRun starts (or, after a crash, starts again from scratch) a run
// that is still running: its counts are reset and started_at becomes now,
// the cut-off for deletion candidates. It returns ErrNotFound when no such
// run is running any more.
func RestartRun(ctx context.Context, db DBTX, runID int64) (Run, error) {
	zeroes := make([]any, len(totalsColumns()))
	for i := range zeroes {
		zeroes[i] = int64(0)
	}
	q := `UPDATE clerk.reconciliation_runs SET started_at = now(), error = NULL, ` + setTotals(2) + `
WHERE id = $1 AND status = 'running'
RETURNING ` + runColumns()
	r, err := scanRun(db.QueryRow(ctx, q, append([]any{runID}, zeroes...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("running reconciliation run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("restart reconciliation run %d: %w", runID, err)
	}
	return r, nil
}

// UpdateRunProgress records a running run's counts so far, for whoever
// follows it.
func UpdateRunProgress(ctx context.Context, db DBTX, runID int64, t RunTotals) error {
	q := `UPDATE clerk.reconciliation_runs SET ` + setTotals(2) + ` WHERE id = $1 AND status = 'running'`
	if _, err := db.Exec(ctx, q, append([]any{runID}, totalsArgs(t)...)...); err != nil {
		return fmt.Errorf("record progress of reconciliation run %d: %w", runID, err)
	}
	return nil
}

// FinishRun records the end of a running run: its status (RunSucceeded or
// RunFailed), final counts and error text. It reports false when the run was
// not running any more (marked abandoned meanwhile), in which case nothing
// is written.
func FinishRun(ctx context.Context, db DBTX, runID int64, status RunStatus, t RunTotals, errText string) (bool, error) {
	q := `UPDATE clerk.reconciliation_runs SET status = $2, finished_at = now(), error = NULLIF($3, ''), ` +
		setTotals(4) + ` WHERE id = $1 AND status = 'running'`
	tag, err := db.Exec(ctx, q, append([]any{runID, status, errText}, totalsArgs(t)...)...)
	if err != nil {
		return false, fmt.Errorf("finish reconciliation run %d: %w", runID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// GetRun reads one run.
func GetRun(ctx context.Context, db DBTX, runID int64) (Run, error) {
	r, err := scanRun(db.QueryRow(ctx, `SELECT `+runColumns()+` FROM clerk.reconciliation_runs WHERE id = $1`, runID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("reconciliation run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("get reconciliation run %d: %w", runID, err)
	}
	return r, nil
}

// LastSucceededRunAt returns when the last successful run that wrote (not a
// dry run) finished; ok is false when there has been none.
func LastSucceededRunAt(ctx context.Context, db DBTX) (at time.Time, ok bool, err error) {
	var t *time.Time
	err = db.QueryRow(ctx, `SELECT max(finished_at) FROM clerk.reconciliation_runs
		WHERE status = 'succeeded' AND NOT dry_run`).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last successful reconciliation run: %w", err)
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// lockClassReconcile is the advisory lock class of the reconciliation lock
// (beside those in locks.go); its second key is always 0.
const lockClassReconcile = 0x5359_0003

// TryLockReconcile takes the session-level reconciliation lock on db, which
// must be one connection held for the whole run. A run holds it while it
// works, so a job River rescued while its first attempt still runs (River
// cannot tell a slow job from a dead one) waits instead of running the same
// run twice, and a 'running' row whose lock nobody holds can be recognised
// as abandoned. The lock goes with the session when a process dies.
func TryLockReconcile(ctx context.Context, db DBTX) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int, 0)`, lockClassReconcile).Scan(&ok); err != nil {
		return false, fmt.Errorf("take the reconciliation lock: %w", err)
	}
	return ok, nil
}

// UnlockReconcile releases the lock TryLockReconcile took on the same
// connection.
func UnlockReconcile(ctx context.Context, db DBTX) error {
	var ok bool
	if err := db.QueryRow(ctx, `SELECT pg_advisory_unlock($1::int, 0)`, lockClassReconcile).Scan(&ok); err != nil {
		return fmt.Errorf("release the reconciliation lock: %w", err)
	}
	if !ok {
		return errors.New("release the reconciliation lock: this session did not hold it")
	}
	return nil
}

// reconcileLockHeld is true while some session holds the reconciliation
// lock; $1 is lockClassReconcile.
const reconcileLockHeld = `EXISTS (SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted
          -- pg_locks spans the cluster; advisory locks are per database.
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = $1 AND l.objid::bigint = 0 AND l.objsubid = 2)`

// AbandonedJob is a River job left `running` by a process that died.
type AbandonedJob struct {
	ID      int64
	Attempt int
}

// AbandonedReconcileJobs lists the River jobs of kind (reconciliation's)
// that are `running` although no session holds the reconciliation lock,
// and were attempted before horizon, the database's now() less grace. A
// live attempt takes the lock within moments of starting and keeps it
// until it ends, and the lock goes with the session when its process
// dies; so such a job is one nothing works on, whatever its age. grace
// covers the moments between an attempt's start and its lock. The
// horizon comes back so that the rescue can refuse any job attempted
// again since.
func AbandonedReconcileJobs(ctx context.Context, db DBTX, kind string, grace time.Duration) (jobs []AbandonedJob, horizon time.Time, err error) {
	const q = `
SELECT j.id, j.attempt, h.horizon
FROM (SELECT now() - $3::interval AS horizon) h
LEFT JOIN river_job j ON j.kind = $2 AND j.state = 'running' AND j.attempted_at < h.horizon
  AND NOT ` + reconcileLockHeld + `
ORDER BY j.id`
	rows, err := db.Query(ctx, q, lockClassReconcile, kind, grace)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("find abandoned reconciliation jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, attempt *int64
		if err := rows.Scan(&id, &attempt, &horizon); err != nil {
			return nil, time.Time{}, fmt.Errorf("find abandoned reconciliation jobs: %w", err)
		}
		if id != nil {
			jobs = append(jobs, AbandonedJob{ID: *id, Attempt: int(*attempt)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("find abandoned reconciliation jobs: %w", err)
	}
	return jobs, horizon, nil
}

// FailAbandonedRuns marks failed every 'running' run that nothing is running
// any more: its River job is gone or finished (completed, cancelled or
// discarded) and no session holds the reconciliation lock. Such a row is
// left by a process killed before River could retry its job; without this
// it would block every later run. It returns the ids it failed.
func FailAbandonedRuns(ctx context.Context, db DBTX) ([]int64, error) {
	const q = `
UPDATE clerk.reconciliation_runs r
SET status = 'failed', finished_at = now(),
    error = 'abandoned: its River job ' || coalesce(r.job_id::text, '(none)') ||
            ' is no longer in flight and no process is working on it'
WHERE r.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM river_job j
                  WHERE j.id = r.job_id AND j.state NOT IN ('completed', 'cancelled', 'discarded'))
  AND NOT ` + reconcileLockHeld + `
RETURNING r.id`
	rows, err := db.Query(ctx, q, lockClassReconcile)
	if err != nil {
		return nil, fmt.Errorf("fail abandoned reconciliation runs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("fail abandoned reconciliation runs: %w", err)
	}
	return ids, nil
}

// The seen set of a run lives in two temporary tables of the run's own
// connection, so that a run over millions of objects keeps none of them in
// memory: the ids Clerk listed (filled page by page with COPY), and the
// deletion candidates of one kind (live rows the listing did not return),
// which the run pages through in id order.

// Copier is what RecordSeen needs: a connection or a transaction.
type Copier interface {
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
}

// PrepareSeen (re)creates the run's temporary tables on db, which must be
// the connection the whole run uses.
func PrepareSeen(ctx context.Context, db DBTX) error {
	const q = `
DROP TABLE IF EXISTS pg_temp.syncd_reconcile_seen, pg_temp.syncd_reconcile_candidates;
CREATE TEMP TABLE syncd_reconcile_seen (kind text NOT NULL, id text NOT NULL);
CREATE TEMP TABLE syncd_reconcile_candidates (
    kind text NOT NULL, id text NOT NULL, organization_id text, user_id text,
    PRIMARY KEY (kind, id))`
	if _, err := db.Exec(ctx, q); err != nil {
		return fmt.Errorf("create reconciliation seen tables: %w", err)
	}
	return nil
}

// DropSeen drops the run's temporary tables before its connection goes back
// to the pool.
func DropSeen(ctx context.Context, db DBTX) error {
	if _, err := db.Exec(ctx, `DROP TABLE IF EXISTS pg_temp.syncd_reconcile_seen, pg_temp.syncd_reconcile_candidates`); err != nil {
		return fmt.Errorf("drop reconciliation seen tables: %w", err)
	}
	return nil
}

// RecordMembershipsSeen adds the live memberships of a user or an
// organization to the seen set. A dry run calls it where a real run's
// tombstone would have ended them: they must not turn into deletion
// candidates of their own, each costing a GET and counted twice.
func RecordMembershipsSeen(ctx context.Context, db DBTX, parentKind Kind, parentID string) error {
	p, err := parentOf(parentKind)
	if err != nil {
		return fmt.Errorf("record memberships seen: %w", err)
	}
	q := `INSERT INTO pg_temp.syncd_reconcile_seen (kind, id)
SELECT 'membership', id FROM clerk.organization_memberships WHERE ` + p.membershipColumn + ` = $1 AND deleted_at IS NULL`
	if _, err := db.Exec(ctx, q, parentID); err != nil {
		return fmt.Errorf("record memberships of %s %s seen: %w", parentKind, parentID, err)
	}
	return nil
}

// RecordSeen adds ids of one kind to the seen set. Duplicates are fine
// (offset paging can list an object twice).
func RecordSeen(ctx context.Context, db Copier, kind Kind, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{"syncd_reconcile_seen"}, []string{"kind", "id"},
		pgx.CopyFromSlice(len(ids), func(i int) ([]any, error) { return []any{kind, ids[i]}, nil }))
	if err != nil {
		return fmt.Errorf("record %d seen %s ids: %w", len(ids), kind, err)
	}
	return nil
}

// Candidate is a live row the listing did not return.
type Candidate struct {
	ID             string
	OrganizationID string // memberships only
	UserID         string // memberships only
}

// CollectCandidates fills the candidate table with the rows of one kind
// that are live, were not written since `since` (the run's start) and were
// not seen, and returns how many there are.
func CollectCandidates(ctx context.Context, db DBTX, kind Kind, since time.Time) (int64, error) {
	var sel string
	switch kind {
	case KindUser:
		sel = `SELECT 'user', t.id, NULL::text, NULL::text FROM clerk.users t`
	case KindOrganization:
		sel = `SELECT 'organization', t.id, NULL::text, NULL::text FROM clerk.organizations t`
	case KindMembership:
		sel = `SELECT 'membership', t.id, t.organization_id, t.user_id FROM clerk.organization_memberships t`
	default:
		return 0, fmt.Errorf("collect deletion candidates: unknown kind %q", kind)
	}
	// Temporary tables are never analyzed by autovacuum; without statistics
	// the planner may pick a nested loop over 100k seen ids.
	if _, err := db.Exec(ctx, `ANALYZE pg_temp.syncd_reconcile_seen`); err != nil {
		return 0, fmt.Errorf("analyze seen ids: %w", err)
	}
	q := `
INSERT INTO pg_temp.syncd_reconcile_candidates (kind, id, organization_id, user_id) ` + sel + `
WHERE t.deleted_at IS NULL AND t.synced_at < $1
  AND NOT EXISTS (SELECT 1 FROM pg_temp.syncd_reconcile_seen s WHERE s.kind = $2 AND s.id = t.id)`
	tag, err := db.Exec(ctx, q, since, kind)
	if err != nil {
		return 0, fmt.Errorf("collect %s deletion candidates: %w", kind, err)
	}
	return tag.RowsAffected(), nil
}

// NextCandidates returns up to limit candidates of one kind with ids after
// `after`, in id order.
func NextCandidates(ctx context.Context, db DBTX, kind Kind, after string, limit int) ([]Candidate, error) {
	rows, err := db.Query(ctx, `
SELECT id, coalesce(organization_id, ''), coalesce(user_id, '') FROM pg_temp.syncd_reconcile_candidates
WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3`, kind, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s deletion candidates: %w", kind, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
		var c Candidate
		err := r.Scan(&c.ID, &c.OrganizationID, &c.UserID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s deletion candidates: %w", kind, err)
	}
	return out, nil
}
