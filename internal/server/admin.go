package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// adminRealm is the realm of the Basic challenge: a browser shows it in its
// password prompt.
const adminRealm = "syncd admin"

// RequireAdmin guards /admin/*:
//
//   - 404 for everything when no token is configured (the routes do not
//     exist);
//   - 403 for a state-changing request (any method but GET, HEAD and
//     OPTIONS) that a browser sent from another origin, so that a page
//     elsewhere cannot make a logged-in browser, or a proxy that injects the
//     token, delete River jobs or start runs;
//   - 401, with a Basic challenge, without the token, which may come as
//     `Authorization: Bearer TOKEN` (scripts) or as the password of HTTP
//     Basic with any user name (a browser opening River UI).
//
// Both sides are hashed before the constant-time compare so the token's
// length does not leak either.
func RequireAdmin(token string) func(http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	// net/http's CrossOriginProtection is exactly the check syncd promises
	// (a browser's state-changing request from another origin is 403): it trusts Sec-Fetch-Site when the browser sends it
	// (same-site and cross-site are refused), else compares Origin's host
	// with the request's Host, and lets requests with neither (curl,
	// scripts) through.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]string{
			"error": "cross-origin request refused: state-changing admin requests must come from the same origin, or from a client that is not a browser"})
	}))
	return func(next http.Handler) http.Handler {
		authed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := adminCredential(r)
			gotSum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 || !ok {
				w.Header().Set("WWW-Authenticate", `Basic realm="`+adminRealm+`", charset="UTF-8"`)
				w.Header().Add("WWW-Authenticate", `Bearer realm="`+adminRealm+`"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{
					"error": "missing or wrong admin token: send Authorization: Bearer $SYNCD_ADMIN_TOKEN, or HTTP Basic with the token as the password"})
				return
			}
			next.ServeHTTP(w, r)
		})
		guarded := cop.Handler(authed)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token == "" {
				http.NotFound(w, r)
				return
			}
			guarded.ServeHTTP(w, r)
		})
	}
}

// adminCredential returns the token a request presents: a Bearer token, or
// the password of HTTP Basic (the user name is ignored). ok is false when
// the request presents none.
func adminCredential(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, found := strings.Cut(h, " ")
	if !found {
		return "", false
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest), true
	case strings.EqualFold(scheme, "Basic"):
		_, password, ok := r.BasicAuth()
		return password, ok
	}
	return "", false
}
