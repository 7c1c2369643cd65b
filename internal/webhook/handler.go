package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/store"
)

// MaxBodyBytes is the largest body accepted (CONTRACT.md: 413 above 1 MiB).
const MaxBodyBytes = 1 << 20

// Outcomes, as the syncd_webhook_requests_total metric labels them.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeUnauthorized = "unauthorized"
	OutcomeBadRequest   = "bad_request"
	OutcomeTooLarge     = "too_large"
	OutcomeUnavailable  = "unavailable"
)

// Enqueuer inserts jobs inside the caller's transaction (a River client).
type Enqueuer interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Observer hears the outcome and duration of every webhook request.
type Observer interface {
	WebhookHandled(outcome string, d time.Duration)
}

// Config holds what the handler depends on.
type Config struct {
	Pool     *pgxpool.Pool
	Enqueuer Enqueuer
	Verifier *Verifier
	Logger   *slog.Logger
	Observer Observer // may be nil
	// StoreTimeout bounds the transaction, well inside Svix's 15 s, so a
	// stuck database answers 503 (and Svix retries) rather than timing out.
	StoreTimeout time.Duration
	// MaxGroup and MaxInflight tune group commit (group.go); zero means
	// the defaults.
	MaxGroup, MaxInflight int
}

// Handler returns the POST /webhooks/clerk handler.
func Handler(cfg Config) http.Handler {
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 10 * time.Second
	}
	return &handler{cfg: cfg, commit: newCommitter(cfg.Pool, cfg.Enqueuer, cfg.StoreTimeout, cfg.MaxGroup, cfg.MaxInflight)}
}

type handler struct {
	cfg    Config
	commit *committer
}

type reply struct {
	status  int
	outcome string
	eventID string
	typ     string
	message string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rep := h.handle(r.Context(), w, r)
	writeReply(w, rep)
	d := time.Since(start)
	if h.cfg.Observer != nil {
		h.cfg.Observer.WebhookHandled(rep.outcome, d)
	}
	level := slog.LevelInfo
	if rep.status >= 500 {
		level = slog.LevelError
	} else if rep.status >= 400 {
		level = slog.LevelWarn
	}
	// Never the body, the headers or the secret: only what identifies the
	// event and what happened to it.
	h.cfg.Logger.LogAttrs(r.Context(), level, "webhook",
		slog.String("event_id", rep.eventID),
		slog.String("type", rep.typ),
		slog.String("outcome", rep.outcome),
		slog.Int("status", rep.status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("reason", rep.message))
}

func (h *handler) handle(ctx context.Context, w http.ResponseWriter, r *http.Request) reply {
	if r.ContentLength > MaxBodyBytes {
		return reply{status: http.StatusRequestEntityTooLarge, outcome: OutcomeTooLarge,
			message: fmt.Sprintf("body is over %d bytes", MaxBodyBytes)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return reply{status: http.StatusRequestEntityTooLarge, outcome: OutcomeTooLarge,
				message: fmt.Sprintf("body is over %d bytes", MaxBodyBytes)}
		}
		return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest, message: "could not read the body"}
	}
	id, err := h.cfg.Verifier.Verify(body, r.Header)
	if err != nil {
		return reply{status: http.StatusUnauthorized, outcome: OutcomeUnauthorized,
			message: "missing, invalid or expired signature: check the endpoint's signing secret in CLERK_WEBHOOK_SECRET and this host's clock"}
	}
	env, err := ParseEnvelope(body)
	if err != nil {
		return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest, eventID: id, message: err.Error()}
	}
	ev := store.NewEvent{
		ID:         id,
		Type:       env.Type,
		ObjectID:   env.ObjectID,
		InstanceID: env.InstanceID,
		OccurredAt: env.OccurredAt,
		Payload:    body,
		Status:     store.StatusPending,
	}
	synced := jobs.Syncs(env.Type)
	if !synced {
		ev.Status, ev.Detail = store.StatusSkipped, "event type not synced"
	}
	inserted, err := h.commit.store(ev, synced)
	if err != nil {
		if errors.Is(err, store.ErrUnstorable) {
			return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest, eventID: id, typ: env.Type,
				message: "payload cannot be stored: " + err.Error()}
		}
		h.cfg.Logger.ErrorContext(ctx, "store webhook event", "event_id", id, "error", err.Error())
		return reply{status: http.StatusServiceUnavailable, outcome: OutcomeUnavailable, eventID: id, typ: env.Type,
			message: "the event could not be stored; it will be accepted when redelivered"}
	}
	if !inserted {
		return reply{status: http.StatusOK, outcome: OutcomeDuplicate, eventID: id, typ: env.Type}
	}
	return reply{status: http.StatusAccepted, outcome: OutcomeAccepted, eventID: id, typ: env.Type}
}

func writeReply(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	body := map[string]string{"outcome": rep.outcome}
	if rep.eventID != "" {
		body["event_id"] = rep.eventID
	}
	if rep.status >= 400 {
		body["error"] = rep.message
	}
	_ = json.NewEncoder(w).Encode(body)
}
