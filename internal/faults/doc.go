// Package faults holds syncd's fault suite (`make test-faults`): the real
// binary is killed with SIGKILL in the middle of ingest, apply and
// reconciliation, its Postgres is restarted or stalled, and the Clerk
// Backend API fails, while senders keep delivering as Svix does (retrying
// every answer that is not 2xx). Each test ends by comparing the synced
// tables with the clerkfake model, the truth the events came from, and by
// checking the bound of sync rule 7: every acknowledged event applied
// within two minutes of a process running again.
//
// Tests that restart Postgres run their own throwaway cluster
// (internal/devpg), never the shared server. The suite is slow by nature
// (River rescues a dead process's jobs on a timer), so `go test ./...`
// skips it unless SYNCD_TEST_FAULTS=1, which the make target sets.
package faults
