package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
)

type conflictReport struct {
	RunID         int64  `json:"run_id"`
	Status        string `json:"status"`
	Authoritative bool   `json:"authoritative"`
	Users         struct {
		Seen      int64 `json:"seen"`
		Unchanged int64 `json:"unchanged"`
		Conflicts int64 `json:"conflicts"`
		Repaired  int64 `json:"repaired"`
	} `json:"users"`
}

// Sync rule 5 through the command: a user row holding a forged year-3000
// version is reported as a conflict by `syncd reconcile --wait` (JSON and
// text, with what to run) and left alone; `--authoritative` makes it equal
// to Clerk's and says so.
func TestReconcileCommandReportsAndRepairsConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, e := reconcileFakeClerk(t, 23, 12, 2, 6)
	reconcileJSON := func(args ...string) conflictReport {
		t.Helper()
		var stdout, stderr strings.Builder
		err := run(ctx, append([]string{"syncd", "reconcile", "--wait", "--json"}, args...), e.get, &stdout, &stderr)
		if err != nil {
			t.Fatalf("reconcile %v: %v\n%s", args, err, stderr.String())
		}
		var rep conflictReport
		if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
			t.Fatalf("not a JSON report: %v\n%s", err, stdout.String())
		}
		return rep
	}
	reconcileJSON()
	pool := syncdtest.OpenPool(t, e["DATABASE_URL"])
	victim := m.Users()[0].ID
	if _, err := pool.Exec(ctx, `UPDATE clerk.users SET first_name = 'Forged', updated_at = '3000-01-01', sync_hash = NULL WHERE id = $1`, victim); err != nil {
		t.Fatal(err)
	}

	rep := reconcileJSON()
	if rep.Status != "succeeded" || rep.Authoritative || rep.Users.Conflicts != 1 || rep.Users.Repaired != 0 || rep.Users.Unchanged != rep.Users.Seen-1 {
		t.Fatalf("report %+v, want one user conflict left alone", rep)
	}
	var name string
	if err := pool.QueryRow(ctx, `SELECT first_name FROM clerk.users WHERE id = $1`, victim).Scan(&name); err != nil || name != "Forged" {
		t.Fatalf("first_name %q (%v): a conflict must be left alone without --authoritative", name, err)
	}
	var stdout strings.Builder
	if err := run(ctx, []string{"syncd", "reconcile", "--wait"}, e.get, &stdout, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CONFLICTS", "REPAIRED", "1 conflicts left alone", "syncd reconcile --authoritative"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout.String())
		}
	}

	rep = reconcileJSON("--authoritative")
	if rep.Status != "succeeded" || !rep.Authoritative || rep.Users.Conflicts != 1 || rep.Users.Repaired != 1 {
		t.Fatalf("authoritative report %+v, want the conflict repaired", rep)
	}
	diff, err := synctest.Diff(ctx, pool, m, synctest.Options{})
	if err != nil || len(diff) > 0 {
		t.Fatalf("tables differ from Clerk after --authoritative (%v): %v", err, diff)
	}
	if rep := reconcileJSON(); rep.Users.Conflicts != 0 {
		t.Fatalf("conflicts after the repair: %+v", rep)
	}
}
