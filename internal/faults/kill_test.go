package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/synctest"
	"github.com/syncd/syncd/internal/testdb"
)

// seededHistory is a fresh 3,000-event Clerk history and a random source
// for the test's own choices (when to kill, how long to stay down), from a
// seed it logs.
func seededHistory(t *testing.T, salt uint64) (*rand.Rand, *clerkfake.Model, []clerkfake.Event) {
	seed := uint64(time.Now().UnixNano()) + salt
	t.Logf("seed %d", seed)
	m := clerkfake.New(seed)
	return rand.New(rand.NewPCG(seed, salt)), m, m.History(3000)
}

// TestKillNineDuringStreamRecoversWithinBound is the crash of sync rule 7:
// a 3,000-event Clerk history is streamed at the default `syncd serve`,
// which is killed with SIGKILL at a random moment (requests in flight,
// batches half applied) and started again. Every event answered 2xx must
// be applied within two minutes of the restart, and the tables must end
// equal to the model. Five streams, five random moments.
func TestKillNineDuringStreamRecoversWithinBound(t *testing.T) {
	requireFaults(t)
	t.Parallel()
	// The jobs the kills left running, over the five streams: a kill
	// between two batches strands nothing, and five such would prove
	// nothing about recovery.
	var stranded atomic.Int64
	t.Cleanup(func() {
		if !t.Failed() && stranded.Load() == 0 {
			t.Error("no kill landed in the middle of applying (no job was left running)")
		}
	})
	for i := range 5 {
		t.Run(fmt.Sprintf("stream%d", i), func(t *testing.T) {
			t.Parallel()
			rng, m, evs := seededHistory(t, uint64(i))
			url := testdb.NewURL(t)
			pool := syncdtest.OpenPool(t, url)
			secret := clerkfake.NewSecret(nil)
			p := start(t, url, secret)

			snd := newSender(t, secret, p.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			streamed := make(chan struct{})
			go func() { defer close(streamed); snd.run(ctx, evs, 16) }()

			waitAcked(t, snd, len(evs)/10+rng.IntN(len(evs)*8/10))
			whileApplying(t, pool)
			p.Kill(t)
			beforeKill := snd.ackedIDs()
			var pending, running int
			mustQuery(t, pool, `SELECT count(*) FROM clerk.webhook_events WHERE status = 'pending'`, &pending)
			mustQuery(t, pool, `SELECT count(*) FROM river_job WHERE state = 'running'`, &running)
			stranded.Add(int64(running))
			down := time.Duration(rng.IntN(2000)) * time.Millisecond
			time.Sleep(down)

			p = start(t, url, secret)
			restarted := time.Now()
			snd.point(p.URL)
			recovered := waitApplied(t, pool, beforeKill, restarted.Add(recoveryBound))
			finishStream(ctx, t, pool, snd, streamed, len(evs))
			t.Logf("killed after %d acknowledgements with %d events pending and %d jobs left running; down %s; "+
				"all it acknowledged applied %s after the restart; refusals while down: %v",
				len(beforeKill), pending, running, down, recovered.Sub(restarted).Round(time.Millisecond), snd.refusals())
			requireEqualToModel(t, pool, m, synctest.Options{ExactDeletedAt: true})
		})
	}
}

// TestKillNineOfEachRoleRecoversWithinBound splits syncd as a scaled
// deployment does: `serve --role api` ingests, `serve --role worker`
// applies (and leads River). During one 3,000-event stream the worker is
// killed in the middle of applying, then the api process in the middle of
// ingesting; each is started again. Every event answered 2xx is applied
// within two minutes of the last restart, and the tables equal the model.
func TestKillNineOfEachRoleRecoversWithinBound(t *testing.T) {
	requireFaults(t)
	t.Parallel()
	rng, m, evs := seededHistory(t, 5)
	url := testdb.NewURL(t)
	pool := syncdtest.OpenPool(t, url)
	secret := clerkfake.NewSecret(nil)
	role := func(name string) *syncdtest.Syncd {
		s := syncdtest.StartArgs(t, url, []string{"--role", name}, "CLERK_WEBHOOK_SECRET="+secret)
		s.Secret = secret
		return s
	}
	api, worker := role("api"), role("worker")
	snd := newSender(t, secret, api.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	streamed := make(chan struct{})
	go func() { defer close(streamed); snd.run(ctx, evs, 16) }()

	waitAcked(t, snd, 300+rng.IntN(1000))
	running := whileApplying(t, pool)
	worker.Kill(t)
	time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
	role("worker")
	workerBack := time.Now()

	waitAcked(t, snd, 1500+rng.IntN(1000))
	api.Kill(t)
	beforeKill := snd.ackedIDs()
	time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
	api = role("api")
	snd.point(api.URL)

	recovered := waitApplied(t, pool, beforeKill, workerBack.Add(recoveryBound))
	finishStream(ctx, t, pool, snd, streamed, len(evs))
	t.Logf("worker killed with %d jobs running; the %d events acknowledged before the api's kill applied %s after the worker's restart; refusals %v",
		running, len(beforeKill), recovered.Sub(workerBack).Round(time.Millisecond), snd.refusals())
	requireEqualToModel(t, pool, m, synctest.Options{ExactDeletedAt: true})
}
