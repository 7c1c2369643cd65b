package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what every statement runs on: a pool, a connection or a
// transaction. Callers pick the transaction; the store never opens one.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNotFound reports that the row asked for does not exist.
var ErrNotFound = errors.New("not found")

// Write says what an upsert did to its row.
type Write int

const (
	// Unchanged: nothing was written, because the row is newer, deleted,
	// or already holds exactly this content.
	Unchanged Write = iota
	// Created: the row did not exist and was inserted.
	Created
	// Updated: the row existed and was overwritten.
	Updated
)

func (w Write) String() string {
	switch w {
	case Created:
		return "created"
	case Updated:
		return "updated"
	default:
		return "unchanged"
	}
}

// Written reports whether the statement changed the row.
func (w Write) Written() bool { return w != Unchanged }

// writeFromRow turns the result of an upsert's `RETURNING (xmax = 0)` into a
// Write: no row means the conflict rule refused the write; xmax = 0 marks a
// freshly inserted tuple.
func writeFromRow(row pgx.Row) (Write, error) {
	var inserted bool
	if err := row.Scan(&inserted); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Unchanged, nil
		}
		return Unchanged, err
	}
	if inserted {
		return Created, nil
	}
	return Updated, nil
}

// The version rule, the condition under which an incoming row may overwrite
// a stored one, is the SQL function clerk.write_allowed (migration
// 00005_version_rule.sql): the stored row is not deleted, the incoming
// version is not older, and the content differs, so that re-applying what a
// row already holds writes nothing. It is the one definition of the rule;
// every upsert of a synced table calls it twice:
//
//   - in ON CONFLICT DO UPDATE ... WHERE, on the stored row t and the
//     incoming EXCLUDED. Under concurrent writers this is the authority: it
//     is evaluated on the locked, current row.
//   - in a pre-filter of the input (aliased i) against the table read
//     without locking (aliased s). ON CONFLICT locks (and WAL-logs the lock
//     of) every conflicting row even when its WHERE refuses the update;
//     dropping refused rows first means a reconciliation with no drift
//     touches no row at all. It is safe because the rule is monotone: a row
//     refused in this snapshot (deleted, newer, or equal) can only become
//     more refusing, so whatever it drops ON CONFLICT would have refused
//     too. A missing row reads as all NULLs, which the rule accepts.
//
// The pre-filter's lookup is a LATERAL subquery with LIMIT 1 so that it
// stays one primary key probe per input row: as an anti-join, the planner
// chose a hash join over a full scan of the table whenever its statistics
// lagged behind a bulk load, which made a single webhook's upsert read
// 20,000 rows.
//
// clerk.write_allowed is an inlinable SQL function (LANGUAGE sql, IMMUTABLE,
// one expression), so it costs nothing over writing the expression out:
// EXPLAIN VERBOSE of the upserts shows, as the pre-filter's Filter and the
// Conflict Filter, the expression itself ("(s.deleted_at IS NULL) AND
// ((s.updated_at IS NULL) OR (s.updated_at <= i.updated_at)) AND ..."), with
// no call to clerk.write_allowed. TestVersionRuleIsInlined keeps it so.

// batchOrder picks, for a set-based upsert, which elements of a batch are
// written and in what order. ON CONFLICT DO UPDATE refuses to touch one row
// twice in a statement, so an id that appears more than once keeps only its
// newest version (the later one on a tie, as applying them one after the
// other would). The result is sorted by id so that concurrent batches lock
// rows in the same order and cannot deadlock each other.
func batchOrder(n int, id func(int) string, version func(int) time.Time) []int {
	best := make(map[string]int, n)
	for i := range n {
		k := id(i)
		if j, ok := best[k]; ok && version(j).After(version(i)) {
			continue
		}
		best[k] = i
	}
	order := make([]int, 0, len(best))
	for _, i := range best {
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(id(a), id(b)) })
	return order
}

// collectWrites reads the `RETURNING id, (xmax = 0)` rows of a set-based
// upsert: a returned id was written (xmax = 0 marks a fresh insert), an id
// not returned was refused by the version rule.
func collectWrites(rows pgx.Rows) (map[string]Write, error) {
	out := make(map[string]Write)
	for rows.Next() {
		var id string
		var inserted bool
		if err := rows.Scan(&id, &inserted); err != nil {
			rows.Close()
			return nil, err
		}
		if inserted {
			out[id] = Created
		} else {
			out[id] = Updated
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// runUpsert runs one of the set-based upserts, whose $1 is ids and whose
// other arguments are cols: column arrays built in `order`, the elements
// batchOrder chose from a batch of n. It returns what happened to each of
// the n elements, in the order given; one batchOrder left out (the older
// copy of an id given twice) reports Unchanged. An empty batch runs no
// statement. kind names the objects in an error.
func runUpsert(ctx context.Context, db DBTX, q, kind string, n int, order []int, ids []string, cols ...any) ([]Write, error) {
	out := make([]Write, n)
	if n == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, q, append([]any{ids}, cols...)...)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", describeBatch(kind, ids), classify(err))
	}
	written, err := collectWrites(rows)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", describeBatch(kind, ids), classify(err))
	}
	for j, i := range order {
		out[i] = written[ids[j]]
	}
	return out, nil
}

// isUndefinedTable reports Postgres error 42P01 (undefined_table).
func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// Version is where a synced row stands: its version and whether it is
// deleted.
type Version struct {
	UpdatedAt *time.Time
	DeletedAt *time.Time
}

// RowVersions reads the versions of several rows of one synced table in one
// statement; ids not stored are absent from the result.
func RowVersions(ctx context.Context, db DBTX, table string, ids []string) (map[string]Version, error) {
	var q string
	switch table {
	case "users":
		q = `SELECT id, updated_at, deleted_at FROM clerk.users WHERE id = ANY($1::text[])`
	case "organizations":
		q = `SELECT id, updated_at, deleted_at FROM clerk.organizations WHERE id = ANY($1::text[])`
	case "organization_memberships":
		q = `SELECT id, updated_at, deleted_at FROM clerk.organization_memberships WHERE id = ANY($1::text[])`
	default:
		return nil, fmt.Errorf("row versions: unknown table %q", table)
	}
	rows, err := db.Query(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("row versions of %s: %w", describeBatch(table, ids), err)
	}
	out := make(map[string]Version, len(ids))
	for rows.Next() {
		var id string
		var v Version
		if err := rows.Scan(&id, &v.UpdatedAt, &v.DeletedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("row versions of %s: %w", describeBatch(table, ids), err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("row versions of %s: %w", describeBatch(table, ids), err)
	}
	return out, nil
}

// ErrUnstorable marks a value Postgres refuses for what it is, not for its
// state (a JSON string holding \u0000, which jsonb cannot represent, or a
// document nested past the server's stack depth). Retrying cannot help.
var ErrUnstorable = errors.New("value cannot be stored")

// classify wraps data exceptions (SQLSTATE class 22) and program limits
// exceeded (class 54: stack depth, statement too complex) in ErrUnstorable.
// The wrapped text (SQLSTATE and the server's message, never the DETAIL,
// which may quote the value) is for the log, not for an HTTP answer.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "54") {
		return fmt.Errorf("%w: SQLSTATE %s: %s", ErrUnstorable, pgErr.Code, pgErr.Message)
	}
	return err
}

// jsonText passes one JSON document of a batch to Postgres as text (cast to
// jsonb in the statement), or NULL when there is none.
func jsonText(raw json.RawMessage) *string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}

// describeBatch names a batch in an error: the id itself for one object, so
// the webhook path's errors read as before, else the size and id range.
func describeBatch(kind string, ids []string) string {
	switch len(ids) {
	case 0:
		return "no " + kind + "s"
	case 1:
		return kind + " " + ids[0]
	}
	return fmt.Sprintf("%d %ss (%s .. %s)", len(ids), kind, ids[0], ids[len(ids)-1])
}
