// Package reconcile makes syncd's tables equal to what the Clerk Backend API
// lists, repairing whatever webhooks missed: events
// from before syncd existed, an endpoint Svix disabled, a bug.
//
// A run lists users, then organizations, then all memberships of the
// instance, page by page, and applies each page in one transaction with the
// same parsers and set-based statements the webhook workers use (package
// apply), so the version rule and the tombstones are respected: a row a
// newer webhook wrote is never overwritten by an older listed version, and a
// deleted row never comes back. Memory stays flat whatever the instance's
// size: a page is applied while the next one is fetched, and the ids seen so
// far live in a temporary table of the run's own connection, not in memory.
//
// Deletions are the delicate part. Offset paging is not a snapshot: when an
// object is deleted mid-run the later ones shift forward and one can be
// skipped. So a live row that the listing did not return, and that no write
// touched since the run started, is only a candidate: it is tombstoned after
// a GET of that one object answers a Clerk-shaped 404, and applied (the
// listing skipped it) when the object is still there. Reconciliation never
// tombstones an object that exists in Clerk.
//
// A dry run takes the same path but rolls back every write (each page runs
// in a savepoint that is discarded) and counts the candidates that 404 as
// deleted without writing; its report is the drift a real run would repair.
//
// A listed object whose row is a tombstone, or holds a version newer than
// the one Clerk lists, and that nothing wrote since the run started, is a
// conflict (sync rule 5): counted per kind and left alone. An authoritative
// run (`syncd reconcile --authoritative`) then GETs each one and makes the
// row equal to the answer, reviving a tombstone or overwriting a forged
// version, or tombstoning the row when Clerk answers 404 (conflicts.go).
//
// Each run is a row of clerk.reconciliation_runs: per-kind counts (seen,
// created, updated, deleted, unchanged, errors, conflicts, repaired), API requests made and 429s
// met, status and error. Starting runs (River jobs, schedules, the admin
// route, `syncd reconcile`) is package jobs' business; this package runs
// one that exists.
package reconcile
