package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
)

// Healthz answers 200 while the process runs.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readyz answers 200 when ready reports nil (Postgres answers and the
// migrations are current) and 503 otherwise. The reason goes to the log
// only: a pgx error names the host, user and database, and /readyz answers
// anyone who can reach the port.
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
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready",
				"error": "the database is unavailable or its schema is not current; the server log says which"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// maxEventIDBytes bounds the id a replay looks up. Stored ids are svix-ids
// (msg_ and 27 characters); anything this long cannot be one.
const maxEventIDBytes = 256

// validEventID reports whether id could be a stored event's id: UTF-8
// Postgres can hold (no NUL, no invalid bytes such as %FF, which would fail
// the query with an encoding error), no control characters, and not
// unboundedly long.
func validEventID(id string) bool {
	if id == "" || len(id) > maxEventIDBytes || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ReplayEvent answers POST /admin/events/{id}/replay: 202 once the event's
// apply job is enqueued, 400 for an id that cannot be an event's, 404 for
// an unknown one, 503 (details in the log) when the database fails.
func ReplayEvent(rp Replayer, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if !validEventID(id) {
			writeJSON(w, http.StatusBadRequest, map[string]string{
				"error": fmt.Sprintf("the event id must be 1 to %d bytes of printable UTF-8 (a svix-id such as msg_...)", maxEventIDBytes)})
			return
		}
		err := rp.ReplayEvent(r.Context(), id)
		switch {
		case err == nil:
			writeJSON(w, http.StatusAccepted, map[string]string{"event_id": id, "status": "enqueued"})
		case errors.Is(err, store.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no stored event with id " + strconv.Quote(id)})
		default:
			unavailable(w, r, logger, "could not enqueue the replay", err)
		}
	})
}

// unavailable logs err, which may carry driver text, and answers 503 with a
// body that does not.
func unavailable(w http.ResponseWriter, r *http.Request, logger *slog.Logger, what string, err error) {
	logger.ErrorContext(r.Context(), what, "method", r.Method, "path", r.URL.EscapedPath(), "error", err.Error())
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": what + "; the server log has the details"})
}

// StartReconcile answers POST /admin/reconcile with 202 {"run_id": N}; a
// run already in progress is returned rather than a second one started.
// ?dry_run=true reports drift without writing.
func StartReconcile(rc Reconciler, logger *slog.Logger) http.Handler {
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
		if errors.Is(err, jobs.ErrReconcileDisabled) {
			// Our own words, naming what to set: safe to show.
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": jobs.ErrReconcileDisabled.Error()})
			return
		}
		if err != nil {
			unavailable(w, r, logger, "could not start a reconciliation", err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"run_id": id, "started": started})
	})
}

// GetReconcileRun answers GET /admin/reconcile/runs/{id} with the report.
func GetReconcileRun(rc Reconciler, logger *slog.Logger) http.Handler {
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
			unavailable(w, r, logger, "could not read the reconciliation run", err)
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
