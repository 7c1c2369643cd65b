package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/jobs"
	"github.com/syncd/syncd/internal/testdb"
	"github.com/syncd/syncd/internal/webhook"
)

// Issue 10, part A: hostile and odd input on POST /webhooks/clerk, through
// the real handler over HTTP with a real database per test.

// newHarnessWith serves the handler with cfg adjusted by tune.
func newHarnessWith(t *testing.T, tune func(*webhook.Config)) *harness {
	t.Helper()
	pool, _ := testdb.New(t)
	client, err := jobs.NewClient(jobs.ClientConfig{Pool: pool, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier([]string{secretA})
	if err != nil {
		t.Fatal(err)
	}
	cfg := webhook.Config{Pool: pool, Enqueuer: client, Verifier: v, Logger: slog.New(slog.DiscardHandler),
		StoreTimeout: 2 * time.Second}
	tune(&cfg)
	srv := httptest.NewServer(webhook.Handler(cfg))
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, pool: pool}
}

// postFull is post with the answer's headers too.
func (h *harness) postFull(body []byte, hdr http.Header) (int, http.Header, map[string]string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("answer %d is not a JSON object of strings: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, out
}

// storedRow is what clerk.webhook_events holds for one id.
type storedRow struct {
	found    bool
	objectID string
	payload  string
	sum      []byte
	jobs     int
}

func (h *harness) row(id string) storedRow {
	h.t.Helper()
	var r storedRow
	err := h.pool.QueryRow(context.Background(), `
		SELECT coalesce(e.object_id, ''), e.payload::text, e.body_sha256,
		       (SELECT count(*) FROM river_job j WHERE j.args->>'event_id' = e.id)
		FROM clerk.webhook_events e WHERE e.id = $1`, id).Scan(&r.objectID, &r.payload, &r.sum, &r.jobs)
	if err == nil {
		r.found = true
	}
	return r
}

// leaks lists what an answer must never carry: driver and server details.
var leaks = []string{"SQLSTATE", "postgres", "pgx", "127.0.0.1", "failed to connect", "ERROR", "jsonb", "numeric"}

func assertGeneric(t *testing.T, out map[string]string) {
	t.Helper()
	for _, leak := range leaks {
		if strings.Contains(out["error"], leak) {
			t.Errorf("answer %v carries %q", out, leak)
		}
	}
}

// An authentic event is always stored: escapes jsonb refuses become
// U+FFFD in payload, everything else is kept as sent, and body_sha256 is the
// hash of the exact bytes received. Before issue 10 the first case answered
// 400 and stored nothing, freezing the user's row.
func TestAuthenticEventWithEscapesJSONBRefusesIsStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	cases := []struct {
		name string
		note string // raw JSON text of data.unsafe_metadata.note, quotes included
		want string // what payload's note must read back as
	}{
		{"NUL escape in a value", `"a\u0000b"`, "a\uFFFDb"},
		{"only a NUL escape", `"\u0000"`, "\uFFFD"},
		{"escaped backslash before u0000 is text", `"a\\u0000b"`, `a\u0000b`},
		{"escaped backslash then a NUL escape", `"\\\u0000"`, "\\\uFFFD"},
		{"NUL escapes in a row", `"\u0000\u0000"`, "\uFFFD\uFFFD"},
		{"lone high surrogate", `"\ud800x"`, "\uFFFDx"},
		{"lone low surrogate", `"\uDC00"`, "\uFFFD"},
		{"high surrogate then NUL", `"\ud83d\u0000"`, "\uFFFD\uFFFD"},
		{"surrogate pair is kept", `"\ud83d\ude00"`, "😀"},
		{"escaped quote then NUL", `"\"\u0000"`, "\"\uFFFD"},
		{"invalid UTF-8 byte", "\"a\xffb\"", "a\uFFFDb"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("msg_esc_%d", i)
			body := []byte(`{"data":{"id":"user_esc","object":"user","unsafe_metadata":{"note":` + tc.note +
				`},"updated_at":1750000000000},"object":"event","type":"user.updated","timestamp":1750000000000}`)
			code, out := h.post(body, signed(t, secretA, id, time.Now(), body))
			if code != http.StatusAccepted || out["outcome"] != "accepted" || out["event_id"] != id {
				t.Fatalf("got %d %v, want 202 accepted %s", code, out, id)
			}
			r := h.row(id)
			if !r.found || r.jobs != 1 {
				t.Fatalf("row %+v, want stored with one apply job", r)
			}
			var p struct {
				Data struct {
					UnsafeMetadata struct{ Note string } `json:"unsafe_metadata"`
				}
			}
			if err := json.Unmarshal([]byte(r.payload), &p); err != nil {
				t.Fatal(err)
			}
			if p.Data.UnsafeMetadata.Note != tc.want {
				t.Errorf("stored note %+q, want %+q", p.Data.UnsafeMetadata.Note, tc.want)
			}
			if sum := sha256.Sum256(body); !bytes.Equal(r.sum, sum[:]) {
				t.Errorf("body_sha256 %x, want the hash of the exact body %x", r.sum, sum)
			}
		})
	}
	// In a key, and in data.id itself (which becomes object_id).
	body := []byte(`{"data":{"id":"user_\u0000","object":"user","unsafe_metadata":{"k\u0000":1}},"object":"event","type":"user.created","timestamp":1750000000000}`)
	if code, out := h.post(body, signed(t, secretA, "msg_key", time.Now(), body)); code != http.StatusAccepted {
		t.Fatalf("NUL in a key and data.id: %d %v", code, out)
	}
	r := h.row("msg_key")
	if r.objectID != "user_\uFFFD" || !strings.Contains(r.payload, "\"k\uFFFD\"") {
		t.Errorf("object_id %+q payload %s, want U+FFFD in both", r.objectID, r.payload)
	}
}

// Same svix-id, another body: 409 conflict and the first body stays; the
// same body again is still a 200 duplicate; a row stored before body_sha256
// existed (NULL) takes any redelivery as a duplicate, as before.
func TestSameIDWithAnotherBodyIsAConflict(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	first := event("user.updated", "user_1")
	other := event("user.updated", "user_2")
	// The same document, spaced differently: jsonb would store it equal,
	// but the bytes, and so the signature, differ.
	respaced := bytes.ReplaceAll(first, []byte(`,"`), []byte(`, "`))
	if code, out := h.post(first, signed(t, secretA, "msg_c", time.Now(), first)); code != http.StatusAccepted {
		t.Fatalf("first delivery: %d %v", code, out)
	}
	stored := h.row("msg_c")
	cases := []struct {
		name    string
		body    []byte
		code    int
		outcome string
	}{
		{"same body", first, 200, "duplicate"},
		{"another body", other, 409, "conflict"},
		{"same document spaced differently", respaced, 409, "conflict"},
		{"same body after a conflict", first, 200, "duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.post(tc.body, signed(t, secretA, "msg_c", time.Now(), tc.body))
			if code != tc.code || out["outcome"] != tc.outcome || out["event_id"] != "msg_c" {
				t.Fatalf("got %d %v, want %d %s", code, out, tc.code, tc.outcome)
			}
			if tc.code >= 400 && out["error"] == "" {
				t.Errorf("no error message in %v", out)
			}
			if r := h.row("msg_c"); r.payload != stored.payload || !bytes.Equal(r.sum, stored.sum) || r.jobs != 1 {
				t.Errorf("row changed to %+v, want the first delivery's with one job", r)
			}
			if c := h.counts(); c != (counts{1, 1}) {
				t.Errorf("tables hold %+v, want 1 and 1", c)
			}
		})
	}

	// A row from before migration 00003 has no hash to compare.
	if _, err := h.pool.Exec(context.Background(),
		`INSERT INTO clerk.webhook_events (id, type, payload, status) VALUES ('msg_old', 'user.updated', '{}', 'applied')`); err != nil {
		t.Fatal(err)
	}
	code, out := h.post(other, signed(t, secretA, "msg_old", time.Now(), other))
	if code != http.StatusOK || out["outcome"] != "duplicate" {
		t.Errorf("redelivery of a row without body_sha256: %d %v, want 200 duplicate", code, out)
	}
}

// Many deliveries of one id at once, with two different bodies, spread
// over however many group commits they happen to fall into: exactly one is
// stored, every copy of its body is a duplicate and every copy of the other
// body a conflict.
func TestConcurrentConflictingDeliveriesKeepTheFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	bodies := [][]byte{event("user.updated", "user_a"), event("user.updated", "user_b")}
	const n = 40
	type answer struct {
		body    int
		code    int
		outcome string
	}
	answers := make(chan answer, n)
	var wg sync.WaitGroup
	for i := range n {
		b := i % 2
		hdr := signed(t, secretA, "msg_race", time.Now(), bodies[b])
		wg.Go(func() {
			code, out := h.post(bodies[b], hdr)
			answers <- answer{b, code, out["outcome"]}
		})
	}
	wg.Wait()
	close(answers)
	r := h.row("msg_race")
	winner := -1
	for b, body := range bodies {
		if sum := sha256.Sum256(body); bytes.Equal(r.sum, sum[:]) {
			winner = b
		}
	}
	if winner < 0 || r.jobs != 1 {
		t.Fatalf("row %+v holds neither body's hash, or not one job", r)
	}
	accepted := 0
	for a := range answers {
		switch {
		case a.code == http.StatusAccepted && a.body == winner:
			accepted++
		case a.code == http.StatusOK && a.outcome == "duplicate" && a.body == winner:
		case a.code == http.StatusConflict && a.outcome == "conflict" && a.body != winner:
		default:
			t.Errorf("body %d (stored: %d) answered %d %s", a.body, winner, a.code, a.outcome)
		}
	}
	if accepted != 1 {
		t.Errorf("%d deliveries accepted, want 1", accepted)
	}
}

// Permanent problems are 400 (Svix does not retry them for days), carry a
// generic message, store nothing, and are answered at once.
func TestPermanentProblemsAre400(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	withTS := func(ts string) []byte {
		return []byte(`{"data":{"id":"user_ts","object":"user"},"object":"event","type":"user.created","timestamp":` + ts + `}`)
	}
	nested := func(depth int) []byte {
		return []byte(`{"type":"user.created","data":{"id":"user_deep","unsafe_metadata":` +
			strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`)
	}
	nestedObjects := []byte(`{"type":"user.created","data":{"id":"user_deep","x":` +
		strings.Repeat(`{"a":`, 150_000) + "1" + strings.Repeat("}", 150_000) + `}}`)
	cases := []struct {
		name string
		id   string
		body []byte
	}{
		{"svix-id of 5,000 characters", strings.Repeat("m", 5000), event("user.created", "user_1")},
		{"svix-id of 257 characters", strings.Repeat("m", 257), event("user.created", "user_1")},
		{"data.id of 5,000 characters", "msg_long_data_id", event("user.created", strings.Repeat("u", 5000))},
		{"data.id of 257 characters", "msg_257_data_id", event("user.created", strings.Repeat("u", 257))},
		{"type of 5,000 characters", "msg_long_type", event(strings.Repeat("t", 5000), "user_1")},
		{"timestamp max int64", "msg_ts_max", withTS("9223372036854775807")},
		{"timestamp in the year 10000", "msg_ts_10000", withTS("253402300800000")},
		{"timestamp 9e18 as a float", "msg_ts_float", withTS("9e18")},
		{"timestamp negative", "msg_ts_neg", withTS("-1")},
		{"timestamp past int64", "msg_ts_huge", withTS("99999999999999999999999")},
		{"400,000 nested arrays", "msg_deep", nested(400_000)},
		{"150,000 nested objects", "msg_deep_obj", nestedObjects},
		{"nesting one past the limit", "msg_513", nested(webhook.MaxDepth - 2 + 1)},
		{"a number numeric cannot hold", "msg_num", []byte(`{"type":"user.created","data":{"id":"user_n","x":1e1000000}}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, hdr, out := h.postFull(tc.body, signed(t, secretA, tc.id, time.Now(), tc.body))
			if code != http.StatusBadRequest || out["outcome"] != "bad_request" || out["error"] == "" {
				t.Errorf("got %d %v, want 400 bad_request with a reason", code, out)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered after %s", d)
			}
			if hdr.Get("Retry-After") != "" {
				t.Errorf("a permanent refusal carries Retry-After %q", hdr.Get("Retry-After"))
			}
			assertGeneric(t, out)
			if c := h.counts(); c != (counts{0, 0}) {
				t.Errorf("tables hold %+v after a refused event", c)
			}
		})
	}
}

// The bounds themselves are accepted: an id of 256, the last millisecond
// of 9999, and nesting of exactly MaxDepth (the envelope and data count).
func TestBoundsAreInclusive(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	deep := []byte(`{"type":"user.created","data":{"id":"user_deep","unsafe_metadata":` +
		strings.Repeat("[", webhook.MaxDepth-2) + strings.Repeat("]", webhook.MaxDepth-2) + `}}`)
	cases := []struct {
		name string
		id   string
		body []byte
	}{
		{"svix-id of 256", strings.Repeat("m", 256), event("user.created", "user_1")},
		{"data.id of 256", "msg_data_256", event("user.created", strings.Repeat("u", 256))},
		{"timestamp at the end of 9999", "msg_9999", []byte(`{"data":{"id":"user_ts"},"type":"user.created","timestamp":253402300799999}`)},
		{"nesting of MaxDepth", "msg_512", deep},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.post(tc.body, signed(t, secretA, tc.id, time.Now(), tc.body))
			if code != http.StatusAccepted {
				t.Fatalf("got %d %v, want 202", code, out)
			}
			if !h.row(tc.id).found {
				t.Errorf("not stored")
			}
		})
	}
	var occurred time.Time
	if err := h.pool.QueryRow(context.Background(),
		`SELECT occurred_at FROM clerk.webhook_events WHERE id = 'msg_9999'`).Scan(&occurred); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC); !occurred.Equal(want) {
		t.Errorf("occurred_at %s, want %s", occurred, want)
	}
}

// rawRequest writes a request's head (and no body) on a fresh connection
// and reads the answer, failing if none comes within a second: the server
// must answer without waiting for a body it will never get.
func rawRequest(t *testing.T, url string, hdr http.Header, contentLength int) (*http.Response, map[string]string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST /webhooks/clerk HTTP/1.1\r\nHost: syncd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", contentLength)
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]string
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

// The Svix headers and timestamp are checked before the body is read: an
// unsigned or stale 1 MiB upload is refused 401 at once, with its body
// never sent.
func TestUnsignedUploadIsRefusedBeforeItsBodyIsRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	now := time.Now()
	body := event("user.created", "user_1")
	stale := signed(t, secretA, "msg_stale", now.Add(-6*time.Minute), body)
	ahead := signed(t, secretA, "msg_ahead", now.Add(6*time.Minute), body)
	absurd := signed(t, secretA, "msg_absurd", now, body)
	absurd.Set("svix-timestamp", "-9223372036854775808")
	notInt := signed(t, secretA, "msg_notint", now, body)
	notInt.Set("svix-timestamp", "soon")
	noSig := signed(t, secretA, "msg_nosig", now, body)
	noSig.Del("svix-signature")
	cases := []struct {
		name string
		hdr  http.Header
	}{
		{"no headers", http.Header{}},
		{"no signature", noSig},
		{"timestamp 6 minutes old", stale},
		{"timestamp 6 minutes ahead", ahead},
		{"timestamp min int64", absurd},
		{"timestamp not an integer", notInt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := rawRequest(t, h.url, tc.hdr, webhook.MaxBodyBytes)
			if resp.StatusCode != http.StatusUnauthorized || out["outcome"] != "unauthorized" || out["error"] == "" {
				t.Fatalf("got %d %v, want 401 unauthorized", resp.StatusCode, out)
			}
		})
	}
	if c := h.counts(); c != (counts{0, 0}) {
		t.Errorf("tables hold %+v", c)
	}
}

// Webhook work is capped: with every slot taken by a request whose body is
// still arriving, the next one is answered 503 with Retry-After at once;
// the slot's own request then completes, and the slot is free again.
func TestSaturatedWebhookAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(c *webhook.Config) { c.MaxConcurrent = 1 })
	body := event("user.created", "user_slow")
	hdr := signed(t, secretA, "msg_slow", time.Now(), body)

	// The slow request: headers and half its body, then a pause.
	pr, pw := io.Pipe()
	// Whatever happens, end the body before the server is closed, or Close
	// would wait for this request for ever.
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	req, err := http.NewRequest(http.MethodPost, h.url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	req.ContentLength = int64(len(body))
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			slow <- nil
			return
		}
		slow <- resp
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}

	// Probe until the slow request holds the slot. A probe that gets
	// through is refused 401 (its signature is wrong) and stores nothing.
	probe := signed(t, secretA, "msg_probe", time.Now(), body)
	probe.Set("svix-signature", "v1,"+strings.Repeat("A", 43)+"=")
	var code int
	var rh http.Header
	var out map[string]string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if code, rh, out = h.postFull(body, probe); code != http.StatusUnauthorized {
			break
		}
	}
	if code != http.StatusServiceUnavailable || out["outcome"] != "unavailable" || out["error"] == "" {
		t.Fatalf("with the one slot taken: %d %v, want 503 unavailable", code, out)
	}
	if rh.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}

	if _, err := pw.Write(body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	resp := <-slow
	if resp == nil {
		t.FailNow()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the slow request: %d, want 202", resp.StatusCode)
	}
	next := event("user.created", "user_next")
	if code, out := h.post(next, signed(t, secretA, "msg_next", time.Now(), next)); code != http.StatusAccepted {
		t.Errorf("after the slot was freed: %d %v, want 202", code, out)
	}
	if c := h.counts(); c != (counts{2, 2}) {
		t.Errorf("tables hold %+v, want the two accepted events and their jobs", c)
	}
}

// Every 503 carries Retry-After, and its body names no host, user or
// driver message.
func TestDatabaseDown503IsGenericWithRetryAfter(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	h := newHarnessOn(t, down, pool, secretA)
	body := event("user.created", "user_1")
	code, hdr, out := h.postFull(body, signed(t, secretA, "msg_down", time.Now(), body))
	if code != http.StatusServiceUnavailable || out["outcome"] != "unavailable" || out["error"] == "" {
		t.Fatalf("database down: %d %v, want 503 unavailable", code, out)
	}
	if hdr.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	assertGeneric(t, out)
}

// Header fields over MaxHeaderBytes are answered 431 by the webhook itself,
// exactly at the limit (net/http's own MaxHeaderBytes check, set to the
// same value in serve, only trips a few KiB later).
func TestHeadersOverTheLimitAre431(t *testing.T) {
	t.Parallel()
	h := newHarness(t, secretA)
	// What rawRequest sends besides the pad: "Content-Type:
	// application/json" (32 bytes counted) and "Content-Length: 0" (19);
	// "X-Pad: " and its CRLF count 9. Host is not a header field here.
	const others = 32 + 19 + 9
	cases := []struct {
		name    string
		pad     int
		code    int
		outcome string
	}{
		{"exactly 64 KiB", webhook.MaxHeaderBytes - others, http.StatusUnauthorized, "unauthorized"},
		{"64 KiB and one byte", webhook.MaxHeaderBytes - others + 1, http.StatusRequestHeaderFieldsTooLarge, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			hdr.Set("X-Pad", strings.Repeat("p", tc.pad))
			resp, out := rawRequest(t, h.url, hdr, 0)
			if resp.StatusCode != tc.code || out["outcome"] != tc.outcome || out["error"] == "" {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, out, tc.code, tc.outcome)
			}
		})
	}
}
