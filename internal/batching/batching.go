// Package batching owns the one pattern behind group commit on ingest and
// batched apply: callers add items one at a time, and whatever has piled up
// while earlier batches were being flushed goes out together in the next.
//
// Nothing waits on a timer. An item that finds a flush slot free is flushed
// at once, alone if need be, so a lone request is as fast as without
// batching; under load the batches grow by themselves to what arrives during
// one flush. That is what makes it cheaper than a fixed delay: the batch size
// follows the load instead of a guess.
package batching

import (
	"sync"
	"time"
)

// Batcher hands the items added to it to Flush in batches of at most
// MaxBatch, with at most MaxInflight calls of Flush running at once. Flush
// must answer every item it is given (items carry their own reply
// channels); Batcher only decides who goes together.
type Batcher[T any] struct {
	flush       func([]T)
	maxBatch    int
	maxInflight int
	linger      time.Duration

	mu       sync.Mutex
	queue    []T
	inflight int
}

// New builds a Batcher. maxBatch and maxInflight are at least 1.
func New[T any](maxBatch, maxInflight int, flush func([]T)) *Batcher[T] {
	return &Batcher[T]{flush: flush, maxBatch: max(1, maxBatch), maxInflight: max(1, maxInflight)}
}

// Linger makes a flush that finds fewer than maxBatch items wait d before
// taking them, once, so that items arriving together go out together even
// when the first of them finds a slot free. It suits producers that hand
// over a burst one item at a time (River starting the jobs of one fetch);
// it costs every batch d of latency. Call it before the first Add.
func (b *Batcher[T]) Linger(d time.Duration) *Batcher[T] {
	b.linger = d
	return b
}

// Add queues item and, when a flush slot is free, starts flushing in a new
// goroutine. It does not wait for the flush.
func (b *Batcher[T]) Add(item T) {
	b.mu.Lock()
	b.queue = append(b.queue, item)
	start := b.inflight < b.maxInflight
	if start {
		b.inflight++
	}
	b.mu.Unlock()
	if start {
		go b.drain()
	}
}

// drain flushes batches until the queue is empty, then frees its slot.
func (b *Batcher[T]) drain() {
	for {
		if b.linger > 0 {
			b.mu.Lock()
			short := len(b.queue) < b.maxBatch
			b.mu.Unlock()
			if short {
				time.Sleep(b.linger)
			}
		}
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), b.maxBatch)
		batch := make([]T, n)
		copy(batch, b.queue)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.flush(batch)
	}
}
