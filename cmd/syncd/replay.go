package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/syncd/syncd/internal/jobs"
)

func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	eventID := fs.String("event", "", "id (svix-id) of one stored event to re-apply")
	since := fs.String("since", "", "re-apply every event received at or after this RFC 3339 time")
	typ := fs.String("type", "", "with --since: only events of this type, e.g. user.updated")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if (*eventID == "") == (*since == "") {
		return usagef("replay: pass exactly one of --event ID or --since RFC3339")
	}
	if *typ != "" && *since == "" {
		return usagef("replay: --type goes with --since")
	}
	var sinceT time.Time
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return usagef("replay: --since %q is not an RFC 3339 time such as 2026-11-25T00:00:00Z", *since)
		}
		sinceT = t
	}
	cfg, pool, err := connect(ctx, getenv, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: quieter(newLogger(cfg, stderr), cfg)})
	if err != nil {
		return err
	}
	rp := jobs.NewReplayer(pool, client)
	if *eventID != "" {
		if err := rp.ReplayEvent(ctx, *eventID); err != nil {
			return fmt.Errorf("replay event %s: %w", *eventID, err)
		}
		fmt.Fprintf(stdout, "enqueued event %s; a running `syncd serve` applies it\n", *eventID)
		return nil
	}
	n, err := rp.ReplaySince(ctx, sinceT, *typ)
	if err != nil {
		return fmt.Errorf("replay since %s (%d enqueued before the error): %w", sinceT.Format(time.RFC3339), n, err)
	}
	fmt.Fprintf(stdout, "enqueued %d events received since %s; a running `syncd serve` applies them\n", n, sinceT.Format(time.RFC3339))
	return nil
}
