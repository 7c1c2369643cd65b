package apply

import (
	"context"
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
// stored, acknowledged and marked skipped.
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
	Status store.EventStatus // StatusApplied or StatusSkipped
	Detail string            // why it was skipped, or what an applied no-op found
	Write  store.Write
}

// Event applies one stored webhook event inside the caller's transaction:
// Batch with one event. An error wrapping ErrInvalidPayload means the event
// can never apply.
func Event(ctx context.Context, db store.DBTX, ev store.Event) (Result, error) {
	p, err := Parse(ev)
	if err != nil {
		return Result{}, err
	}
	res, err := Batch(ctx, db, []Parsed{p})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
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

// deleteParent tombstones a user or an organization and ends its
// memberships. key is the user's external_id or the organization's slug.
// The caller holds the object's exclusive lock (Batch takes it first).
func deleteParent(ctx context.Context, db store.DBTX, kind store.Kind, id string, key *string, at time.Time) (store.Write, error) {
	w, err := store.TombstoneParent(ctx, db, kind, id, key, at)
	if err != nil {
		return store.Unchanged, err
	}
	// Always sweep, even when the object was already deleted: the sweep is
	// what guarantees no live membership outlives its user or organization.
	if _, err := store.EndMembershipsOf(ctx, db, kind, id, at); err != nil {
		return store.Unchanged, err
	}
	return w, nil
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
	return deleteParentIfUnchangedSince(ctx, db, store.KindUser, store.LockUserExclusive, id, since, at)
}

// DeleteOrganizationIfUnchangedSince is DeleteUserIfUnchangedSince for an
// organization.
func DeleteOrganizationIfUnchangedSince(ctx context.Context, db store.DBTX, id string, since, at time.Time) (bool, int64, error) {
	return deleteParentIfUnchangedSince(ctx, db, store.KindOrganization, store.LockOrganizationExclusive, id, since, at)
}

// deleteParentIfUnchangedSince is the two above. lock takes the object's
// exclusive lock, which keeps a membership write from slipping between the
// tombstone and the sweep of its memberships.
func deleteParentIfUnchangedSince(ctx context.Context, db store.DBTX, kind store.Kind,
	lock func(context.Context, store.DBTX, string) error, id string, since, at time.Time,
) (bool, int64, error) {
	if err := lock(ctx, db, id); err != nil {
		return false, 0, err
	}
	ok, err := store.TombstoneIfUnchangedSince(ctx, db, kind, id, since, at)
	if err != nil || !ok {
		return false, 0, err
	}
	n, err := store.EndMembershipsOf(ctx, db, kind, id, at)
	if err != nil {
		return false, 0, err
	}
	return true, n, nil
}

// DeleteMembershipIfUnchangedSince tombstones a live membership at `at`
// unless its row was written since `since`. Ending a membership cannot race
// with its parents' deletion (both only end it), so it takes no lock.
func DeleteMembershipIfUnchangedSince(ctx context.Context, db store.DBTX, id string, since, at time.Time) (bool, error) {
	return store.TombstoneIfUnchangedSince(ctx, db, store.KindMembership, id, since, at)
}
