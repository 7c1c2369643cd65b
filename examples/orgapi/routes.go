package main

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/syncd/syncd/clerkauth"
	"github.com/syncd/syncd/clerkdb"
)

// routes is every route of the service, top to bottom.
func routes(db clerkdb.Querier, v *clerkauth.Verifier, a *clerkauth.Authorizer) http.Handler {
	reader := clerkdb.New(db)
	orgID := func(r *http.Request) string { return chi.URLParam(r, "org_id") }

	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{"no such route"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{"method not allowed"})
	})
	r.Group(func(r chi.Router) {
		r.Use(v.Middleware)
		r.Get("/me", me(reader))
		r.With(a.RequireMember(orgID)).Get("/orgs/{org_id}/members", members(reader))
		r.With(a.RequireRole(orgID, "org:admin")).Get("/orgs/{org_id}/settings", settings(reader))
	})
	return r
}

type errorBody struct {
	Error string `json:"error"`
}

type meBody struct {
	UserID              string       `json:"user_id"`
	PrimaryEmailAddress *string      `json:"primary_email_address"`
	Organizations       []orgRoleDoc `json:"organizations"`
}

type orgRoleDoc struct {
	OrganizationID string `json:"organization_id"`
	Role           string `json:"role"`
}

// me answers from the synced tables, not from the token: the token names
// one active organization at most, and may be a minute behind.
func me(db *clerkdb.Reader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID := clerkauth.UserID(r.Context())
		body := meBody{UserID: userID, Organizations: []orgRoleDoc{}}
		u, err := db.UserByID(r.Context(), userID)
		switch {
		case errors.Is(err, clerkdb.ErrNotFound):
			// Signed in before syncd saw the user.created webhook.
			writeJSON(w, http.StatusOK, body)
			return
		case err != nil:
			unavailable(w)
			return
		}
		body.PrimaryEmailAddress = u.PrimaryEmailAddress
		ms, err := db.UserMemberships(r.Context(), userID)
		if err != nil {
			unavailable(w)
			return
		}
		for _, m := range ms {
			body.Organizations = append(body.Organizations, orgRoleDoc{OrganizationID: m.OrganizationID, Role: m.Role})
		}
		writeJSON(w, http.StatusOK, body)
	}
}

type memberDoc struct {
	UserID              string  `json:"user_id"`
	Role                string  `json:"role"`
	PrimaryEmailAddress *string `json:"primary_email_address"`
}

func members(db *clerkdb.Reader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := []memberDoc{}
		p := clerkdb.Page{Limit: clerkdb.MaxPageSize}
		for {
			page, err := db.OrganizationMembers(r.Context(), chi.URLParam(r, "org_id"), p)
			if err != nil {
				unavailable(w)
				return
			}
			for _, m := range page.Members {
				out = append(out, memberDoc{UserID: m.UserID, Role: m.Role, PrimaryEmailAddress: m.UserPrimaryEmailAddress})
			}
			if page.Next == "" {
				break
			}
			p.After = page.Next
		}
		writeJSON(w, http.StatusOK, out)
	}
}

type settingsBody struct {
	OrganizationID string  `json:"organization_id"`
	Name           string  `json:"name"`
	Slug           *string `json:"slug"`
}

func settings(db *clerkdb.Reader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := db.OrganizationByID(r.Context(), chi.URLParam(r, "org_id"))
		switch {
		case errors.Is(err, clerkdb.ErrNotFound):
			// The membership arrived, the organization has not yet.
			writeJSON(w, http.StatusNotFound, errorBody{"the organization is not synced yet"})
			return
		case err != nil:
			unavailable(w)
			return
		}
		writeJSON(w, http.StatusOK, settingsBody{OrganizationID: o.ID, Name: o.Name, Slug: o.Slug})
	}
}

// unavailable hides the driver's message: it can name hosts and users.
func unavailable(w http.ResponseWriter) {
	writeJSON(w, http.StatusServiceUnavailable, errorBody{"the organization data cannot be read right now; try again shortly"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // fails only when the client has gone
}
