package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/jobs"
)

// startClient starts c and, when t ends, stops it with 10 s to let the
// jobs it is working finish, as serve's shutdown does.
func startClient(t *testing.T, c *jobs.Client) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(stopCtx)
	})
}
