package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/syncd/syncd/internal/batching"
	"github.com/syncd/syncd/internal/jobargs"
	"github.com/syncd/syncd/internal/store"
)

// Group commit: verified requests that arrive while a transaction is
// committing wait for the next one and share it, so a burst of N webhooks
// costs a few commits (and a few WAL flushes) instead of N. Nothing waits on
// a timer: a request that finds no transaction running starts one at once,
// so a lone webhook is answered as fast as before.
//
// Each group is one transaction: a multi-row insert of the events, one
// InsertManyTx of the new synced events' jobs, one commit. Every request in
// the group is answered only after that commit; if it fails, every request
// in the group is answered 503 and nothing of the group is stored.

// Defaults for the committer.
const (
	// defaultMaxGroup bounds one transaction's statement size.
	defaultMaxGroup = 256
	// defaultMaxInflight is how many group transactions may run at once:
	// one can be committing (waiting on the WAL flush) while the next is
	// inserting, which keeps both cores busy without splitting the groups
	// so finely that they stop saving commits.
	defaultMaxInflight = 2
)

// committer batches store requests into group transactions.
type committer struct {
	pool    *pgxpool.Pool
	enq     Enqueuer
	timeout time.Duration
	groups  *batching.Batcher[*pendingEvent]
}

func newCommitter(pool *pgxpool.Pool, enq Enqueuer, timeout time.Duration, maxGroup, maxInflight int) *committer {
	if maxGroup <= 0 {
		maxGroup = defaultMaxGroup
	}
	if maxInflight <= 0 {
		maxInflight = defaultMaxInflight
	}
	c := &committer{pool: pool, enq: enq, timeout: timeout}
	c.groups = batching.New(maxGroup, maxInflight, c.commitGroup)
	return c
}

type pendingEvent struct {
	ev     store.NewEvent
	synced bool
	// deadline is StoreTimeout after the request arrived: its answer is
	// due then, however long it queued behind groups a stalled database
	// holds up.
	deadline time.Time
	// taken is set once, by whichever comes first: its group (the event
	// is then committed or failed with the group, whose own deadline is
	// its earliest member's) or its request giving up at the deadline
	// (the event is then left out of any group, and answered 503).
	taken atomic.Bool
	done  chan stored
}

// stored is what became of one event: new (false for a redelivery) or an
// error that answers 503 (400 for ErrUnstorable, 409 for errConflict).
type stored struct {
	inserted bool
	err      error
}

// errStoreTimeout answers a request whose event waited the whole store
// timeout without its group beginning (the database is stalled): 503, and
// nothing of it is stored.
var errStoreTimeout = errors.New("the event was not stored within the store timeout")

// store files ev in the next group transaction and waits until it has
// committed or failed, or until the store timeout if its group has not
// begun by then.
func (c *committer) store(ev store.NewEvent, synced bool) (bool, error) {
	p := c.pending(ev, synced)
	c.groups.Add(p)
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case res := <-p.done:
		return res.inserted, res.err
	case <-timer.C:
		if p.taken.CompareAndSwap(false, true) {
			return false, errStoreTimeout
		}
		// Its group began in time and ends by the same deadline.
		res := <-p.done
		return res.inserted, res.err
	}
}

// pending is ev waiting for its group, due StoreTimeout from now.
func (c *committer) pending(ev store.NewEvent, synced bool) *pendingEvent {
	return &pendingEvent{ev: ev, synced: synced, deadline: time.Now().Add(c.timeout), done: make(chan stored, 1)}
}

// commitGroup takes the group's requests that are still waiting and
// stores them.
func (c *committer) commitGroup(group []*pendingEvent) {
	live := group[:0:0]
	for _, p := range group {
		if p.taken.CompareAndSwap(false, true) {
			live = append(live, p)
		}
	}
	if len(live) > 0 {
		c.commit(live)
	}
}

// commit stores one group and answers each of its requests. A value
// Postgres cannot store fails the whole statement; the group is then
// retried one event per transaction so that only that event is refused.
func (c *committer) commit(group []*pendingEvent) {
	res, err := c.tx(group)
	if err != nil && errors.Is(err, store.ErrUnstorable) && len(group) > 1 {
		for _, p := range group {
			c.commit([]*pendingEvent{p})
		}
		return
	}
	for i, p := range group {
		if err != nil {
			p.done <- stored{err: err}
			continue
		}
		p.done <- res[i]
	}
}

// errConflict answers a delivery whose svix-id is already stored (or comes
// first in its group) with a different body: 409, and the first is kept.
var errConflict = errors.New("svix-id already received with a different body")

// errVanished answers a delivery whose id the insert found taken but whose
// row was gone a moment later (deleted by retention in between): 503, so
// Svix delivers it again and it is then stored.
var errVanished = errors.New("stored event vanished during the delivery")

// tx is the group's one transaction. A second copy of an id, within the
// group or of one stored before, is a redelivery when its body is the same
// (same body_sha256) and a conflict when it is not; neither stores
// anything.
func (c *committer) tx(group []*pendingEvent) ([]stored, error) {
	deadline := group[0].deadline
	for _, p := range group[1:] {
		if p.deadline.Before(deadline) {
			deadline = p.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	first := make(map[string]int, len(group))
	evs := make([]store.NewEvent, 0, len(group))
	for i, p := range group {
		if _, dup := first[p.ev.ID]; dup {
			continue
		}
		first[p.ev.ID] = i
		evs = append(evs, p.ev)
	}
	out := make([]stored, len(group))
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		inserted, err := store.InsertEvents(ctx, tx, evs)
		if err != nil {
			return err
		}
		// What each id is stored under now: the body just inserted, or the
		// one stored before, read in the same transaction.
		ref := make(map[string][]byte, len(first))
		var taken []string
		for id, i := range first {
			if inserted[id] {
				ref[id] = group[i].ev.BodySHA256
			} else {
				taken = append(taken, id)
			}
		}
		var before map[string][]byte
		if len(taken) > 0 {
			if before, err = store.StoredBodyHashes(ctx, tx, taken); err != nil {
				return err
			}
			for id, sum := range before {
				ref[id] = sum
			}
		}
		var params []river.InsertManyParams
		for i, p := range group {
			id := p.ev.ID
			if first[id] == i && inserted[id] {
				out[i].inserted = true
				if p.synced {
					params = append(params, river.InsertManyParams{Args: jobargs.ApplyEventArgs{EventID: id}})
				}
				continue
			}
			sum, ok := ref[id]
			switch {
			case !ok:
				out[i].err = errVanished
			case sum != nil && p.ev.BodySHA256 != nil && !bytes.Equal(sum, p.ev.BodySHA256):
				out[i].err = errConflict
			}
		}
		if len(params) == 0 {
			return nil
		}
		if _, err := c.enq.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue %d apply jobs: %w", len(params), err)
		}
		return nil
	})
	return out, err
}
