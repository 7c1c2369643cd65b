package store

import "github.com/jackc/pgx/v5/pgxpool"

// ConfigurePool sets what syncd's statements want of every connection, unless
// the connection string already chose otherwise.
//
// plan_cache_mode = auto (Postgres' default, set explicitly so that a server
// or role default of force_generic_plan does not apply): a generic plan is
// made once per connection from the statistics of that moment. On a new
// deployment those say the tables are empty, and the generic plans of
// `id = ANY($1)` lookups, of the batched event update and of River's job
// completion were sequential scans that the connection kept while the tables
// grew, and a job completion slowed down with every event. Custom plans cost some
// planning on each call but follow the tables as they grow.
//
// synchronous_commit = on: a webhook is answered 2xx once its transaction
// commits, and the sender then forgets it, so the commit must be on disk.
// A server, database or role default of off (a common speed-up, and what
// throwaway development clusters use) would let a Postgres crash lose
// acknowledged events. Group commit shares the flush between a group's
// events, which keeps its cost small.
//
// tcp_keepalives_*: when a node running syncd vanishes (no FIN, no RST),
// the server keeps its sessions, and the session-level reconciliation lock
// with them, until TCP gives up: two hours by the kernel's default. With
// these the server drops such a session within about a minute, so an
// abandoned reconciliation is recognised and retried inside sync rule 7's
// two minutes.
func ConfigurePool(pc *pgxpool.Config) {
	params := pc.ConnConfig.RuntimeParams
	for name, value := range map[string]string{
		"plan_cache_mode":         "auto",
		"synchronous_commit":      "on",
		"tcp_keepalives_idle":     "30",
		"tcp_keepalives_interval": "10",
		"tcp_keepalives_count":    "3",
	} {
		if _, set := params[name]; !set {
			params[name] = value
		}
	}
}
