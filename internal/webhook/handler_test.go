package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/testdb"
	"github.com/syncd/syncd/internal/webhook"
)

const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_c2Vjb25kLXJvdGF0ZWQtc2VjcmV0LWtleS0xMjM0"
	foreign = "whsec_Zm9yZWlnbi1zZWNyZXQtbm90LWNvbmZpZ3VyZWQ="
)

type harness struct {
	t    testing.TB
	url  string
	pool *pgxpool.Pool
}

func newHarness(t *testing.T, secrets ...string) *harness {
	t.Helper()
	pool, _ := testdb.New(t)
	return newHarnessOn(t, pool, pool, secrets...)
}

func newBenchHarness(b *testing.B, secrets ...string) *harness {
	b.Helper()
	pool, _ := testdb.New(b)
	return newHarnessOn(b, pool, pool, secrets...)
}

// newHarnessOn serves with ingestPool while the test reads through readPool,
// so a test can break the server's database and still look at the tables.
func newHarnessOn(t testing.TB, ingestPool, readPool *pgxpool.Pool, secrets ...string) *harness {
	t.Helper()
	client, err := jobs.NewClient(jobs.ClientConfig{Pool: ingestPool, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier(secrets)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webhook.Handler(webhook.Config{
		Pool: ingestPool, Enqueuer: client, Verifier: v, Logger: slog.New(slog.DiscardHandler),
		StoreTimeout: 2 * time.Second,
	}))
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, pool: readPool}
}

func event(typ, objectID string) []byte {
	return fmt.Appendf(nil, `{"data":{"id":%q,"object":"user","updated_at":1750000000000},"object":"event","type":%q,"timestamp":1750000000000,"instance_id":"ins_test"}`, objectID, typ)
}

func signed(t *testing.T, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", fmt.Sprint(ts.Unix()))
	h.Set("svix-signature", sig)
	return h
}

func (h *harness) post(body []byte, hdr http.Header) (int, map[string]string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]string
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

type counts struct{ events, jobs int }

func (h *harness) counts() counts {
	h.t.Helper()
	var c counts
	err := h.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM clerk.webhook_events), (SELECT count(*) FROM river_job)`).Scan(&c.events, &c.jobs)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func TestValidEventStoresOneRowAndOneJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	body := event("user.created", "user_1")
	code, out := h.post(body, signed(t, secretA, "msg_1", time.Now(), body))
	if code != http.StatusAccepted || out["outcome"] != "accepted" || out["event_id"] != "msg_1" {
		t.Fatalf("got %d %v, want 202 accepted msg_1", code, out)
	}
	if c := h.counts(); c != (counts{1, 1}) {
		t.Fatalf("tables hold %+v, want one event and one job", c)
	}
	var typ, objectID, instanceID, status, payload string
	var occurred time.Time
	var jobArgs string
	err := h.pool.QueryRow(context.Background(), `
		SELECT e.type, e.object_id, e.instance_id, e.status, e.occurred_at, e.payload::text, j.args::text
		FROM clerk.webhook_events e, river_job j WHERE e.id = 'msg_1'`).
		Scan(&typ, &objectID, &instanceID, &status, &occurred, &payload, &jobArgs)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "user.created" || objectID != "user_1" || instanceID != "ins_test" || status != "pending" {
		t.Errorf("row = %s %s %s %s", typ, objectID, instanceID, status)
	}
	if !occurred.Equal(time.UnixMilli(1750000000000)) {
		t.Errorf("occurred_at = %s, want the envelope timestamp", occurred)
	}
	if !jsonEqual(t, payload, string(body)) {
		t.Errorf("payload %s differs from the body %s", payload, body)
	}
	if !strings.Contains(jobArgs, `"event_id": "msg_1"`) && !strings.Contains(jobArgs, `"event_id":"msg_1"`) {
		t.Errorf("job args %s do not carry the event id", jobArgs)
	}
}

func TestRedeliveryIsAcknowledgedAndAddsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	body := event("user.updated", "user_1")
	if code, _ := h.post(body, signed(t, secretA, "msg_dup", time.Now(), body)); code != http.StatusAccepted {
		t.Fatalf("first delivery: %d", code)
	}
	// Svix signs every attempt afresh: a new timestamp and signature, the
	// same svix-id.
	code, out := h.post(body, signed(t, secretA, "msg_dup", time.Now().Add(time.Second), body))
	if code != http.StatusOK || out["outcome"] != "duplicate" {
		t.Fatalf("redelivery: %d %v, want 200 duplicate", code, out)
	}
	if c := h.counts(); c != (counts{1, 1}) {
		t.Fatalf("tables hold %+v after a redelivery, want 1 and 1", c)
	}
}

func TestFiftyConcurrentDeliveriesStoreOneRowAndOneJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	body := event("organization.created", "org_1")
	hdr := signed(t, secretA, "msg_concurrent", time.Now(), body)
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := h.post(body, hdr)
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	accepted := 0
	for code := range codes {
		switch code {
		case http.StatusAccepted:
			accepted++
		case http.StatusOK:
		default:
			t.Errorf("a delivery got %d", code)
		}
	}
	if accepted != 1 {
		t.Errorf("%d deliveries were accepted as new, want exactly 1", accepted)
	}
	if c := h.counts(); c != (counts{1, 1}) {
		t.Fatalf("tables hold %+v, want one event and one job", c)
	}
}

func TestRotatedSecretVerifies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA, secretB)
	for i, secret := range []string{secretA, secretB} {
		body := event("user.created", fmt.Sprintf("user_%d", i))
		id := fmt.Sprintf("msg_rot_%d", i)
		if code, _ := h.post(body, signed(t, secret, id, time.Now(), body)); code != http.StatusAccepted {
			t.Errorf("secret %d: %d, want 202", i+1, code)
		}
	}
	if c := h.counts(); c != (counts{2, 2}) {
		t.Fatalf("tables hold %+v, want 2 and 2", c)
	}
}

func TestStandardWebhooksHeadersVerify(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	body := event("user.created", "user_std")
	s := signed(t, secretA, "msg_std", time.Now(), body)
	hdr := http.Header{}
	hdr.Set("webhook-id", s.Get("svix-id"))
	hdr.Set("webhook-timestamp", s.Get("svix-timestamp"))
	hdr.Set("webhook-signature", s.Get("svix-signature"))
	code, out := h.post(body, hdr)
	if code != http.StatusAccepted || out["event_id"] != "msg_std" {
		t.Fatalf("webhook-* headers: %d %v", code, out)
	}
}

func TestRejectedRequestsLeaveTablesUnchanged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	good := event("user.created", "user_ok")
	now := time.Now()

	tamperedSig := signed(t, secretA, "msg_r1", now, good)
	tamperedSig.Set("svix-signature", "v1,"+strings.Repeat("A", 43)+"=")

	missing := signed(t, secretA, "msg_r2", now, good)
	missing.Del("svix-signature")

	big := append([]byte(`{"type":"user.created","data":{"id":"user_big"},"pad":"`),
		bytes.Repeat([]byte("x"), webhook.MaxBodyBytes)...)
	big = append(big, `"}`...)
	big = big[:webhook.MaxBodyBytes+1]

	notJSON := []byte("this is not json")
	noType := []byte(`{"data":{"id":"user_x"},"object":"event","timestamp":1750000000000}`)
	noData := []byte(`{"type":"user.created","object":"event","timestamp":1750000000000}`)
	changedBody := []byte(strings.Replace(string(good), "user_ok", "user_evil", 1))

	cases := []struct {
		name    string
		body    []byte
		hdr     http.Header
		code    int
		outcome string
	}{
		{"wrong signature", good, tamperedSig, 401, "unauthorized"},
		{"foreign secret", good, signed(t, foreign, "msg_r3", now, good), 401, "unauthorized"},
		{"body changed after signing", changedBody, signed(t, secretA, "msg_r4", now, good), 401, "unauthorized"},
		{"timestamp 6 minutes old", good, signed(t, secretA, "msg_r5", now.Add(-6*time.Minute), good), 401, "unauthorized"},
		{"timestamp 6 minutes ahead", good, signed(t, secretA, "msg_r6", now.Add(6*time.Minute), good), 401, "unauthorized"},
		{"missing signature header", good, missing, 401, "unauthorized"},
		{"no headers at all", good, http.Header{}, 401, "unauthorized"},
		{"1 MiB + 1 byte", big, signed(t, secretA, "msg_r7", now, big), 413, "too_large"},
		{"not JSON", notJSON, signed(t, secretA, "msg_r8", now, notJSON), 400, "bad_request"},
		{"missing type", noType, signed(t, secretA, "msg_r9", now, noType), 400, "bad_request"},
		{"missing data", noData, signed(t, secretA, "msg_r10", now, noData), 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.post(tc.body, tc.hdr)
			if code != tc.code || out["outcome"] != tc.outcome {
				t.Errorf("got %d %v, want %d %s", code, out, tc.code, tc.outcome)
			}
			if out["error"] == "" {
				t.Errorf("no error message in %v", out)
			}
			if c := h.counts(); c != (counts{0, 0}) {
				t.Errorf("tables hold %+v after a rejected request", c)
			}
		})
	}
}

func TestBodyOfExactlyOneMiBIsAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	body := []byte(`{"type":"user.created","data":{"id":"user_big"},"pad":"`)
	body = append(body, bytes.Repeat([]byte("x"), webhook.MaxBodyBytes-len(body)-2)...)
	body = append(body, `"}`...)
	if len(body) != webhook.MaxBodyBytes {
		t.Fatalf("body is %d bytes", len(body))
	}
	if code, out := h.post(body, signed(t, secretA, "msg_1mib", time.Now(), body)); code != http.StatusAccepted {
		t.Fatalf("1 MiB body: %d %v", code, out)
	}
}

func TestUnsyncedTypeIsStoredSkippedWithoutJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	body := []byte(`{"data":{"id":"sess_1","object":"session"},"object":"event","type":"session.created","timestamp":1750000000000}`)
	code, _ := h.post(body, signed(t, secretA, "msg_sess", time.Now(), body))
	if code != http.StatusAccepted {
		t.Fatalf("unsynced type: %d, want 202", code)
	}
	if c := h.counts(); c != (counts{1, 0}) {
		t.Fatalf("tables hold %+v, want the event and no job", c)
	}
	var status string
	var appliedAt *time.Time
	if err := h.pool.QueryRow(context.Background(),
		`SELECT status, applied_at FROM clerk.webhook_events WHERE id = 'msg_sess'`).Scan(&status, &appliedAt); err != nil {
		t.Fatal(err)
	}
	if status != "skipped" || appliedAt == nil {
		t.Fatalf("status %q applied_at %v, want skipped with a time", status, appliedAt)
	}
}

func TestFailureAfterEventInsertStoresNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	// The event insert succeeds; the job insert then fails. The transaction
	// must take the event row with it.
	if _, err := h.pool.Exec(context.Background(), `ALTER TABLE river_job RENAME TO river_job_away`); err != nil {
		t.Fatal(err)
	}
	body := event("user.created", "user_1")
	code, _ := h.post(body, signed(t, secretA, "msg_half", time.Now(), body))
	if code != http.StatusServiceUnavailable {
		t.Fatalf("job insert failing: %d, want 503", code)
	}
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM clerk.webhook_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d event rows stored although the request failed", n)
	}
	// Once the database is healthy again, Svix's redelivery is accepted.
	if _, err := h.pool.Exec(context.Background(), `ALTER TABLE river_job_away RENAME TO river_job`); err != nil {
		t.Fatal(err)
	}
	if code, _ := h.post(body, signed(t, secretA, "msg_half", time.Now(), body)); code != http.StatusAccepted {
		t.Fatalf("redelivery after recovery: %d, want 202", code)
	}
	if c := h.counts(); c != (counts{1, 1}) {
		t.Fatalf("tables hold %+v after recovery", c)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
