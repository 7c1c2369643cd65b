package apply_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/fuzzcorpus"
)

// Corpus limits: the seed corpora are committed, so they stay small.
const (
	maxCorpusFiles = 40
	maxCorpusBytes = 60 << 10 // per package
)

// TestFuzzCorpus keeps testdata/fuzz small. With SYNCD_WRITE_FUZZ_CORPUS=1
// it first rewrites the seed files (seed-*) with the data objects of a
// clerkfake history, a few of every event type, so the fuzzers start from
// real Clerk payloads:
//
//	SYNCD_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./internal/apply/
//
// Inputs the fuzzer saves on a failure (hash-named files) are left alone.
func TestFuzzCorpus(t *testing.T) {
	if os.Getenv("SYNCD_WRITE_FUZZ_CORPUS") == "1" {
		writeApplyCorpus(t)
	}
	fuzzcorpus.CheckSize(t, maxCorpusFiles, maxCorpusBytes)
}

func writeApplyCorpus(t *testing.T) {
	target := map[string]string{
		clerkfake.TypeUserCreated: "FuzzParseUser", clerkfake.TypeUserUpdated: "FuzzParseUser",
		clerkfake.TypeOrganizationCreated: "FuzzParseOrganization", clerkfake.TypeOrganizationUpdated: "FuzzParseOrganization",
		clerkfake.TypeMembershipCreated: "FuzzParseMembership", clerkfake.TypeMembershipUpdated: "FuzzParseMembership",
		clerkfake.TypeMembershipDeleted: "FuzzParseMembership",
		clerkfake.TypeUserDeleted:       "FuzzParseDeleted", clerkfake.TypeOrganizationDeleted: "FuzzParseDeleted",
	}
	for _, dir := range []string{"FuzzParseUser", "FuzzParseOrganization", "FuzzParseMembership", "FuzzParseDeleted"} {
		fuzzcorpus.RemoveSeeds(t, dir)
	}
	perType := map[string]int{}
	for i, ev := range clerkfake.New(11).History(600) {
		name, ok := target[ev.Type]
		if !ok || perType[ev.Type] >= 4 {
			continue
		}
		perType[ev.Type]++
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(ev.Body, &env); err != nil {
			t.Fatal(err)
		}
		fuzzcorpus.Write(t, name, fmt.Sprintf("seed-%03d-%s", i, ev.Type), []byte(env.Data))
	}
}
