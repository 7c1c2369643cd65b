package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/reconcile"
	"github.com/syncd/syncd/internal/store"
)

// benchReconcile measures a full reconciliation of a large instance
// (100,000 users, 10,000 organizations, 100,000 memberships by default)
// into an empty database, through the production Runner, against the fake
// Backend API served on loopback without a rate limit; then a second run
// with no drift, which must write no row. Each measured run gets a fresh
// database; the figures of every run and their median are printed.
//
// Memory: by default the fake (its model is some 130 MiB for the default
// instance) runs in a child process, this same binary started with
// --serve-fake, so this process's peak RSS (VmHWM) is the reconciler's
// alone. With --fake inprocess the model shares the process, as a test
// would have it; then the RSS before the run, the peak during it (VmHWM,
// reset before each run where the kernel allows) and the growth are
// printed. That growth overstates the reconciler's share: the garbage
// collector paces its heap target on the whole live heap, the model's
// included, so garbage piles up in proportion to the model, not to what the
// reconciler keeps.
func benchReconcile(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("syncd-bench reconcile", flag.ContinueOnError)
	fs.SetOutput(stdout)
	users := fs.Int("users", 100_000, "users in the fake instance")
	orgs := fs.Int("orgs", 10_000, "organizations in the fake instance")
	mems := fs.Int("memberships", 100_000, "memberships in the fake instance")
	runs := fs.Int("runs", 3, "measured runs, each into a fresh database")
	seed := fs.Uint64("seed", 1, "seed of the fake instance")
	fake := fs.String("fake", "child", "where the fake Backend API runs: child (a child process, so this process's RSS is the reconciler's) or inprocess")
	serveFake := fs.Bool("serve-fake", false, "internal: serve the fake on loopback, print its URL, and exit when stdin closes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *serveFake {
		return reconcileServeFake(*seed, *users, *orgs, *mems, stdout)
	}
	if *runs < 1 {
		return errors.New("reconcile bench: --runs must be at least 1")
	}
	if *fake != "child" && *fake != "inprocess" {
		return fmt.Errorf("reconcile bench: --fake must be child or inprocess, not %q", *fake)
	}

	fmt.Fprintf(stdout, "reconcile bench: %d users, %d organizations, %d memberships, %d run(s), fake %s, GOMAXPROCS %d\n",
		*users, *orgs, *mems, *runs, *fake, runtime.GOMAXPROCS(0))
	var baseURL string
	var fakeRSS func() (int64, error)
	if *fake == "inprocess" {
		start := time.Now()
		model := clerkfake.New(*seed)
		model.Populate(*users, *orgs, *mems)
		fmt.Fprintf(stdout, "populated the fake in %s\n", time.Since(start).Round(time.Millisecond))
		url, stop, err := serveFakeAPI(model)
		if err != nil {
			return fmt.Errorf("reconcile bench: %w", err)
		}
		defer stop()
		baseURL = url
	} else {
		url, pid, stop, err := reconcileStartFake(ctx, *seed, *users, *orgs, *mems)
		if err != nil {
			return err
		}
		defer stop()
		baseURL = url
		fakeRSS = func() (int64, error) { return procStatusOf(strconv.Itoa(pid), "VmHWM") }
	}

	var results []reconcileBenchResult
	for i := range *runs {
		res, err := reconcileBenchOnce(ctx, baseURL, stdout)
		if err != nil {
			return fmt.Errorf("reconcile bench run %d: %w", i+1, err)
		}
		results = append(results, res)
		fmt.Fprintf(stdout, "run %d: first %s (%d rows created, %d requests), peak RSS %s (RSS before %s, growth %s); second %s, %d rows written\n",
			i+1, res.first.Round(time.Millisecond), res.created, res.requests, mib(res.peak), mib(res.before),
			mib(res.growth()), res.second.Round(time.Millisecond), res.rewritten)
	}

	med := func(f func(reconcileBenchResult) float64) float64 {
		xs := make([]float64, len(results))
		for i, r := range results {
			xs[i] = f(r)
		}
		return median(xs)
	}
	last := results[len(results)-1]
	peak := mib(int64(med(func(r reconcileBenchResult) float64 { return float64(r.peak) })))
	before := mib(int64(med(func(r reconcileBenchResult) float64 { return float64(r.before) })))
	growth := mib(int64(med(func(r reconcileBenchResult) float64 { return float64(r.growth()) })))
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "median of %d: first run %.1f s (target < 60 s), %d rows created, %d requests\n",
		len(results), med(func(r reconcileBenchResult) float64 { return r.first.Seconds() }), last.created, last.requests)
	if fakeRSS != nil {
		fmt.Fprintf(stdout, "  peak RSS of this process, the reconciler alone: %s (target < 150 MiB); %s\n", peak, last.peakNote)
		if n, err := fakeRSS(); err == nil {
			fmt.Fprintf(stdout, "  (the fake Backend API, in its own process, peaked at %s)\n", mib(n))
		}
	} else {
		fmt.Fprintf(stdout, "  peak RSS of the process %s, fake model included; RSS after Populate %s; growth during the run %s (%s)\n",
			peak, before, growth, last.peakNote)
		fmt.Fprintln(stdout, "  the growth is an upper bound on the reconciler's share: the garbage collector lets garbage grow in proportion")
		fmt.Fprintln(stdout, "  to the live heap, here mostly the fake's model; --fake child (the default) measures the reconciler alone")
	}
	fmt.Fprintf(stdout, "  second run (no drift) %.1f s, rows written %d (target 0)\n",
		med(func(r reconcileBenchResult) float64 { return r.second.Seconds() }), last.rewritten)
	return nil
}

// reconcileServeFake is the child process: it populates the fake, serves
// it on loopback, prints its base URL on one line, and returns when its
// stdin closes (the parent exited, one way or another).
func reconcileServeFake(seed uint64, users, orgs, mems int, stdout io.Writer) error {
	model := clerkfake.New(seed)
	model.Populate(users, orgs, mems)
	url, stop, err := serveFakeAPI(model)
	if err != nil {
		return fmt.Errorf("fake backend api: %w", err)
	}
	defer stop()
	fmt.Fprintln(stdout, url)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// serveFakeAPI serves model's Backend API on loopback, without a rate limit,
// and returns its base URL (/v1 included) and how to stop it.
func serveFakeAPI(model *clerkfake.Model) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: clerkfake.NewAPI(model, clerkfake.APIOptions{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/v1", func() { _ = srv.Close() }, nil
}

// reconcileStartFake starts this binary again as the fake's process and
// returns the fake's base URL, its pid, and how to stop it.
func reconcileStartFake(ctx context.Context, seed uint64, users, orgs, mems int) (string, int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, fmt.Errorf("find this executable to start the fake: %w", err)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, self, "reconcile", "--serve-fake", "--seed", strconv.FormatUint(seed, 10),
		"--users", strconv.Itoa(users), "--orgs", strconv.Itoa(orgs), "--memberships", strconv.Itoa(mems))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start the fake: %w", err)
	}
	stop := func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("the fake did not say where it listens: %w", err)
	}
	fmt.Fprintf(os.Stderr, "fake Backend API populated and listening in %s (pid %d)\n", time.Since(start).Round(time.Millisecond), cmd.Process.Pid)
	return strings.TrimSpace(line), cmd.Process.Pid, stop, nil
}

type reconcileBenchResult struct {
	first, second     time.Duration
	created, requests int64
	before, peak      int64 // bytes
	peakNote          string
	rewritten         int64
}

func (r reconcileBenchResult) growth() int64 { return max(0, r.peak-r.before) }

// reconcileBenchOnce runs the two reconciliations into a fresh database,
// dropped afterwards.
func reconcileBenchOnce(ctx context.Context, baseURL string, log io.Writer) (reconcileBenchResult, error) {
	var res reconcileBenchResult
	db, err := createDB(ctx)
	if err != nil {
		return res, err
	}
	defer db.Drop()
	pool, err := newPool(ctx, db.URL, 0)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	runner, err := reconcile.New(reconcile.Config{Pool: pool,
		Clerk: clerkapi.Config{BaseURL: baseURL, SecretKey: clerkfake.DefaultSecretKey}})
	if err != nil {
		return res, err
	}

	// Start from a collected heap so the baseline is the model, not
	// leftovers of the previous run.
	runtime.GC()
	debug.FreeOSMemory()
	res.peakNote = "peak reset before the run"
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		res.peakNote = "peak NOT reset (" + err.Error() + "): it may predate the run"
	}
	res.before, err = procStatus("VmRSS")
	if err != nil {
		return res, err
	}

	run, took, err := reconcileBenchRun(ctx, pool, runner)
	if err != nil {
		return res, err
	}
	res.first = took
	res.peak, err = procStatus("VmHWM")
	if err != nil {
		return res, err
	}
	res.created = run.Users.Created + run.Organizations.Created + run.Memberships.Created
	res.requests = run.APIRequests
	fmt.Fprintf(log, "  first reconciliation: users %+v, organizations %+v, memberships %+v\n",
		run.Users, run.Organizations, run.Memberships)

	run2, took, err := reconcileBenchRun(ctx, pool, runner)
	if err != nil {
		return res, err
	}
	res.second = took
	err = pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM clerk.users WHERE synced_at >= $1) +
		(SELECT count(*) FROM clerk.organizations WHERE synced_at >= $1) +
		(SELECT count(*) FROM clerk.organization_memberships WHERE synced_at >= $1)`, run2.StartedAt).Scan(&res.rewritten)
	if err != nil {
		return res, fmt.Errorf("count rows the second run wrote: %w", err)
	}
	return res, nil
}

func reconcileBenchRun(ctx context.Context, pool *pgxpool.Pool, runner *reconcile.Runner) (store.Run, time.Duration, error) {
	id, err := store.InsertRun(ctx, pool, store.NewRun{Trigger: store.TriggerManual})
	if err != nil {
		return store.Run{}, 0, err
	}
	start := time.Now()
	run, err := runner.Run(ctx, id)
	return run, time.Since(start), err
}

// procStatus reads one "kB" field of this process's /proc status, in bytes.
func procStatus(field string) (int64, error) { return procStatusOf("self", field) }

// procStatusOf reads one "kB" field of /proc/<pid>/status, in bytes.
func procStatusOf(pid, field string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("read memory use: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s in /proc/%s/status", field, pid)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
