package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

const adminToken = "faults-admin-token-0123456789abcdef"

// fakeClerk is a fake Backend API over m whose requests a test can hold:
// while held, every request waits (as one in flight when a process dies).
type fakeClerk struct {
	URL string

	mu      sync.Mutex
	hold    chan struct{} // closed: requests pass
	reached chan struct{} // closed when the first request is held
	once    sync.Once
	down    bool // answer 503 to everything
}

func newFakeClerk(t *testing.T, m *clerkfake.Model) *fakeClerk {
	f := &fakeClerk{hold: make(chan struct{}), reached: make(chan struct{})}
	close(f.hold)
	api := clerkfake.NewAPI(m, clerkfake.APIOptions{
		Fault: func(*http.Request, int64) (int, http.Header) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.down {
				return http.StatusServiceUnavailable, nil
			}
			return 0, nil
		},
		BeforeRequest: func(*http.Request) {
			f.mu.Lock()
			hold := f.hold
			f.mu.Unlock()
			select {
			case <-hold:
			default:
				f.once.Do(func() { close(f.reached) })
				<-hold
			}
		},
	})
	srv := httptest.NewServer(api)
	t.Cleanup(func() { f.release(); srv.Close() })
	f.URL = srv.URL + "/v1"
	return f
}

// holdRequests makes every request from now on wait until release.
func (f *fakeClerk) holdRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = make(chan struct{})
}

func (f *fakeClerk) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.hold:
	default:
		close(f.hold)
	}
}

func (f *fakeClerk) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// reconcileEnv points syncd at the fake API, with the admin routes on.
func (f *fakeClerk) env() []string {
	return []string{"CLERK_SECRET_KEY=" + clerkfake.DefaultSecretKey, "CLERK_API_URL=" + f.URL,
		"SYNCD_CLERK_RPS=1000", "SYNCD_ADMIN_TOKEN=" + adminToken}
}

type runReport struct {
	RunID  int64  `json:"run_id"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Users  struct {
		Created, Deleted int64
	} `json:"users"`
}

// admin calls an admin route of s and decodes its JSON answer into out.
func admin(t *testing.T, s *syncdtest.Syncd, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, body, err)
		}
	}
	return res.StatusCode
}

// startRun starts a manual reconciliation through the admin route.
func startRun(t *testing.T, s *syncdtest.Syncd) int64 {
	t.Helper()
	var started struct {
		RunID   int64 `json:"run_id"`
		Started bool  `json:"started"`
	}
	if code := admin(t, s, http.MethodPost, "/admin/reconcile", &started); code != http.StatusAccepted || !started.Started {
		t.Fatalf("POST /admin/reconcile: %d %+v", code, started)
	}
	return started.RunID
}

// waitRun polls run id until it is no longer running, or fails t at
// deadline.
func waitRun(t *testing.T, s *syncdtest.Syncd, id int64, deadline time.Time) runReport {
	t.Helper()
	for {
		var rep runReport
		admin(t, s, http.MethodGet, fmt.Sprintf("/admin/reconcile/runs/%d", id), &rep)
		if rep.Status != "running" {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still running at the deadline", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// driftedInstance is a syncd serving a fake Clerk instance whose tables
// hold a 300-event webhook history (live rows a wrong reconciliation could
// tombstone) and miss what was created in Clerk since without a webhook
// (drift a run must repair): the model, the fake API, the database's URL,
// a pool on it and the process.
func driftedInstance(t *testing.T, seed uint64) (*clerkfake.Model, *fakeClerk, string, *pgxpool.Pool, *syncdtest.Syncd) {
	t.Helper()
	m := clerkfake.New(seed)
	clerk := newFakeClerk(t, m)
	url := testdb.NewURL(t)
	pool := syncdtest.OpenPool(t, url)
	p := start(t, url, clerkfake.NewSecret(nil), clerk.env()...)
	p.Deliver(t, m.History(300)...)
	syncdtest.WaitApplied(t, func(ctx context.Context) (int, error) {
		var k int
		err := pool.QueryRow(ctx, syncdtest.PendingSQL).Scan(&k)
		return k, err
	}, time.Minute)
	m.Populate(1500, 10, 300)
	return m, clerk, url, pool, p
}

// TestKillNineDuringReconciliationIsRetried: a process dies in the middle
// of a reconciliation (an API request in flight). Its run must be taken up
// again by the restarted process without anyone asking, finish, and leave
// the tables equal to Clerk's, with nothing tombstoned that Clerk lists.
func TestKillNineDuringReconciliationIsRetried(t *testing.T) {
	requireFaults(t)
	t.Parallel()
	m, clerk, url, pool, p := driftedInstance(t, 77)
	secret := p.Secret

	clerk.holdRequests()
	id := startRun(t, p)
	select {
	case <-clerk.reached:
	case <-time.After(time.Minute):
		t.Fatal("the run made no API request within a minute")
	}
	p.Kill(t)
	clerk.release()

	p = start(t, url, secret, clerk.env()...)
	restarted := time.Now()
	rep := waitRun(t, p, id, restarted.Add(recoveryBound))
	if rep.Status != "succeeded" {
		t.Fatalf("run %d after the restart: %+v", id, rep)
	}
	t.Logf("run %d retried and finished %s after the restart: %+v", id, time.Since(restarted).Round(time.Millisecond), rep)
	requireEqualToModel(t, pool, m, synctest.Options{})
	var lost int
	mustQuery(t, pool, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`, &lost)
	if lost != 0 {
		t.Errorf("%d events pending", lost)
	}
}

// TestClerkDownFailsTheRunAndTombstonesNothing: the Backend API answers
// 503 to everything in the middle of a run. The run must end failed and
// say why, tombstone nothing (what it did not list is not gone), and the
// next run, with Clerk back, must repair everything.
func TestClerkDownFailsTheRunAndTombstonesNothing(t *testing.T) {
	requireFaults(t)
	t.Parallel()
	m, clerk, _, pool, p := driftedInstance(t, 78)
	const countUsers = `SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM clerk.users`
	var liveBefore, deletedBefore int
	mustQuery(t, pool, countUsers, &liveBefore, &deletedBefore)

	clerk.holdRequests()
	id := startRun(t, p)
	<-clerk.reached
	clerk.setDown(true)
	clerk.release()
	rep := waitRun(t, p, id, time.Now().Add(3*time.Minute))
	if rep.Status != "failed" || !strings.Contains(rep.Error, "503") {
		t.Fatalf("run %d with Clerk down: %+v; want failed, naming the 503", id, rep)
	}
	var liveAfter, deletedAfter int
	mustQuery(t, pool, countUsers, &liveAfter, &deletedAfter)
	if deletedAfter != deletedBefore || liveAfter < liveBefore {
		t.Fatalf("the failed run changed the users from %d live and %d deleted to %d live and %d deleted",
			liveBefore, deletedBefore, liveAfter, deletedAfter)
	}

	clerk.setDown(false)
	id = startRun(t, p)
	if rep := waitRun(t, p, id, time.Now().Add(time.Minute)); rep.Status != "succeeded" {
		t.Fatalf("run %d with Clerk back: %+v", id, rep)
	}
	requireEqualToModel(t, pool, m, synctest.Options{})
}
