package clerkauth

import (
	"errors"
	"net/http"
	"strings"
)

// TokenFromRequest returns the session token a request carries and where:
// the Authorization header when it has one (any scheme spelling of
// "Bearer", RFC 7235), else the __session cookie. A header with another
// scheme (Basic, say) is not a session token and is ignored, so a same-origin
// request with basic auth in front of it still reads its cookie.
func TokenFromRequest(r *http.Request) (string, Source) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token), SourceHeader
		}
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, SourceCookie
	}
	return "", ""
}

// Middleware verifies the request's session token and calls next with the
// session in the context (SessionFromContext). A request without a valid
// token is answered 401 with a JSON ErrorBody (503 when the keys cannot be
// fetched) and never reaches next.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, source := TokenFromRequest(r)
		s, err := v.Verify(r.Context(), token, source)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				ve = refuse(ReasonMalformedToken, err)
			}
			writeVerifyError(w, ve)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithSession(r.Context(), s)))
	})
}

// withSession is how every gate after Middleware starts: a request without
// a verified session in its context (Middleware not in front, or a route
// outside it) is answered as one without a token, 401.
func withSession(serve func(w http.ResponseWriter, r *http.Request, s *Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := SessionFromContext(r.Context())
		if !ok {
			writeVerifyError(w, ErrMissingToken)
			return
		}
		serve(w, r, s)
	})
}
