package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
)

// benchIngest drives a real `syncd serve --role api` over loopback from 32
// concurrent senders, then runs pgbench's two-insert transaction at 16
// clients on the same server: one event row plus one job row is the least
// work a durable ingest can do, so the ratio says how close syncd comes.
func benchIngest(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	bin := fs.String("syncd", "bin/syncd", "the syncd binary to run")
	runs := fs.Int("runs", 3, "measured runs (medians are reported)")
	seconds := fs.Int("seconds", 10, "length of each run")
	senders := fs.Int("senders", 32, "concurrent senders")
	poolConns := fs.Int("pool", 0, "pool_max_conns for syncd (0: syncd's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := os.Stat(*bin); err != nil {
		return fmt.Errorf("%s not found: run `make build` first or pass --syncd", *bin)
	}
	db, err := createDB(ctx)
	if err != nil {
		return err
	}
	defer db.Drop()

	if err := execSQL(ctx, db.URL, pgbenchTables); err != nil {
		return err
	}
	secret := clerkfake.NewSecret(nil)
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	srv := exec.CommandContext(ctx, *bin, "serve", "--role", "api")
	dbURL := db.URL
	if *poolConns > 0 {
		dbURL += fmt.Sprintf("&pool_max_conns=%d", *poolConns)
	}
	srv.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CLERK_WEBHOOK_SECRET="+secret,
		"SYNCD_ADDR="+addr, "SYNCD_LOG_LEVEL=error", "SYNCD_RECONCILE_SCHEDULE=off")
	srv.Stdout, srv.Stderr = io.Discard, os.Stderr
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start syncd: %w", err)
	}
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		_ = srv.Wait()
	}()
	base := "http://" + addr
	if err := waitHealthy(ctx, base); err != nil {
		return err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *senders, MaxConnsPerHost: *senders}}
	model := clerkfake.New(1)
	fmt.Fprintf(stdout, "ingest: %d senders for %d s against syncd serve --role api (%s), %d runs\n", *senders, *seconds, *bin, *runs)

	var rates, p50s, p99s, tpss, sames []float64
	// A short warm-up fills connection pools and caches on both sides.
	if _, err := ingestRun(ctx, client, base, secret, model, *senders, 2*time.Second); err != nil {
		return err
	}
	// Every measurement starts from the same, empty tables: the rows a run
	// leaves (and pgbench's job rows, which nothing works off) would
	// otherwise make each run slower than the one before.
	reset := func() error {
		return execSQL(ctx, db.URL, `TRUNCATE clerk.webhook_events, river_job, pgb_events, pgb_jobs; CHECKPOINT`)
	}
	// pgbenchRun runs one pgbench script at 16 clients on empty tables and
	// prints its figure as run i's.
	pgbenchRun := func(i int, script, what string) (float64, error) {
		if err := reset(); err != nil {
			return 0, err
		}
		tps, err := pgbench(ctx, db.URL, script, 16, *seconds)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(stdout, "  run %d: pgbench %s, 16 clients: %.0f tps\n", i, what, tps)
		return tps, nil
	}
	for i := 1; i <= *runs; i++ {
		if err := reset(); err != nil {
			return err
		}
		res, err := ingestRun(ctx, client, base, secret, model, *senders, time.Duration(*seconds)*time.Second)
		if err != nil {
			return err
		}
		rate := float64(res.accepted) / res.elapsed.Seconds()
		p50, p99 := percentile(res.latencies, 0.50), percentile(res.latencies, 0.99)
		fmt.Fprintf(stdout, "  run %d: syncd %.0f accepted/s, p50 %s, p99 %s (%d accepted, %d other)\n",
			i, rate, ms(p50), ms(p99), res.accepted, res.other)
		tps, err := pgbenchRun(i, pgbenchInsertScript, "two-insert transaction")
		if err != nil {
			return err
		}
		same, err := pgbenchRun(i, pgbenchSyncdInsertScript, "the same two inserts into syncd's own tables")
		if err != nil {
			return err
		}
		rates, tpss, sames = append(rates, rate), append(tpss, tps), append(sames, same)
		p50s, p99s = append(p50s, p50.Seconds()), append(p99s, p99.Seconds())
	}
	r, t, st := median(rates), median(tpss), median(sames)
	fmt.Fprintf(stdout, "median: syncd %.0f accepted/s, p50 %.2f ms, p99 %.2f ms\n", r, median(p50s)*1000, median(p99s)*1000)
	fmt.Fprintf(stdout, "        pgbench two-insert into bare tables %.0f tps: ratio %.2f\n", t, r/t)
	fmt.Fprintf(stdout, "        pgbench the same inserts into clerk.webhook_events and river_job %.0f tps: ratio %.2f\n", st, r/st)
	fmt.Fprintln(stdout, "target: ratio >= 0.5 and p99 < 25 ms on a 2-core machine")
	return nil
}

// pgbenchTables and pgbenchInsertScript are the floor of a durable ingest:
// an event row of a realistic size and a job row, committed together.
const pgbenchTables = `
CREATE TABLE pgb_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE pgb_jobs (id bigserial PRIMARY KEY, args jsonb NOT NULL, state text NOT NULL DEFAULT 'available');`

const pgbenchInsertScript = `BEGIN;
INSERT INTO pgb_events (payload) VALUES ('{"type":"user.created","data":{"id":"user_x","object":"user","first_name":"Ada","last_name":"Lovelace","email_addresses":[{"id":"idn_x","email_address":"ada@example.com","verification":{"status":"verified"}}],"public_metadata":{},"private_metadata":{},"unsafe_metadata":{},"created_at":1750000000000,"updated_at":1750000000000},"object":"event","type":"user.created","timestamp":1750000000000,"instance_id":"ins_x"}');
INSERT INTO pgb_jobs (args) VALUES ('{"event_id":"msg_x"}');
END;
`

// pgbenchSyncdInsertScript is the database half of syncd's ingest alone:
// the event row and a unique River job row, into syncd's own tables with all
// their indexes (River's include two GIN indexes), without HTTP, signature
// checks or the River client. Its TPS is the ceiling syncd's ingest could
// reach on this server.
const pgbenchSyncdInsertScript = `\set r random(1, 1000000000000)
BEGIN;
INSERT INTO clerk.webhook_events (id, type, object_id, instance_id, occurred_at, payload, status)
VALUES ('msg_' || :client_id || '_' || :r, 'user.created', 'user_' || :r, 'ins_x', now(), '{"type":"user.created","data":{"id":"user_x","object":"user","first_name":"Ada","last_name":"Lovelace","email_addresses":[{"id":"idn_x","email_address":"ada@example.com","verification":{"status":"verified"}}],"public_metadata":{},"private_metadata":{},"unsafe_metadata":{},"created_at":1750000000000,"updated_at":1750000000000},"object":"event","type":"user.created","timestamp":1750000000000,"instance_id":"ins_x"}', 'pending')
ON CONFLICT (id) DO NOTHING;
INSERT INTO river_job (args, kind, max_attempts, queue, state, unique_key, unique_states)
VALUES (('{"event_id":"msg_' || :client_id || '_' || :r || '"}')::jsonb, 'syncd.apply_event', 25, 'sync', 'available',
        decode(md5(:client_id || '_' || :r), 'hex'), B'11110101')
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL
    AND river_job_state_in_bitmask(unique_states, state) DO NOTHING;
END;
`

type ingestResult struct {
	accepted, other int64
	elapsed         time.Duration
	latencies       []time.Duration
}

func ingestRun(ctx context.Context, client *http.Client, base, secret string, model *clerkfake.Model, senders int, d time.Duration) (ingestResult, error) {
	// Sign ahead so the senders spend their time on the server, not on
	// building events; signatures stay valid for Svix's five minutes.
	n := int(d.Seconds()*3000) + 1000
	reqs := make([]struct {
		body []byte
		hdr  http.Header
	}, n)
	now := time.Now()
	for i := range reqs {
		_, evs := model.CreateUser()
		h, err := clerkfake.SignedHeaders(secret, evs[0], now)
		if err != nil {
			return ingestResult{}, err
		}
		reqs[i].body, reqs[i].hdr = evs[0].Body, h
	}
	var next atomic.Int64
	var accepted, other atomic.Int64
	lat := make([][]time.Duration, senders)
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, senders)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				i := next.Add(1) - 1
				if int(i) >= len(reqs) {
					errc <- errors.New("ran out of pre-signed events: raise the estimate")
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/clerk", bytes.NewReader(reqs[i].body))
				req.Header = reqs[i].hdr.Clone()
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errc <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[s] = append(lat[s], time.Since(t0))
				if resp.StatusCode == http.StatusAccepted {
					accepted.Add(1)
				} else {
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return ingestResult{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return ingestResult{accepted: accepted.Load(), other: other.Load(), elapsed: elapsed, latencies: all}, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("syncd at %s did not become ready within 30 s", base)
}
