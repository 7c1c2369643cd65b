package clerkdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrNotFound is returned when the asked-for row does not exist or is
// deleted. A caller cannot tell the two apart on purpose: to an
// authorization check, a deleted membership and one that never existed mean
// the same thing.
var ErrNotFound = errors.New("clerkdb: not found")

// Querier is what the queries run on: *pgx.Conn, *pgxpool.Pool and pgx.Tx
// all satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Reader answers the read queries over one Querier. It holds no state of its
// own, so a Reader over a pool is safe for concurrent use and one over a
// transaction lives as long as the transaction.
type Reader struct {
	q Querier
}

// New returns a Reader over q.
func New(q Querier) *Reader {
	return &Reader{q: q}
}

// readOne runs sql, which selects at most one row, and scans the row with
// scan. No row is ErrNotFound; any other error is wrapped with what was
// being read.
func readOne[T any](ctx context.Context, q Querier, scan func(scanner) (T, error), what, sql string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		var zero T
		return zero, ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, wrap(err, what)
	}
	return v, nil
}

type scanner interface {
	Scan(dest ...any) error
}

func wrap(err error, what string) error {
	return fmt.Errorf("clerkdb: read %s: %w", what, err)
}
