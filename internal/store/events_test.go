package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/internal/testdb"
)

// body_sha256 goes in with the event; StoredBodyHashes reads it back for the
// ids asked, nil for a row stored without one (before migration 00003),
// and nothing for an id with no row.
func TestStoredBodyHashes(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	ctx := context.Background()
	body := []byte(`{"type":"user.created","data":{"id":"user_1"}}`)
	sum := sha256.Sum256(body)
	inserted, err := store.InsertEvents(ctx, pool, []store.NewEvent{
		{ID: "msg_hash", Type: "user.created", Payload: body, BodySHA256: sum[:], Status: store.StatusPending},
		{ID: "msg_old", Type: "user.created", Payload: body, Status: store.StatusPending},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !inserted["msg_hash"] || !inserted["msg_old"] {
		t.Fatalf("inserted %v, want both", inserted)
	}
	got, err := store.StoredBodyHashes(ctx, pool, []string{"msg_hash", "msg_old", "msg_none"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got["msg_hash"], sum[:]) {
		t.Errorf("msg_hash: %x, want %x", got["msg_hash"], sum)
	}
	if h, ok := got["msg_old"]; !ok || h != nil {
		t.Errorf("msg_old: %x (present %v), want present and nil", h, ok)
	}
	if _, ok := got["msg_none"]; ok {
		t.Errorf("msg_none has an entry although it has no row")
	}
}

// What Postgres refuses for what it is, not for its state, is
// ErrUnstorable, and the error carries no part of the value.
func TestUnstorableEventsAreClassified(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	cases := []struct {
		name     string
		payload  string
		sqlstate string
	}{
		{"NUL escape (class 22)", `{"type":"x","data":{"secret":"a\u0000b"}}`, "22P05"},
		{"lone surrogate (class 22)", `{"type":"x","data":{"secret":"\ud800"}}`, "22P02"},
		{"nested past the stack (class 54)", strings.Repeat("[", 400_000) + strings.Repeat("]", 400_000), "54001"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.InsertEvents(context.Background(), pool, []store.NewEvent{
				{ID: "msg_" + string(rune('a'+i)), Type: "x", Payload: []byte(tc.payload), Status: store.StatusPending}})
			if !errors.Is(err, store.ErrUnstorable) {
				t.Fatalf("err = %v, want ErrUnstorable", err)
			}
			if !strings.Contains(err.Error(), tc.sqlstate) {
				t.Errorf("err = %v, want SQLSTATE %s named for the log", err, tc.sqlstate)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("err quotes the value: %v", err)
			}
		})
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM clerk.webhook_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows (%v), want none", n, err)
	}
}
