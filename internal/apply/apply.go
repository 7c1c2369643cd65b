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
// the address list always matches the user's last applied state.
func User(ctx context.Context, db store.DBTX, u store.User) (store.Write, error) {
	w, err := store.UpsertUser(ctx, db, u)
	if err != nil || !w.Written() {
		return w, err
	}
	if w == store.Updated {
		if err := store.DeleteUserEmailAddresses(ctx, db, u.ID); err != nil {
			return store.Unchanged, err
		}
	}
	if err := store.InsertUserEmailAddresses(ctx, db, u.ID, u.EmailAddresses); err != nil {
		return store.Unchanged, err
	}
	return w, nil
}

// Organization writes an organization under the version rule.
func Organization(ctx context.Context, db store.DBTX, o store.Organization) (store.Write, error) {
	return store.UpsertOrganization(ctx, db, o)
}

// Membership writes a membership and the organization snapshot it carries.
// The parents' shared locks keep it from slipping between a concurrent
// deletion of its user or organization and that deletion's cascade.
func Membership(ctx context.Context, db store.DBTX, m store.Membership, org *store.Organization) (store.Write, error) {
	if err := lockParentsShared(ctx, db, m); err != nil {
		return store.Unchanged, err
	}
	if org != nil {
		if _, err := store.UpsertOrganization(ctx, db, *org); err != nil {
			return store.Unchanged, err
		}
	}
	return store.UpsertMembership(ctx, db, m)
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
	if err := lockParentsShared(ctx, db, m); err != nil {
		return store.Unchanged, err
	}
	if org != nil {
		if _, err := store.UpsertOrganization(ctx, db, *org); err != nil {
			return store.Unchanged, err
		}
	}
	return store.TombstoneMembership(ctx, db, m, at)
}

func lockParentsShared(ctx context.Context, db store.DBTX, m store.Membership) error {
	if err := store.LockOrganizationShared(ctx, db, m.OrganizationID); err != nil {
		return err
	}
	return store.LockUserShared(ctx, db, m.UserID)
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
