package apply_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/clerkfake"
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
	checkCorpusSize(t, "testdata/fuzz")
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
		old, _ := filepath.Glob(filepath.Join("testdata/fuzz", dir, "seed-*"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
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
		writeCorpusFile(t, name, fmt.Sprintf("seed-%03d-%s", i, strings.ReplaceAll(ev.Type, ".", "_")), env.Data)
	}
}

// writeCorpusFile writes one []byte input in the "go test fuzz v1" format.
func writeCorpusFile(t *testing.T, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata/fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkCorpusSize(t *testing.T, root string) {
	t.Helper()
	total := int64(0)
	dirs, _ := os.ReadDir(root)
	for _, d := range dirs {
		files, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > maxCorpusFiles {
			t.Errorf("%s/%s holds %d inputs; keep a seed corpus under %d", root, d.Name(), len(files), maxCorpusFiles)
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil {
				t.Fatal(err)
			}
			total += info.Size()
		}
	}
	if total > maxCorpusBytes {
		t.Errorf("%s holds %d bytes; keep the seed corpora under %d", root, total, maxCorpusBytes)
	}
}
