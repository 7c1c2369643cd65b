package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/syncd/syncd/internal/store"
)

// Event types syncd syncs. Clerk spells the membership ones in camelCase.
const (
	UserCreated                   = "user.created"
	UserUpdated                   = "user.updated"
	UserDeleted                   = "user.deleted"
	OrganizationCreated           = "organization.created"
	OrganizationUpdated           = "organization.updated"
	OrganizationDeleted           = "organization.deleted"
	OrganizationMembershipCreated = "organizationMembership.created"
	OrganizationMembershipUpdated = "organizationMembership.updated"
	OrganizationMembershipDeleted = "organizationMembership.deleted"
)

// Handles reports whether syncd applies events of this type. Others are
// stored, acknowledged and marked skipped (CONTRACT.md sync rule 6).
func Handles(eventType string) bool {
	switch eventType {
	case UserCreated, UserUpdated, UserDeleted,
		OrganizationCreated, OrganizationUpdated, OrganizationDeleted,
		OrganizationMembershipCreated, OrganizationMembershipUpdated, OrganizationMembershipDeleted:
		return true
	}
	return false
}

// Result is what applying one event did.
type Result struct {
	Status string // store.StatusApplied or store.StatusSkipped
	Detail string // why it was skipped, or what an applied no-op found
	Write  store.Write
}

// Event applies one stored webhook event inside the caller's transaction.
// An error wrapping ErrInvalidPayload means the event can never apply.
func Event(ctx context.Context, db store.DBTX, ev store.Event) (Result, error) {
	if !Handles(ev.Type) {
		return Result{Status: store.StatusSkipped, Detail: "event type not synced"}, nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ev.Payload, &env); err != nil {
		return Result{}, invalid("event %s: %v", ev.ID, err)
	}
	if isNull(env.Data) {
		return Result{}, invalid("event %s: no data", ev.ID)
	}
	switch ev.Type {
	case UserCreated, UserUpdated:
		u, err := ParseUser(env.Data)
		if err != nil {
			return Result{}, err
		}
		w, err := User(ctx, db, u)
		if err != nil {
			return Result{}, err
		}
		return describeUpsert(ctx, db, "users", u.ID, u.UpdatedAt, w)
	case OrganizationCreated, OrganizationUpdated:
		o, err := ParseOrganization(env.Data)
		if err != nil {
			return Result{}, err
		}
		w, err := Organization(ctx, db, o)
		if err != nil {
			return Result{}, err
		}
		return describeUpsert(ctx, db, "organizations", o.ID, o.UpdatedAt, w)
	case OrganizationMembershipCreated, OrganizationMembershipUpdated:
		m, org, err := ParseMembership(env.Data)
		if err != nil {
			return Result{}, err
		}
		w, err := Membership(ctx, db, m, org)
		if err != nil {
			return Result{}, err
		}
		return describeUpsert(ctx, db, "organization_memberships", m.ID, m.UpdatedAt, w)
	case UserDeleted:
		d, err := ParseDeleted("user", env.Data)
		if err != nil {
			return Result{}, err
		}
		w, err := DeleteUser(ctx, db, d.ID, d.ExternalID, ev.OccurredAt)
		return describeDelete(w, err)
	case OrganizationDeleted:
		d, err := ParseDeleted("organization", env.Data)
		if err != nil {
			return Result{}, err
		}
		w, err := DeleteOrganization(ctx, db, d.ID, d.Slug, ev.OccurredAt)
		return describeDelete(w, err)
	case OrganizationMembershipDeleted:
		m, org, err := ParseMembership(env.Data)
		if err != nil {
			return Result{}, err
		}
		w, err := DeleteMembership(ctx, db, m, org, ev.OccurredAt)
		return describeDelete(w, err)
	}
	return Result{}, fmt.Errorf("event type %s: handled but not dispatched", ev.Type)
}

// User writes a user and, when the row was written, its email addresses, so
// the address list always matches the user's last applied state. It is
// Users with one element.
func User(ctx context.Context, db store.DBTX, u store.User) (store.Write, error) {
	ws, err := Users(ctx, db, []store.User{u})
	if err != nil {
		return store.Unchanged, err
	}
	return ws[0], nil
}

// Users writes a batch of users (a page of a reconciliation listing) in
// three statements: the users, then the address lists of those written are
// replaced. It returns what happened to each user, in the order given.
func Users(ctx context.Context, db store.DBTX, users []store.User) ([]store.Write, error) {
	ws, err := store.UpsertUsers(ctx, db, users)
	if err != nil {
		return nil, err
	}
	var replaced []string
	var written []store.User
	for i, w := range ws {
		if w == store.Updated {
			replaced = append(replaced, users[i].ID)
		}
		if w.Written() {
			written = append(written, users[i])
		}
	}
	if err := store.DeleteEmailAddressesOfUsers(ctx, db, replaced); err != nil {
		return nil, err
	}
	if err := store.InsertEmailAddressesOfUsers(ctx, db, written); err != nil {
		return nil, err
	}
	return ws, nil
}

// Organization writes an organization under the version rule.
func Organization(ctx context.Context, db store.DBTX, o store.Organization) (store.Write, error) {
	return store.UpsertOrganization(ctx, db, o)
}

// Organizations writes a batch of organizations in one statement.
func Organizations(ctx context.Context, db store.DBTX, orgs []store.Organization) ([]store.Write, error) {
	return store.UpsertOrganizations(ctx, db, orgs)
}

// Membership writes a membership and the organization snapshot it carries.
// The parents' shared locks keep it from slipping between a concurrent
// deletion of its user or organization and that deletion's cascade. It is
// Memberships with one element.
func Membership(ctx context.Context, db store.DBTX, m store.Membership, org *store.Organization) (store.Write, error) {
	ws, _, err := Memberships(ctx, db, []store.Membership{m}, snapshots(org))
	if err != nil {
		return store.Unchanged, err
	}
	return ws[0], nil
}

// Memberships writes a batch of memberships and the organization snapshots
// they carried (orgs, in any number and order; each snapshot obeys the
// organization's version rule). It takes the shared locks of every parent
// first, all organizations then all users in sorted order, as Membership
// does for one. It returns what happened to each membership and each
// snapshot, in the order given.
func Memberships(ctx context.Context, db store.DBTX, ms []store.Membership, orgs []store.Organization) (memberships, organizations []store.Write, err error) {
	orgIDs := make([]string, 0, len(ms)+len(orgs))
	userIDs := make([]string, 0, len(ms))
	for _, m := range ms {
		orgIDs = append(orgIDs, m.OrganizationID)
		userIDs = append(userIDs, m.UserID)
	}
	for _, o := range orgs {
		orgIDs = append(orgIDs, o.ID)
	}
	if err := store.LockParentsShared(ctx, db, orgIDs, userIDs); err != nil {
		return nil, nil, err
	}
	organizations, err = store.UpsertOrganizations(ctx, db, orgs)
	if err != nil {
		return nil, nil, err
	}
	memberships, err = store.UpsertMemberships(ctx, db, ms)
	if err != nil {
		return nil, nil, err
	}
	return memberships, organizations, nil
}

func snapshots(org *store.Organization) []store.Organization {
	if org == nil {
		return nil
	}
	return []store.Organization{*org}
}

// DeleteUser tombstones a user and ends its memberships.
func DeleteUser(ctx context.Context, db store.DBTX, id string, externalID *string, at time.Time) (store.Write, error) {
	if err := store.LockUserExclusive(ctx, db, id); err != nil {
		return store.Unchanged, err
	}
	w, err := store.TombstoneUser(ctx, db, id, externalID, at)
	if err != nil {
		return store.Unchanged, err
	}
	// Always sweep, even when the user was already deleted: the sweep is what
	// guarantees no live membership outlives its user.
	if _, err := store.DeleteUserMemberships(ctx, db, id, at); err != nil {
		return store.Unchanged, err
	}
	return w, nil
}

// DeleteOrganization tombstones an organization and ends its memberships.
func DeleteOrganization(ctx context.Context, db store.DBTX, id string, slug *string, at time.Time) (store.Write, error) {
	if err := store.LockOrganizationExclusive(ctx, db, id); err != nil {
		return store.Unchanged, err
	}
	w, err := store.TombstoneOrganization(ctx, db, id, slug, at)
	if err != nil {
		return store.Unchanged, err
	}
	if _, err := store.DeleteOrganizationMemberships(ctx, db, id, at); err != nil {
		return store.Unchanged, err
	}
	return w, nil
}

// DeleteMembership tombstones a membership; the organization snapshot of
// organizationMembership.deleted is still a valid organization state.
func DeleteMembership(ctx context.Context, db store.DBTX, m store.Membership, org *store.Organization, at time.Time) (store.Write, error) {
	if err := store.LockParentsShared(ctx, db, []string{m.OrganizationID}, []string{m.UserID}); err != nil {
		return store.Unchanged, err
	}
	if org != nil {
		if _, err := store.UpsertOrganization(ctx, db, *org); err != nil {
			return store.Unchanged, err
		}
	}
	return store.TombstoneMembership(ctx, db, m, at)
}

// Reconciliation's deletions. Clerk sends no version with a deletion, and
// reconciliation learns of one only from a 404, so these do not take an
// event time: they tombstone a row only while it is still live and no write
// has touched it since the run started (since), because a write during the
// run came from a webhook that knows more than the run does (sync rule 5).
// A tombstoned user or organization ends its memberships exactly as a
// webhook deletion does.

// DeleteUserIfUnchangedSince tombstones a live user at `at` unless its row
// was written since `since`, and ends its memberships. It reports whether
// the user was tombstoned and how many memberships that ended.
func DeleteUserIfUnchangedSince(ctx context.Context, db store.DBTX, id string, since, at time.Time) (bool, int64, error) {
	if err := store.LockUserExclusive(ctx, db, id); err != nil {
		return false, 0, err
	}
	ok, err := store.TombstoneUserIfUnchangedSince(ctx, db, id, since, at)
	if err != nil || !ok {
		return false, 0, err
	}
	n, err := store.DeleteUserMemberships(ctx, db, id, at)
	if err != nil {
		return false, 0, err
	}
	return true, n, nil
}

// DeleteOrganizationIfUnchangedSince is DeleteUserIfUnchangedSince for an
// organization.
func DeleteOrganizationIfUnchangedSince(ctx context.Context, db store.DBTX, id string, since, at time.Time) (bool, int64, error) {
	if err := store.LockOrganizationExclusive(ctx, db, id); err != nil {
		return false, 0, err
	}
	ok, err := store.TombstoneOrganizationIfUnchangedSince(ctx, db, id, since, at)
	if err != nil || !ok {
		return false, 0, err
	}
	n, err := store.DeleteOrganizationMemberships(ctx, db, id, at)
	if err != nil {
		return false, 0, err
	}
	return true, n, nil
}

// DeleteMembershipIfUnchangedSince tombstones a live membership at `at`
// unless its row was written since `since`. Ending a membership cannot race
// with its parents' deletion (both only end it), so it takes no lock.
func DeleteMembershipIfUnchangedSince(ctx context.Context, db store.DBTX, id string, since, at time.Time) (bool, error) {
	return store.TombstoneMembershipIfUnchangedSince(ctx, db, id, since, at)
}

func describeDelete(w store.Write, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	if !w.Written() {
		return Result{Status: store.StatusApplied, Detail: "already deleted", Write: w}, nil
	}
	return Result{Status: store.StatusApplied, Write: w}, nil
}

// describeUpsert explains a refused write for the operator reading
// clerk.webhook_events. The write itself was decided by the upsert's SQL;
// this read only reports what that decision found.
func describeUpsert(ctx context.Context, db store.DBTX, table, id string, version time.Time, w store.Write) (Result, error) {
	if w.Written() {
		return Result{Status: store.StatusApplied, Write: w}, nil
	}
	st, err := store.RowVersion(ctx, db, table, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Result{Status: store.StatusSkipped, Detail: "row not written", Write: w}, nil
		}
		return Result{}, err
	}
	switch {
	case st.DeletedAt != nil:
		return Result{Status: store.StatusSkipped, Write: w,
			Detail: fmt.Sprintf("object was deleted at %s", st.DeletedAt.UTC().Format(time.RFC3339Nano))}, nil
	case st.UpdatedAt != nil && st.UpdatedAt.After(version):
		return Result{Status: store.StatusSkipped, Write: w,
			Detail: fmt.Sprintf("superseded: stored version %s is newer than %s",
				st.UpdatedAt.UTC().Format(time.RFC3339Nano), version.UTC().Format(time.RFC3339Nano))}, nil
	default:
		return Result{Status: store.StatusApplied, Detail: "already up to date", Write: w}, nil
	}
}
