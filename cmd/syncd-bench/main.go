// Command syncd-bench measures syncd on the machine it runs on, against the
// Postgres server named by SYNCD_TEST_DATABASE_URL, and sets each figure
// beside what pgbench achieves on the same server, so the numbers mean
// something on any hardware:
//
//	syncd-bench serve     [--syncd bin/syncd] [--runs 3] [--users 5000] [--senders 32]
//	syncd-bench ingest    [--syncd bin/syncd] [--runs 3] [--seconds 10]
//	syncd-bench apply     [--runs 3] [--events 20000]
//	syncd-bench reconcile
//
// Each bench creates its own database and drops it afterwards.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncd-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: syncd-bench serve|ingest|apply|reconcile [flags]")
	}
	var err error
	switch args[1] {
	case "serve":
		err = benchServe(ctx, args[2:], stdout)
	case "ingest":
		err = benchIngest(ctx, args[2:], stdout)
	case "apply":
		err = benchApply(ctx, args[2:], stdout)
	case "reconcile":
		err = benchReconcile(ctx, args[2:], stdout)
	default:
		return fmt.Errorf("unknown bench %q: use serve, ingest, apply or reconcile", args[1])
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the flags
	}
	return err
}
