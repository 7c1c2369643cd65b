package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/syncd/syncd/internal/devpg"
)

const usage = `Usage: syncd-dev COMMAND

Finding or starting PostgreSQL:
  url-for-run    print the DATABASE_URL for ` + "`make run`" + `, trying in order:
                   $DATABASE_URL; a throwaway cluster in ./.data/pg (database
                   syncd); ` + "`docker compose up -d postgres`" + `; else an error
                   saying what to install or set
  url-for-test   print the server URL the tests use, trying in order:
                   $SYNCD_TEST_DATABASE_URL; $DATABASE_URL; the machine's
                   server on 127.0.0.1:5432 if it answers; the throwaway
                   cluster (database postgres); docker compose; the error
  with-test-db CMD [ARG...]
                 export SYNCD_TEST_DATABASE_URL as url-for-test finds it and
                 exec CMD (its exit status is ours)
  start          start (or reuse) the throwaway cluster; print its URL
  status         say whether it runs (URL on stdout if so; exit status 3 if not)
  stop           stop it
  clean          stop it and delete ./.data/pg

The development loop (bin/syncd must be built):
  run              find or start Postgres as url-for-run does, run
                   ` + "`syncd migrate up`" + `, make sure a webhook secret exists, print
                   how to reach the server, then exec ` + "`syncd serve`" + `
  send-test-event  sign a sample Clerk event with the same secret and POST it
                   to the running server (TYPE=user.updated picks the type)
  secret           print the webhook secret ` + "`run`" + ` uses
  webhook-url      print the webhook URL ` + "`run`" + ` serves

Only URLs and values go to stdout; messages go to stderr.

The throwaway cluster: initdb and pg_ctl from $PG_BIN, else PATH, else the
newest /usr/lib/postgresql/*/bin (or /usr/pgsql-*/bin, Homebrew's); trust
auth, superuser postgres, 127.0.0.1 only, the first free port from 54329,
fsync=off (development only). As root it runs as the postgres system user.

Environment:
  PG_BIN                  directory holding initdb and pg_ctl
  SYNCD_PG_PORT           first port probed for the throwaway cluster (54329)
  SYNCD_PG_USER           system user that runs it when we are root (postgres)
  SYNCD_SKIP_SYSTEM_PG=1  url-for-test does not try the server on 127.0.0.1:5432
  SYNCD_NO_DOCKER=1       never fall back to docker compose
  POSTGRES_PORT           host port docker-compose.yml publishes Postgres on (5432)
  CLERK_WEBHOOK_SECRET    the webhook secret; else a dev secret kept in
                          ./.data/dev-webhook-secret (delete it for a new one)
  SYNCD_ADDR              where syncd serve listens (:8080), for the webhook URL
  WEBHOOK_URL             the URL send-test-event posts to
  TYPE                    the event type send-test-event sends
`

// exitError carries an exit status other than 1; an empty message prints
// nothing, as for `status` of a stopped cluster.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		if _, ok := errors.AsType[*devpg.NotFoundError](err); ok {
			fmt.Fprintln(stderr) // the long explanation reads better set apart
		}
		fmt.Fprintf(stderr, "syncd-dev: error: %s\n", msg)
	}
	return code
}

// run is the whole program, so tests can run it: args as os.Args, the
// environment through getenv, URLs and values to stdout, messages to
// stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, msg: "no command given"}
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	firstPort := 54329
	if p := getenv("SYNCD_PG_PORT"); p != "" {
		if firstPort, err = strconv.Atoi(p); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("SYNCD_PG_PORT=%s is not a port", p)}
		}
	}
	cluster := &devpg.Cluster{
		Dir:       filepath.Join(root, ".data", "pg"),
		FirstPort: firstPort,
		User:      cmp.Or(getenv("SYNCD_PG_USER"), "postgres"),
		Bins:      devpg.BinSearch{PGBin: getenv("PG_BIN"), Path: getenv("PATH"), Patterns: devpg.DefaultPatterns()},
		Log:       stderr,
	}
	finder := devpg.Finder{
		Getenv:  getenv,
		Log:     stderr,
		Answers: devpg.Answers,
		Cluster: cluster.URL,
		Compose: devpg.Compose{Root: root, Getenv: getenv, Log: stderr}.URL,
	}
	result := printer(stdout)
	d := dev{root: root, getenv: getenv, stdout: stdout, stderr: stderr}

	switch cmd := args[1]; cmd {
	case "url-for-run":
		return result(finder.URLForRun(ctx))
	case "url-for-test":
		return result(finder.URLForTest(ctx))
	case "with-test-db":
		if len(args) < 3 {
			return &exitError{code: 2, msg: "with-test-db needs a command to run"}
		}
		url, err := finder.URLForTest(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "syncd-dev: SYNCD_TEST_DATABASE_URL=%s\n", url)
		return execve(args[2:], setenv(os.Environ(), "SYNCD_TEST_DATABASE_URL", url))
	case "start":
		url, err := cluster.URL(ctx, "syncd")
		if err != nil && ctx.Err() == nil {
			err = &devpg.NotFoundError{Var: "DATABASE_URL", Tried: []error{err}}
		}
		return result(url, err)
	case "status":
		url, running, err := cluster.Status(ctx)
		if err != nil {
			return err
		}
		if !running {
			return &exitError{code: 3}
		}
		return result(url, nil)
	case "stop":
		return cluster.Stop(ctx)
	case "clean":
		return cluster.Clean(ctx)
	case "run":
		return d.run(ctx, finder)
	case "send-test-event":
		return d.sendTestEvent()
	case "secret":
		return result(d.secret())
	case "webhook-url":
		return result(webhookURL(getenv))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, msg: "unknown command: " + cmd}
	}
}

// printer prints a command's result on its own line, or returns the error
// that stopped it; it takes a (value, error) call as its argument.
func printer(w io.Writer) func(string, error) error {
	return func(value string, err error) error {
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, value)
		return err
	}
}

// repoRoot is the directory of go.mod at or above the working directory,
// so every command works from anywhere in the checkout, as make -C does.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above: run syncd-dev inside the syncd checkout", dir)
		}
	}
}

// setenv returns env with each name=value pair of kv set, replacing any
// earlier value: duplicates would leave the choice to the child.
func setenv(env []string, kv ...string) []string {
	out := make([]string, 0, len(env)+len(kv)/2)
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		replaced := false
		for i := 0; i+1 < len(kv); i += 2 {
			replaced = replaced || kv[i] == name
		}
		if !replaced {
			out = append(out, e)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}

// execve replaces this process with argv, so the command gets the terminal's
// signals directly and its exit status is the caller's.
func execve(argv []string, env []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	if err := syscall.Exec(path, argv, env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil // not reached: Exec returns only on failure
}
