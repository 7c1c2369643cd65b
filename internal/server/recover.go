package server

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
)

// Recoverer turns a panic in a handler into one log record and a 500 with a
// JSON body. It replaces chi's middleware.Recoverer, which prints the panic
// and its stack as plain text to stderr: that breaks a JSON log stream
// (SYNCD_LOG_FORMAT=json) into dozens of unparseable lines and bypasses the
// configured logger and level. Here the stack is one field of one record.
func Recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tw := &trackingWriter{ResponseWriter: w}
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				// net/http's way to abort a response: let it do so, quietly.
				if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(rec)
				}
				// The path, not the query: ids only, never a payload.
				logger.ErrorContext(r.Context(), "panic serving request",
					"method", r.Method, "path", r.URL.EscapedPath(),
					"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
				if tw.wroteHeader || r.Header.Get("Connection") == "Upgrade" {
					return // too late to change the status
				}
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error; the server log has the details"})
			}()
			next.ServeHTTP(tw, r)
		})
	}
}

// trackingWriter records whether the status line has been sent. It keeps
// the optional interfaces handlers rely on (River UI flushes, pprof writes
// long responses) through Unwrap, which http.ResponseController uses.
type trackingWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		t.wroteHeader = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wroteHeader = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Flush and Hijack are asserted directly by some handlers (not through
// ResponseController), so keep them visible.
func (t *trackingWriter) Flush() {
	t.wroteHeader = true
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(t.ResponseWriter).Hijack()
}
