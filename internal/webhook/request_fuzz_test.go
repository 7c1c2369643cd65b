package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/webhook"
)

// errNoDatabase is what the fuzzed handler's pool answers every connection
// attempt with. Its text must never reach a response.
var errNoDatabase = errors.New("fuzz-no-database-7f3a: connection refused by the fuzz harness")

// outcomeObserver records the outcome label of each request.
type outcomeObserver struct {
	mu   sync.Mutex
	last string
}

func (o *outcomeObserver) WebhookHandled(outcome string, _ time.Duration) {
	o.mu.Lock()
	o.last = outcome
	o.mu.Unlock()
}

// cleanID is a message id and object id any correct handler must take: the
// shape of Clerk's and Svix's own ids.
var cleanID = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// FuzzWebhookRequest drives POST /webhooks/clerk, the real handler, with a
// database pool whose every connection attempt fails at once: a request
// "reaches the store" when the handler tries to connect. A real database
// is far too slow for fuzzing, and everything before the store call (body
// limit, signature, envelope, bounds) is what hostile input meets.
//
// mode picks the request: 0 signed correctly, 1 signed then one body byte
// changed, 2 signed ten minutes ago, 3 arbitrary svix headers (rawTS,
// rawSig), 4 no headers at all.
//
// Properties: a request that is not correctly signed never reaches the
// store and is answered 4xx; a correctly signed body the envelope parser
// refuses is answered 400 without reaching the store; a correctly signed,
// well-formed event with ordinary ids reaches the store; the only 5xx is the
// store's failure (503), and its body never carries the database error;
// every answer is a JSON object whose "outcome" is a known label and equals
// the metric's.
func FuzzWebhookRequest(f *testing.F) {
	f.Add([]byte(`{"data":{"id":"user_1","object":"user","updated_at":1},"object":"event","type":"user.created","timestamp":1654012591835}`), "msg_1", uint8(0), uint(3), "", "")
	f.Add([]byte(`{"data":{"id":"user_1"},"type":"user.created"}`), "msg_2", uint8(1), uint(20), "", "")
	f.Add([]byte(`{"data":{},"type":"session.created"}`), "msg_3", uint8(2), uint(0), "", "")
	f.Add([]byte(`{"data":{},"type":"x"}`), "msg_4", uint8(3), uint(0), "1700000000", "v1,AAAA")
	f.Add([]byte(`{"data":{},"type":"x"}`), "", uint8(4), uint(0), "", "")
	f.Add([]byte(`not json`), "msg_5", uint8(0), uint(0), "", "")
	f.Add([]byte(`{"data":{"id":"user_1","unsafe_metadata":{"a":"x\u0000y"}},"type":"user.updated"}`), "msg_6", uint8(0), uint(0), "", "")
	f.Add([]byte(`{"data":{"a":`+strings.Repeat("[", 600)+strings.Repeat("]", 600)+`},"type":"user.updated"}`), "msg_7", uint8(0), uint(0), "", "")
	f.Add([]byte(`{"data":{"id":"`+strings.Repeat("x", 5000)+`"},"type":"user.created"}`), strings.Repeat("m", 5000), uint8(0), uint(0), "", "")

	verifier, signer := fuzzSigning(f)
	cfg, err := pgxpool.ParseConfig("postgres://fuzz@127.0.0.1:1/fuzz?sslmode=disable&connect_timeout=1")
	if err != nil {
		f.Fatal(err)
	}
	var dials atomic.Int64
	cfg.ConnConfig.DialFunc = func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errNoDatabase
	}
	cfg.ConnConfig.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	obs := &outcomeObserver{}
	h := webhook.Handler(webhook.Config{
		Pool:         pool,
		Verifier:     verifier,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Observer:     obs,
		StoreTimeout: 2 * time.Second,
	})
	known := map[string]bool{
		webhook.OutcomeAccepted: true, webhook.OutcomeDuplicate: true, webhook.OutcomeUnauthorized: true,
		webhook.OutcomeBadRequest: true, webhook.OutcomeTooLarge: true, webhook.OutcomeUnavailable: true,
		"conflict": true,
	}

	f.Fuzz(func(t *testing.T, body []byte, id string, mode uint8, pos uint, rawTS, rawSig string) {
		mode %= 5
		now := time.Now()
		sent := body
		req := httptest.NewRequest(http.MethodPost, "/webhooks/clerk", nil)
		req.Header.Set("Content-Type", "application/json")
		signed := false
		switch mode {
		case 0, 1, 2:
			at := now
			if mode == 2 {
				at = now.Add(-10 * time.Minute)
			}
			sig, err := signer.Sign(id, at, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("svix-id", id)
			req.Header.Set("svix-timestamp", strconv.FormatInt(at.Unix(), 10))
			req.Header.Set("svix-signature", sig)
			switch {
			case mode == 1 && len(body) > 0:
				sent = bytes.Clone(body)
				sent[pos%uint(len(sent))] ^= 0x01
			case mode == 0 && id != "":
				signed = true
			}
		case 3:
			req.Header.Set("svix-id", id)
			req.Header.Set("svix-timestamp", rawTS)
			req.Header.Set("svix-signature", rawSig)
			if ts, err := strconv.ParseInt(rawTS, 10, 64); err == nil && id != "" {
				good, _ := signer.Sign(id, time.Unix(ts, 0), body)
				signed = strings.Contains(rawSig, good[len("v1,"):]) && now.Sub(time.Unix(ts, 0)).Abs() < 5*time.Minute
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(sent))
		req.ContentLength = int64(len(sent))

		before := dials.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		reached := dials.Load() != before
		status := rec.Code

		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d: body is not a JSON object: %q", status, rec.Body.String())
		}
		outcome, _ := answer["outcome"].(string)
		if !known[outcome] {
			t.Fatalf("status %d: unknown outcome %q", status, outcome)
		}
		obs.mu.Lock()
		observed := obs.last
		obs.mu.Unlock()
		if observed != outcome {
			t.Fatalf("the metric saw outcome %q, the answer says %q", observed, outcome)
		}
		if bytes.Contains(rec.Body.Bytes(), []byte("fuzz-no-database-7f3a")) || bytes.Contains(rec.Body.Bytes(), []byte(fuzzSecret[6:])) {
			t.Fatalf("the answer leaks internal details: %s", rec.Body.String())
		}
		if status >= 200 && status < 300 {
			t.Fatalf("answered %d with no database", status)
		}
		if status >= 500 && !(status == http.StatusServiceUnavailable && reached) {
			t.Fatalf("answered %d without a store failure: %s", status, rec.Body.String())
		}
		if !signed {
			if reached {
				t.Fatalf("mode %d: a request that is not correctly signed reached the store", mode)
			}
			if status < 400 || status >= 500 {
				t.Fatalf("mode %d: a request that is not correctly signed answered %d", mode, status)
			}
			return
		}
		env, perr := webhook.ParseEnvelope(body)
		if perr != nil {
			if reached || status != http.StatusBadRequest {
				t.Fatalf("a signed body the envelope parser refuses (%v) answered %d, reached the store: %v", perr, status, reached)
			}
			return
		}
		if !reached && status >= 500 {
			t.Fatalf("answered %d before the store", status)
		}
		if !reached && cleanID.MatchString(id) && (env.ObjectID == "" || cleanID.MatchString(env.ObjectID)) &&
			cleanID.MatchString(strings.ReplaceAll(env.Type, ".", "_")) && len(body) < 64<<10 &&
			(env.InstanceID == "" || cleanID.MatchString(env.InstanceID)) {
			t.Fatalf("an authentic, well-formed event (%s %s, id %s) answered %d without reaching the store: %s",
				env.Type, env.ObjectID, id, status, rec.Body.String())
		}
	})
}
