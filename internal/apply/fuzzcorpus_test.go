package apply_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/fuzzcorpus"
)

// TestFuzzCorpus keeps testdata/fuzz small: the seed corpora are committed.
// With SYNCD_WRITE_FUZZ_CORPUS=1 it first rewrites the seed files (seed-*)
// with the data objects of a clerkfake history, a few of every event type,
// so the fuzzers start from real Clerk payloads:
//
//	SYNCD_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./internal/apply/
func TestFuzzCorpus(t *testing.T) {
	// At most 40 inputs a target, 60 KiB for the package.
	fuzzcorpus.Keep(t, 40, 60<<10, writeApplyCorpus)
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
