package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/server"
	"github.com/syncd/syncd/internal/syncdtest"
)

// panickingReplayer stands for any handler bug.
type panickingReplayer struct{}

func (panickingReplayer) ReplayEvent(context.Context, string) error {
	panic("replay exploded for user@example.com")
}

const adminToken = "server-test-admin-token-0123456789"

// A panic in a handler is one JSON log record with the stack as a field, and
// a 500 with a JSON body that does not repeat the panic. chi's Recoverer
// printed the stack as plain text lines to stderr and answered an empty 500.
func TestPanicIsOneStructuredRecordAndA500JSON(t *testing.T) {
	t.Parallel()
	logs := &syncdtest.LockedBuffer{} // the server's goroutines write while the test reads
	ts := httptest.NewServer(server.Routes(server.Deps{
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		AdminToken: adminToken,
		Replayer:   panickingReplayer{},
	}))
	t.Cleanup(ts.Close)

	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/events/msg_boom/replay", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("panic answered %d %q %s, want 500 application/json", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var answer map[string]string
	if err := json.Unmarshal(body, &answer); err != nil || answer["error"] == "" {
		t.Fatalf("body %q is not a JSON error", body)
	}
	if strings.Contains(string(body), "exploded") || strings.Contains(string(body), "goroutine") {
		t.Fatalf("body %q carries the panic or its stack", body)
	}

	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		records = append(records, rec)
	}
	if len(records) != 1 {
		t.Fatalf("%d log records, want exactly one:\n%s", len(records), logs)
	}
	rec := records[0]
	stack, _ := rec["stack"].(string)
	if rec["level"] != "ERROR" || rec["msg"] != "panic serving request" || rec["method"] != "POST" ||
		rec["path"] != "/admin/events/msg_boom/replay" || !strings.Contains(stack, "panickingReplayer.ReplayEvent") {
		t.Fatalf("panic record %v lacks level, message, request or stack", rec)
	}
	if rec["panic"] != "replay exploded for user@example.com" {
		t.Fatalf("panic value %v not recorded", rec["panic"])
	}

	// The server goes on serving.
	resp, err = http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after a panic: %v %v", resp, err)
	}
	resp.Body.Close()
}

// http.ErrAbortHandler keeps its meaning: the connection is cut, nothing is
// logged as a bug.
func TestAbortHandlerIsNotAPanicRecord(t *testing.T) {
	t.Parallel()
	logs := &syncdtest.LockedBuffer{} // the server's goroutines write while the test reads
	h := server.Recoverer(slog.New(slog.NewJSONHandler(logs, nil)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = nil
	ts.Start()
	t.Cleanup(ts.Close)
	if resp, err := http.Get(ts.URL); err == nil {
		resp.Body.Close()
		t.Fatalf("aborted handler answered %d, want a cut connection", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "panic serving request") {
		t.Fatalf("ErrAbortHandler logged as a panic: %s", logs)
	}
}
