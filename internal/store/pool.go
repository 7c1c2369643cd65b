package store

import "github.com/jackc/pgx/v5/pgxpool"

// ConfigurePool sets what syncd's statements want of every connection, unless
// the connection string already chose otherwise.
//
// plan_cache_mode = force_generic_plan: syncd's statements (and River's) take
// arrays and are written so that their generic plans are primary key probes.
// Left to choose, Postgres estimated the generic plans of the set-based
// upsert and of River's job completion as dearer than a custom plan and so
// re-planned them on every call, about 0.3 and 0.4 ms of CPU each; forcing
// the generic plan raised the apply rate by about 30% (make bench-apply)
// and left reconciliation's time unchanged (make bench-reconcile).
func ConfigurePool(pc *pgxpool.Config) {
	params := pc.ConnConfig.RuntimeParams
	if _, set := params["plan_cache_mode"]; !set {
		params["plan_cache_mode"] = "force_generic_plan"
	}
}
