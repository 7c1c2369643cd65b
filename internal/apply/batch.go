package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/gjson"

	"github.com/syncd/syncd/internal/store"
)

// op is what an event asks of the tables.
type op int

const (
	opSkip op = iota // a type syncd does not sync
	opUpsertUser
	opUpsertOrganization
	opUpsertMembership
	opDeleteUser
	opDeleteOrganization
	opDeleteMembership
)

// Parsed is one event with its payload decoded, ready to apply. Parsing
// needs no database, so a batch parses all its events before it opens its
// transaction and holds no lock while decoding JSON.
type Parsed struct {
	Event  store.Event
	op     op
	user   store.User
	org    store.Organization
	mem    store.Membership
	memOrg *store.Organization // the organization snapshot a membership carries
	del    Deleted
}

// Parse decodes an event's payload. An error wrapping ErrInvalidPayload
// means the event can never apply.
func Parse(ev store.Event) (Parsed, error) {
	p := Parsed{Event: ev}
	if !Handles(ev.Type) {
		return p, nil
	}
	if !gjson.ValidBytes(ev.Payload) {
		return p, invalid("event %s: payload is not valid JSON", ev.ID)
	}
	data := gjson.GetBytes(ev.Payload, "data")
	if !data.Exists() || data.Type == gjson.Null {
		return p, invalid("event %s: no data", ev.ID)
	}
	raw := []byte(data.Raw)
	var err error
	switch ev.Type {
	case UserCreated, UserUpdated:
		p.op = opUpsertUser
		p.user, err = ParseUser(raw)
	case OrganizationCreated, OrganizationUpdated:
		p.op = opUpsertOrganization
		p.org, err = ParseOrganization(raw)
	case OrganizationMembershipCreated, OrganizationMembershipUpdated:
		p.op = opUpsertMembership
		p.mem, p.memOrg, err = ParseMembership(raw)
	case UserDeleted:
		p.op = opDeleteUser
		p.del, err = ParseDeleted("user", raw)
	case OrganizationDeleted:
		p.op = opDeleteOrganization
		p.del, err = ParseDeleted("organization", raw)
	case OrganizationMembershipDeleted:
		p.op = opDeleteMembership
		p.mem, p.memOrg, err = ParseMembership(raw)
	default:
		return p, fmt.Errorf("event type %s: handled but not dispatched", ev.Type)
	}
	if err != nil {
		return p, err
	}
	if err := checkNotAhead(p); err != nil {
		return p, err
	}
	return p, nil
}

// MaxVersionAhead is how far an event's version may lie beyond the moment
// syncd received it. Clerk stamps updated_at when
// it changes an object and sends the event right after, so a version hours
// ahead of its receipt is forged or broken; written, it would win over every
// real update until that date.
const MaxVersionAhead = time.Hour

// ErrFutureVersion marks an event refused by sync rule 2. It always comes
// wrapped together with ErrInvalidPayload: the event never applies, however
// often it is retried, so it is failed at once.
var ErrFutureVersion = errors.New("version too far ahead of receipt")

// checkNotAhead refuses an event whose versions (the object's updated_at,
// the organization snapshot a membership carries, a deletion's timestamp)
// are more than MaxVersionAhead after its received_at. An event read
// without a receipt time (built in memory, not stored) is not checked.
func checkNotAhead(p Parsed) error {
	if p.Event.ReceivedAt.IsZero() {
		return nil
	}
	limit := p.Event.ReceivedAt.Add(MaxVersionAhead)
	check := func(what string, v time.Time) error {
		if !v.After(limit) {
			return nil
		}
		return fmt.Errorf("%w: %w: event %s: %s %s is more than %s after the event was received (%s)",
			ErrInvalidPayload, ErrFutureVersion, p.Event.ID, what, v.UTC().Format(time.RFC3339Nano),
			MaxVersionAhead, p.Event.ReceivedAt.UTC().Format(time.RFC3339Nano))
	}
	var errs []error
	switch p.op {
	case opUpsertUser:
		errs = append(errs, check("user "+p.user.ID+" updated_at", p.user.UpdatedAt))
	case opUpsertOrganization:
		errs = append(errs, check("organization "+p.org.ID+" updated_at", p.org.UpdatedAt))
	case opUpsertMembership, opDeleteMembership:
		errs = append(errs, check("organization membership "+p.mem.ID+" updated_at", p.mem.UpdatedAt))
		if p.memOrg != nil {
			errs = append(errs, check("organization "+p.memOrg.ID+" updated_at (the membership's snapshot)", p.memOrg.UpdatedAt))
		}
	}
	switch p.op {
	case opDeleteUser, opDeleteOrganization, opDeleteMembership:
		errs = append(errs, check("deletion timestamp", p.Event.OccurredAt))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Batch applies parsed events inside the caller's transaction and returns
// each one's result, in the order given. The tables end as if the events
// had been applied one by one in some order, which the version rule makes
// the same state whatever the order (sync rule 4):
//
//  1. the advisory locks of every user and organization the batch may
//     write, membership parents included, in one sorted order, and the rows
//     of the live memberships its deletions will end, in id order;
//  2. every user version in one upsert, then every organization (events
//     and the snapshots memberships carry) in one, then every membership in
//     one: several versions of one object keep the newest, and the older
//     ones report superseded, as they would after it;
//  3. deletions last, one by one (they are rare, and each ends the
//     memberships of what it deletes, including any written in step 2);
//  4. one read of the stored versions of every object the rule refused, to
//     say why in the event's detail.
func Batch(ctx context.Context, db store.DBTX, ps []Parsed) ([]Result, error) {
	res := make([]Result, len(ps))
	// Every user and organization the batch may write, and those it deletes.
	var orgIDs, userIDs, delOrgs, delUsers []string
	for _, p := range ps {
		switch p.op {
		case opUpsertUser:
			userIDs = append(userIDs, p.user.ID)
		case opDeleteUser:
			userIDs = append(userIDs, p.del.ID)
			delUsers = append(delUsers, p.del.ID)
		case opUpsertOrganization:
			orgIDs = append(orgIDs, p.org.ID)
		case opDeleteOrganization:
			orgIDs = append(orgIDs, p.del.ID)
			delOrgs = append(delOrgs, p.del.ID)
		case opUpsertMembership, opDeleteMembership:
			orgIDs = append(orgIDs, p.mem.OrganizationID)
			userIDs = append(userIDs, p.mem.UserID)
		}
	}
	if err := store.LockObjectsExclusive(ctx, db, orgIDs, userIDs); err != nil {
		return nil, err
	}
	// A deletion also ends memberships whose other parent this batch does
	// not lock; taking their rows now, in id order, keeps two batches that
	// delete crossing parents from meeting on them in opposite orders.
	if len(delUsers)+len(delOrgs) > 0 {
		if err := store.LockMembershipsOf(ctx, db, delUsers, delOrgs); err != nil {
			return nil, err
		}
	}

	// Upserts, a statement per table.
	var users pending[store.User]
	var orgs pending[store.Organization]
	var mems pending[store.Membership]
	for i, p := range ps {
		switch p.op {
		case opSkip:
			res[i] = Result{Status: store.StatusSkipped, Detail: "event type not synced"}
		case opUpsertUser:
			users.add(p.user, i)
		case opUpsertOrganization:
			orgs.add(p.org, i)
		case opUpsertMembership:
			mems.add(p.mem, i)
		}
		if (p.op == opUpsertMembership || p.op == opDeleteMembership) && p.memOrg != nil {
			orgs.add(*p.memOrg, -1)
		}
	}
	var refused []refusal
	record := func(events []int, ws []store.Write) {
		for j, i := range events {
			if i < 0 {
				continue
			}
			res[i] = Result{Status: store.StatusApplied, Write: ws[j]}
			if !ws[j].Written() {
				refused = append(refused, refusalOf(i, ps[i]))
			}
		}
	}
	if err := users.upsert(ctx, db, Users, record); err != nil {
		return nil, err
	}
	if err := orgs.upsert(ctx, db, store.UpsertOrganizations, record); err != nil {
		return nil, err
	}
	if err := mems.upsert(ctx, db, store.UpsertMemberships, record); err != nil {
		return nil, err
	}

	for i, p := range ps {
		var w store.Write
		var err error
		switch p.op {
		case opDeleteUser:
			w, err = deleteParent(ctx, db, store.KindUser, p.del.ID, p.del.ExternalID, p.Event.OccurredAt)
		case opDeleteOrganization:
			w, err = deleteParent(ctx, db, store.KindOrganization, p.del.ID, p.del.Slug, p.Event.OccurredAt)
		case opDeleteMembership:
			w, err = store.TombstoneMembership(ctx, db, p.mem, p.Event.OccurredAt)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		res[i] = Result{Status: store.StatusApplied, Write: w}
		if !w.Written() {
			res[i].Detail = "already deleted"
		}
	}

	if err := describeRefusals(ctx, db, refused, res); err != nil {
		return nil, err
	}
	return res, nil
}

// pending is what a batch writes to one table: the objects, and for each
// the index of the event it came from, or -1 for an organization snapshot a
// membership carries, which has no result of its own.
type pending[T any] struct {
	objs   []T
	events []int
}

func (p *pending[T]) add(obj T, event int) {
	p.objs = append(p.objs, obj)
	p.events = append(p.events, event)
}

// upsert writes the objects, if any, in one call of write, and hands what
// happened to each to record.
func (p *pending[T]) upsert(ctx context.Context, db store.DBTX,
	write func(context.Context, store.DBTX, []T) ([]store.Write, error), record func(events []int, ws []store.Write),
) error {
	if len(p.objs) == 0 {
		return nil
	}
	ws, err := write(ctx, db, p.objs)
	if err != nil {
		return err
	}
	record(p.events, ws)
	return nil
}

// refusal is an upsert the version rule refused.
type refusal struct {
	event   int
	table   string
	id      string
	version time.Time
}

// refusalOf is the refusal of event i, an upsert.
func refusalOf(i int, p Parsed) refusal {
	switch p.op {
	case opUpsertUser:
		return refusal{event: i, table: "users", id: p.user.ID, version: p.user.UpdatedAt}
	case opUpsertOrganization:
		return refusal{event: i, table: "organizations", id: p.org.ID, version: p.org.UpdatedAt}
	default: // opUpsertMembership, the only other op whose write is recorded
		return refusal{event: i, table: "organization_memberships", id: p.mem.ID, version: p.mem.UpdatedAt}
	}
}

// describeRefusals explains each refused write for the operator reading
// clerk.webhook_events. The write itself was decided by the upsert's SQL;
// this read only reports what that decision found.
func describeRefusals(ctx context.Context, db store.DBTX, refused []refusal, res []Result) error {
	byTable := map[string][]string{}
	for _, r := range refused {
		byTable[r.table] = append(byTable[r.table], r.id)
	}
	versions := map[string]map[string]store.Version{}
	for table, ids := range byTable {
		vs, err := store.RowVersions(ctx, db, table, ids)
		if err != nil {
			return err
		}
		versions[table] = vs
	}
	for _, r := range refused {
		st, ok := versions[r.table][r.id]
		w := res[r.event].Write
		switch {
		case !ok:
			res[r.event] = Result{Status: store.StatusSkipped, Detail: "row not written", Write: w}
		case st.DeletedAt != nil:
			res[r.event] = Result{Status: store.StatusSkipped, Write: w,
				Detail: fmt.Sprintf("object was deleted at %s", st.DeletedAt.UTC().Format(time.RFC3339Nano))}
		case st.UpdatedAt != nil && st.UpdatedAt.After(r.version):
			res[r.event] = Result{Status: store.StatusSkipped, Write: w,
				Detail: fmt.Sprintf("superseded: stored version %s is newer than %s",
					st.UpdatedAt.UTC().Format(time.RFC3339Nano), r.version.UTC().Format(time.RFC3339Nano))}
		default:
			res[r.event] = Result{Status: store.StatusApplied, Detail: "already up to date", Write: w}
		}
	}
	return nil
}
