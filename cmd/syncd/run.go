package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/syncd/syncd/internal/config"
)

const usage = `syncd keeps a Postgres copy of a Clerk instance's users, organizations and memberships.

Usage:
  syncd serve [--role all|api|worker]     HTTP server and River workers (all), or one half
  syncd migrate up|status|down            apply, list or roll back (one step) the migrations
  syncd reconcile [--wait] [--dry-run] [--authoritative] [--json]
                                          start a reconciliation against the Clerk Backend API
  syncd replay --event ID                 re-apply one stored webhook event
  syncd replay --since RFC3339 [--type T] re-apply stored events received since a time
  syncd status [--json]                   synced rows, event backlog and the last reconciliation
  syncd send-test-event [--url URL] [--type TYPE]
                                          sign a sample Clerk event with CLERK_WEBHOOK_SECRET and POST it
  syncd version                           version and commit

Configuration is read from the environment: DATABASE_URL, CLERK_WEBHOOK_SECRET
(or its alias CLERK_WEBHOOK_SIGNING_SECRET), CLERK_SECRET_KEY, CLERK_API_URL,
SYNCD_ADDR, SYNCD_METRICS_ADDR, SYNCD_ADMIN_TOKEN, SYNCD_RECONCILE_SCHEDULE,
SYNCD_WORKERS, SYNCD_CLERK_RPS, SYNCD_LOG_LEVEL, SYNCD_LOG_FORMAT (see README.md).
`

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to syncd's exit codes: 2 for bad usage or
// configuration, 1 for anything that went wrong at run time.
func exitCode(err error) int {
	var ue *usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return 2
	}
	return 1
}

// run is the whole program, so tests can run it: args as os.Args, the
// environment through getenv, output to stdout (results, JSON logs of serve)
// and stderr (diagnostics of one-shot commands).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given; run `syncd help`")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "reconcile":
		return runReconcile(ctx, rest, getenv, stdout, stderr)
	case "replay":
		return runReplay(ctx, rest, getenv, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, getenv, stdout, stderr)
	case "send-test-event":
		return runSendTestEvent(ctx, rest, getenv, stdout)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "syncd %s (commit %s)\n", version, commit)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usagef("unknown command %q; the commands are serve, migrate, reconcile, replay, status, send-test-event and version", cmd)
	}
}

// newFlagSet returns a flag set that reports mistakes as usage errors
// instead of exiting, and prints its help to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("syncd "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parseFlags parses and turns flag errors into usage errors; -h is not an
// error.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return false, usagef("%s: unexpected argument %q", fs.Name(), strings.Join(fs.Args(), " "))
	}
	return false, nil
}
