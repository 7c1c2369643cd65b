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
func ConfigurePool(pc *pgxpool.Config) {
	params := pc.ConnConfig.RuntimeParams
	if _, set := params["plan_cache_mode"]; !set {
		params["plan_cache_mode"] = "auto"
	}
}
