package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncd/syncd/internal/clerkfake"
)

// benchServe measures what users run: the default `syncd serve` (HTTP
// ingest and River workers in one process) fed by keep-alive senders, with
// the apply running at the same time as the ingest. Each run starts a fresh
// database and a fresh process, then:
//
//   - closed loop: --senders senders post --users users, each created then
//     updated --updates times (distinct, signed, ~2 KB events), as fast as
//     the answers come back; accepted/s and the latency of the 2xx answers,
//     events applied per second while ingest ran, the backlog when the last
//     answer came, the time to drain it, apply lag (2xx to applied_at);
//   - open loop: fresh events at each of --rates arrivals per second for
//     --open-seconds, each request sent on schedule whether or not earlier
//     ones were answered, so queueing shows in the latency instead of
//     slowing the senders down;
//   - the same closed loop against `syncd serve --role api` (ingest alone);
//   - pgbench's one-row insert of the same event body at --senders clients.
//
// Medians over --runs runs are printed as one table.
func benchServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o := serveOpts{}
	fs.StringVar(&o.bin, "syncd", "bin/syncd", "the syncd binary to run")
	fs.IntVar(&o.runs, "runs", 3, "measured runs (medians are reported)")
	fs.IntVar(&o.users, "users", 5000, "users per closed-loop run")
	fs.IntVar(&o.updates, "updates", 3, "updates per user after its creation")
	fs.IntVar(&o.senders, "senders", 32, "concurrent closed-loop senders (and pgbench clients)")
	rates := fs.String("rates", "1000,2500", "open-loop arrival rates, events per second (comma-separated; empty for none)")
	fs.DurationVar(&o.openFor, "open-seconds", 5*time.Second, "length of each open-loop phase")
	fs.IntVar(&o.pgbenchSeconds, "pgbench-seconds", 10, "length of each pgbench run")
	fs.IntVar(&o.warmup, "warmup", 2000, "user.created events sent (and applied) before measuring, followed by ANALYZE")
	fs.BoolVar(&o.skipAPI, "skip-api", false, "leave out the --role api run")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of syncd during the first closed loop to this file")
	fs.BoolVar(&o.waits, "waits", false, "sample pg_stat_activity during the closed loop (ingest and apply at once) and print the wait events seen")
	fs.Var(envList{&o.env}, "env", "extra NAME=VALUE for syncd (repeatable), e.g. -env SYNCD_WORKERS=2")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(*rates, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := strconv.Atoi(s)
		if err != nil || r <= 0 {
			return fmt.Errorf("--rates: %q is not a positive number of events per second", s)
		}
		o.rates = append(o.rates, r)
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("%s not found: run `make build` first or pass --syncd", o.bin)
	}
	fmt.Fprintf(stdout, "serve: %s, default configuration, %d senders, %d users x %d events, %d runs\n",
		o.bin, o.senders, o.users, 1+o.updates, o.runs)

	var all []serveResult
	for i := 1; i <= o.runs; i++ {
		res, err := serveRun(ctx, o, i, stdout)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		all = append(all, res)
	}
	printServeTable(stdout, o, all)
	return nil
}

type serveOpts struct {
	bin                     string
	runs, users, updates    int
	warmup                  int
	senders, pgbenchSeconds int
	rates                   []int
	openFor                 time.Duration
	skipAPI, waits          bool
	profile                 string
	env                     []string
}

type envList struct{ list *[]string }

func (e envList) String() string {
	if e.list == nil {
		return ""
	}
	return strings.Join(*e.list, " ")
}

func (e envList) Set(s string) error {
	if !strings.Contains(s, "=") {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	*e.list = append(*e.list, s)
	return nil
}

type serveResult struct {
	accepted, rate  float64 // closed loop: accepted events, accepted/s
	p50, p95, p99   time.Duration
	appliedDuring   float64 // events applied per second while ingest ran
	backlog         float64 // events not yet applied when the last 2xx came
	drain           time.Duration
	endToEnd        float64 // events / (first send to last applied)
	lag50, lag99    time.Duration
	rssMiB          float64
	open            []openResult
	apiRate, apiP99 float64
	pgbenchTPS      float64
	nonAccepted     int64
	cpuPerEvent     float64 // CPU seconds of the whole machine per event, sent to applied
	waits           map[string]int
}

type openResult struct {
	rate          int
	sent, ok      int
	p50, p99, max time.Duration
}

// signedEvent is one request, signed ahead so the senders spend their time
// on the server.
type signedEvent struct {
	id   string
	body []byte
	hdr  http.Header
}

// workload builds users x (1 + updates) signed events: every user's
// user.created, then each round of updates, so an object's versions arrive
// in order but many at once.
func workload(model *clerkfake.Model, secret string, users, updates int) ([]signedEvent, error) {
	now := time.Now()
	var evs []clerkfake.Event
	ids := make([]string, 0, users)
	for range users {
		u, e := model.CreateUser()
		ids = append(ids, u.ID)
		evs = append(evs, e...)
	}
	for range updates {
		for _, id := range ids {
			e, err := model.UpdateUser(id)
			if err != nil {
				return nil, err
			}
			evs = append(evs, e...)
		}
	}
	out := make([]signedEvent, 0, len(evs))
	for _, ev := range evs {
		h, err := clerkfake.SignedHeaders(secret, ev, now)
		if err != nil {
			return nil, err
		}
		h.Set("Content-Type", "application/json")
		out = append(out, signedEvent{id: ev.ID, body: ev.Body, hdr: h})
	}
	return out, nil
}

// syncdProc is a running `syncd serve`.
type syncdProc struct {
	cmd  *exec.Cmd
	base string
}

func startSyncd(ctx context.Context, o serveOpts, dbURL, secret string, extra ...string) (*syncdProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.bin, append([]string{"serve"}, extra...)...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CLERK_WEBHOOK_SECRET="+secret,
		"SYNCD_ADDR="+addr, "SYNCD_ADMIN_TOKEN="+benchAdminToken)
	cmd.Env = append(cmd.Env, o.env...)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	// Logs go nowhere, but syncd still writes them at its default level.
	cmd.Stdout, cmd.Stderr = devnull, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start syncd: %w", err)
	}
	p := &syncdProc{cmd: cmd, base: "http://" + addr}
	if err := waitHealthy(ctx, p.base); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// benchAdminToken opens /admin/debug/pprof for --cpuprofile.
const benchAdminToken = "syncd-bench-admin-token-0123456789"

func (p *syncdProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// peakRSSMiB reads the process's high-water mark of resident memory.
func (p *syncdProc) peakRSSMiB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func serveRun(ctx context.Context, o serveOpts, run int, stdout io.Writer) (serveResult, error) {
	var res serveResult
	db, err := createDB(ctx)
	if err != nil {
		return res, err
	}
	defer db.Drop()
	secret := clerkfake.NewSecret(nil)
	model := clerkfake.New(uint64(run))
	closed, err := workload(model, secret, o.users, o.updates)
	if err != nil {
		return res, err
	}
	p, err := startSyncd(ctx, o, db.URL, secret)
	if err != nil {
		return res, err
	}
	defer p.stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)

	// Warm up: a first share of traffic fills caches and pools, and an
	// ANALYZE (which autovacuum would run soon after) gives the planner
	// statistics of tables that are no longer empty, so the figures are
	// those of a service that has been running, not of its first second.
	if o.warmup > 0 {
		warm, err := workload(model, secret, o.warmup, 0)
		if err != nil {
			return res, err
		}
		if _, err := closedLoop(ctx, client, p.base, warm, o.senders); err != nil {
			return res, err
		}
		if err := waitNonePending(ctx, conn, 2*time.Minute); err != nil {
			return res, err
		}
		if _, err := conn.Exec(ctx, `ANALYZE; CHECKPOINT`); err != nil {
			return res, err
		}
	}

	var profileDone chan error
	if o.profile != "" && run == 1 {
		profileDone = make(chan error, 1)
		go func() { profileDone <- fetchProfile(ctx, p.base, o.profile, 5) }()
	}
	var stopWaits func() map[string]int
	if o.waits {
		stopWaits = sampleWaits(ctx, db.URL)
	}

	// Closed loop, apply running alongside.
	cpu0 := machineCPUSeconds()
	start := time.Now()
	cl, err := closedLoop(ctx, client, p.base, closed, o.senders)
	if err != nil {
		return res, err
	}
	ingestEnd := time.Now()
	if stopWaits != nil {
		res.waits = stopWaits()
	}
	var pending int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`).Scan(&pending); err != nil {
		return res, err
	}
	res.accepted = float64(cl.accepted)
	res.nonAccepted = cl.other
	elapsed := ingestEnd.Sub(start)
	res.rate = res.accepted / elapsed.Seconds()
	res.p50, res.p95, res.p99 = percentile(cl.latencies, .5), percentile(cl.latencies, .95), percentile(cl.latencies, .99)
	res.backlog = float64(pending)
	res.appliedDuring = (res.accepted - res.backlog) / elapsed.Seconds()
	if err := waitNonePending(ctx, conn, 2*time.Minute); err != nil {
		return res, err
	}
	res.drain = time.Since(ingestEnd)
	res.cpuPerEvent = (machineCPUSeconds() - cpu0) / res.accepted
	if profileDone != nil {
		if err := <-profileDone; err != nil {
			fmt.Fprintf(stdout, "  profile: %v\n", err)
		}
	}
	lags, last, err := applyLags(ctx, conn, cl.acceptedAt)
	if err != nil {
		return res, err
	}
	res.lag50, res.lag99 = percentile(lags, .5), percentile(lags, .99)
	res.endToEnd = res.accepted / last.Sub(start).Seconds()

	// Open loop at each rate, on fresh events.
	for _, rate := range o.rates {
		n := int(float64(rate) * o.openFor.Seconds())
		evs, err := workload(model, secret, n, 0)
		if err != nil {
			return res, err
		}
		or, err := openLoop(ctx, client, p.base, evs, rate)
		if err != nil {
			return res, err
		}
		res.open = append(res.open, or)
		if err := waitNonePending(ctx, conn, 2*time.Minute); err != nil {
			return res, err
		}
	}
	res.rssMiB = p.peakRSSMiB()
	p.stop()

	// Ingest alone.
	if !o.skipAPI {
		if _, err := conn.Exec(ctx, `TRUNCATE clerk.webhook_events, river_job; CHECKPOINT`); err != nil {
			return res, err
		}
		api, err := startSyncd(ctx, o, db.URL, secret, "--role", "api")
		if err != nil {
			return res, err
		}
		evs, err := workload(model, secret, o.users, o.updates)
		if err != nil {
			api.stop()
			return res, err
		}
		t0 := time.Now()
		acl, err := closedLoop(ctx, client, api.base, evs, o.senders)
		api.stop()
		if err != nil {
			return res, err
		}
		res.apiRate = float64(acl.accepted) / time.Since(t0).Seconds()
		res.apiP99 = percentile(acl.latencies, .99).Seconds() * 1000
	}

	// pgbench: one-row insert of the same kind of body.
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS pgb_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now()); CHECKPOINT`); err != nil {
		return res, err
	}
	res.pgbenchTPS, err = pgbench(ctx, db.URL, pgbenchOneInsert(closed[len(closed)-1].body), o.senders, o.pgbenchSeconds)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "  run %d: %.0f accepted/s (p99 %s), %.0f applied/s during ingest, %.0f events/s end to end, lag p99 %s, backlog %.0f, drained in %s; api only %.0f/s; pgbench %.0f tps\n",
		run, res.rate, ms(res.p99), res.appliedDuring, res.endToEnd, ms(res.lag99), res.backlog,
		res.drain.Round(time.Millisecond), res.apiRate, res.pgbenchTPS)
	if res.nonAccepted > 0 {
		fmt.Fprintf(stdout, "  run %d: %d answers were not 202\n", run, res.nonAccepted)
	}
	return res, nil
}

func pgbenchOneInsert(body []byte) string {
	return "INSERT INTO pgb_events (payload) VALUES ('" + strings.ReplaceAll(string(body), "'", "''") + "');\n"
}

type loopResult struct {
	accepted, other int64
	latencies       []time.Duration
	acceptedAt      map[string]time.Time
}

// closedLoop sends every event once from `senders` goroutines, each waiting
// for its answer before sending the next.
func closedLoop(ctx context.Context, client *http.Client, base string, evs []signedEvent, senders int) (loopResult, error) {
	var next atomic.Int64
	res := loopResult{acceptedAt: make(map[string]time.Time, len(evs))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errc := make(chan error, senders)
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			acc := map[string]time.Time{}
			var other int64
			defer func() {
				mu.Lock()
				res.latencies = append(res.latencies, lat...)
				for k, v := range acc {
					res.acceptedAt[k] = v
				}
				res.other += other
				mu.Unlock()
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(evs) {
					return
				}
				t0 := time.Now()
				status, err := post(ctx, client, base, evs[i])
				if err != nil {
					errc <- err
					return
				}
				t1 := time.Now()
				if status == http.StatusAccepted {
					lat = append(lat, t1.Sub(t0))
					acc[evs[i].id] = t1
				} else {
					other++
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return res, err
	}
	res.accepted = int64(len(res.acceptedAt))
	return res, nil
}

// openLoop sends evs at a fixed rate, each on its own schedule; latency runs
// from the moment the request was due, so a server that falls behind is
// charged for the wait.
func openLoop(ctx context.Context, client *http.Client, base string, evs []signedEvent, rate int) (openResult, error) {
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var ok int
	var firstErr error
	var wg sync.WaitGroup
	for i := range evs {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, err := post(ctx, client, base, evs[i])
			d := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			lat = append(lat, d)
			if status == http.StatusAccepted {
				ok++
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return openResult{}, firstErr
	}
	return openResult{rate: rate, sent: len(evs), ok: ok, p50: percentile(lat, .5), p99: percentile(lat, .99),
		max: percentile(lat, 1)}, nil
}

func post(ctx context.Context, client *http.Client, base string, ev signedEvent) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/clerk", bytes.NewReader(ev.body))
	if err != nil {
		return 0, err
	}
	req.Header = ev.hdr.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitNonePending waits until no event is pending.
func waitNonePending(ctx context.Context, conn *pgx.Conn, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var pending int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d events still pending %s after the last send", pending, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// applyLags returns, for every accepted event, the time from its 2xx to its
// applied_at, and the newest applied_at.
func applyLags(ctx context.Context, conn *pgx.Conn, acceptedAt map[string]time.Time) ([]time.Duration, time.Time, error) {
	rows, err := conn.Query(ctx, `SELECT id, applied_at FROM clerk.webhook_events WHERE applied_at IS NOT NULL`)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var lags []time.Duration
	var last time.Time
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, time.Time{}, err
		}
		if at.After(last) {
			last = at
		}
		if acc, ok := acceptedAt[id]; ok {
			lags = append(lags, max(0, at.Sub(acc)))
		}
	}
	return lags, last, rows.Err()
}

// fetchProfile takes a CPU profile of syncd through its admin pprof route.
func fetchProfile(ctx context.Context, base, path string, seconds int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("%s/admin/debug/pprof/profile?seconds=%d", base, seconds), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof answered %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sampleWaits counts the wait events (and idle-in-transaction states) of
// the bench database's backends every 10 ms until the returned function is
// called.
func sampleWaits(ctx context.Context, url string) func() map[string]int {
	counts := map[string]int{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			rows, err := conn.Query(ctx, `
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), state
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`)
			if err != nil {
				return
			}
			for rows.Next() {
				var w, st string
				if rows.Scan(&w, &st) == nil {
					if st != "active" {
						w = st
					}
					counts[w]++
				}
			}
			rows.Close()
		}
	}()
	return func() map[string]int { close(stop); <-done; return counts }
}

func printServeTable(w io.Writer, o serveOpts, rs []serveResult) {
	med := func(f func(serveResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	msf := func(f func(serveResult) time.Duration) float64 {
		return med(func(r serveResult) float64 { return f(r).Seconds() * 1000 })
	}
	e2e := med(func(r serveResult) float64 { return r.endToEnd })
	tps := med(func(r serveResult) float64 { return r.pgbenchTPS })
	fmt.Fprintf(w, "\nmedians of %d runs: syncd serve (defaults), %d senders, %d events per closed loop\n\n", len(rs), o.senders, o.users*(1+o.updates))
	fmt.Fprintln(w, "| measure | median | target |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	fmt.Fprintf(w, "| accepted/s, closed loop | %.0f | |\n", med(func(r serveResult) float64 { return r.rate }))
	fmt.Fprintf(w, "| 2xx latency p50 / p95 / p99 | %.1f / %.1f / %.1f ms | p99 <= 25 ms |\n",
		msf(func(r serveResult) time.Duration { return r.p50 }), msf(func(r serveResult) time.Duration { return r.p95 }),
		msf(func(r serveResult) time.Duration { return r.p99 }))
	fmt.Fprintf(w, "| applied/s while ingest ran | %.0f | |\n", med(func(r serveResult) float64 { return r.appliedDuring }))
	fmt.Fprintf(w, "| end to end (first send to last applied) | %.0f events/s | >= 3,000 |\n", e2e)
	fmt.Fprintf(w, "| backlog at the last 2xx / drained after | %.0f events / %.2f s | |\n",
		med(func(r serveResult) float64 { return r.backlog }), med(func(r serveResult) float64 { return r.drain.Seconds() }))
	fmt.Fprintf(w, "| apply lag p50 / p99 (2xx to applied) | %.0f / %.0f ms | p99 <= 1,000 ms |\n",
		msf(func(r serveResult) time.Duration { return r.lag50 }), msf(func(r serveResult) time.Duration { return r.lag99 }))
	for i, rate := range o.rates {
		get := func(f func(openResult) time.Duration) float64 {
			return msf(func(r serveResult) time.Duration { return f(r.open[i]) })
		}
		okShare := med(func(r serveResult) float64 { return float64(r.open[i].ok) / float64(r.open[i].sent) })
		fmt.Fprintf(w, "| open loop %d/s: latency p50 / p99 / max, share 202 | %.1f / %.1f / %.1f ms, %.1f%% | |\n", rate,
			get(func(r openResult) time.Duration { return r.p50 }), get(func(r openResult) time.Duration { return r.p99 }),
			get(func(r openResult) time.Duration { return r.max }), okShare*100)
	}
	fmt.Fprintf(w, "| machine CPU per event, sent to applied (all processes) | %.3f ms | |\n",
		med(func(r serveResult) float64 { return r.cpuPerEvent * 1000 }))
	fmt.Fprintf(w, "| peak RSS of syncd | %.0f MiB | |\n", med(func(r serveResult) float64 { return r.rssMiB }))
	if !o.skipAPI {
		fmt.Fprintf(w, "| `--role api` accepted/s (p99) | %.0f (%.1f ms) | >= 5,000 |\n",
			med(func(r serveResult) float64 { return r.apiRate }), med(func(r serveResult) float64 { return r.apiP99 }))
	}
	fmt.Fprintf(w, "| pgbench one-row insert, %d clients | %.0f tps | |\n", o.senders, tps)
	fmt.Fprintf(w, "| ratio: end to end / pgbench | %.2f | |\n", e2e/tps)
	if o.waits {
		agg := map[string]int{}
		for _, r := range rs {
			for k, v := range r.waits {
				agg[k] += v
			}
		}
		type kv struct {
			k string
			v int
		}
		var list []kv
		total := 0
		for k, v := range agg {
			list = append(list, kv{k, v})
			total += v
		}
		sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
		fmt.Fprintln(w, "\nbackend states sampled every 10 ms during the closed loops:")
		for _, e := range list {
			fmt.Fprintf(w, "  %-40s %5.1f%%\n", e.k, 100*float64(e.v)/float64(total))
		}
	}
}

// machineCPUSeconds reads the busy time of every CPU from /proc/stat (0
// where there is none): the bench's own senders, syncd and Postgres share
// the machine, so CPU per event counts all three.
func machineCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100 // USER_HZ
}
