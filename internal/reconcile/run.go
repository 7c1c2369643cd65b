package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/apply"
	"github.com/syncd/syncd/internal/clerkapi"
	"github.com/syncd/syncd/internal/store"
)

// runState is one run at work. Only the goroutine running execute touches
// it; the listing goroutines of stream only call the API client.
type runState struct {
	conn *pgxpool.Conn // the run's own connection: its temporary tables live here
	api  *clerkapi.Client
	id   int64
	dry  bool
	// authoritative repairs conflicts (`syncd reconcile --authoritative`).
	authoritative bool
	// pending are the conflicts of the kind being listed, waiting for
	// their repair (authoritative runs only).
	pending []pendingConflict
	since   time.Time // the run's started_at: rows written later are newer than the run
	totals  store.RunTotals
	logger  *slog.Logger
}

// execute lists each kind and settles its deletion candidates, users first:
// tombstoning a user or organization ends its memberships, which then need
// no GET of their own.
func (x *runState) execute(ctx context.Context) error {
	if err := store.PrepareSeen(ctx, x.conn); err != nil {
		return err
	}
	for _, k := range []kindOps{x.users(), x.organizations(), x.memberships()} {
		if err := stream(ctx, k.list, k.parse); err != nil {
			return fmt.Errorf("list %ss: %w", k.kind, err)
		}
		if err := x.repair(ctx, k.kind); err != nil {
			return fmt.Errorf("repair %s conflicts: %w", k.kind, err)
		}
		if err := x.sweep(ctx, k); err != nil {
			return fmt.Errorf("deleted %ss: %w", k.kind, err)
		}
		c := x.counts(k.kind)
		x.logger.InfoContext(ctx, "reconciled "+string(k.kind)+"s", "seen", c.Seen, "created", c.Created,
			"updated", c.Updated, "deleted", c.Deleted, "unchanged", c.Unchanged, "errors", c.Errors,
			"conflicts", c.Conflicts, "repaired", c.Repaired)
	}
	return nil
}

func (x *runState) counts(kind store.Kind) *store.RunCounts {
	switch kind {
	case store.KindUser:
		return &x.totals.Users
	case store.KindOrganization:
		return &x.totals.Organizations
	default:
		return &x.totals.Memberships
	}
}

// kindOps is what the run does differently for each kind.
type kindOps struct {
	kind store.Kind
	// list streams every object of the kind.
	list lister
	// parse turns a page of raw objects into the write that applies them,
	// counts them and records them as seen. It only parses: it runs on the
	// listing's goroutine.
	parse func(page []json.RawMessage) pageWrite
	// settle decides one deletion candidate (deletions.go).
	settle func(ctx context.Context, c store.Candidate) error
}

func (x *runState) users() kindOps {
	return parentOps(x, store.KindUser, x.api.ListUsers, x.api.GetUser, apply.ParseUser,
		func(u store.User) objRef { return objRef{ID: u.ID, Version: u.UpdatedAt} },
		apply.Users, apply.DeleteUserIfUnchangedSince)
}

func (x *runState) organizations() kindOps {
	return parentOps(x, store.KindOrganization, x.api.ListOrganizations, x.api.GetOrganization, apply.ParseOrganization,
		func(o store.Organization) objRef { return objRef{ID: o.ID, Version: o.UpdatedAt} },
		apply.Organizations, apply.DeleteOrganizationIfUnchangedSince)
}

// parentOps is the kindOps of users or of organizations, which differ only
// in the functions given: a candidate for deletion is settled by a GET of
// that one object.
func parentOps[T any](x *runState, kind store.Kind, list lister,
	get func(context.Context, string) (json.RawMessage, error),
	parse func([]byte) (T, error), ref func(T) objRef,
	write func(context.Context, store.DBTX, []T) ([]store.Write, error), del tombstoneFunc) kindOps {
	k := kindOps{kind: kind, list: list}
	k.parse = func(page []json.RawMessage) pageWrite { return parsePage(x, kind, page, parse, ref, write) }
	k.settle = func(ctx context.Context, c store.Candidate) error {
		raw, err := get(ctx, c.ID)
		return x.settleSingle(ctx, k, c, raw, err, del)
	}
	return k
}

// member is a parsed membership with the organization snapshot it carried.
type member struct {
	m   store.Membership
	org *store.Organization
}

func parseMember(raw []byte) (member, error) {
	m, org, err := apply.ParseMembership(raw)
	return member{m: m, org: org}, err
}

func (x *runState) memberships() kindOps {
	k := kindOps{kind: store.KindMembership, list: x.api.ListMemberships}
	k.parse = func(page []json.RawMessage) pageWrite {
		return parsePage(x, store.KindMembership, page, parseMember,
			func(mb member) objRef {
				return objRef{ID: mb.m.ID, Version: mb.m.UpdatedAt, OrganizationID: mb.m.OrganizationID, UserID: mb.m.UserID}
			}, x.writeMembers)
	}
	k.settle = func(ctx context.Context, c store.Candidate) error { return x.settleMembership(ctx, k, c) }
	return k
}

// writeMembers writes memberships with their organization snapshots. A
// snapshot that changes an organization row (one created or renamed after
// the organizations were listed) counts as organization drift, though not as
// an organization seen.
func (x *runState) writeMembers(ctx context.Context, db store.DBTX, items []member) ([]store.Write, error) {
	ms := make([]store.Membership, len(items))
	var orgs []store.Organization
	for i, it := range items {
		ms[i] = it.m
		if it.org != nil {
			orgs = append(orgs, *it.org)
		}
	}
	mw, ow, err := apply.Memberships(ctx, db, ms, orgs)
	if err != nil || x.dry {
		// A dry run rolled the organizations back, so every snapshot
		// would look like drift again: only a real run counts them.
		return mw, err
	}
	for _, w := range ow {
		switch w {
		case store.Created:
			x.totals.Organizations.Created++
		case store.Updated:
			x.totals.Organizations.Updated++
		}
	}
	return mw, nil
}

// parsePage parses one page of one kind and returns the write that applies
// it in one transaction: the objects (inside a savepoint, rolled back in a
// dry run), their ids into the seen set, and the run's progress. Parsing
// touches nothing shared, so it can run on the listing's goroutine; the
// counting happens in the write, on the run's. An object that cannot be
// parsed, or that Postgres refuses to store, is counted as an error and
// logged by id; it does not stop the run, and it still counts as seen, so
// that it is not mistaken for a deletion.
//
// A listed object the version rule refused is a conflict when its row is a
// tombstone or newer than Clerk's version (conflicts.go): counted as such,
// not as unchanged.
func parsePage[T any](x *runState, kind store.Kind, page []json.RawMessage,
	parse func([]byte) (T, error), ref func(T) objRef,
	write func(context.Context, store.DBTX, []T) ([]store.Write, error)) pageWrite {
	type failure struct {
		id  string
		err error
	}
	items := make([]T, 0, len(page))
	ids := make([]string, 0, len(page))
	var failed []failure
	for _, raw := range page {
		v, err := parse(raw)
		if err != nil {
			oid := objectID(raw)
			failed = append(failed, failure{oid, err})
			if oid != "" {
				ids = append(ids, oid)
			}
			continue
		}
		items = append(items, v)
		ids = append(ids, ref(v).ID)
	}
	return func(ctx context.Context) error {
		c := x.counts(kind)
		c.Seen += int64(len(page))
		c.Errors += int64(len(failed))
		for _, f := range failed {
			x.logger.WarnContext(ctx, "listed object cannot be applied", "kind", kind, "object_id", f.id, "error", f.err.Error())
		}
		return pgx.BeginFunc(ctx, x.conn, func(tx pgx.Tx) error {
			ws, unstorable, err := writeIsolated(ctx, x, tx, kind, items, func(v T) string { return ref(v).ID }, write)
			if err != nil {
				return err
			}
			var refused []objRef
			for i, w := range ws {
				switch {
				case unstorable[i]:
					c.Errors++
				case w == store.Created:
					c.Created++
				case w == store.Updated:
					c.Updated++
				default:
					refused = append(refused, ref(items[i]))
				}
			}
			conflicts, err := x.findConflicts(ctx, tx, kind, refused)
			if err != nil {
				return err
			}
			c.Unchanged += int64(len(refused)) - conflicts
			c.Conflicts += conflicts
			if err := store.RecordSeen(ctx, tx, kind, ids); err != nil {
				return err
			}
			return x.progress(ctx, tx)
		})
	}
}

// writeIsolated writes items in one statement. If Postgres refuses a value
// (a \u0000 in a JSON string, which jsonb cannot hold), the whole statement
// fails, so the page is written again object by object to find and skip the
// offending ones. It returns the write of each item, in order, and which
// items were skipped as unstorable (nil when none was).
func writeIsolated[T any](ctx context.Context, x *runState, tx pgx.Tx, kind store.Kind, items []T, id func(T) string,
	write func(context.Context, store.DBTX, []T) ([]store.Write, error)) ([]store.Write, []bool, error) {
	var ws []store.Write
	err := x.savepoint(ctx, tx, func(sp pgx.Tx) error {
		var err error
		ws, err = write(ctx, sp, items)
		return err
	})
	if err == nil || !errors.Is(err, store.ErrUnstorable) {
		return ws, make([]bool, len(ws)), err
	}
	ws = make([]store.Write, len(items))
	failed := make([]bool, len(items))
	for i, it := range items {
		var w []store.Write
		err := x.savepoint(ctx, tx, func(sp pgx.Tx) error {
			var err error
			w, err = write(ctx, sp, []T{it})
			return err
		})
		switch {
		case errors.Is(err, store.ErrUnstorable):
			failed[i] = true
			x.logger.WarnContext(ctx, "listed object cannot be stored", "kind", kind, "object_id", id(it), "error", err.Error())
		case err != nil:
			return nil, nil, err
		default:
			ws[i] = w[0]
		}
	}
	return ws, failed, nil
}

// savepoint runs fn in a savepoint of tx, released when fn succeeds in a
// real run and always rolled back in a dry run: that rollback is all that
// makes a dry run write nothing, every other step being the same.
func (x *runState) savepoint(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(sp); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	if x.dry {
		return sp.Rollback(ctx)
	}
	return sp.Commit(ctx)
}

// progress records the counts so far, so that GET
// /admin/reconcile/runs/{id} shows a long run moving.
func (x *runState) progress(ctx context.Context, db store.DBTX) error {
	st := x.api.Stats()
	x.totals.APIRequests, x.totals.APIRateLimited = st.Requests, st.RateLimited
	return store.UpdateRunProgress(ctx, db, x.id, x.totals)
}

// objectID digs the id out of an object that failed to parse, for the log
// line and the seen set; empty when even that is impossible.
func objectID(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.ID
}
