// Command syncd keeps a Postgres copy of a Clerk instance's users,
// organizations and memberships: it ingests Clerk's webhooks, applies them
// with River workers, and reconciles against the Backend API.
//
// Run `syncd help` for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncd:", err)
		os.Exit(exitCode(err))
	}
}
