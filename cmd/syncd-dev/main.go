// Command syncd-dev finds or starts the PostgreSQL that `make run` and
// `make test` use, and runs the local development loop behind `make run`
// and `make send-test-event`. Run `syncd-dev help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
