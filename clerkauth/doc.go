// Package clerkauth protects a net/http (chi-compatible) service with Clerk
// sessions and the organization memberships syncd keeps in Postgres.
//
// It owns three decisions and nothing else:
//
//   - Who is calling: [Verifier] checks a Clerk session token from
//     "Authorization: Bearer" or the __session cookie with clerk-sdk-go's
//     own JWT verification, against keys fetched from the Backend API's
//     GET /jwks and cached per Verifier (an expiry that does not slide, and
//     at most one fetch per MinRefetchInterval however many unknown key ids
//     arrive). It adds what the SDK leaves out: exp required, a few seconds
//     of leeway by default, azp checked against the configured origins and
//     required for cookie sessions, pending sessions refused, v1 and v2
//     organization claims read alike. A refused request gets 401 and a JSON
//     body saying why, never the token.
//   - What the caller may touch: [Authorizer] answers "member of this
//     organization", "has this role" and "has this permission" from the
//     synced tables through clerkdb, for the organization a route names,
//     not only the token's active one. A membership removed or an
//     organization deleted in Clerk loses access as soon as syncd applies
//     the webhook, while the token is still valid; a refused request gets
//     403 and a JSON body.
//   - How recently the second factor was verified: [Verifier.RequireSecondFactor]
//     reads the token's fva claim and refuses a token without it.
//
// [Metrics] counts verifications by outcome, JWKS fetches and authorization
// decisions for a prometheus.Registerer the service chooses.
//
// Nothing here logs: tokens, emails and names are the caller's to protect,
// and the outcomes are in the metrics and the responses.
package clerkauth
