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

// notFound turns pgx's no-rows error into ErrNotFound and wraps anything
// else with what was being read.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return wrap(err, what)
}

func wrap(err error, what string) error {
	return fmt.Errorf("clerkdb: read %s: %w", what, err)
}
