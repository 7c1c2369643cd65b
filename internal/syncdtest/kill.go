package syncdtest

import (
	"syscall"
	"testing"
	"time"
)

// Kill ends the process with SIGKILL, as the kernel's OOM killer or a lost
// node would: no deferred work, no shutdown, connections cut mid-statement.
// It waits until the process is gone.
func (s *Syncd) Kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill syncd: %v", err)
	}
	select {
	case err := <-s.done:
		s.done <- err // the cleanup's stop reads it too
	case <-time.After(10 * time.Second):
		t.Fatalf("syncd did not die within 10s of SIGKILL")
	}
}
