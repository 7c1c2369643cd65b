package batching_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/batching"
)

type item struct {
	n    int
	done chan int // the size of the batch the item went out in
}

func TestEveryItemIsFlushedOnceWithinTheBounds(t *testing.T) {
	const items, maxBatch, maxInflight = 5000, 64, 3
	var running, peak atomic.Int64
	seen := make([]atomic.Int32, items)
	b := batching.New(maxBatch, maxInflight, func(batch []item) {
		if r := running.Add(1); r > peak.Load() {
			peak.Store(r)
		}
		defer running.Add(-1)
		if len(batch) > maxBatch {
			t.Errorf("batch of %d, more than %d", len(batch), maxBatch)
		}
		time.Sleep(200 * time.Microsecond) // a flush takes time, so items pile up
		for _, it := range batch {
			seen[it.n].Add(1)
			it.done <- len(batch)
		}
	})
	var wg sync.WaitGroup
	var grouped atomic.Int64
	for i := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it := item{n: i, done: make(chan int, 1)}
			b.Add(it)
			if <-it.done > 1 {
				grouped.Add(1)
			}
		}()
	}
	wg.Wait()
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("item %d flushed %d times", i, c)
		}
	}
	if p := peak.Load(); p > maxInflight {
		t.Fatalf("%d flushes ran at once, more than %d", p, maxInflight)
	}
	if grouped.Load() == 0 {
		t.Fatal("5000 concurrent items never shared a batch")
	}
}

func TestALoneItemIsFlushedWithoutWaitingForOthers(t *testing.T) {
	b := batching.New(100, 1, func(batch []item) {
		for _, it := range batch {
			it.done <- len(batch)
		}
	})
	for i := range 3 {
		it := item{n: i, done: make(chan int, 1)}
		b.Add(it)
		select {
		case n := <-it.done:
			if n != 1 {
				t.Fatalf("lone item went out in a batch of %d", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a lone item was not flushed")
		}
	}
}
