package main

import (
	"context"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/testdb"
)

func TestUsageAndConfigurationErrorsExitTwo(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	cases := []struct {
		name    string
		args    []string
		env     env
		mention string
	}{
		{"no command", []string{"syncd"}, env{}, "no command"},
		{"unknown command", []string{"syncd", "frobnicate"}, env{}, "unknown command"},
		{"serve without database", []string{"syncd", "serve"}, env{}, "DATABASE_URL"},
		{"serve without secret", []string{"syncd", "serve"}, env{"DATABASE_URL": url}, "CLERK_WEBHOOK_SECRET"},
		{"serve with a bad secret", []string{"syncd", "serve"}, env{"DATABASE_URL": url, "CLERK_WEBHOOK_SECRET": "whsec_!!"}, "CLERK_WEBHOOK_SECRET"},
		{"serve with a bad role", []string{"syncd", "serve", "--role", "both"}, env{"DATABASE_URL": url}, "--role"},
		{"serve with an unknown flag", []string{"syncd", "serve", "--port", "1"}, env{}, "port"},
		{"migrate sideways", []string{"syncd", "migrate", "sideways"}, env{"DATABASE_URL": url}, "up, status or down"},
		{"replay without a selector", []string{"syncd", "replay"}, env{"DATABASE_URL": url}, "--event"},
		{"replay with both selectors", []string{"syncd", "replay", "--event", "x", "--since", "2026-01-01T00:00:00Z"}, env{"DATABASE_URL": url}, "exactly one"},
		{"replay with a bad time", []string{"syncd", "replay", "--since", "yesterday"}, env{"DATABASE_URL": url}, "RFC 3339"},
		{"bad worker count", []string{"syncd", "status"}, env{"DATABASE_URL": url, "SYNCD_WORKERS": "-3"}, "SYNCD_WORKERS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut lockedBuffer
			err := run(context.Background(), tc.args, tc.env.get, &out, &errOut)
			if err == nil {
				t.Fatal("no error")
			}
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit code %d for %v, want 2", code, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestRuntimeFailuresExitOne(t *testing.T) {
	t.Parallel()
	var out, errOut lockedBuffer
	err := run(context.Background(), []string{"syncd", "status"},
		env{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?connect_timeout=2"}.get, &out, &errOut)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("unreachable database: %v (exit %d), want exit 1 naming DATABASE_URL", err, exitCode(err))
	}
}

func TestVersionMigrateAndStatus(t *testing.T) {
	t.Parallel()
	var out, errOut lockedBuffer
	if err := run(context.Background(), []string{"syncd", "version"}, env{}.get, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "syncd ") || !strings.Contains(out.String(), "commit") {
		t.Fatalf("version printed %q", out.String())
	}
	url := testdb.NewURL(t)
	e := env{"DATABASE_URL": url}
	out = lockedBuffer{}
	if err := run(context.Background(), []string{"syncd", "migrate", "up"}, e.get, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nothing to migrate up") {
		t.Fatalf("migrate up on a migrated database printed %q", out.String())
	}
	out = lockedBuffer{}
	if err := run(context.Background(), []string{"syncd", "migrate", "status"}, e.get, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	pendingLine := false
	for _, line := range strings.Split(out.String(), "\n") {
		pendingLine = pendingLine || strings.HasSuffix(strings.TrimSpace(line), " pending")
	}
	if pendingLine || !strings.Contains(out.String(), "river") {
		t.Fatalf("migrate status printed %q", out.String())
	}
	out = lockedBuffer{}
	if err := run(context.Background(), []string{"syncd", "status", "--json"}, e.get, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"events_pending": 0`) {
		t.Fatalf("status --json printed %q", out.String())
	}
}
