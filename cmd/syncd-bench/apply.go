package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/config"
	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
)

// benchApply stores and enqueues a burst of user events, then starts the
// production worker client and times how fast it drains the queue, beside
// pgbench's one-row update transaction at 16 clients (the least work applying
// one event can cost).
func benchApply(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	runs := fs.Int("runs", 3, "measured runs (medians are reported)")
	events := fs.Int("events", 20000, "user events per run")
	workers := fs.Int("workers", 20, "River MaxWorkers (SYNCD_WORKERS)")
	seconds := fs.Int("pgbench-seconds", 10, "length of each pgbench run")
	cooldown := fs.Duration("fetch-cooldown", 0, "River FetchCooldown (0: syncd's default)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := createDB(ctx)
	if err != nil {
		return err
	}
	defer db.Drop()
	if err := execSQL(ctx, db.URL, `CREATE TABLE pgb_rows (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0, updated_at timestamptz);
		INSERT INTO pgb_rows (id) SELECT g FROM generate_series(1, 10000) g;`); err != nil {
		return err
	}
	// Sized as `syncd serve` sizes its pool.
	pool, err := newPool(ctx, db.URL, int32(*workers)+16)
	if err != nil {
		return err
	}
	defer pool.Close()

	fmt.Fprintf(stdout, "apply: %d user events per run, %d workers, %d runs\n", *events, *workers, *runs)
	if *cpuprofile != "" {
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	model := clerkfake.New(7)
	var rates, tpss []float64
	for i := 1; i <= *runs; i++ {
		if err := enqueueUserEvents(ctx, pool, model, *events); err != nil {
			return err
		}
		client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: slog.New(slog.DiscardHandler),
			Work: true, MaxWorkers: *workers, FetchCooldown: *cooldown, EventRetention: config.DefaultEventRetention})
		if err != nil {
			return err
		}
		start := time.Now()
		if err := client.Start(ctx); err != nil {
			return err
		}
		err = waitDrained(ctx, pool)
		elapsed := time.Since(start)
		// Stopped on every path: a client left running holds connections
		// and the deferred pool.Close would wait for them forever.
		if stopErr := client.StopAndCancel(context.WithoutCancel(ctx)); err == nil {
			err = stopErr
		}
		if err != nil {
			return err
		}
		var applied, skipped, failed int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'applied'),
			count(*) FILTER (WHERE status = 'skipped'), count(*) FILTER (WHERE status = 'failed')
			FROM clerk.webhook_events`).Scan(&applied, &skipped, &failed); err != nil {
			return err
		}
		rate := float64(*events) / elapsed.Seconds()
		fmt.Fprintf(stdout, "  run %d: syncd applied %d events in %s: %.0f events/s (applied %d, skipped %d, failed %d)\n",
			i, *events, elapsed.Round(time.Millisecond), rate, applied, skipped, failed)
		tps, err := pgbench(ctx, db.URL, `\set id random(1, 10000)
UPDATE pgb_rows SET n = n + 1, updated_at = now() WHERE id = :id;
`, 16, *seconds)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  run %d: pgbench one-row update, 16 clients: %.0f tps\n", i, tps)
		rates, tpss = append(rates, rate), append(tpss, tps)
		if _, err := pool.Exec(ctx, `TRUNCATE clerk.webhook_events, river_job`); err != nil {
			return err
		}
	}
	r, t := median(rates), median(tpss)
	fmt.Fprintf(stdout, "median: syncd %.0f events/s; pgbench %.0f tps; ratio %.2f\n", r, t, r/t)
	fmt.Fprintln(stdout, "target: at least 1,000 events/s on a 2-core machine")
	return nil
}

// enqueueUserEvents stores n user events (creates, then updates of those
// users) with their apply jobs, as the webhook handler would, in batches.
func enqueueUserEvents(ctx context.Context, pool *pgxpool.Pool, model *clerkfake.Model, n int) error {
	client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	var ids []string
	var batch []clerkfake.Event
	flush := func() error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			params := make([]river.InsertManyParams, 0, len(batch))
			evs := make([]store.NewEvent, 0, len(batch))
			for _, ev := range batch {
				evs = append(evs, store.NewEvent{ID: ev.ID, Type: ev.Type, ObjectID: ev.ObjectID,
					OccurredAt: time.UnixMilli(ev.Timestamp), Payload: ev.Body, Status: store.StatusPending})
				params = append(params, river.InsertManyParams{Args: jobargs.ApplyEventArgs{EventID: ev.ID}})
			}
			if _, err := store.InsertEvents(ctx, tx, evs); err != nil {
				return err
			}
			_, err := client.InsertManyTx(ctx, tx, params)
			return err
		})
	}
	for i := 0; i < n; i++ {
		var evs []clerkfake.Event
		if len(ids) < 1000 || i%4 == 0 {
			u, created := model.CreateUser()
			ids, evs = append(ids, u.ID), created
		} else {
			evs, err = model.UpdateUser(ids[i%len(ids)])
			if err != nil {
				return err
			}
		}
		batch = append(batch, evs[0])
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return flush()
	}
	return nil
}

func waitDrained(ctx context.Context, pool *pgxpool.Pool) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		var pending int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("queue not drained within 10 minutes")
}
