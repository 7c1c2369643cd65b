package faults

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
)

// recoveryBound is sync rule 7: every acknowledged event is applied within
// two minutes of a process running again.
const recoveryBound = 2 * time.Minute

// requireFaults skips the suite outside `make test-faults`.
func requireFaults(t *testing.T) {
	t.Helper()
	if os.Getenv("SYNCD_TEST_FAULTS") == "" {
		t.Skip("fault suite: run `make test-faults` (or set SYNCD_TEST_FAULTS=1)")
	}
}

// start runs `syncd serve` on url with the given webhook secret, so that a
// restarted process accepts what the senders sign.
func start(t *testing.T, url, secret string, env ...string) *syncdtest.Syncd {
	t.Helper()
	s := syncdtest.Start(t, url, append([]string{"CLERK_WEBHOOK_SECRET=" + secret}, env...)...)
	s.Secret = secret
	return s
}

// sender delivers events the way Svix does: each until it is answered 2xx,
// retrying every other answer and every refused connection, to whichever
// process currently listens (the target moves when a test restarts syncd).
type sender struct {
	t      *testing.T
	secret string
	target atomic.Pointer[string]
	client *http.Client

	mu      sync.Mutex
	acked   map[string]time.Time // event id -> its 2xx
	errors  map[int]int          // non-2xx status (0: no answer) -> count
	answers []answer
}

// answer is one delivery attempt as the sender saw it.
type answer struct {
	at         time.Time // when it was sent
	took       time.Duration
	status     int // 0: no answer
	retryAfter string
}

func newSender(t *testing.T, secret, url string) *sender {
	s := &sender{t: t, secret: secret, acked: map[string]time.Time{}, errors: map[int]int{},
		client: &http.Client{Timeout: 20 * time.Second}}
	s.point(url)
	return s
}

// point moves the deliveries to the syncd at url.
func (s *sender) point(url string) { s.target.Store(&url) }

// run delivers evs with n concurrent senders and returns when every one has
// been acknowledged, or ctx ends.
func (s *sender) run(ctx context.Context, evs []clerkfake.Event, n int) {
	next := make(chan clerkfake.Event)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ev := range next {
				s.deliver(ctx, ev)
			}
		})
	}
	for _, ev := range evs {
		select {
		case next <- ev:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

func (s *sender) deliver(ctx context.Context, ev clerkfake.Event) {
	for ctx.Err() == nil {
		req, err := clerkfake.NewWebhookRequest(*s.target.Load()+"/webhooks/clerk", s.secret, ev, time.Now())
		if err != nil {
			s.t.Error(err)
			return
		}
		a := answer{at: time.Now()}
		if res, err := s.client.Do(req.WithContext(ctx)); err == nil {
			a.status, a.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
			res.Body.Close()
		}
		a.took = time.Since(a.at)
		status := a.status
		s.mu.Lock()
		s.answers = append(s.answers, a)
		if status/100 == 2 {
			s.acked[ev.ID] = time.Now()
			s.mu.Unlock()
			return
		}
		s.errors[status]++
		s.mu.Unlock()
		// Svix waits seconds to hours before a retry; half a second keeps
		// the tests short without 160 stalled senders hammering a 2-core
		// machine that five other syncd processes share.
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ackedIDs is every event id answered 2xx so far.
func (s *sender) ackedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.acked))
	for id := range s.acked {
		ids = append(ids, id)
	}
	return ids
}

// answered is every attempt sent between from and to.
func (s *sender) answered(from, to time.Time) []answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []answer
	for _, a := range s.answers {
		if !a.at.Before(from) && a.at.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// refusals is how many answers were not 2xx, by status (0: no answer).
func (s *sender) refusals() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.errors {
		out[k] = v
	}
	return out
}

// whileApplying waits (at most 10 s) until River is running apply jobs, so
// that a kill lands in the middle of applying, and returns how many run.
func whileApplying(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var running int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		mustQuery(t, pool, `SELECT count(*) FROM river_job WHERE state = 'running'`, &running)
		if running > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return running
}

// finishStream waits for the senders to deliver all n events (2xx each)
// and for syncd to apply them.
func finishStream(ctx context.Context, t *testing.T, pool *pgxpool.Pool, snd *sender, streamed <-chan struct{}, n int) {
	t.Helper()
	<-streamed
	if ctx.Err() != nil {
		t.Fatalf("the senders could not deliver the stream within 8 minutes; refusals: %v", snd.refusals())
	}
	acked := snd.ackedIDs()
	if len(acked) != n {
		t.Fatalf("%d of %d events acknowledged", len(acked), n)
	}
	waitApplied(t, pool, acked, time.Now().Add(recoveryBound))
}

// unapplied counts the events among ids that are stored but not yet
// finished (pending), and those not stored at all.
func unapplied(ctx context.Context, pool *pgxpool.Pool, ids []string) (pending, missing int, err error) {
	err = pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE e.id IS NOT NULL AND e.status = 'pending'),
       count(*) FILTER (WHERE e.id IS NULL)
FROM unnest($1::text[]) AS a(id) LEFT JOIN clerk.webhook_events e ON e.id = a.id`, ids).Scan(&pending, &missing)
	return pending, missing, err
}

// waitApplied waits until every event in ids is stored and no longer
// pending, and fails t if that takes beyond deadline. It returns when that
// happened.
func waitApplied(t *testing.T, pool *pgxpool.Pool, ids []string, deadline time.Time) time.Time {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pending, missing, err := unapplied(ctx, pool, ids)
		cancel()
		if err == nil && pending == 0 && missing == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("of %d acknowledged events, %d still pending and %d not stored at the deadline (last error: %v)",
				len(ids), pending, missing, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireEqualToModel fails t unless the tables equal the model's truth
// and no event ended failed.
func requireEqualToModel(t *testing.T, pool *pgxpool.Pool, m *clerkfake.Model, opts synctest.Options) {
	t.Helper()
	ctx := context.Background()
	diffs, err := synctest.Diff(ctx, pool, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range diffs {
		if i == 20 {
			t.Errorf("... and %d more differences", len(diffs)-i)
			break
		}
		t.Errorf("tables differ from the model: %s", d)
	}
	var failed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'failed'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 0 {
		t.Errorf("%d events ended failed", failed)
	}
}

// mustQuery scans one row of q into dest, failing t on error.
func mustQuery(t *testing.T, pool *pgxpool.Pool, q string, dest ...any) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), q).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// metric reads one unlabelled sample from s's /metrics.
func metric(t *testing.T, s *syncdtest.Syncd, name string) float64 {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// backendPID is the server process of tx's connection.
func backendPID(t *testing.T, tx pgx.Tx) int {
	t.Helper()
	var pid int
	if err := tx.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}
