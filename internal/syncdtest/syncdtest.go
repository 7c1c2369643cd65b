package syncdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// build compiles ./cmd/syncd into the temp directory, once per process. It
// writes to a private name and renames, so test processes of several
// packages building at once never run a half-written file.
func build() (string, error) {
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir := filepath.Join(os.TempDir(), "syncdtest")
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		tmp := filepath.Join(dir, fmt.Sprintf("syncd.%d.tmp", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/syncd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/syncd: %w\n%s", err, out)
			return
		}
		binary = filepath.Join(dir, fmt.Sprintf("syncd-%d", os.Getuid()))
		buildErr = os.Rename(tmp, binary)
	})
	return binary, buildErr
}

// Syncd is a running `syncd serve`.
type Syncd struct {
	// URL is where it listens, http://127.0.0.1:port.
	URL string
	// Secret is the webhook signing secret it was started with.
	Secret string

	cmd  *exec.Cmd
	out  *LockedBuffer
	done chan error
}

// Start runs `syncd serve` on databaseURL (already migrated) with a fresh
// webhook secret, reconciliation off and the given extra environment
// ("KEY=value"), and waits until it listens. It is stopped with SIGTERM when
// t ends.
func Start(t testing.TB, databaseURL string, extraEnv ...string) *Syncd {
	t.Helper()
	return StartArgs(t, databaseURL, nil, extraEnv...)
}

// StartArgs is Start with further arguments to serve, such as
// "--role", "worker".
func StartArgs(t testing.TB, databaseURL string, args []string, extraEnv ...string) *Syncd {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	s := &Syncd{Secret: clerkfake.NewSecret(nil), out: &LockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	s.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + databaseURL,
		"CLERK_WEBHOOK_SECRET=" + s.Secret,
		"SYNCD_ADDR=127.0.0.1:0",
		"SYNCD_RECONCILE_SCHEDULE=off",
		"SYNCD_LOG_FORMAT=json",
	}, extraEnv...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start syncd: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := ListeningAddr(s.out.String()); addr != "" {
			s.URL = "http://" + addr
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("syncd exited before listening: %v\n%s", err, s.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("syncd did not listen within 30s:\n%s", s.out)
	return nil
}

func (s *Syncd) stop(t testing.TB) {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited, which done reports
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("syncd did not stop within 30s of SIGTERM")
	}
}

// Logs is everything the process printed so far.
func (s *Syncd) Logs() string { return s.out.String() }

// Deliver signs each event as Svix does and posts it, failing t unless
// syncd answers 2xx (the event is then durably stored and queued).
func (s *Syncd) Deliver(t testing.TB, evs ...clerkfake.Event) {
	t.Helper()
	for _, ev := range evs {
		req, err := clerkfake.NewWebhookRequest(s.URL+"/webhooks/clerk", s.Secret, ev, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("deliver %s: %v", ev.Type, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("deliver %s: %d %s", ev.Type, res.StatusCode, body)
		}
	}
}

// WaitApplied waits until no stored event is pending, failing t after
// timeout. count reads `SELECT count(*) FROM clerk.webhook_events WHERE
// status = 'pending'`.
func WaitApplied(t testing.TB, count func(ctx context.Context) (int, error), timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending after %s", n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PendingSQL counts the events syncd has not applied yet.
const PendingSQL = `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`

// ListeningAddr is the address in syncd's JSON "listening" log line, or ""
// before it has printed one.
func ListeningAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"msg":"listening"`)) {
			continue
		}
		var l struct {
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &l) == nil && l.Addr != "" {
			return l.Addr
		}
	}
	return ""
}

// LockedBuffer collects a process's output while it runs: safe to write
// from the process's copy goroutine and read from the test.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
