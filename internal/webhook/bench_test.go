package webhook_test

import (
	"bytes"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
)

// BenchmarkIngest measures the whole ingest path (verify, parse, one
// transaction storing the event and enqueueing its job) over loopback with
// parallel senders. `make bench-ingest` gives the figures beside pgbench.
func BenchmarkIngest(b *testing.B) {
	secret := clerkfake.NewSecret(nil)
	h := newBenchHarness(b, secret)
	m := clerkfake.New(1)
	type req struct {
		body []byte
		hdr  http.Header
	}
	reqs := make([]req, b.N)
	now := time.Now()
	for i := range reqs {
		_, evs := m.CreateUser()
		hdr, err := clerkfake.SignedHeaders(secret, evs[0], now)
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = req{evs[0].Body, hdr}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := reqs[next.Add(1)-1]
			hr, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(r.body))
			hr.Header = r.hdr
			resp, err := client.Do(hr)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
