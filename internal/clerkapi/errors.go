package clerkapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// ErrUnauthorized is matched (errors.Is) by the error of any call that Clerk
// answered with 401 or 403. Retrying cannot help; the operator has to fix the
// key.
var ErrUnauthorized = errors.New("clerk backend api rejected the key: check CLERK_SECRET_KEY")

// ErrNotFound is matched (errors.Is) by the error of a call that Clerk
// answered with 404 and a Clerk error body.
//
// A bare 404 (say, from a proxy or a CLERK_API_URL missing its /v1) does not
// match: reconciliation tombstones rows on ErrNotFound and a tombstone is
// final, so only Clerk itself may say that an object is gone.
var ErrNotFound = errors.New("clerk backend api: not found")

// APIError is the error of a call that ended with an HTTP error status, after
// any retries. It matches ErrUnauthorized for 401 and 403 and ErrNotFound for
// a Clerk-shaped 404.
type APIError struct {
	Method     string
	Path       string // without the query string
	StatusCode int
	// Code and Message come from the first entry of Clerk's error body;
	// Message falls back to the start of the body when it is not Clerk's.
	Code    string
	Message string
	TraceID string
	// ClerkBody reports whether the body had Clerk's {"errors":[...]} shape.
	ClerkBody bool
	// RetryAfter is what the last 429 asked for, so a job runner can snooze
	// instead of burning an attempt.
	RetryAfter time.Duration
	// Attempts counts HTTP attempts, retries included.
	Attempts int
}

func (e *APIError) Error() string {
	var b strings.Builder
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		fmt.Fprintf(&b, "clerk backend api rejected the key (%d on %s %s): check CLERK_SECRET_KEY", e.StatusCode, e.Method, e.Path)
	default:
		fmt.Fprintf(&b, "clerk backend api: %s %s: HTTP %d", e.Method, e.Path, e.StatusCode)
	}
	var details []string
	switch {
	case e.Code != "" && e.Message != "":
		details = append(details, e.Code+": "+e.Message)
	case e.Code != "":
		details = append(details, e.Code)
	case e.Message != "":
		details = append(details, e.Message)
	}
	if e.Attempts > 1 {
		details = append(details, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if e.RetryAfter > 0 {
		details = append(details, fmt.Sprintf("retry after %s", e.RetryAfter))
	}
	if e.TraceID != "" {
		details = append(details, "clerk trace "+e.TraceID)
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(details, "; "))
	}
	return b.String()
}

// Is lets callers branch on the sentinels without type assertions.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound && e.ClerkBody
	}
	return false
}

// maxMessage keeps a non-Clerk error body (an HTML error page, say) from
// flooding logs and run reports.
const maxMessage = 300

// newAPIError turns what the SDK returned for an error status into an
// APIError. The SDK gives a *clerk.APIErrorResponse for Clerk-shaped bodies
// and a bare errors.New(body) otherwise, which is why the status comes from
// the transport's callInfo rather than from the SDK error.
func newAPIError(method, path string, info *callInfo, sdkErr error, secret string) *APIError {
	e := &APIError{
		Method:     method,
		Path:       path,
		StatusCode: info.status,
		RetryAfter: info.retryAfter,
		Attempts:   info.attempts,
	}
	var clerkErr *clerk.APIErrorResponse
	if errors.As(sdkErr, &clerkErr) {
		e.ClerkBody = true
		e.TraceID = clerkErr.TraceID
		if e.TraceID == "" && clerkErr.Response != nil {
			e.TraceID = clerkErr.Response.TraceID
		}
		if len(clerkErr.Errors) > 0 {
			first := clerkErr.Errors[0]
			e.Code = first.Code
			e.Message = first.LongMessage
			if e.Message == "" {
				e.Message = first.Message
			}
		}
	} else if sdkErr != nil {
		e.Message = sdkErr.Error()
	}
	e.Code = clean(e.Code, secret)
	e.Message = clean(e.Message, secret)
	e.TraceID = clean(e.TraceID, secret)
	return e
}

// clean makes server-supplied text safe to put in an error: one line, short,
// and without the secret key, which a misbehaving proxy could echo back.
func clean(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "..."
	}
	return s
}
