package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

// A bad SYNCD_EVENT_RETENTION stops `syncd serve` with exit code 2 and a
// message naming the variable and what to set instead.
func TestServeRefusesABadEventRetention(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a webhook secret of 32 bytes...."))
	for _, v := range []string{"forever", "30", "-1h"} {
		var out, errOut lockedBuffer
		err := run(context.Background(), []string{"syncd", "serve", "--role", "worker"},
			env{"DATABASE_URL": url, "CLERK_WEBHOOK_SECRET": secret, "SYNCD_ADDR": "127.0.0.1:0",
				"SYNCD_EVENT_RETENTION": v}.get, &out, &errOut)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "SYNCD_EVENT_RETENTION") ||
			!strings.Contains(err.Error(), "off") {
			t.Errorf("SYNCD_EVENT_RETENTION=%q: %v (exit %d), want exit 2 naming the variable and its values", v, err, exitCode(err))
		}
	}
}

// SYNCD_EVENT_RETENTION's default (30 days) through `syncd serve`: the
// prune job the leader runs at start deletes a finished event received 31
// days ago and keeps failed and pending ones of the same age, and finished
// ones younger than 30 days.
func TestDefaultRetentionThroughServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.NewURL(t)
	pool := syncdtest.OpenPool(t, url)
	events := []struct {
		id, status string
		age        time.Duration
		kept       bool
	}{
		{"msg_retention_applied_31d", "applied", 31 * 24 * time.Hour, false},
		{"msg_retention_failed_31d", "failed", 31 * 24 * time.Hour, true},
		{"msg_retention_pending_31d", "pending", 31 * 24 * time.Hour, true},
		{"msg_retention_applied_29d", "applied", 29 * 24 * time.Hour, true},
		{"msg_retention_applied_1d", "applied", 24 * time.Hour, true},
	}
	for _, ev := range events {
		var errText *string
		if ev.status == "failed" {
			errText = new("user: updated_at out of range")
		}
		_, err := pool.Exec(ctx, `INSERT INTO clerk.webhook_events (id, type, object_id, occurred_at, received_at, payload, status, error, applied_at)
			VALUES ($1, 'email.created', 'idn_retention', now() - $2::interval, now() - $2::interval, '{"data":{}}', $3, $4,
			        CASE WHEN $3 = 'pending' THEN NULL ELSE now() - $2::interval END)`,
			ev.id, fmt.Sprintf("%d seconds", int64(ev.age.Seconds())), ev.status, errText)
		mustf(t, err, "insert %s", ev.id)
	}

	e := serveEnv(url, clerkfake.NewSecret(nil))
	if _, set := e["SYNCD_EVENT_RETENTION"]; set {
		t.Fatal("SYNCD_EVENT_RETENTION must be unset")
	}
	startServe(t, e)

	eventually(t, 30*time.Second, func() (bool, string) {
		var state string
		err := pool.QueryRow(ctx, `SELECT coalesce(max(state::text), '') FROM river_job WHERE kind = 'syncd.prune_events'`).Scan(&state)
		mustf(t, err, "prune job")
		return state == "completed", fmt.Sprintf("the prune job is %q, want completed", state)
	})
	for _, ev := range events {
		var n int
		mustf(t, pool.QueryRow(ctx, `SELECT count(*) FROM clerk.webhook_events WHERE id = $1`, ev.id).Scan(&n), "count %s", ev.id)
		if kept := n == 1; kept != ev.kept {
			t.Errorf("%s (%s, %s old): kept %v, want %v", ev.id, ev.status, ev.age, kept, ev.kept)
		}
	}
	var status string
	mustf(t, pool.QueryRow(ctx, `SELECT status FROM clerk.webhook_events WHERE id = 'msg_retention_pending_31d'`).Scan(&status), "pending")
	if status != "pending" {
		t.Errorf("the old pending event is %q now", status)
	}
}
