package clerkauth

import (
	"fmt"
	"net/http"
	"time"
)

// RequireSecondFactor refuses, with 403, a session whose second factor was
// not verified within maxAge: a token without fva (clerk-sdk-go reads a
// missing claim as "verified just now"; here it is refused), a user without
// a second factor (fva[1] = -1), or one verified longer ago. fva counts
// whole minutes when the token is issued, and a token lives about a minute,
// so maxAge is in effect rounded to minutes. Put it after Middleware.
func (v *Verifier) RequireSecondFactor(maxAge time.Duration) func(http.Handler) http.Handler {
	maxMinutes := int64(maxAge / time.Minute)
	return func(next http.Handler) http.Handler {
		return withSession(func(w http.ResponseWriter, r *http.Request, s *Session) {
			var reason, msg string
			switch {
			case s.FactorAge == nil:
				reason, msg = "second_factor_unknown", "the session token does not say when the second factor was verified (fva)"
			case s.FactorAge.SecondFactorMinutes < 0:
				reason, msg = "second_factor_required", "this needs a second factor, and the user has none set up"
			case s.FactorAge.SecondFactorMinutes > maxMinutes:
				reason, msg = "second_factor_stale", fmt.Sprintf("verify your second factor again: it must be at most %d minutes old", maxMinutes)
			}
			if reason != "" {
				v.metrics.decided("second_factor", "deny")
				writeError(w, http.StatusForbidden, reason, msg)
				return
			}
			v.metrics.decided("second_factor", "allow")
			next.ServeHTTP(w, r)
		})
	}
}
