// Command orgapi is the example service for teams that read syncd's tables:
// a JSON API that knows who calls it from their
// Clerk session token and what they may touch from the tables syncd keeps.
// It is built only on clerkdb, clerkauth and chi, and is the code the
// README's "Protect your own service" walks through.
//
//	GET /me                      the caller, their primary email and organizations
//	GET /orgs/{org_id}/members   the members, for any active member
//	GET /orgs/{org_id}/settings  the organization, for its org:admin members
//
// Configuration (environment): DATABASE_URL, CLERK_SECRET_KEY,
// CLERK_API_URL, CLERK_AUTHORIZED_PARTIES, ORGAPI_ADDR (default :8081).
package main
