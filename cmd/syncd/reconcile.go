package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/config"
	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/migrations"
)

// reconcilePoll is how often --wait reads the run's row.
const reconcilePoll = 200 * time.Millisecond

// reconcileFlags are `syncd reconcile`'s options.
type reconcileFlags struct {
	wait, dryRun, authoritative, asJSON bool
}

func runReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags, help, err := parseReconcileFlags(args, stderr)
	if help || err != nil {
		return err
	}
	// Both variables are checked before any connection is tried, so a
	// missing key is reported as such, not as a database problem.
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := cfg.RequireClerkKey(); err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	pool, err := openPinged(ctx, cfg, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := store.NewMigrator(pool, migrations.FS, nil)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if err := migrator.Current(ctx); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}

	client, stop, err := startReconcileClient(ctx, cfg, logger, pool, flags.wait)
	if err != nil {
		return err
	}
	defer stop()

	rc := jobs.NewReconciler(pool, client, true)
	id, started, err := rc.Start(ctx, jobs.RunOptions{DryRun: flags.dryRun, Authoritative: flags.authoritative})
	if err != nil {
		return err
	}
	// With --json, stdout carries the JSON alone.
	notes := stdout
	if flags.asJSON {
		notes = stderr
	}
	announceRun(ctx, notes, rc, id, started, flags)

	if !flags.wait {
		if flags.asJSON {
			return writeJSON(stdout, map[string]any{"run_id": id, "started": started})
		}
		fmt.Fprintf(notes, "follow it with GET /admin/reconcile/runs/%d or `syncd status`, or wait for it with `syncd reconcile --wait`\n", id)
		return nil
	}
	rep, err := waitForRun(ctx, rc, id)
	if err != nil {
		return err
	}
	return printRunResult(stdout, rep, flags.asJSON)
}

func parseReconcileFlags(args []string, stderr io.Writer) (reconcileFlags, bool, error) {
	fs := newFlagSet("reconcile", stderr)
	wait := fs.Bool("wait", false, "wait until the run ends (working it in this process when no server does), print its report, and exit 1 if it failed")
	dryRun := fs.Bool("dry-run", false, "report the drift a run would repair, writing nothing to the synced tables")
	authoritative := fs.Bool("authoritative", false, "also repair conflicts: make rows newer than Clerk's version, and tombstones of objects Clerk still lists, equal to what a GET of that one object answers")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	help, err := parseFlags(fs, args)
	return reconcileFlags{wait: *wait, dryRun: *dryRun, authoritative: *authoritative, asJSON: *asJSON}, help, err
}

// startReconcileClient builds the River client that enqueues the run. With
// --wait it also works the reconcile queue, started here; stop then stops
// it, and is a no-op otherwise.
func startReconcileClient(ctx context.Context, cfg config.Config, logger *slog.Logger, pool *pgxpool.Pool, wait bool) (*jobs.Client, func(), error) {
	clientCfg := jobs.ClientConfig{Pool: pool, Logger: quieter(logger, cfg)}
	if wait {
		// Work the reconcile queue here too, so that --wait completes when
		// no `serve` is running; a running server may still take the job
		// first, which is just as good.
		runner, err := reconcile.New(reconcile.Config{Pool: pool, Clerk: clerkConfig(cfg, nil), Logger: logger})
		if err != nil {
			return nil, nil, usagef("reconcile: %v", err)
		}
		clientCfg.Work = true
		clientCfg.ReconcileOnly = true
		// Without it River's Stop waits for the run however long it takes,
		// and Ctrl-C would not end the command.
		clientCfg.SoftStopTimeout = jobSoftStopTimeout
		clientCfg.JobLogger = logger
		clientCfg.Register = func(w *river.Workers) error {
			return river.AddWorkerSafely(w, jobs.NewReconcileWorker(pool, runner, logger))
		}
	}
	client, err := jobs.NewClient(clientCfg)
	if err != nil {
		return nil, nil, err
	}
	if !wait {
		return client, func() {}, nil
	}
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, fmt.Errorf("start the reconcile worker: %w", err)
	}
	stop := func() {
		// Soft stop: a run this process is working is cancelled after
		// the timeout, left running, and started again by the next
		// process that retries its job.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobSoftStopTimeout+jobHardStopTimeout)
		defer cancel()
		_ = client.Stop(stopCtx)
	}
	return client, stop, nil
}

// announceRun says which run the command started or joined, and where a
// joined run differs from what the flags asked for.
func announceRun(ctx context.Context, notes io.Writer, rc *jobs.Reconciler, id int64, started bool, flags reconcileFlags) {
	switch {
	case started && flags.dryRun:
		fmt.Fprintf(notes, "started reconciliation run %d (dry run: nothing will be written)\n", id)
	case started && flags.authoritative:
		fmt.Fprintf(notes, "started reconciliation run %d (authoritative: conflicts are repaired from Clerk)\n", id)
	case started:
		fmt.Fprintf(notes, "started reconciliation run %d\n", id)
	default:
		fmt.Fprintf(notes, "a reconciliation is already in progress: joined run %d\n", id)
		if rep, err := rc.RunReport(ctx, id); err == nil {
			if rep.DryRun != flags.dryRun {
				fmt.Fprintf(notes, "note: run %d is %s, not what --dry-run=%v asked for\n", id, dryWord(rep.DryRun), flags.dryRun)
			}
			if rep.Authoritative != flags.authoritative {
				fmt.Fprintf(notes, "note: run %d has --authoritative=%v, not what was asked for\n", id, rep.Authoritative)
			}
		}
	}
}

// printRunResult prints a finished run's report, and fails when the run did.
func printRunResult(stdout io.Writer, rep reconcile.Report, asJSON bool) error {
	if asJSON {
		if err := writeJSON(stdout, rep); err != nil {
			return err
		}
	} else if err := writeReport(stdout, rep); err != nil {
		return err
	}
	if rep.Status == store.RunFailed {
		return fmt.Errorf("reconciliation run %d failed: %s", rep.RunID, rep.Error)
	}
	return nil
}

// clerkConfig is the Backend API client configuration from the environment.
// onResponse (metrics) may be nil.
func clerkConfig(cfg config.Config, onResponse func(int)) clerkapi.Config {
	return clerkapi.Config{
		BaseURL:    cfg.ClerkAPIURL,
		SecretKey:  cfg.ClerkSecretKey,
		RPS:        cfg.ClerkRPS,
		OnResponse: onResponse,
	}
}

func waitForRun(ctx context.Context, rc *jobs.Reconciler, id int64) (reconcile.Report, error) {
	tick := time.NewTicker(reconcilePoll)
	defer tick.Stop()
	for {
		rep, err := rc.RunReport(ctx, id)
		if err != nil {
			return reconcile.Report{}, err
		}
		if rep.Finished() {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return reconcile.Report{}, fmt.Errorf("stopped waiting for reconciliation run %d (it goes on, or starts again in the next process that works the reconcile queue): %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

func dryWord(dry bool) string {
	if dry {
		return "a dry run"
	}
	return "a real run"
}

// writeReport prints a run as a table of kinds by counts.
func writeReport(w io.Writer, r reconcile.Report) error {
	mode := string(r.Trigger)
	if r.Authoritative {
		mode += ", authoritative"
	}
	if r.DryRun {
		mode += ", dry run: nothing was written"
	}
	fmt.Fprintf(w, "reconciliation run %d (%s) %s in %s\n\n", r.RunID, mode, r.Status,
		(time.Duration(r.DurationSeconds * float64(time.Second))).Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSEEN\tCREATED\tUPDATED\tDELETED\tUNCHANGED\tERRORS\tCONFLICTS\tREPAIRED")
	for _, k := range []struct {
		name string
		c    reconcile.KindReport
	}{{"users", r.Users}, {"organizations", r.Organizations}, {"memberships", r.Memberships}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", k.name, k.c.Seen, k.c.Created, k.c.Updated,
			k.c.Deleted, k.c.Unchanged, k.c.Errors, k.c.Conflicts, k.c.Repaired)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nBackend API requests: %d (rate limited: %d)\n", r.APIRequests, r.APIRateLimited)
	if n := r.Conflicts(); n > 0 && !r.Authoritative {
		fmt.Fprintf(w, "%d conflicts left alone (rows newer than Clerk's version, or deleted here while Clerk still lists them; the log names each): run `syncd reconcile --authoritative` to make them equal to Clerk\n", n)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	return nil
}
