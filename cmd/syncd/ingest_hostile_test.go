package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

// Issue 10, part A, through `syncd serve` on a real listener.

// withNote returns ev with data.unsafe_metadata set to {"note": <rawNote>},
// rawNote being JSON text spliced in as is (so it can hold \u0000), and
// with data.banned and data.updated_at set.
func withNote(t *testing.T, ev clerkfake.Event, rawNote string, banned bool, updatedAt int64) clerkfake.Event {
	t.Helper()
	var doc map[string]any
	mustf(t, json.Unmarshal(ev.Body, &doc), "decode %s", ev.ID)
	data := doc["data"].(map[string]any)
	data["unsafe_metadata"] = map[string]any{"note": "NOTE_PLACEHOLDER"}
	data["banned"] = banned
	data["updated_at"] = updatedAt
	doc["timestamp"] = updatedAt
	body, err := json.Marshal(doc)
	mustf(t, err, "encode %s", ev.ID)
	ev.Body = bytes.Replace(body, []byte(`"NOTE_PLACEHOLDER"`), []byte(rawNote), 1)
	ev.Timestamp = updatedAt
	return ev
}

// A user who writes \u0000 into their unsafe_metadata no longer freezes
// their row: the event is stored (U+FFFD in jsonb) and applied, and so is
// the ban that follows.
func TestUserWithNULInMetadataIsSyncedAndBanned(t *testing.T) {
	t.Parallel()
	url, pool, secret := newServeDB(t)
	p := startServe(t, serveEnv(url, secret))

	m := clerkfake.New(5)
	u, evs := m.CreateUser()
	created := withNote(t, evs[0], `"hi\u0000there"`, false, 1_750_000_000_000)
	if code := deliver(t, p.URL, secret, created); code != http.StatusAccepted {
		t.Fatalf("user.created with a NUL escape: %d, want 202", code)
	}
	// Applied on its own before the ban arrives: in one batch with the ban
	// the creation would be superseded (skipped), and this test is about
	// each event applying, not about batching.
	waitApplied(t, pool, 15*time.Second)
	updated := created
	updated.ID, updated.Type = created.ID+"_ban", "user.updated"
	updated.Body = bytes.Replace(created.Body, []byte(`"type":"user.created"`), []byte(`"type":"user.updated"`), 1)
	updated = withNote(t, updated, `"\u0000"`, true, 1_750_000_001_000)
	if code := deliver(t, p.URL, secret, updated); code != http.StatusAccepted {
		t.Fatalf("user.updated (ban) with a NUL escape: %d, want 202", code)
	}
	waitApplied(t, pool, 15*time.Second)

	var statuses []string
	rows, err := pool.Query(context.Background(), `SELECT status || coalesce(': ' || error, '') FROM clerk.webhook_events ORDER BY received_at`)
	mustf(t, err, "events")
	for rows.Next() {
		var s string
		mustf(t, rows.Scan(&s), "scan")
		statuses = append(statuses, s)
	}
	if len(statuses) != 2 || statuses[0] != "applied" || statuses[1] != "applied" {
		t.Fatalf("events %v, want both applied", statuses)
	}
	var note string
	var banned bool
	mustf(t, pool.QueryRow(context.Background(),
		`SELECT unsafe_metadata->>'note', banned FROM clerk.users WHERE id = $1`, u.ID).Scan(&note, &banned), "user row")
	if note != "\uFFFD" || !banned {
		t.Errorf("user row: note %+q banned %v, want U+FFFD and banned", note, banned)
	}
}

// Request headers over 64 KiB are answered 431: just over, by the webhook
// (with its JSON answer), far over, by the server before it reads them all
// (MaxHeaderBytes); headers well under it reach the webhook (401 here:
// unsigned).
func TestHeadersOver64KiBAre431(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	p := startServe(t, serveEnv(url, clerkfake.NewSecret(nil)))
	cases := []struct {
		name    string
		pad     int
		code    int
		outcome string // of the webhook's answer; empty for net/http's own
	}{
		{"48 KiB of headers", 48 << 10, http.StatusUnauthorized, "unauthorized"},
		{"65 KiB of headers", 65 << 10, http.StatusRequestHeaderFieldsTooLarge, "too_large"},
		{"900 KiB of headers", 900 << 10, http.StatusRequestHeaderFieldsTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, p.URL+"/webhooks/clerk", strings.NewReader(`{}`))
			mustf(t, err, "request")
			req.Header.Set("X-Pad", strings.Repeat("p", tc.pad))
			resp, err := http.DefaultClient.Do(req)
			mustf(t, err, "post")
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.code)
			}
			switch want := tc.outcome; {
			case want != "" && !strings.Contains(string(body), `"outcome":"`+want+`"`):
				t.Errorf("body %s, want the webhook's JSON answer with outcome %s", body, want)
			case want == "" && strings.Contains(string(body), "outcome"):
				t.Errorf("body %s: the headers reached the handler; the server should have refused them", body)
			}
		})
	}
	var n int
	pool := syncdtest.OpenPool(t, url)
	mustf(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM clerk.webhook_events`).Scan(&n), "count")
	if n != 0 {
		t.Errorf("%d events stored", n)
	}
}
