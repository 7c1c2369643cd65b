package webhook_test

import (
	"fmt"
	"testing"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/fuzzcorpus"
)

// TestFuzzCorpus keeps testdata/fuzz small. With SYNCD_WRITE_FUZZ_CORPUS=1
// it first rewrites the seed files (seed-*) from a clerkfake history, one
// or two events of every type, so the fuzzers start from real Clerk bodies:
//
//	SYNCD_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./internal/webhook/
//
// Inputs the fuzzer saves on a failure (hash-named files) are left alone.
func TestFuzzCorpus(t *testing.T) {
	// At most 40 inputs a target, 80 KiB for the package.
	fuzzcorpus.Keep(t, 40, 80<<10, writeWebhookCorpus)
}

func writeWebhookCorpus(t *testing.T) {
	m := clerkfake.New(10)
	m.SetUnsyncedRate(0.1)
	perType := map[string]int{}
	var evs []clerkfake.Event
	for _, ev := range m.History(400) {
		if perType[ev.Type] < 2 {
			perType[ev.Type]++
			evs = append(evs, ev)
		}
	}
	for _, dir := range []string{"FuzzParseEnvelope", "FuzzVerify", "FuzzWebhookRequest"} {
		fuzzcorpus.RemoveSeeds(t, dir)
	}
	for i, ev := range evs {
		name := fmt.Sprintf("seed-%02d-%s", i, ev.Type)
		fuzzcorpus.Write(t, "FuzzParseEnvelope", name, ev.Body)
		if i%2 == 0 {
			fuzzcorpus.Write(t, "FuzzWebhookRequest", name, ev.Body, ev.ID, uint8(i%5), uint(i*37), "", "")
		}
		if i%3 == 0 {
			fuzzcorpus.Write(t, "FuzzVerify", name, ev.Body, ev.ID, uint(i*101), uint8(i+1), "", "")
		}
	}
}
