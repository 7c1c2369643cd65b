package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/syncd/syncd/internal/store"
)

// Healthz answers 200 while the process runs.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readyz answers 200 when ready reports nil (Postgres answers and the
// migrations are current) and 503 with the reason otherwise.
func Readyz(ready func(context.Context) error, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if ready == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		if err := ready(ctx); err != nil {
			logger.WarnContext(ctx, "not ready", "error", err.Error())
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// RequireAdminToken guards /admin/*: 404 for everything when no token is
// configured (the routes do not exist), 401 without the right bearer token.
// Both sides are hashed before the constant-time compare so the token's
// length does not leak either.
func RequireAdminToken(token string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token == "" {
				http.NotFound(w, r)
				return
			}
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
			if !ok || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="syncd admin"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{
					"error": "missing or wrong bearer token: send Authorization: Bearer $SYNCD_ADMIN_TOKEN"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ReplayEvent answers POST /admin/events/{id}/replay: 202 once the event's
// apply job is enqueued, 404 for an unknown id.
func ReplayEvent(rp Replayer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		err := rp.ReplayEvent(r.Context(), id)
		switch {
		case err == nil:
			writeJSON(w, http.StatusAccepted, map[string]string{"event_id": id, "status": "enqueued"})
		case errors.Is(err, store.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no stored event with id " + strconv.Quote(id)})
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not enqueue the replay: " + err.Error()})
		}
	})
}

// StartReconcile answers POST /admin/reconcile with 202 {"run_id": N}; a
// run already in progress is returned rather than a second one started.
// ?dry_run=true reports drift without writing.
func StartReconcile(rc Reconciler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dry := false
		if v := r.URL.Query().Get("dry_run"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dry_run must be true or false"})
				return
			}
			dry = b
		}
		id, started, err := rc.StartRun(r.Context(), dry)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not start a reconciliation: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"run_id": id, "started": started})
	})
}

// GetReconcileRun answers GET /admin/reconcile/runs/{id} with the report.
func GetReconcileRun(rc Reconciler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
		if err != nil || id <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "run id must be a positive integer"})
			return
		}
		rep, err := rc.RunReport(r.Context(), id)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, rep)
		case errors.Is(err, store.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no reconciliation run " + strconv.FormatInt(id, 10)})
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
