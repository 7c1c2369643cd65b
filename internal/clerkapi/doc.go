// Package clerkapi is syncd's client for the Clerk Backend API, used by the
// nightly reconciliation.
//
// It owns three things and nothing else:
//
//   - Listing every user, organization and organization membership of the
//     instance, page by page, as raw JSON objects. Reconciliation stores each
//     object verbatim in a raw jsonb column and parses it with the same
//     parser as webhook payloads, so objects are never decoded into SDK
//     structs here; pages are streamed to a callback so a run over millions
//     of users keeps memory flat.
//   - Single-object checks (GetUser, GetOrganization, GetMembership) that
//     reconciliation makes before it tombstones a row
//     the listing did not return: offset paging can skip an object when
//     another one is deleted mid-run, and a tombstone is final.
//   - Staying inside the instance's rate budget: every HTTP attempt is paced
//     by a token bucket, 429 answers are waited out as Retry-After says, and
//     5xx answers and network errors are retried with capped, jittered
//     backoff. A rejected key is reported as ErrUnauthorized, naming
//     CLERK_SECRET_KEY but never its value.
//
// Requests go through github.com/clerk/clerk-sdk-go/v2's Backend, so the
// Authorization and Clerk-API-Version headers and the parsing of Clerk error
// bodies are the SDK's. Each Client owns its own Backend and http.Client: the
// SDK's package-level key and backend are never touched, so several clients
// (and tests) can run side by side.
//
// The package does no logging and imports no metrics library; Config.OnResponse
// lets the service count requests by status code.
package clerkapi
