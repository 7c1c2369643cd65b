package testdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/devpg"
)

// OwnCluster runs a throwaway PostgreSQL cluster for t alone, for a test
// that stops, restarts or crashes the server: the shared server other
// tests use is never touched. It returns the cluster and the URL of a
// migrated database "syncd" on it; both are gone when t ends. Without
// initdb on the machine, t is skipped.
func OwnCluster(t *testing.T) (*devpg.Cluster, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins := devpg.BinSearch{PGBin: os.Getenv("PG_BIN"), Path: os.Getenv("PATH"), Patterns: devpg.DefaultPatterns()}
	if _, err := bins.Find(ctx, ""); err != nil {
		t.Skipf("no initdb for a cluster of the test's own: %v", err)
	}
	// Not t.TempDir: as root the server runs as the postgres user, which
	// must get through every parent directory; t.TempDir's own parent is
	// private, while devpg opens this one (the cluster's parent) for it.
	tmp, err := os.MkdirTemp("", "syncd-test-pg-")
	if err != nil {
		t.Fatal(err)
	}
	port, err := devpg.FreePort(20000+int(time.Now().UnixNano()%20000), devpg.PortInUse)
	if err != nil {
		t.Fatal(err)
	}
	c := &devpg.Cluster{Dir: filepath.Join(tmp, "pg"), FirstPort: port, User: "postgres", Bins: bins, Log: logWriter{t}}
	t.Cleanup(func() {
		if err := c.Clean(context.Background()); err != nil {
			t.Errorf("remove the test's cluster: %v", err)
		}
		os.RemoveAll(tmp)
	})
	url, err := c.URL(ctx, "syncd")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	return c, url
}

// logWriter sends the cluster's messages to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
