package clerkauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Reason says why a token was refused. Reasons are the "reason" of the 401
// body and the outcome label of the verification metric, so they are stable.
type Reason string

// Reasons a token is refused.
const (
	ReasonMissingToken      Reason = "missing_token"
	ReasonMalformedToken    Reason = "malformed_token"
	ReasonUnsupportedAlg    Reason = "unsupported_algorithm"
	ReasonUnknownKey        Reason = "unknown_key"
	ReasonKeysUnavailable   Reason = "keys_unavailable"
	ReasonInvalidSignature  Reason = "invalid_signature"
	ReasonExpired           Reason = "expired"
	ReasonMissingExpiry     Reason = "missing_exp"
	ReasonNotYetValid       Reason = "not_yet_valid"
	ReasonIssuedInFuture    Reason = "issued_in_future"
	ReasonInvalidIssuer     Reason = "invalid_issuer"
	ReasonInvalidClaims     Reason = "invalid_claims"
	ReasonUnauthorizedParty Reason = "unauthorized_party"
	ReasonMissingParty      Reason = "missing_azp"
	ReasonPendingSession    Reason = "pending_session"
)

var reasonMessages = map[Reason]string{
	ReasonMissingToken:      "no session token: send Authorization: Bearer <token> or the __session cookie",
	ReasonMalformedToken:    "the session token is not a well-formed JWT",
	ReasonUnsupportedAlg:    "the session token is not signed with RS256",
	ReasonUnknownKey:        "the session token is signed with a key this instance does not publish",
	ReasonKeysUnavailable:   "the session keys could not be fetched from Clerk; try again shortly",
	ReasonInvalidSignature:  "the session token's signature does not match its content",
	ReasonExpired:           "the session token has expired",
	ReasonMissingExpiry:     "the session token has no expiry (exp)",
	ReasonNotYetValid:       "the session token is not valid yet (nbf)",
	ReasonIssuedInFuture:    "the session token was issued in the future (iat)",
	ReasonInvalidIssuer:     "the session token was not issued by Clerk",
	ReasonInvalidClaims:     "the session token lacks the claims of a Clerk session (sub)",
	ReasonUnauthorizedParty: "the session token was issued for another origin (azp)",
	ReasonMissingParty:      "a cookie session must name its origin (azp), and this one does not or none is configured",
	ReasonPendingSession:    "the session is pending: the user has not finished signing in",
}

// VerifyError is a refused token. errors.Is matches it against the Err*
// values by reason.
type VerifyError struct {
	Reason Reason
	// Err is the underlying error, if any (the SDK's, a fetch's). It never
	// contains the token.
	Err error
}

func (e *VerifyError) Error() string {
	msg := "clerkauth: " + reasonMessages[e.Reason]
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Is matches any VerifyError of the same reason.
func (e *VerifyError) Is(target error) bool {
	var t *VerifyError
	return errors.As(target, &t) && t.Err == nil && t.Reason == e.Reason
}

// Status is the HTTP status for the refusal: 503 when the keys could not be
// fetched (the caller did nothing wrong), 401 otherwise.
func (e *VerifyError) Status() int {
	if e.Reason == ReasonKeysUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Sentinels for errors.Is, one per reason.
var (
	ErrMissingToken      = &VerifyError{Reason: ReasonMissingToken}
	ErrMalformedToken    = &VerifyError{Reason: ReasonMalformedToken}
	ErrUnsupportedAlg    = &VerifyError{Reason: ReasonUnsupportedAlg}
	ErrUnknownKey        = &VerifyError{Reason: ReasonUnknownKey}
	ErrKeysUnavailable   = &VerifyError{Reason: ReasonKeysUnavailable}
	ErrInvalidSignature  = &VerifyError{Reason: ReasonInvalidSignature}
	ErrExpired           = &VerifyError{Reason: ReasonExpired}
	ErrMissingExpiry     = &VerifyError{Reason: ReasonMissingExpiry}
	ErrNotYetValid       = &VerifyError{Reason: ReasonNotYetValid}
	ErrIssuedInFuture    = &VerifyError{Reason: ReasonIssuedInFuture}
	ErrInvalidIssuer     = &VerifyError{Reason: ReasonInvalidIssuer}
	ErrInvalidClaims     = &VerifyError{Reason: ReasonInvalidClaims}
	ErrUnauthorizedParty = &VerifyError{Reason: ReasonUnauthorizedParty}
	ErrMissingParty      = &VerifyError{Reason: ReasonMissingParty}
	ErrPendingSession    = &VerifyError{Reason: ReasonPendingSession}
)

func refuse(r Reason, err error) *VerifyError { return &VerifyError{Reason: r, Err: err} }

// ErrForbidden matches every authorization refusal (a *DenyError).
var ErrForbidden = errors.New("clerkauth: forbidden")

// DenyError is an authorization refusal: the caller is who they say, but
// the synced tables do not let them do this.
type DenyError struct {
	// Reason is "not_member", "missing_role", "missing_permission",
	// "no_organization" or a second-factor reason.
	Reason string
	// Message is safe to show the caller.
	Message string
}

func (e *DenyError) Error() string { return "clerkauth: forbidden: " + e.Message }

// Is makes errors.Is(err, ErrForbidden) true.
func (e *DenyError) Is(target error) bool { return target == ErrForbidden }

// ErrorBody is the JSON body of every 401, 403 and 503 this package
// answers.
type ErrorBody struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	b, _ := json.Marshal(ErrorBody{Error: msg, Reason: reason})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("Cache-Control", "no-store")
	switch status {
	case http.StatusUnauthorized:
		// RFC 6750: say which scheme, and that the token was the problem.
		if reason == string(ReasonMissingToken) {
			h.Set("WWW-Authenticate", `Bearer realm="clerk"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="clerk", error="invalid_token"`)
		}
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeVerifyError(w http.ResponseWriter, e *VerifyError) {
	writeError(w, e.Status(), string(e.Reason), reasonMessages[e.Reason])
}
