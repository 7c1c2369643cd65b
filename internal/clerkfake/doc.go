// Package clerkfake is an in-repo model of a Clerk instance, used by tests,
// benchmarks and tools so that nothing in syncd's test suite talks to the
// real Clerk.
//
// The package owns three things:
//
//   - The truth: a [Model] holding users, organizations and organization
//     memberships, including tombstones for deleted ones. A Model is driven by
//     a seeded PCG generator, so one seed always reproduces the same history
//     byte for byte.
//   - The webhook history: every mutation returns the [Event]s Clerk would
//     send for it, as the exact JSON envelope Clerk posts, ready to be signed
//     with [SignedHeaders] and delivered to syncd in any order.
//   - A fake Backend API: [NewAPI] serves the Model over HTTP with Clerk's
//     list, count and get shapes, bearer-key auth and fault injection, so
//     reconciliation can be exercised against 100k objects, rate limits and
//     objects vanishing mid-listing.
//
// The package deliberately models the awkward corners of Clerk rather than an
// idealised API: deleted-object payloads without updated_at, membership
// deletes whose updated_at is the last update, cascading deletes that only
// sometimes emit organizationMembership.deleted, users without any email
// address, and offset paging that skips objects when earlier ones disappear.
package clerkfake
