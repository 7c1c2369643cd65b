package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/migrations"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status" && args[0] != "down") {
		return usagef("migrate takes one of up, status or down")
	}
	cfg, pool, err := connect(ctx, getenv, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := store.NewMigrator(pool, migrations.FS, quieter(newLogger(cfg, stderr), cfg))
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up", "down":
		var applied []store.Applied
		if args[0] == "up" {
			applied, err = m.Up(ctx)
		} else {
			applied, err = m.Down(ctx)
		}
		for _, a := range applied {
			fmt.Fprintf(stdout, "%s %s %d %s (%s)\n", args[0], a.Component, a.Version, a.Name, a.Duration.Round(1e6))
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "nothing to migrate %s\n", args[0])
		}
		return nil
	default:
		states, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "COMPONENT\tVERSION\tNAME\tSTATE")
		for _, s := range states {
			state := "pending"
			if s.Applied {
				state = "applied"
				if !s.AppliedAt.IsZero() {
					state += " " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Component, s.Version, s.Name, state)
		}
		return tw.Flush()
	}
}
