// Package clerkdb is typed, read-only access to the tables syncd keeps
// (schema clerk), for the services that read them.
//
// It owns the SQL that answers "who is this user", "which organization is
// this", "who belongs to it" and "what may this member do", so that every
// service asks the same questions the same way: deleted rows are never
// returned as live, a membership whose organization or user was deleted is
// not active, and email addresses match case-insensitively on any of a
// user's addresses, not only the primary one.
//
// Every query runs on a [Querier]: a *pgx.Conn, a *pgxpool.Pool or a
// pgx.Tx, so a caller that needs one snapshot across several reads passes a
// (read-only, repeatable read) transaction. The connection needs no more
// than the clerk_reader role that the migrations create.
//
// The read models carry the synced columns, never the raw Clerk JSON: a
// service that depends on a field syncd does not sync should say so in an
// issue, not parse raw.
package clerkdb
