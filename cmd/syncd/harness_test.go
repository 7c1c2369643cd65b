package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

// lockedBuffer collects a process's output while it runs.
type lockedBuffer = syncdtest.LockedBuffer

// env is a getenv over a map.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// process is `syncd serve` running inside the test.
type process struct {
	t      testing.TB
	URL    string // http://127.0.0.1:port
	Stdout *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServe runs `syncd serve args...` in-process on a free port and waits
// until it listens. The process is stopped (as by SIGTERM) when t ends.
func startServe(t testing.TB, e env, args ...string) *process {
	t.Helper()
	e = e.with("SYNCD_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{t: t, Stdout: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	stderr := &lockedBuffer{}
	go func() {
		p.done <- run(ctx, append([]string{"syncd", "serve"}, args...), e.get, p.Stdout, stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if addr := syncdtest.ListeningAddr(p.Stdout.String()); addr != "" {
			p.URL = "http://" + addr
			t.Cleanup(func() { _ = p.Stop() }) // a test that checks how serve stopped calls Stop itself
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited before listening: %v\nstdout:\n%s\nstderr:\n%s", err, p.Stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not listen within 20s:\n%s", p.Stdout)
	return nil
}

// Stop cancels the process's context (what SIGTERM does in main) and waits
// for run to return.
func (p *process) Stop() error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		p.t.Errorf("serve did not stop within 60s")
		return nil
	}
}

// deliver signs and posts one event as Svix would, returning the status.
func deliver(t testing.TB, url, secret string, ev clerkfake.Event) int {
	t.Helper()
	req, err := clerkfake.NewWebhookRequest(url+"/webhooks/clerk", secret, ev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("deliver %s: %v", ev.ID, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitApplied waits until no stored event is pending.
func waitApplied(t testing.TB, pool *pgxpool.Pool, timeout time.Duration) {
	t.Helper()
	syncdtest.WaitApplied(t, syncdtest.Pending(pool), timeout)
}

// newServeDB is where most serve tests start: a fresh migrated database, a
// pool on it, and a webhook secret.
func newServeDB(t testing.TB) (url string, pool *pgxpool.Pool, secret string) {
	t.Helper()
	url = testdb.NewURL(t)
	return url, syncdtest.OpenPool(t, url), clerkfake.NewSecret(nil)
}

// serveEnv is serve's environment on the database at url with the webhook
// secret and scheduled reconciliation off; kv (KEY, value pairs) adds or
// overrides variables.
func serveEnv(url, secret string, kv ...string) env {
	return env{"DATABASE_URL": url, "CLERK_WEBHOOK_SECRET": secret, "SYNCD_RECONCILE_SCHEDULE": "off"}.with(kv...)
}

// deliverAll delivers evs in order, failing t unless each is accepted
// (202), and returns how many of them syncd syncs (and so will apply).
func deliverAll(t testing.TB, url, secret string, evs []clerkfake.Event) (synced int) {
	t.Helper()
	for _, ev := range evs {
		if code := deliver(t, url, secret, ev); code != http.StatusAccepted {
			t.Fatalf("deliver: %d", code)
		}
		if ev.Synced() {
			synced++
		}
	}
	return synced
}

func mustf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
