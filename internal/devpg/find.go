package devpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SystemURL is the machine's own server: on CI and on most machines with
// PostgreSQL installed it already runs, so tests try it before starting one.
const SystemURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL is the URL of database db on a trust-auth server on 127.0.0.1:port,
// which is what both the throwaway cluster and docker compose are.
func URL(port int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

// Finder chooses the URL. Each source is a function so that the order of the
// choices can be tested with fakes.
type Finder struct {
	Getenv  func(string) string
	Log     io.Writer
	Answers func(ctx context.Context, url string) error
	Cluster func(ctx context.Context, db string) (string, error)
	Compose func(ctx context.Context, db string) (string, error)
}

// URLForRun is the DATABASE_URL for `make run`: $DATABASE_URL, else the
// throwaway cluster, else docker compose, in both cases database syncd.
func (f Finder) URLForRun(ctx context.Context) (string, error) {
	if u := f.Getenv("DATABASE_URL"); u != "" {
		logf(f.Log, "using DATABASE_URL from the environment")
		return u, nil
	}
	return f.start(ctx, "DATABASE_URL", "syncd", nil)
}

// URLForTest is the server URL for the tests, which must allow CREATE
// DATABASE: $SYNCD_TEST_DATABASE_URL, $DATABASE_URL, the machine's server if
// it answers (unless SYNCD_SKIP_SYSTEM_PG=1), else the throwaway cluster or
// docker compose, in both cases database postgres.
func (f Finder) URLForTest(ctx context.Context) (string, error) {
	for _, name := range []string{"SYNCD_TEST_DATABASE_URL", "DATABASE_URL"} {
		if u := f.Getenv(name); u != "" {
			logf(f.Log, "using %s from the environment", name)
			return u, nil
		}
	}
	var tried []error
	if f.Getenv("SYNCD_SKIP_SYSTEM_PG") == "1" {
		logf(f.Log, "not trying 127.0.0.1:5432 (SYNCD_SKIP_SYSTEM_PG=1)")
	} else if err := f.Answers(ctx, SystemURL); err != nil {
		err = fmt.Errorf("no server answers as postgres@127.0.0.1:5432: %w", err)
		logf(f.Log, "%v", err)
		tried = append(tried, err)
	} else {
		logf(f.Log, "using the local server on 127.0.0.1:5432")
		return SystemURL, nil
	}
	return f.start(ctx, "SYNCD_TEST_DATABASE_URL", "postgres", tried)
}

// start tries the sources that start a server, in order; envVar names the
// variable the error suggests setting instead.
func (f Finder) start(ctx context.Context, envVar, db string, tried []error) (string, error) {
	for _, source := range []func(context.Context, string) (string, error){f.Cluster, f.Compose} {
		u, err := source(ctx, db)
		if err == nil {
			return u, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("finding PostgreSQL: %w", ctx.Err())
		}
		logf(f.Log, "%v", err)
		tried = append(tried, err)
	}
	return "", &NotFoundError{Var: envVar, Tried: tried}
}

// NotFoundError says that no source gave a server, why each did not, and
// what the developer can do about it.
type NotFoundError struct {
	Var   string  // the variable to set: DATABASE_URL or SYNCD_TEST_DATABASE_URL
	Tried []error // why each source was not usable, in order
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("no PostgreSQL server available for syncd.\n")
	if len(e.Tried) > 0 {
		b.WriteString("What was tried:\n")
		for _, err := range e.Tried {
			fmt.Fprintf(&b, "  - %v\n", err)
		}
	}
	fmt.Fprintf(&b, `Do one of these, then run the command again:
  - set %[1]s to a server you can use, e.g.
      export %[1]s='%[2]s'
  - install the PostgreSQL server binaries (initdb, pg_ctl); a throwaway
    cluster is then created in ./.data/pg:
      Debian/Ubuntu: sudo apt-get install postgresql
      Fedora/RHEL:   sudo dnf install postgresql-server
      macOS:         brew install postgresql@16
  - install Docker with the compose plugin and start its engine;
    `+"`docker compose up -d postgres`"+` is then used`, e.Var, SystemURL)
	return b.String()
}

func (e *NotFoundError) Unwrap() []error { return e.Tried }

// Answers reports why the server at url does not accept a login and run a
// query, or nil if it does. Three seconds is enough for a local server and
// keeps a firewalled port from stalling `make test`.
func Answers(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		return fmt.Errorf("select 1: %w", err)
	}
	return nil
}

// waitUntilAnswers polls Answers until it succeeds or timeout passes: a
// server that pg_ctl reports started may still be finishing recovery.
func waitUntilAnswers(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := Answers(ctx, url)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// logf writes one message line. Messages go to stderr, never stdout, so
// that `DATABASE_URL=$(syncd-dev url-for-run)` captures only the URL.
func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "syncd-dev: "+format+"\n", args...)
}
