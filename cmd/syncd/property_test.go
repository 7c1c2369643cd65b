package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
)

// TestShuffledDeliveryConverges is sync rule 4 as a property: for many
// seeds, a random Clerk history delivered through the real endpoint in a
// random order, with duplicates, to several concurrent workers, leaves every
// table equal to Clerk's truth. A failure names its seed; rerun one with
// SYNCD_SEED=<seed>.
func TestShuffledDeliveryConverges(t *testing.T) {
	t.Parallel()
	seeds, events, groups := 200, 50, 4
	if os.Getenv("SYNCD_LONG") != "" {
		seeds, events = 2000, 120
	}
	var only []uint64
	if s := os.Getenv("SYNCD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCD_SEED=%q: %v", s, err)
		}
		only = []uint64{n}
		groups = 1
	}
	for g := range groups {
		t.Run(fmt.Sprintf("group%d", g), func(t *testing.T) {
			t.Parallel()
			url, pool, secret := newServeDB(t)
			p := startServe(t, serveEnv(url, secret, "SYNCD_WORKERS", "4"))
			list := only
			if list == nil {
				for s := g; s < seeds; s += groups {
					list = append(list, uint64(s))
				}
			}
			for _, seed := range list {
				if !convergesFor(t, p.URL, secret, pool, seed, events) {
					return // one failing seed per group is enough to read
				}
				_, err := pool.Exec(context.Background(), `TRUNCATE clerk.users, clerk.user_email_addresses,
					clerk.organizations, clerk.organization_memberships, clerk.webhook_events, river_job`)
				mustf(t, err, "reset tables after seed %d", seed)
			}
		})
	}
}

func convergesFor(t *testing.T, url, secret string, pool store.DBTX, seed uint64, n int) bool {
	t.Helper()
	m := clerkfake.New(seed)
	m.SetUnsyncedRate(0.05)
	history := m.History(n)

	// Every event once, 30% of them twice, in a seeded random order.
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	deliveries := append([]clerkfake.Event(nil), history...)
	for _, ev := range history {
		if r.Float64() < 0.3 {
			deliveries = append(deliveries, ev)
		}
	}
	r.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })

	// Four senders at once, as Svix would retry and deliver in parallel.
	var wg sync.WaitGroup
	next := make(chan clerkfake.Event)
	bad := make(chan string, len(deliveries))
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range next {
				if code := deliver(t, url, secret, ev); code != http.StatusAccepted && code != http.StatusOK {
					bad <- fmt.Sprintf("%s %s answered %d", ev.Type, ev.ID, code)
				}
			}
		}()
	}
	for _, ev := range deliveries {
		next <- ev
	}
	close(next)
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Errorf("seed %d: %s", seed, msg)
		return false
	}
	syncdtest.WaitApplied(t, syncdtest.Pending(pool), 60*time.Second)

	var failed int
	mustf(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM clerk.webhook_events WHERE status = 'failed'`).Scan(&failed), "count failed")
	if failed > 0 {
		t.Errorf("seed %d: %d events failed", seed, failed)
		return false
	}
	diffs, err := synctest.Diff(context.Background(), pool, m, synctest.Options{ExactDeletedAt: true})
	mustf(t, err, "seed %d: diff", seed)
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
		}
		t.Errorf("seed %d: %d events (%d deliveries) left the tables unlike Clerk (rerun with SYNCD_SEED=%d):\n%s",
			seed, len(history), len(deliveries), seed, joinLines(diffs))
		return false
	}
	return true
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
