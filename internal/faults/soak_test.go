package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// soakSample is what the soak watches once a minute.
type soakSample struct {
	at                time.Duration
	rssMiB            float64
	goroutines        float64
	conns             int
	events, pending   int
	jobs, jobsWaiting int // river_job rows, and those not finished
	sent              int
}

// TestSoak (`make soak`, never in CI) runs the default `syncd serve` for
// SYNCD_SOAK (30m by default with make) at a steady 500 events/s, with a
// replay every few seconds and one reconciliation half way, and prints
// once a minute its RSS, goroutines, database connections, and the row
// counts of clerk.webhook_events and river_job. It fails if the process,
// its connections or its backlog keep growing: the second half's peak may
// not exceed the first half's by more than half again plus a small slack.
// The two tables grow with the events by design (retention prunes hourly
// after SYNCD_EVENT_RETENTION, and River keeps finished jobs for 6 h), so
// for them it checks that nothing is left unfinished instead.
func TestSoak(t *testing.T) {
	if os.Getenv("SYNCD_SOAK") == "" {
		t.Skip("soak: run `make soak` (SYNCD_SOAK=30m)")
	}
	length, err := time.ParseDuration(os.Getenv("SYNCD_SOAK"))
	if err != nil || length < 2*time.Minute {
		t.Fatalf("SYNCD_SOAK=%q: want a duration of at least 2m", os.Getenv("SYNCD_SOAK"))
	}
	const rate = 500
	m := clerkfake.New(uint64(time.Now().UnixNano()))
	clerk := newFakeClerk(t, m)
	// A cluster of its own, configured as production would be: the shared
	// test server runs without autovacuum (a CI setting), and after a few
	// minutes at 500 events/s its unvacuumed river_job and webhook_events
	// slowed every statement; the throwaway cluster trades durability for
	// speed, which would flatter the figures.
	_, url := testdb.OwnCluster(t)
	pool := syncdtest.OpenPool(t, url+"&application_name=soak-observer")
	for _, q := range []string{`ALTER SYSTEM SET fsync = on`, `ALTER SYSTEM SET full_page_writes = on`,
		`ALTER SYSTEM SET autovacuum = on`, `SELECT pg_reload_conf()`} {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	secret := clerkfake.NewSecret(nil)
	// SYNCD_SOAK_ENV ("NAME=value,NAME=value") soaks another configuration
	// than the default, e.g. SYNCD_WORKERS=100.
	env := clerk.env()
	if extra := os.Getenv("SYNCD_SOAK_ENV"); extra != "" {
		env = append(env, strings.Split(extra, ",")...)
	}
	p := start(t, url, secret, env...)
	snd := newSender(t, secret, p.URL)

	ctx, cancel := context.WithTimeout(context.Background(), length)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	sent := 0
	var sentMu sync.Mutex
	sentSoFar := func() int {
		sentMu.Lock()
		defer sentMu.Unlock()
		return sent
	}
	wg.Go(func() { // the steady stream
		next := make(chan clerkfake.Event, rate)
		var senders sync.WaitGroup
		for range 32 {
			senders.Go(func() {
				for ev := range next {
					snd.deliver(context.Background(), ev)
				}
			})
		}
		// Paced by the clock, not by a ticker (which drops ticks when the
		// loop falls behind): every 10 ms, whatever is due is sent.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var queue []clerkfake.Event
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				continue
			case <-tick.C:
			}
			due := int(time.Since(began).Seconds() * rate)
			for ctx.Err() == nil && sentSoFar() < due {
				if len(queue) == 0 {
					queue = m.Step()
				}
				next <- queue[0] // when the senders are behind, the pace waits: nothing is dropped
				queue = queue[1:]
				sentMu.Lock()
				sent++
				sentMu.Unlock()
			}
		}
		for _, ev := range queue { // end on a whole operation, so the model is the truth
			next <- ev
		}
		close(next)
		senders.Wait()
	})
	wg.Go(func() { // replays of stored events
		rng := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(3 * time.Second):
			}
			ids := snd.ackedIDs()
			if len(ids) == 0 {
				continue
			}
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/admin/events/"+ids[rng.IntN(len(ids))]+"/replay", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
				if res.StatusCode/100 != 2 {
					t.Errorf("replay answered %d", res.StatusCode)
				}
			}
		}
	})
	wg.Go(func() { // one reconciliation, half way
		select {
		case <-ctx.Done():
			return
		case <-time.After(length / 2):
		}
		id := startRun(t, p)
		if rep := waitRun(t, p, id, time.Now().Add(length)); rep.Status != "succeeded" {
			t.Errorf("the reconciliation during the soak: %+v", rep)
		}
	})

	var samples []soakSample
	sample := func() {
		sentMu.Lock()
		s := soakSample{at: time.Since(began).Round(time.Second), sent: sent}
		sentMu.Unlock()
		s.rssMiB = metric(t, p, "process_resident_memory_bytes") / (1 << 20)
		s.goroutines = metric(t, p, "go_goroutines")
		mustQuery(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name <> 'soak-observer'`, &s.conns)
		mustQuery(t, pool, `SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM clerk.webhook_events`,
			&s.events, &s.pending)
		mustQuery(t, pool, `SELECT count(*), count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded'))
			FROM river_job`, &s.jobs, &s.jobsWaiting)
		samples = append(samples, s)
		t.Logf("%8s sent %8d  rss %6.1f MiB  goroutines %5.0f  connections %3d  webhook_events %8d (pending %5d)  river_job %8d (unfinished %5d)",
			s.at, s.sent, s.rssMiB, s.goroutines, s.conns, s.events, s.pending, s.jobs, s.jobsWaiting)
	}
	minute := time.NewTicker(time.Minute)
	defer minute.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-minute.C:
			sample()
		}
	}
	wg.Wait()
	waitApplied(t, pool, snd.ackedIDs(), time.Now().Add(recoveryBound))
	sample()
	checkBounded(t, samples)
	requireEqualToModel(t, pool, m, synctest.Options{})
}

// checkBounded fails t when a watched figure's peak in the second half of
// the samples exceeds the first half's by more than half again plus slack.
func checkBounded(t *testing.T, samples []soakSample) {
	t.Helper()
	if len(samples) < 2 {
		return
	}
	half := len(samples) / 2
	figures := []struct {
		name  string
		slack float64
		of    func(soakSample) float64
	}{
		{"RSS (MiB)", 32, func(s soakSample) float64 { return s.rssMiB }},
		{"goroutines", 100, func(s soakSample) float64 { return s.goroutines }},
		{"database connections", 4, func(s soakSample) float64 { return float64(s.conns) }},
		{"pending events", 2000, func(s soakSample) float64 { return float64(s.pending) }},
		{"unfinished River jobs", 2000, func(s soakSample) float64 { return float64(s.jobsWaiting) }},
	}
	for _, f := range figures {
		var first, second float64
		for i, s := range samples {
			if i < half {
				first = max(first, f.of(s))
			} else {
				second = max(second, f.of(s))
			}
		}
		if second > first*1.5+f.slack {
			t.Errorf("%s grew: peak %.0f in the first half, %.0f in the second", f.name, first, second)
		}
	}
	fmt.Fprintln(os.Stderr) // keep the table apart from go test's summary
}
