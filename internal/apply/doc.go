// Package apply turns Clerk objects into rows of the clerk schema. It owns
// the parsers of Clerk's user, organization and membership JSON (the same
// shapes arrive in webhook payloads and from the Backend API) and the
// sequences of store statements that apply one object or one event inside
// the caller's transaction: the user row with its email addresses, a
// membership with its organization snapshot, a deletion with the memberships
// it ends.
//
// The River workers (package jobs) apply stored webhook events with it, and
// reconciliation applies listed objects with it, so both paths obey the same
// sync rules. Reconciliation applies a whole page at a time (Users,
// Organizations, Memberships); the one-object functions the workers use are
// those batch functions called with one element, so both paths run the very
// same SQL. A payload that can never apply returns an error wrapping
// ErrInvalidPayload; any other error is the database's and worth retrying.
package apply
