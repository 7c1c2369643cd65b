package devpg

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFreePort(t *testing.T) {
	taken := map[int]bool{54329: true, 54330: true, 54332: true}
	inUse := func(p int) bool { return taken[p] }
	if got, err := FreePort(54329, inUse); err != nil || got != 54331 {
		t.Errorf("FreePort = %d, %v; want 54331", got, err)
	}
	if got, err := FreePort(54331, inUse); err != nil || got != 54331 {
		t.Errorf("FreePort from a free port = %d, %v; want it", got, err)
	}
	if _, err := FreePort(54329, func(int) bool { return true }); err == nil || !strings.Contains(err.Error(), "no free TCP port in 54329-54529") {
		t.Errorf("all taken: err = %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if !PortInUse(port) {
		t.Errorf("port %d has a listener but PortInUse says it is free", port)
	}
	l.Close()
	if PortInUse(port) {
		t.Errorf("port %d was closed but PortInUse says it is taken", port)
	}
}

func TestPostmasterFiles(t *testing.T) {
	dir := t.TempDir()
	if previousPort(dir) != 0 {
		t.Error("previousPort without postmaster.opts is not 0")
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("postmaster.opts", `/usr/lib/postgresql/15/bin/postgres "-D" "/x/.data/pg" "-p" "54331"`+"\n")
	if got := previousPort(dir); got != 54331 {
		t.Errorf("previousPort = %d, want 54331", got)
	}
	write("postmaster.pid", "4242\n/x/.data/pg\n1700000000\n54331\n\n127.0.0.1\n")
	if pid, err := pidFileLine(dir, 0); err != nil || pid != 4242 {
		t.Errorf("pid = %d, %v", pid, err)
	}
	if port, err := pidFileLine(dir, 3); err != nil || port != 54331 {
		t.Errorf("port = %d, %v", port, err)
	}
}

// A postmaster.pid naming a live process that is not postgres (pids are
// reused after a crash) is removed; one naming no process is left to pg_ctl.
func TestClearForeignPidfile(t *testing.T) {
	if _, err := os.Stat("/proc/self/comm"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	c := &Cluster{Dir: dir, Log: testLog{t}}
	pidFile := filepath.Join(dir, "postmaster.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.clearForeignPidfile()
	if _, err := os.Stat(pidFile); err == nil {
		t.Error("a postmaster.pid naming this test process was kept")
	}
}

// testLog sends messages to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestClusterStartsAndStops runs the real thing where PostgreSQL is
// installed: a throwaway cluster in a temporary directory, as the postgres
// user when root.
func TestClusterStartsAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins := BinSearch{PGBin: os.Getenv("PG_BIN"), Path: os.Getenv("PATH"), Patterns: DefaultPatterns()}
	if _, err := bins.Find(ctx, ""); err != nil {
		t.Skipf("no initdb: %v", err)
	}
	tmp := t.TempDir()
	if os.Geteuid() == 0 {
		// The postgres user must get through t.TempDir's private parent;
		// the cluster opens its own parent (tmp) and chowns its directory.
		if err := os.Chmod(filepath.Dir(tmp), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	first := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c := &Cluster{Dir: filepath.Join(tmp, "pg"), FirstPort: first, User: "postgres", Bins: bins, Log: testLog{t}}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("stop in cleanup: %v", err)
		}
	})

	url, err := c.URL(ctx, "syncd")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(url, "/syncd?sslmode=disable") || strings.Contains(url, ":5432/") {
		t.Fatalf("URL = %q", url)
	}
	if err := Answers(ctx, url); err != nil {
		t.Fatalf("%s does not answer: %v", url, err)
	}
	again, err := c.URL(ctx, "syncd")
	if err != nil || again != url {
		t.Fatalf("reuse: %q, %v; want %q", again, err, url)
	}
	if got, running, err := c.Status(ctx); err != nil || !running || got != url {
		t.Fatalf("status = %q, %v, %v; want running at %q", got, running, err, url)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, running, err := c.Status(ctx); err != nil || running {
		t.Fatalf("status after stop: running %v, %v", running, err)
	}
	if Answers(ctx, url) == nil {
		t.Fatalf("%s still answers after stop", url)
	}

	// As after a crash whose pid went to another process: the stale
	// postmaster.pid is cleared and the cluster starts on its old port.
	// Telling the pid is another process's needs /proc.
	if _, err := os.Stat("/proc/self/comm"); err != nil {
		return
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "postmaster.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if again, err := c.URL(ctx, "syncd"); err != nil || again != url {
		t.Fatalf("restart: %q, %v; want %q", again, err, url)
	}
}

func TestLockSerialises(t *testing.T) {
	ctx := context.Background()
	c := &Cluster{Dir: filepath.Join(t.TempDir(), "pg"), Log: testLog{t}}
	unlock, err := c.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error)
	go func() {
		unlock2, err := c.lock(ctx)
		if err == nil {
			unlock2()
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("a second lock was taken while the first was held (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second lock was not taken after the first was released")
	}
}
