package reconcile_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/store"
)

// Clerk's Backend API goes down, or answers slower than an attempt may
// wait, in the middle of a run (after the first page). The run must end
// failed and say why, tombstone nothing (an object it could not list is
// not gone), and leave no row deleted that was live; with Clerk back, the
// next run repairs the drift.
func TestClerkDownOrSlowFailsTheRunAndTombstonesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		fault  func(w http.ResponseWriter) // nil: let it through
		reason string
	}{
		{"down", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"errors":[{"code":"service_unavailable","message":"down"}]}`))
		}, "503"},
		{"slow", func(http.ResponseWriter) { time.Sleep(700 * time.Millisecond) }, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := clerkfake.New(91)
			m.Populate(1200, 6, 200)
			var broken atomic.Bool
			var seen atomic.Int64
			h := newHarness(t, m, clerkfake.APIOptions{}, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if broken.Load() && seen.Add(1) > 1 {
						if tc.fault(w); tc.name == "down" {
							return
						}
					}
					next.ServeHTTP(w, r)
				})
			})
			h.mustRun(false)
			// Drift the next run should repair, and a tombstone a wrong run
			// would add: objects created and deleted in Clerk meanwhile.
			m.Populate(300, 2, 50)
			must[[]clerkfake.Event](t)(m.DeleteUser(m.Users()[0].ID))
			const deleted = `SELECT (SELECT count(*) FROM clerk.users WHERE deleted_at IS NOT NULL)
				+ (SELECT count(*) FROM clerk.organizations WHERE deleted_at IS NOT NULL)
				+ (SELECT count(*) FROM clerk.organization_memberships WHERE deleted_at IS NOT NULL)`
			var before, after int64
			h.scan(&before, deleted)

			broken.Store(true)
			r, err := reconcile.New(reconcile.Config{Pool: h.pool, Clerk: clerkapi.Config{
				BaseURL: h.url, SecretKey: clerkfake.DefaultSecretKey, Timeout: 300 * time.Millisecond,
				MaxRetries: 2, Sleep: func(context.Context, time.Duration) error { return nil }}})
			if err != nil {
				t.Fatal(err)
			}
			run, err := h.run(r, false)
			if err == nil || run.Status != store.RunFailed || !strings.Contains(strings.ToLower(run.Error), tc.reason) {
				t.Fatalf("run with Clerk %s: status %q, error %q (%v); want failed, naming %q", tc.name, run.Status, run.Error, err, tc.reason)
			}
			h.scan(&after, deleted)
			if after != before {
				t.Fatalf("the failed run tombstoned %d rows", after-before)
			}

			broken.Store(false)
			h.mustRun(false)
			h.requireConverged()
		})
	}
}
