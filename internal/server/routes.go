package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Routes is syncd's whole HTTP surface on SYNCD_ADDR. A nil handler in d
// leaves its route out (the worker role serves no webhooks). With
// d.ProbesApart, /metrics, /healthz and /readyz are left to ProbeRoutes on
// SYNCD_METRICS_ADDR.
func Routes(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(Recoverer(d.logger()))

	if !d.ProbesApart {
		probeRoutes(r, d)
	}
	if d.Webhook != nil {
		r.Method(http.MethodPost, "/webhooks/clerk", d.Webhook)
	}

	r.Route("/admin", func(r chi.Router) {
		r.Use(RequireAdmin(d.AdminToken))
		if d.Reconciler != nil {
			r.Method(http.MethodPost, "/reconcile", StartReconcile(d.Reconciler, d.logger()))
			r.Method(http.MethodGet, "/reconcile/runs/{id}", GetReconcileRun(d.Reconciler, d.logger()))
		}
		if d.Replayer != nil {
			r.Method(http.MethodPost, "/events/{id}/replay", ReplayEvent(d.Replayer, d.logger()))
		}
		// Profiles of the running process, for the operator chasing a
		// slowdown (and make bench --cpuprofile).
		r.Mount("/debug", middleware.Profiler())
		if d.RiverUI != nil {
			r.Handle("/riverui", d.RiverUI)
			r.Handle("/riverui/*", d.RiverUI)
		}
	})
	return r
}

// ProbeRoutes is what SYNCD_METRICS_ADDR serves: /metrics, /healthz and
// /readyz, and nothing else.
func ProbeRoutes(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(Recoverer(d.logger()))
	probeRoutes(r, d)
	return r
}

func probeRoutes(r chi.Router, d Deps) {
	r.Method(http.MethodGet, "/healthz", Healthz())
	r.Method(http.MethodGet, "/readyz", Readyz(d.Ready, d.logger()))
	if d.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", d.Metrics)
	}
}
