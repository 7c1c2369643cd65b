package devpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is the throwaway cluster: one data directory, trust auth,
// superuser postgres, TCP on 127.0.0.1 only, started on a free port.
// A running cluster is reused and a stopped one started again, on its
// previous port if that is still free.
type Cluster struct {
	Dir       string    // the data directory, ./.data/pg
	FirstPort int       // first port probed for a new start (SYNCD_PG_PORT, 54329)
	User      string    // the system user that runs it when we are root (SYNCD_PG_USER, postgres)
	Bins      BinSearch // where initdb and pg_ctl are
	Log       io.Writer // messages, and pg_ctl's own output
}

// serverConf is appended to the cluster's postgresql.conf.
const serverConf = `
# ---- added by syncd-dev: a throwaway development/test cluster ----
listen_addresses = '127.0.0.1'
unix_socket_directories = ''	# TCP only: no socket directory to own, no path-length limit
max_connections = 200		# tests clone a database per test and run packages in parallel
# Durability is not wanted here; speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
`

// URL starts or reuses the cluster, creates database db if it is missing,
// and returns db's URL.
func (c *Cluster) URL(ctx context.Context, db string) (string, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	pg, err := c.tools(ctx)
	if err != nil {
		return "", err
	}
	if !exists(filepath.Join(c.Dir, "PG_VERSION")) {
		if err := c.initdb(ctx, pg); err != nil {
			return "", err
		}
	} else if err := c.handOver(pg); err != nil {
		return "", err
	}
	port, err := c.runningPort(ctx, pg)
	if err == nil {
		logf(c.Log, "reusing the throwaway cluster already running on 127.0.0.1:%d", port)
	} else if port, err = c.start(ctx, pg); err != nil {
		return "", err
	}
	if err := waitUntilAnswers(ctx, URL(port, "postgres"), 30*time.Second); err != nil {
		return "", fmt.Errorf("the throwaway cluster on 127.0.0.1:%d does not answer (see %s): %w", port, c.logFile(), err)
	}
	if err := createDatabase(ctx, port, db, c.Log); err != nil {
		return "", err
	}
	return URL(port, db), nil
}

// Status says whether the cluster runs and, if so, the URL of database
// syncd on it.
func (c *Cluster) Status(ctx context.Context) (url string, running bool, err error) {
	if !exists(filepath.Join(c.Dir, "PG_VERSION")) {
		logf(c.Log, "no throwaway cluster in %s", c.Dir)
		return "", false, nil
	}
	pg, err := c.tools(ctx)
	if err != nil {
		return "", false, err
	}
	port, err := c.runningPort(ctx, pg)
	if err != nil {
		logf(c.Log, "the throwaway cluster in %s is stopped", c.Dir)
		return "", false, nil
	}
	logf(c.Log, "the throwaway cluster in %s is running", c.Dir)
	return URL(port, "syncd"), true, nil
}

// Stop stops the cluster with a fast shutdown; a stopped or missing one is
// not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.StopMode(ctx, "fast")
}

// StopMode stops the cluster with one of pg_ctl's shutdown modes: smart,
// fast, or immediate (the postmaster and its children quit at once, and
// the next start recovers from the WAL as after a crash).
func (c *Cluster) StopMode(ctx context.Context, mode string) error {
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return c.stop(ctx, mode)
}

// Clean stops the cluster and deletes its data directory.
func (c *Cluster) Clean(ctx context.Context) error {
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.stop(ctx, "fast"); err != nil {
		return err
	}
	if exists(c.Dir) {
		logf(c.Log, "removing %s", c.Dir)
		if err := os.RemoveAll(c.Dir); err != nil {
			return fmt.Errorf("remove the throwaway cluster: %w", err)
		}
	}
	return nil
}

func (c *Cluster) stop(ctx context.Context, mode string) error {
	if !exists(filepath.Join(c.Dir, "PG_VERSION")) {
		logf(c.Log, "no throwaway cluster in %s: nothing to stop", c.Dir)
		return nil
	}
	pg, err := c.tools(ctx)
	if err != nil {
		// The binaries of its version are gone (an upgrade): signal the
		// postmaster itself, which is what pg_ctl would do.
		return c.signalStop(ctx)
	}
	if _, err := c.runningPort(ctx, pg); err != nil {
		logf(c.Log, "the throwaway cluster in %s is not running", c.Dir)
		return nil
	}
	logf(c.Log, "stopping the throwaway cluster in %s (%s)", c.Dir, mode)
	return pg.run(ctx, c.Log, "pg_ctl", "-D", c.Dir, "-m", mode, "-w", "-t", "60", "stop")
}

func (c *Cluster) signalStop(ctx context.Context) error {
	c.clearForeignPidfile()
	pid, _ := pidFileLine(c.Dir, 0)
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		logf(c.Log, "the throwaway cluster in %s is not running", c.Dir)
		return nil
	}
	logf(c.Log, "stopping postmaster %d (fast shutdown)", pid)
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		return fmt.Errorf("signal postmaster %d: %w", pid, err)
	}
	for range 60 {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for postmaster %d to stop: %w", pid, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("postmaster %d did not stop within 30s", pid)
}

func (c *Cluster) logFile() string { return filepath.Join(c.Dir, "server.log") }

// lock holds an exclusive lock on .pg.lock beside the data directory for as
// long as the cluster is inspected or changed, so that two `make test` at
// once do not both run initdb or pick the same port. Go opens files
// close-on-exec, so the postmaster pg_ctl starts does not inherit the lock
// and hold it for as long as it runs.
func (c *Cluster) lock(ctx context.Context) (unlock func(), err error) {
	path := filepath.Join(filepath.Dir(c.Dir), ".pg.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the lock's directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the lock: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !waited {
			logf(c.Log, "waiting for %s (another syncd-dev holds it)", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pgTools runs the server binaries of one directory as the right user.
type pgTools struct {
	bin  string
	cred *syscall.Credential // nil: as ourselves
	user string              // cred's user, for messages
}

// tools finds the binaries for the cluster's version and the user to run
// them as. initdb and postgres refuse to run as root, so as root they run
// as the owner of an existing cluster, else as c.User.
func (c *Cluster) tools(ctx context.Context) (*pgTools, error) {
	want := ""
	if b, err := os.ReadFile(filepath.Join(c.Dir, "PG_VERSION")); err == nil {
		want = strings.TrimSpace(string(b))
	}
	bin, err := c.Bins.Find(ctx, want)
	if err != nil {
		return nil, err
	}
	pg := &pgTools{bin: bin}
	if os.Geteuid() != 0 {
		return pg, nil
	}
	if fi, err := os.Stat(c.Dir); err == nil && want != "" {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			pg.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			pg.user = strconv.Itoa(int(st.Uid))
			if u, err := user.LookupId(pg.user); err == nil {
				pg.user = u.Username
			}
			return pg, nil
		}
	}
	u, err := user.Lookup(c.User)
	if err != nil {
		return nil, fmt.Errorf("running as root, and initdb/postgres refuse root, but there is no '%s' system user to run them as (create one: useradd --system --create-home %s): %w", c.User, c.User, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", c.User, err)
	}
	pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	pg.user = c.User
	return pg, nil
}

// command runs tool (initdb, pg_ctl, or any program when not a PostgreSQL
// one) as pg's user, from /, which that user can always enter.
func (pg *pgTools) command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	path := tool
	if tool == "initdb" || tool == "pg_ctl" {
		path = filepath.Join(pg.bin, tool)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = "/"
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	// A child that keeps our output pipe open (a postmaster not told to use
	// its log file) must not keep us waiting for ever.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (pg *pgTools) run(ctx context.Context, out io.Writer, tool string, args ...string) error {
	cmd := pg.command(ctx, tool, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", tool, strings.Join(args, " "), err)
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context, pg *pgTools) error {
	if exists(c.Dir) {
		logf(c.Log, "removing incomplete %s (no PG_VERSION: an interrupted initdb?)", c.Dir)
		if err := os.RemoveAll(c.Dir); err != nil {
			return fmt.Errorf("remove the incomplete cluster: %w", err)
		}
	}
	logf(c.Log, "creating a throwaway PostgreSQL %s cluster in %s", major(ctx, pg.bin), c.Dir)
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		return fmt.Errorf("create the cluster directory: %w", err)
	}
	if err := c.handOver(pg); err != nil {
		return err
	}
	if pg.cred != nil && pg.command(ctx, "test", "-w", c.Dir).Run() != nil {
		os.RemoveAll(c.Dir)
		return fmt.Errorf("the '%s' user cannot reach %s (a parent directory is not searchable by it, e.g. a checkout under /root); move the checkout, or set DATABASE_URL", pg.user, c.Dir)
	}
	out, err := pg.command(ctx, "initdb", "-D", c.Dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale").CombinedOutput()
	if err != nil {
		_, _ = c.Log.Write(out)
		os.RemoveAll(c.Dir)
		return fmt.Errorf("initdb failed (output above): %w", err)
	}
	// Appending keeps the file's owner: root may write it, and so may its owner.
	f, err := os.OpenFile(filepath.Join(c.Dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("configure the cluster: %w", err)
	}
	_, err = f.WriteString(serverConf)
	return errors.Join(err, f.Close())
}

// handOver gives the data directory to pg's user when root owns it (a new
// one, or one created by a root that ran the server as another user), and
// lets that user through the parent directory.
func (c *Cluster) handOver(pg *pgTools) error {
	if pg.cred == nil {
		return nil
	}
	parent := filepath.Dir(c.Dir)
	if fi, err := os.Stat(parent); err == nil {
		_ = os.Chmod(parent, fi.Mode().Perm()|0o111) // best effort: initdb's access check says what failed
	}
	fi, err := os.Stat(c.Dir)
	if err != nil {
		return fmt.Errorf("hand the cluster to the '%s' user: %w", pg.user, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid == pg.cred.Uid {
		return nil
	}
	logf(c.Log, "handing %s to the '%s' user", c.Dir, pg.user)
	return filepath.WalkDir(c.Dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			return fmt.Errorf("hand the cluster to the '%s' user: %w", pg.user, err)
		}
		return nil
	})
}

// runningPort returns the port of the running cluster, or why it is not
// running.
func (c *Cluster) runningPort(ctx context.Context, pg *pgTools) (int, error) {
	c.clearForeignPidfile()
	if err := pg.command(ctx, "pg_ctl", "-D", c.Dir, "status").Run(); err != nil {
		return 0, fmt.Errorf("pg_ctl status: %w", err)
	}
	port, err := pidFileLine(c.Dir, 3)
	if err != nil || port <= 0 {
		return 0, fmt.Errorf("cannot read the port of the throwaway cluster from %s/postmaster.pid: %w", c.Dir, err)
	}
	return port, nil
}

// clearForeignPidfile removes a postmaster.pid whose pid now belongs to an
// unrelated process: after a crash, pids are reused (soon, in containers,
// where they restart from 1), and pg_ctl would believe the server runs.
// Without /proc (macOS) pg_ctl's own check has to do.
func (c *Cluster) clearForeignPidfile() {
	pid, err := pidFileLine(c.Dir, 0)
	if err != nil || pid <= 0 {
		return
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return
	}
	switch name := strings.TrimSpace(string(comm)); name {
	case "postgres", "postmaster", "":
	default:
		logf(c.Log, "removing stale %s/postmaster.pid (pid %d is now '%s', not postgres)", c.Dir, pid, name)
		os.Remove(filepath.Join(c.Dir, "postmaster.pid"))
	}
}

// pidFileLine reads line i (from 0) of postmaster.pid as a number: line 0
// is the postmaster's pid, line 3 its port.
func pidFileLine(dir string, i int) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	lines := strings.Split(string(b), "\n")
	if i >= len(lines) {
		return 0, fmt.Errorf("postmaster.pid has no line %d", i+1)
	}
	return strconv.Atoi(strings.TrimSpace(lines[i]))
}

// previousPort is the port of the cluster's last start, from the options
// pg_ctl recorded in postmaster.opts, or 0.
func previousPort(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "postmaster.opts")) // none yet: 0
	m := regexp.MustCompile(`"-p" "(\d+)"`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	port, _ := strconv.Atoi(string(m[1]))
	return port
}

// start starts the stopped cluster and returns its port: the previous one
// if it is free, so URLs printed earlier keep working, else the first free
// one from FirstPort. Another process can take the port between the check
// and the bind, so a bind failure is retried on another port.
func (c *Cluster) start(ctx context.Context, pg *pgTools) (int, error) {
	prev, first := previousPort(c.Dir), c.FirstPort
	for attempt := 1; attempt <= 3; attempt++ {
		port := prev
		if port == 0 || PortInUse(port) {
			var err error
			if port, err = FreePort(first, PortInUse); err != nil {
				return 0, err
			}
		}
		logf(c.Log, "starting it on 127.0.0.1:%d (log: %s)", port, c.logFile())
		err := pg.run(ctx, c.Log, "pg_ctl", "-D", c.Dir, "-l", c.logFile(), "-w", "-t", "60", "-o", "-p "+strconv.Itoa(port), "start")
		if err == nil {
			return port, nil
		}
		tail := lastLines(c.logFile(), 20)
		if bytes.Contains(tail, []byte("could not bind")) || bytes.Contains(tail, []byte("could not create any TCP/IP sockets")) {
			logf(c.Log, "port %d was taken meanwhile (attempt %d); trying another", port, attempt)
			prev, first = 0, port+1
			continue
		}
		fmt.Fprintf(c.Log, "%s", tail)
		return 0, fmt.Errorf("the throwaway cluster in %s did not start (the end of its log is above): %w", c.Dir, err)
	}
	return 0, fmt.Errorf("the throwaway cluster in %s did not start: three ports were taken while it started", c.Dir)
}

// FreePort is the first port from first (at most 200 further) that inUse
// says is free.
func FreePort(first int, inUse func(port int) bool) (int, error) {
	for port := first; port <= first+200 && port <= 65535; port++ {
		if !inUse(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free TCP port in %d-%d", first, first+200)
}

// PortInUse reports whether 127.0.0.1:port cannot be listened on. Binding
// is the test PostgreSQL itself applies, and it also fails when another
// server listens on all addresses.
func PortInUse(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// lastLines is the end of the server log, which says why a start failed.
func lastLines(path string, n int) []byte {
	b, _ := os.ReadFile(path) // no log: nothing to show
	lines := bytes.SplitAfter(b, []byte("\n"))
	return bytes.Join(lines[max(0, len(lines)-n):], nil)
}

// createDatabase creates db on the cluster unless it exists; postgres
// always does.
func createDatabase(ctx context.Context, port int, db string, log io.Writer) error {
	if db == "postgres" {
		return nil
	}
	conn, err := pgx.Connect(ctx, URL(port, "postgres"))
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", db, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var found bool
	if err := conn.QueryRow(ctx, "select exists (select from pg_database where datname = $1)", db).Scan(&found); err != nil {
		return fmt.Errorf("look for database %s: %w", db, err)
	}
	if found {
		return nil
	}
	logf(log, "creating database %s", db)
	if _, err := conn.Exec(ctx, "create database "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
