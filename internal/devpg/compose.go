package devpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Compose starts the postgres service of the repository's
// docker-compose.yml, for machines with Docker but no PostgreSQL binaries.
type Compose struct {
	Root   string // the repository, holding docker-compose.yml
	Getenv func(string) string
	Log    io.Writer
}

// URL starts the service, waits for its healthcheck, and returns the URL of
// database db on it.
func (d Compose) URL(ctx context.Context, db string) (string, error) {
	port := 5432
	if p := d.Getenv("POSTGRES_PORT"); p != "" {
		var err error
		if port, err = strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("POSTGRES_PORT=%s is not a port: %w", p, err)
		}
	}
	if err := d.usable(ctx); err != nil {
		return "", err
	}
	logf(d.Log, "starting Postgres with `docker compose up -d postgres`")
	if err := d.compose(ctx, d.Log, "up", "-d", "postgres"); err != nil {
		return "", fmt.Errorf("`docker compose up -d postgres` failed (output above): %w", err)
	}
	var cid bytes.Buffer
	if err := d.compose(ctx, &cid, "ps", "-q", "postgres"); err != nil {
		return "", fmt.Errorf("docker compose ps: %w", err)
	}
	logf(d.Log, "waiting for the postgres container's healthcheck")
	for range 120 {
		out, err := exec.CommandContext(ctx, "docker", "inspect", "-f",
			"{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
			strings.TrimSpace(cid.String())).Output()
		status := strings.TrimSpace(string(out))
		if err != nil {
			status = "gone"
		}
		switch status {
		case "healthy":
			return URL(port, db), nil
		case "unhealthy", "exited", "dead", "gone":
			_ = d.compose(ctx, d.Log, "logs", "--tail", "30", "postgres") // to explain the error below
			return "", fmt.Errorf("the compose postgres container is %s (logs above)", status)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the compose postgres container: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return "", errors.New("the compose postgres container was not healthy after 60s")
}

// usable says why docker compose cannot be used, or nil.
func (d Compose) usable(ctx context.Context) error {
	if d.Getenv("SYNCD_NO_DOCKER") == "1" {
		return errors.New("docker compose: skipped (SYNCD_NO_DOCKER=1)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("docker: not installed")
	}
	if exec.CommandContext(ctx, "docker", "compose", "version").Run() != nil {
		return errors.New("docker: the compose plugin is missing (`docker compose version` fails)")
	}
	if exec.CommandContext(ctx, "docker", "info").Run() != nil {
		return errors.New("docker: no engine answers (`docker info` fails); start Docker")
	}
	return nil
}

func (d Compose) compose(ctx context.Context, stdout io.Writer, args ...string) error {
	args = append([]string{"compose", "--project-directory", d.Root, "-f", filepath.Join(d.Root, "docker-compose.yml")}, args...)
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = stdout, d.Log
	cmd.Env = os.Environ()
	// Compose interpolates the whole file, so the syncd service's required
	// CLERK_WEBHOOK_SECRET must have a value even to start only postgres.
	if d.Getenv("CLERK_WEBHOOK_SECRET") == "" {
		cmd.Env = append(cmd.Env, "CLERK_WEBHOOK_SECRET=whsec_unused_by_postgres")
	}
	return cmd.Run()
}
