// Package synctest compares syncd's tables with the truth of a
// clerkfake.Model, for tests that check convergence (the shuffled-delivery
// property test, reconciliation). It reads what a user of the tables reads:
// the rows of clerk.users, clerk.user_email_addresses, clerk.organizations
// and clerk.organization_memberships.
package synctest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/store"
)

// Options tunes what counts as a difference.
type Options struct {
	// ExactDeletedAt also compares users' and organizations' deleted_at
	// with the model's deletion time (true when every deletion arrived by
	// webhook; reconciliation stamps its own time).
	ExactDeletedAt bool
}

// Diff lists every way the tables differ from the model: missing rows,
// rows that should be deleted or not, and synced fields that differ. Rows the
// model does not know must be deleted. An empty result means equal.
func Diff(ctx context.Context, db store.DBTX, m *clerkfake.Model, opts Options) ([]string, error) {
	var out []string
	users, err := readUsers(ctx, db)
	if err != nil {
		return nil, err
	}
	emails, err := readEmails(ctx, db)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, u := range m.Users() {
		known[u.ID] = true
		row, ok := users[u.ID]
		if !ok {
			out = append(out, fmt.Sprintf("user %s: missing", u.ID))
			continue
		}
		if u.Deleted {
			if row.DeletedAt == nil {
				out = append(out, fmt.Sprintf("user %s: deleted in Clerk, live in the table", u.ID))
			} else if opts.ExactDeletedAt && row.DeletedAt.UnixMilli() != u.DeletedAt {
				out = append(out, fmt.Sprintf("user %s: deleted_at %d, want %d", u.ID, row.DeletedAt.UnixMilli(), u.DeletedAt))
			}
			continue
		}
		if row.DeletedAt != nil {
			out = append(out, fmt.Sprintf("user %s: live in Clerk, deleted in the table", u.ID))
			continue
		}
		want := userRow{
			ExternalID: u.ExternalID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
			ImageURL: &u.ImageURL, PrimaryEmailAddress: u.PrimaryEmailAddress(),
			PublicMetadata: canon(u.PublicMetadata), PrivateMetadata: canon(u.PrivateMetadata),
			UnsafeMetadata: canon(u.UnsafeMetadata), Banned: u.Banned, Locked: u.Locked,
			LastSignInAt: ms(u.LastSignInAt), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		}
		out = append(out, fieldDiffs("user "+u.ID, want, row.userRow)...)
		var wantEmails []string
		for _, e := range u.EmailAddresses {
			primary := u.PrimaryEmailAddressID != nil && *u.PrimaryEmailAddressID == e.ID
			wantEmails = append(wantEmails, fmt.Sprintf("%s|%s|%v|%v", e.ID, e.EmailAddress, e.Verified, primary))
		}
		sort.Strings(wantEmails)
		if got := emails[u.ID]; !slices.Equal(got, wantEmails) {
			out = append(out, fmt.Sprintf("user %s: email addresses %v, want %v", u.ID, got, wantEmails))
		}
	}
	for id, row := range users {
		if !known[id] && row.DeletedAt == nil {
			out = append(out, fmt.Sprintf("user %s: live in the table, unknown to Clerk", id))
		}
	}

	orgs, err := readOrganizations(ctx, db)
	if err != nil {
		return nil, err
	}
	known = map[string]bool{}
	for _, o := range m.Organizations() {
		known[o.ID] = true
		row, ok := orgs[o.ID]
		if !ok {
			out = append(out, fmt.Sprintf("organization %s: missing", o.ID))
			continue
		}
		if o.Deleted {
			if row.DeletedAt == nil {
				out = append(out, fmt.Sprintf("organization %s: deleted in Clerk, live in the table", o.ID))
			} else if opts.ExactDeletedAt && row.DeletedAt.UnixMilli() != o.DeletedAt {
				out = append(out, fmt.Sprintf("organization %s: deleted_at %d, want %d", o.ID, row.DeletedAt.UnixMilli(), o.DeletedAt))
			}
			continue
		}
		if row.DeletedAt != nil {
			out = append(out, fmt.Sprintf("organization %s: live in Clerk, deleted in the table", o.ID))
			continue
		}
		maxMembers := o.MaxAllowedMemberships
		want := orgRow{
			Name: &o.Name, Slug: &o.Slug, ImageURL: &o.ImageURL, CreatedBy: nonEmpty(o.CreatedBy),
			MaxAllowedMemberships: &maxMembers, PublicMetadata: canon(o.PublicMetadata),
			PrivateMetadata: canon(o.PrivateMetadata), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		}
		out = append(out, fieldDiffs("organization "+o.ID, want, row.orgRow)...)
	}
	for id, row := range orgs {
		if !known[id] && row.DeletedAt == nil {
			out = append(out, fmt.Sprintf("organization %s: live in the table, unknown to Clerk", id))
		}
	}

	mems, err := readMemberships(ctx, db)
	if err != nil {
		return nil, err
	}
	known = map[string]bool{}
	for _, mm := range m.Memberships() {
		known[mm.ID] = true
		row, ok := mems[mm.ID]
		if !ok {
			out = append(out, fmt.Sprintf("membership %s: missing", mm.ID))
			continue
		}
		if mm.Deleted != (row.DeletedAt != nil) {
			out = append(out, fmt.Sprintf("membership %s: deleted=%v in Clerk, %v in the table", mm.ID, mm.Deleted, row.DeletedAt != nil))
			continue
		}
		if mm.Deleted {
			continue
		}
		perms := mm.Permissions
		if perms == nil {
			perms = []string{}
		}
		want := memberRow{
			OrganizationID: mm.OrganizationID, UserID: mm.UserID, Role: &mm.Role, Permissions: perms,
			PublicMetadata: canon(mm.PublicMetadata), PrivateMetadata: canon(mm.PrivateMetadata),
			CreatedAt: mm.CreatedAt, UpdatedAt: mm.UpdatedAt,
		}
		out = append(out, fieldDiffs("membership "+mm.ID, want, row.memberRow)...)
	}
	for id, row := range mems {
		if !known[id] && row.DeletedAt == nil {
			out = append(out, fmt.Sprintf("membership %s: live in the table, unknown to Clerk", id))
		}
	}
	sort.Strings(out)
	return out, nil
}

type userRow struct {
	ExternalID, Username, FirstName, LastName, ImageURL, PrimaryEmailAddress *string
	PublicMetadata, PrivateMetadata, UnsafeMetadata                          any
	Banned, Locked                                                           bool
	LastSignInAt                                                             *int64
	CreatedAt, UpdatedAt                                                     int64
}

type orgRow struct {
	Name, Slug, ImageURL, CreatedBy *string
	MaxAllowedMemberships           *int64
	PublicMetadata, PrivateMetadata any
	CreatedAt, UpdatedAt            int64
}

type memberRow struct {
	OrganizationID, UserID          string
	Role                            *string
	Permissions                     []string
	PublicMetadata, PrivateMetadata any
	CreatedAt, UpdatedAt            int64
}

type deletable struct{ DeletedAt *time.Time }

func readUsers(ctx context.Context, db store.DBTX) (map[string]struct {
	userRow
	deletable
}, error) {
	rows, err := db.Query(ctx, `SELECT id, external_id, username, first_name, last_name, image_url,
		primary_email_address, public_metadata::text, private_metadata::text, unsafe_metadata::text,
		coalesce(banned, false), coalesce(locked, false), last_sign_in_at, created_at, updated_at, deleted_at
		FROM clerk.users`)
	if err != nil {
		return nil, err
	}
	out := map[string]struct {
		userRow
		deletable
	}{}
	for rows.Next() {
		var id string
		var r userRow
		var d deletable
		var pub, priv, unsafe *string
		var last, created, updated *time.Time
		if err := rows.Scan(&id, &r.ExternalID, &r.Username, &r.FirstName, &r.LastName, &r.ImageURL,
			&r.PrimaryEmailAddress, &pub, &priv, &unsafe, &r.Banned, &r.Locked, &last, &created, &updated, &d.DeletedAt); err != nil {
			return nil, err
		}
		r.PublicMetadata, r.PrivateMetadata, r.UnsafeMetadata = canonStr(pub), canonStr(priv), canonStr(unsafe)
		r.LastSignInAt = tms(last)
		r.CreatedAt, r.UpdatedAt = tmsv(created), tmsv(updated)
		out[id] = struct {
			userRow
			deletable
		}{r, d}
	}
	return out, rows.Err()
}

func readEmails(ctx context.Context, db store.DBTX) (map[string][]string, error) {
	rows, err := db.Query(ctx, `SELECT user_id, id, email_address, verified, is_primary FROM clerk.user_email_addresses`)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for rows.Next() {
		var uid, id, addr string
		var verified, primary bool
		if err := rows.Scan(&uid, &id, &addr, &verified, &primary); err != nil {
			return nil, err
		}
		out[uid] = append(out[uid], fmt.Sprintf("%s|%s|%v|%v", id, addr, verified, primary))
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out, rows.Err()
}

func readOrganizations(ctx context.Context, db store.DBTX) (map[string]struct {
	orgRow
	deletable
}, error) {
	rows, err := db.Query(ctx, `SELECT id, name, slug, image_url, created_by, max_allowed_memberships,
		public_metadata::text, private_metadata::text, created_at, updated_at, deleted_at FROM clerk.organizations`)
	if err != nil {
		return nil, err
	}
	out := map[string]struct {
		orgRow
		deletable
	}{}
	for rows.Next() {
		var id string
		var r orgRow
		var d deletable
		var pub, priv *string
		var created, updated *time.Time
		if err := rows.Scan(&id, &r.Name, &r.Slug, &r.ImageURL, &r.CreatedBy, &r.MaxAllowedMemberships,
			&pub, &priv, &created, &updated, &d.DeletedAt); err != nil {
			return nil, err
		}
		r.PublicMetadata, r.PrivateMetadata = canonStr(pub), canonStr(priv)
		r.CreatedAt, r.UpdatedAt = tmsv(created), tmsv(updated)
		out[id] = struct {
			orgRow
			deletable
		}{r, d}
	}
	return out, rows.Err()
}

func readMemberships(ctx context.Context, db store.DBTX) (map[string]struct {
	memberRow
	deletable
}, error) {
	rows, err := db.Query(ctx, `SELECT id, organization_id, user_id, role, coalesce(permissions, '{}'),
		public_metadata::text, private_metadata::text, created_at, updated_at, deleted_at
		FROM clerk.organization_memberships`)
	if err != nil {
		return nil, err
	}
	out := map[string]struct {
		memberRow
		deletable
	}{}
	for rows.Next() {
		var id string
		var r memberRow
		var d deletable
		var pub, priv *string
		var created, updated *time.Time
		if err := rows.Scan(&id, &r.OrganizationID, &r.UserID, &r.Role, &r.Permissions, &pub, &priv,
			&created, &updated, &d.DeletedAt); err != nil {
			return nil, err
		}
		r.PublicMetadata, r.PrivateMetadata = canonStr(pub), canonStr(priv)
		r.CreatedAt, r.UpdatedAt = tmsv(created), tmsv(updated)
		out[id] = struct {
			memberRow
			deletable
		}{r, d}
	}
	return out, rows.Err()
}

// fieldDiffs names each field of want and got that differs.
func fieldDiffs(what string, want, got any) []string {
	var out []string
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := 0; i < wv.NumField(); i++ {
		w, g := show(wv.Field(i).Interface()), show(gv.Field(i).Interface())
		if !reflect.DeepEqual(w, g) {
			out = append(out, fmt.Sprintf("%s: %s = %v, want %v", what, wv.Type().Field(i).Name, g, w))
		}
	}
	return out
}

// show dereferences pointers so nil and values compare and print plainly.
func show(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return rv.Elem().Interface()
	}
	return v
}

// canon decodes JSON so formatting and key order do not count; JSON null
// and absence are the same.
func canon(raw json.RawMessage) any {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	var v any
	if err := json.Unmarshal(t, &v); err != nil {
		return "invalid JSON: " + string(raw)
	}
	return v
}

func canonStr(s *string) any {
	if s == nil {
		return nil
	}
	return canon(json.RawMessage(*s))
}

func ms(p *int64) *int64 {
	if p == nil || *p <= 0 {
		return nil
	}
	return p
}

func tms(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func tmsv(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
