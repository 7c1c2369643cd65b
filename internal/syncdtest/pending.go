package syncdtest

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Pending is the count WaitApplied polls, read with PendingSQL from db (a
// pool, a connection or a transaction on syncd's database).
func Pending(db interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (n int, err error) {
		err = db.QueryRow(ctx, PendingSQL).Scan(&n)
		return n, err
	}
}
