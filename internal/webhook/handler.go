package webhook

import (
	"context"
	"crypto/sha256"
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

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/store"
)

// MaxBodyBytes is the largest body accepted; a larger one is answered 413.
const MaxBodyBytes = 1 << 20

// MaxHeaderBytes is the most a request's header fields may take, each
// counted as it is sent ("Name: value" and CRLF): syncd answers 431
// above 64 KiB. Set it as http.Server.MaxHeaderBytes too: net/http then
// refuses far larger headers (431) before reading them all, but only past
// its read-buffer slack (some 8 KiB more), so the handler checks the exact
// limit itself.
const MaxHeaderBytes = 64 << 10

// RetryAfter is the Retry-After (seconds) of every 503 the webhook answers.
const RetryAfter = "5"

// Outcomes, as the syncd_webhook_requests_total metric labels them.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeConflict     = "conflict"
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
	// MaxConcurrent bounds the requests past the header check at once
	// (reading, verifying, storing); one more is answered 503 with
	// Retry-After at once instead of queueing its body in memory. Zero
	// means DefaultMaxConcurrent.
	MaxConcurrent int
}

// DefaultMaxConcurrent is how many webhook requests may be in flight past
// the header check. Group commit makes concurrency independent of the
// connection pool (a group of many requests shares one transaction), so the
// bound is memory: at most this many bodies of up to MaxBodyBytes, 128 MiB in
// the worst case, while a busy sender's usual dozens of concurrent
// deliveries never meet it.
const DefaultMaxConcurrent = 128

// Handler returns the POST /webhooks/clerk handler.
func Handler(cfg Config) http.Handler {
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 10 * time.Second
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	return &handler{cfg: cfg, commit: newCommitter(cfg.Pool, cfg.Enqueuer, cfg.StoreTimeout, cfg.MaxGroup, cfg.MaxInflight),
		slots: make(chan struct{}, cfg.MaxConcurrent)}
}

type handler struct {
	cfg    Config
	commit *committer
	slots  chan struct{} // one per request past the header check
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
	// Everything that can be judged from the headers is, before a byte of
	// the body is read: an unsigned or stale request costs nothing more.
	if headerBytes(r.Header) > MaxHeaderBytes {
		return reply{status: http.StatusRequestHeaderFieldsTooLarge, outcome: OutcomeTooLarge,
			message: fmt.Sprintf("request headers are over %d bytes", MaxHeaderBytes)}
	}
	if err := CheckHeaders(r.Header, time.Now()); err != nil {
		return unauthorized
	}
	if r.ContentLength > MaxBodyBytes {
		return reply{status: http.StatusRequestEntityTooLarge, outcome: OutcomeTooLarge,
			message: fmt.Sprintf("body is over %d bytes", MaxBodyBytes)}
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		return reply{status: http.StatusServiceUnavailable, outcome: OutcomeUnavailable,
			message: "too many webhooks in progress; retry later"}
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
		return unauthorized
	}
	if len(id) > MaxIDLength {
		// Not echoed: the id is the problem.
		return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest,
			message: fmt.Sprintf("svix-id is longer than %d bytes", MaxIDLength)}
	}
	// The signature covers the exact bytes; what is stored is those bytes
	// as jsonb can hold them, and their hash tells a redelivery from a
	// conflicting body under the same id.
	sum := sha256.Sum256(body)
	payload, err := StorableJSON(body)
	if err != nil {
		return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest, eventID: id, message: err.Error()}
	}
	env, err := parseEnvelope(payload)
	if err != nil {
		return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest, eventID: id, message: err.Error()}
	}
	ev := store.NewEvent{
		ID:         id,
		Type:       env.Type,
		ObjectID:   env.ObjectID,
		InstanceID: env.InstanceID,
		OccurredAt: env.OccurredAt,
		Payload:    payload,
		BodySHA256: sum[:],
		Status:     store.StatusPending,
	}
	synced := apply.Handles(env.Type)
	if !synced {
		ev.Status, ev.Detail = store.StatusSkipped, "event type not synced"
	}
	inserted, err := h.commit.store(ev, synced)
	switch {
	case err == nil:
	case errors.Is(err, errConflict):
		return reply{status: http.StatusConflict, outcome: OutcomeConflict, eventID: id, typ: env.Type,
			message: "an event with this svix-id was already received with a different body; the first is kept"}
	case errors.Is(err, store.ErrUnstorable):
		// The details (SQLSTATE, server message) go to the log only.
		h.cfg.Logger.WarnContext(ctx, "webhook event cannot be stored", "event_id", id, "error", err.Error())
		return reply{status: http.StatusBadRequest, outcome: OutcomeBadRequest, eventID: id, typ: env.Type,
			message: "the payload cannot be stored"}
	default:
		h.cfg.Logger.ErrorContext(ctx, "store webhook event", "event_id", id, "error", err.Error())
		return reply{status: http.StatusServiceUnavailable, outcome: OutcomeUnavailable, eventID: id, typ: env.Type,
			message: "the event could not be stored; it will be accepted when redelivered"}
	}
	if !inserted {
		return reply{status: http.StatusOK, outcome: OutcomeDuplicate, eventID: id, typ: env.Type}
	}
	return reply{status: http.StatusAccepted, outcome: OutcomeAccepted, eventID: id, typ: env.Type}
}

// headerBytes is the size of h's fields as sent: "Name: value" and CRLF.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

var unauthorized = reply{status: http.StatusUnauthorized, outcome: OutcomeUnauthorized,
	message: "missing, invalid or expired signature: check the endpoint's signing secret in CLERK_WEBHOOK_SECRET and this host's clock"}

func writeReply(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json")
	if rep.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
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
