package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// TestKillNineDuringStreamRecoversWithinBound is the crash of sync rule 7:
// a 3,000-event Clerk history is streamed at the default `syncd serve`,
// which is killed with SIGKILL at a random moment (requests in flight,
// batches half applied) and started again. Every event answered 2xx must
// be applied within two minutes of the restart, and the tables must end
// equal to the model. Five streams, five random moments.
func TestKillNineDuringStreamRecoversWithinBound(t *testing.T) {
	requireFaults(t)
	t.Parallel()
	for i := range 5 {
		t.Run(fmt.Sprintf("stream%d", i), func(t *testing.T) {
			t.Parallel()
			seed := uint64(time.Now().UnixNano()) + uint64(i)
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 9))
			m := clerkfake.New(seed)
			evs := m.History(3000)
			url := testdb.NewURL(t)
			pool := openPool(t, url)
			secret := clerkfake.NewSecret(nil)
			p := start(t, url, secret)

			snd := newSender(t, secret, p.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			streamed := make(chan struct{})
			go func() { defer close(streamed); snd.run(ctx, evs, 16) }()

			killAt := len(evs)/10 + rng.IntN(len(evs)*8/10)
			for len(snd.ackedIDs()) < killAt {
				time.Sleep(time.Millisecond)
			}
			p.Kill(t)
			var pending, running int
			mustQuery(t, pool, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`, &pending)
			mustQuery(t, pool, `SELECT count(*) FROM river_job WHERE state = 'running'`, &running)
			down := time.Duration(rng.IntN(2000)) * time.Millisecond
			time.Sleep(down)

			p = start(t, url, secret)
			restarted := time.Now()
			snd.point(p.URL)
			<-streamed
			if ctx.Err() != nil {
				t.Fatalf("the senders could not deliver the stream within 5 minutes; refusals: %v", snd.refusals())
			}
			acked := snd.ackedIDs()
			if len(acked) != len(evs) {
				t.Fatalf("%d of %d events acknowledged", len(acked), len(evs))
			}
			done := waitApplied(t, pool, acked, restarted.Add(recoveryBound))
			t.Logf("killed after %d acknowledgements with %d events pending and %d jobs running; down %s; "+
				"everything applied %s after the restart; refusals while down: %v",
				killAt, pending, running, down, done.Sub(restarted).Round(time.Millisecond), snd.refusals())
			requireEqualToModel(t, pool, m, synctest.Options{ExactDeletedAt: true})
		})
	}
}
