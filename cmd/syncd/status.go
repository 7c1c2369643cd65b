package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/syncd/syncd/internal/store"
)

func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	_, pool, err := connect(ctx, getenv, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	o, err := store.ReadOverview(ctx, pool)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, o)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tACTIVE\tDELETED")
	fmt.Fprintf(tw, "users\t%d\t%d\n", o.Users.Active, o.Users.Deleted)
	fmt.Fprintf(tw, "organizations\t%d\t%d\n", o.Organizations.Active, o.Organizations.Deleted)
	fmt.Fprintf(tw, "memberships\t%d\t%d\n", o.Memberships.Active, o.Memberships.Deleted)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "EVENTS\tCOUNT\t")
	pending := fmt.Sprintf("%d", o.EventsPending)
	if o.OldestPendingReceivedAt != nil {
		pending += fmt.Sprintf(" (oldest received %s ago)", time.Since(*o.OldestPendingReceivedAt).Round(time.Second))
	}
	fmt.Fprintf(tw, "pending\t%s\t\n", pending)
	fmt.Fprintf(tw, "failed\t%d\t\n", o.EventsFailed)
	fmt.Fprintf(tw, "applied in the last hour\t%d\t\n", o.EventsAppliedLastHour)
	fmt.Fprintln(tw)
	if o.LastReconciliationID == nil {
		fmt.Fprintln(tw, "last reconciliation\tnone yet\t")
	} else {
		line := fmt.Sprintf("run %d %s", *o.LastReconciliationID, *o.LastReconciliationStatus)
		if o.LastReconciliationAt != nil {
			line += " at " + o.LastReconciliationAt.UTC().Format(time.RFC3339)
		}
		if o.LastReconciliationError != nil {
			line += ": " + *o.LastReconciliationError
		}
		fmt.Fprintf(tw, "last reconciliation\t%s\t\n", line)
	}
	return tw.Flush()
}
