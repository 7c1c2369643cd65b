package store

import (
	"context"
	"errors"
	"fmt"
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

// RowVersion reads the version of one row of a synced table ("users",
// "organizations" or "organization_memberships").
func RowVersion(ctx context.Context, db DBTX, table, id string) (Version, error) {
	var q string
	switch table {
	case "users":
		q = `SELECT updated_at, deleted_at FROM clerk.users WHERE id = $1`
	case "organizations":
		q = `SELECT updated_at, deleted_at FROM clerk.organizations WHERE id = $1`
	case "organization_memberships":
		q = `SELECT updated_at, deleted_at FROM clerk.organization_memberships WHERE id = $1`
	default:
		return Version{}, fmt.Errorf("row version: unknown table %q", table)
	}
	var v Version
	err := db.QueryRow(ctx, q, id).Scan(&v.UpdatedAt, &v.DeletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Version{}, fmt.Errorf("%s %s: %w", table, id, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("row version of %s %s: %w", table, id, err)
	}
	return v, nil
}

// ErrUnstorable marks a value Postgres refuses for what it is, not for its
// state (a JSON string holding \u0000, which jsonb cannot represent).
// Retrying cannot help.
var ErrUnstorable = errors.New("value cannot be stored")

// classify wraps data exceptions (SQLSTATE class 22) in ErrUnstorable.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22" {
		return fmt.Errorf("%w: %s", ErrUnstorable, pgErr.Message)
	}
	return err
}
