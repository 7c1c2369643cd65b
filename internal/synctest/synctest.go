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
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

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
	users, err := readUsers(ctx, db)
	if err != nil {
		return nil, err
	}
	orgs, err := readOrganizations(ctx, db)
	if err != nil {
		return nil, err
	}
	mems, err := readMemberships(ctx, db)
	if err != nil {
		return nil, err
	}

	var wantUsers []expected[userRow]
	for _, u := range m.Users() {
		var wantEmails []string
		for _, e := range u.EmailAddresses {
			primary := u.PrimaryEmailAddressID != nil && *u.PrimaryEmailAddressID == e.ID
			wantEmails = append(wantEmails, fmt.Sprintf("%s|%s|%v|%v", e.ID, e.EmailAddress, e.Verified, primary))
		}
		sort.Strings(wantEmails)
		wantUsers = append(wantUsers, expected[userRow]{id: u.ID, deleted: u.Deleted, deletedAt: u.DeletedAt, row: userRow{
			ExternalID: u.ExternalID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
			ImageURL: &u.ImageURL, PrimaryEmailAddress: u.PrimaryEmailAddress(),
			PublicMetadata: canon(u.PublicMetadata), PrivateMetadata: canon(u.PrivateMetadata),
			UnsafeMetadata: canon(u.UnsafeMetadata), Banned: u.Banned, Locked: u.Locked,
			LastSignInAt: ms(u.LastSignInAt), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
			EmailAddresses: wantEmails,
		}})
	}
	var wantOrgs []expected[orgRow]
	for _, o := range m.Organizations() {
		maxMembers := o.MaxAllowedMemberships
		wantOrgs = append(wantOrgs, expected[orgRow]{id: o.ID, deleted: o.Deleted, deletedAt: o.DeletedAt, row: orgRow{
			Name: &o.Name, Slug: &o.Slug, ImageURL: &o.ImageURL, CreatedBy: nonEmpty(o.CreatedBy),
			MaxAllowedMemberships: &maxMembers, PublicMetadata: canon(o.PublicMetadata),
			PrivateMetadata: canon(o.PrivateMetadata), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		}})
	}
	var wantMems []expected[memberRow]
	for _, mm := range m.Memberships() {
		perms := mm.Permissions
		if perms == nil {
			perms = []string{}
		}
		// No deletedAt: a membership's deletion time in the table is its
		// parent's or the event's, which the model does not pin down.
		wantMems = append(wantMems, expected[memberRow]{id: mm.ID, deleted: mm.Deleted, row: memberRow{
			OrganizationID: mm.OrganizationID, UserID: mm.UserID, Role: &mm.Role, Permissions: perms,
			PublicMetadata: canon(mm.PublicMetadata), PrivateMetadata: canon(mm.PrivateMetadata),
			CreatedAt: mm.CreatedAt, UpdatedAt: mm.UpdatedAt,
		}})
	}

	out := diffKind("user", wantUsers, users, opts.ExactDeletedAt)
	out = append(out, diffKind("organization", wantOrgs, orgs, opts.ExactDeletedAt)...)
	out = append(out, diffKind("membership", wantMems, mems, false)...)
	sort.Strings(out)
	return out, nil
}

// expected is what the model says of one object: whether it is deleted,
// when (Unix ms), and, when it is not, the row it should have.
type expected[R any] struct {
	id        string
	deleted   bool
	deletedAt int64
	row       R
}

// tableRow is one row as read: its synced fields and its tombstone.
type tableRow[R any] struct {
	row       R
	deletedAt *time.Time
}

// diffKind compares one kind's rows with the model's objects of that kind.
// exactDeletedAt also compares a tombstone's time with the model's.
func diffKind[R any](kind string, want []expected[R], rows map[string]tableRow[R], exactDeletedAt bool) []string {
	var out []string
	known := map[string]bool{}
	for _, w := range want {
		known[w.id] = true
		what := kind + " " + w.id
		row, ok := rows[w.id]
		switch {
		case !ok:
			out = append(out, what+": missing")
		case w.deleted && row.deletedAt == nil:
			out = append(out, what+": deleted in Clerk, live in the table")
		case w.deleted && exactDeletedAt && row.deletedAt.UnixMilli() != w.deletedAt:
			out = append(out, fmt.Sprintf("%s: deleted_at %d, want %d", what, row.deletedAt.UnixMilli(), w.deletedAt))
		case w.deleted:
			// Deleted on both sides: a tombstone's content is not synced.
		case row.deletedAt != nil:
			out = append(out, what+": live in Clerk, deleted in the table")
		default:
			out = append(out, fieldDiffs(what, w.row, row.row)...)
		}
	}
	for id, row := range rows {
		if !known[id] && row.deletedAt == nil {
			out = append(out, fmt.Sprintf("%s %s: live in the table, unknown to Clerk", kind, id))
		}
	}
	return out
}

type userRow struct {
	ExternalID, Username, FirstName, LastName, ImageURL, PrimaryEmailAddress *string
	PublicMetadata, PrivateMetadata, UnsafeMetadata                          any
	Banned, Locked                                                           bool
	LastSignInAt                                                             *int64
	CreatedAt, UpdatedAt                                                     int64
	// EmailAddresses are "id|address|verified|primary", sorted, from
	// clerk.user_email_addresses.
	EmailAddresses []string
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

// readRows runs query and scans each row with scan, keyed by id.
func readRows[R any](ctx context.Context, db store.DBTX, query string,
	scan func(rows pgx.Rows) (id string, r tableRow[R], err error),
) (map[string]tableRow[R], error) {
	rows, err := db.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]tableRow[R]{}
	for rows.Next() {
		id, r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, rows.Err()
}

// readUsers reads clerk.users, each row with its email addresses.
func readUsers(ctx context.Context, db store.DBTX) (map[string]tableRow[userRow], error) {
	emails, err := readEmails(ctx, db)
	if err != nil {
		return nil, err
	}
	return readRows(ctx, db, `SELECT id, external_id, username, first_name, last_name, image_url,
		primary_email_address, public_metadata::text, private_metadata::text, unsafe_metadata::text,
		coalesce(banned, false), coalesce(locked, false), last_sign_in_at, created_at, updated_at, deleted_at
		FROM clerk.users`, func(rows pgx.Rows) (id string, t tableRow[userRow], err error) {
		r := &t.row
		var pub, priv, unsafe *string
		var last, created, updated *time.Time
		if err = rows.Scan(&id, &r.ExternalID, &r.Username, &r.FirstName, &r.LastName, &r.ImageURL,
			&r.PrimaryEmailAddress, &pub, &priv, &unsafe, &r.Banned, &r.Locked, &last, &created, &updated, &t.deletedAt); err != nil {
			return "", t, err
		}
		r.PublicMetadata, r.PrivateMetadata, r.UnsafeMetadata = canonStr(pub), canonStr(priv), canonStr(unsafe)
		r.LastSignInAt = tms(last)
		r.CreatedAt, r.UpdatedAt = tmsv(created), tmsv(updated)
		r.EmailAddresses = emails[id]
		return id, t, nil
	})
}

func readEmails(ctx context.Context, db store.DBTX) (map[string][]string, error) {
	rows, err := db.Query(ctx, `SELECT user_id, id, email_address, verified, is_primary FROM clerk.user_email_addresses`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
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

func readOrganizations(ctx context.Context, db store.DBTX) (map[string]tableRow[orgRow], error) {
	return readRows(ctx, db, `SELECT id, name, slug, image_url, created_by, max_allowed_memberships,
		public_metadata::text, private_metadata::text, created_at, updated_at, deleted_at FROM clerk.organizations`,
		func(rows pgx.Rows) (id string, t tableRow[orgRow], err error) {
			r := &t.row
			var pub, priv *string
			var created, updated *time.Time
			if err = rows.Scan(&id, &r.Name, &r.Slug, &r.ImageURL, &r.CreatedBy, &r.MaxAllowedMemberships,
				&pub, &priv, &created, &updated, &t.deletedAt); err != nil {
				return "", t, err
			}
			r.PublicMetadata, r.PrivateMetadata = canonStr(pub), canonStr(priv)
			r.CreatedAt, r.UpdatedAt = tmsv(created), tmsv(updated)
			return id, t, nil
		})
}

func readMemberships(ctx context.Context, db store.DBTX) (map[string]tableRow[memberRow], error) {
	return readRows(ctx, db, `SELECT id, organization_id, user_id, role, coalesce(permissions, '{}'),
		public_metadata::text, private_metadata::text, created_at, updated_at, deleted_at
		FROM clerk.organization_memberships`, func(rows pgx.Rows) (id string, t tableRow[memberRow], err error) {
		r := &t.row
		var pub, priv *string
		var created, updated *time.Time
		if err = rows.Scan(&id, &r.OrganizationID, &r.UserID, &r.Role, &r.Permissions, &pub, &priv,
			&created, &updated, &t.deletedAt); err != nil {
			return "", t, err
		}
		r.PublicMetadata, r.PrivateMetadata = canonStr(pub), canonStr(priv)
		r.CreatedAt, r.UpdatedAt = tmsv(created), tmsv(updated)
		return id, t, nil
	})
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
