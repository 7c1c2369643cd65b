package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// TestVersionRuleIsInlined checks that Postgres inlines clerk.write_allowed
// into every upsert: both the pre-filter and the ON CONFLICT WHERE show the
// rule's expression in the plan, and no call to the function is left. A
// change that stopped the inlining (a STRICT, a SET clause, a second
// statement in the body) would make it a function call per row.
func TestVersionRuleIsInlined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)
	for name, q := range map[string]string{
		"users":         store.UpsertUsersSQL,
		"organizations": store.UpsertOrganizationsSQL,
		"memberships":   store.UpsertMembershipsSQL,
	} {
		// One NULL for each of the statement's $n::type[] parameters.
		rows, err := pool.Query(ctx, "EXPLAIN (VERBOSE, COSTS OFF) "+q, make([]any, strings.Count(q, "[]"))...)
		if err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			plan.WriteString(line + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		p := plan.String()
		if strings.Contains(p, "write_allowed") {
			t.Errorf("%s: the plan calls clerk.write_allowed instead of inlining it:\n%s", name, p)
		}
		for _, want := range []string{
			"(s.updated_at <= i.updated_at)",        // the pre-filter
			"(t.updated_at <= excluded.updated_at)", // ON CONFLICT ... WHERE
		} {
			if !strings.Contains(p, want) {
				t.Errorf("%s: the plan lacks %s:\n%s", name, want, p)
			}
		}
	}
}
