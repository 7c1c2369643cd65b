// Package webhook owns the ingest path of Clerk webhooks: it verifies the
// Svix signature over the raw body against every configured secret, parses
// just enough of the envelope to file the event, and in one transaction
// stores the event and enqueues its apply job. Only then does it answer 2xx,
// so an acknowledged event is never lost; any failure answers non-2xx with
// nothing stored, so Svix delivers it again.
//
// What a request costs is bounded before it is spent: headers over 64 KiB
// and requests without a plausible signature (headers missing, timestamp
// outside Svix's five minutes) are refused before the body is read, and
// only a fixed number of requests at once get further. An authentic event
// is always stored: escapes jsonb refuses (\u0000, lone surrogates) become
// U+FFFD in the payload, and body_sha256 keeps the hash of the exact bytes,
// which tells a redelivery (2xx) from another body under the same svix-id
// (409). Problems that no retry can fix (ids over 256 bytes, timestamps
// past 9999, nesting past 512) are 400; only a database or capacity problem
// is 503, always with Retry-After.
//
// Nothing here applies events: that is package jobs' work, later and apart
// from the request.
package webhook
