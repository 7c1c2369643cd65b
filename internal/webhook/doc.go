// Package webhook owns the ingest path of Clerk webhooks: it verifies the
// Svix signature over the raw body against every configured secret, parses
// just enough of the envelope to file the event, and in one transaction
// stores the event and enqueues its apply job. Only then does it answer 2xx,
// so an acknowledged event is never lost; any failure answers non-2xx with
// nothing stored, so Svix delivers it again.
//
// Nothing here applies events: that is package jobs' work, later and apart
// from the request.
package webhook
