// Package store owns syncd's Postgres schema and every SQL statement that
// reads or writes it: the webhook inbox (clerk.webhook_events), the synced
// tables (clerk.users, clerk.organizations, clerk.organization_memberships
// and clerk.user_email_addresses), the reconciliation runs, and the
// migrations that create them (goose for the clerk schema, rivermigrate for
// River's tables).
//
// One exported function runs one statement, and each takes the DBTX it runs
// on, so callers compose them inside their own transaction. The sync rules
// (version by updated_at, deletion is final) are written into the
// SQL of the upserts, where concurrent writers cannot break them; callers
// never read a row to decide whether to write it.
//
// The package imports no other internal package.
package store
