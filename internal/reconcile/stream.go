package reconcile

import (
	"context"
	"encoding/json"

	"github.com/syncd/syncd/internal/clerkapi"
)

// lister is one of clerkapi.Client's listings.
type lister func(ctx context.Context, fn clerkapi.PageFunc) error

// pageWrite writes one parsed page; it runs on the run's goroutine.
type pageWrite func(ctx context.Context) error

// stream runs a listing in its own goroutine, which also parses each page
// (prepare), and hands the resulting writes to the caller's goroutine one at
// a time: page k+1 is fetched and parsed while page k is written, which
// keeps both cores busy (parsing is most of the Go side's work, writing
// most of Postgres'). At most three pages are alive at once: the one being
// written, one waiting in the channel and one being fetched. The first
// error (the listing's or a write's) stops both and is returned.
func stream(ctx context.Context, list lister, prepare func([]json.RawMessage) pageWrite) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writes := make(chan pageWrite, 1)
	listErr := make(chan error, 1)
	go func() {
		defer close(writes)
		listErr <- list(ctx, func(page []json.RawMessage) error {
			w := prepare(page)
			select {
			case writes <- w:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for w := range writes {
		if err := w(ctx); err != nil {
			cancel()
			for range writes {
				// Drain so the listing goroutine can see the cancellation
				// and exit.
			}
			<-listErr
			return err
		}
	}
	return <-listErr
}
