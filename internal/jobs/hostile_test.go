package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// rewrite returns e's body with data's fields (and the envelope's
// timestamp, when ts is not nil) replaced.
func rewrite(t *testing.T, e clerkfake.Event, ts any, data map[string]any) []byte {
	t.Helper()
	var env map[string]any
	dec := json.NewDecoder(strings.NewReader(string(e.Body)))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		env["data"].(map[string]any)[k] = v
	}
	if ts != nil {
		env["timestamp"] = ts
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sync rule 2 and bounded timestamps, through River as the service runs
// them: an event whose version lies more than an hour after its receipt, or
// whose timestamps are no Unix milliseconds Postgres and Go can hold, ends
// failed with the reason on its first attempt (its job cancelled, never
// retried), writes nothing, and does not fail the good events of its batch.
func TestUnacceptableVersionsFailAtOnceAndWriteNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testdb.New(t)
	m := clerkfake.New(71)
	now := time.Now()
	ahead := func(d time.Duration) json.Number {
		return json.Number(fmt.Sprint(now.Add(d).UnixMilli()))
	}

	type tc struct {
		name    string
		typ     string // event type
		object  string // the object the event must not write
		body    func() []byte
		occur   time.Time // the envelope's timestamp as stored
		wantErr string    // in webhook_events.error; empty: the event applies
	}
	var cases []tc
	add := func(name, wantErr string, data map[string]any, ts any) {
		u, evs := m.CreateUser()
		e := evs[0]
		occur := time.UnixMilli(e.Timestamp)
		cases = append(cases, tc{name: name, typ: e.Type, object: u.ID, occur: occur, wantErr: wantErr,
			body: func() []byte { return rewrite(t, e, ts, data) }})
	}
	add("updated_at 48 h ahead of receipt", "version too far ahead of receipt",
		map[string]any{"updated_at": ahead(48 * time.Hour)}, ahead(48*time.Hour))
	add("updated_at in the year 3000", "version too far ahead of receipt",
		map[string]any{"updated_at": json.Number("32503680000000")}, nil)
	add("updated_at 61 min ahead", "version too far ahead of receipt",
		map[string]any{"updated_at": ahead(61 * time.Minute)}, nil)
	add("updated_at=9e18", "invalid payload", map[string]any{"updated_at": json.Number("9e18")}, nil)
	add("updated_at=9000000000000000000", "between 1970 and 9999",
		map[string]any{"updated_at": json.Number("9000000000000000000")}, nil)
	add("updated_at=MaxInt64", "between 1970 and 9999",
		map[string]any{"updated_at": json.Number("9223372036854775807")}, nil)
	add("updated_at negative", "between 1970 and 9999", map[string]any{"updated_at": json.Number("-1750000000000")}, nil)
	add("updated_at in the year 10000", "between 1970 and 9999",
		map[string]any{"updated_at": json.Number("253402300800000")}, nil)
	add("created_at=MaxInt64", "between 1970 and 9999",
		map[string]any{"created_at": json.Number("9223372036854775807")}, nil)
	add("last_sign_in_at negative", "between 1970 and 9999",
		map[string]any{"last_sign_in_at": json.Number("-5")}, nil)
	// Within the hour: a clock a little ahead is not a forgery.
	add("updated_at 30 min ahead applies", "", map[string]any{"updated_at": ahead(30 * time.Minute)}, nil)
	add("ordinary user applies", "", nil, nil)

	// A deletion's version is the envelope's timestamp.
	victim, evs := m.CreateUser()
	created := evs[0]
	cases = append(cases, tc{name: "victim created", typ: created.Type, occur: time.UnixMilli(created.Timestamp),
		body: func() []byte { return created.Body }})
	del, err := m.DeleteUser(victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{name: "deletion stamped 48 h ahead", typ: del[0].Type, object: "",
		occur: now.Add(48 * time.Hour), wantErr: "version too far ahead of receipt",
		body: func() []byte { return rewrite(t, del[0], ahead(48*time.Hour), nil) }})

	rows := make([]store.NewEvent, len(cases))
	for i, c := range cases {
		rows[i] = store.NewEvent{ID: fmt.Sprintf("msg_case_%02d", i), Type: c.typ, ObjectID: c.object,
			InstanceID: m.InstanceID(), OccurredAt: c.occur, Payload: c.body(), Status: store.StatusPending}
	}
	if _, err := store.InsertEvents(ctx, pool, rows); err != nil {
		t.Fatal(err)
	}
	got := workAll(t, pool, rows)

	for i, c := range cases {
		o := got[rows[i].ID]
		var attempts int
		if err := pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE args->>'event_id' = $1`, rows[i].ID).Scan(&attempts); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.wantErr == "" {
			if o.status != store.StatusApplied || o.jobState != "completed" {
				t.Errorf("%s: %+v, want applied", c.name, o)
			}
			continue
		}
		if o.status != store.StatusFailed || !strings.Contains(o.errText, c.wantErr) || o.jobState != "cancelled" || attempts != 1 {
			t.Errorf("%s: %+v after %d attempts, want failed with %q on the first attempt and its job cancelled",
				c.name, o, attempts, c.wantErr)
		}
		if c.object != "" {
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM clerk.users WHERE id = $1`, c.object).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s: the refused event wrote clerk.users row %s", c.name, c.object)
			}
		}
	}
	// The refused deletion left its user alive.
	var deleted *time.Time
	if err := pool.QueryRow(ctx, `SELECT deleted_at FROM clerk.users WHERE id = $1`, victim.ID).Scan(&deleted); err != nil {
		t.Fatal(err)
	}
	if deleted != nil {
		t.Errorf("a deletion stamped 48 h ahead tombstoned user %s at %s", victim.ID, deleted)
	}
	// Nothing anywhere is stored as 1969 or beyond 9999.
	var odd int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM clerk.users
		WHERE updated_at < '1970-01-02' OR updated_at > '9999-12-31' OR created_at < '1970-01-01' OR created_at > '9999-12-31'`).Scan(&odd); err != nil {
		t.Fatal(err)
	}
	if odd != 0 {
		t.Errorf("%d users stored with timestamps outside 1970..9999", odd)
	}
}
