package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Routes is syncd's whole HTTP surface. A nil handler in d leaves its route
// out (the worker role serves no webhooks).
func Routes(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)

	r.Method(http.MethodGet, "/healthz", Healthz())
	r.Method(http.MethodGet, "/readyz", Readyz(d.Ready, d.Logger))
	if d.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", d.Metrics)
	}
	if d.Webhook != nil {
		r.Method(http.MethodPost, "/webhooks/clerk", d.Webhook)
	}

	r.Route("/admin", func(r chi.Router) {
		r.Use(RequireAdminToken(d.AdminToken))
		if d.Reconciler != nil {
			r.Method(http.MethodPost, "/reconcile", StartReconcile(d.Reconciler))
			r.Method(http.MethodGet, "/reconcile/runs/{id}", GetReconcileRun(d.Reconciler))
		}
		if d.Replayer != nil {
			r.Method(http.MethodPost, "/events/{id}/replay", ReplayEvent(d.Replayer))
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
