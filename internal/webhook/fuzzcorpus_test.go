package webhook_test

import (
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
	maxCorpusBytes = 80 << 10 // per package
)

// TestFuzzCorpus keeps testdata/fuzz small. With SYNCD_WRITE_FUZZ_CORPUS=1
// it first rewrites the seed files (seed-*) from a clerkfake history, one
// or two events of every type, so the fuzzers start from real Clerk bodies:
//
//	SYNCD_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./internal/webhook/
//
// Inputs the fuzzer saves on a failure (hash-named files) are left alone.
func TestFuzzCorpus(t *testing.T) {
	if os.Getenv("SYNCD_WRITE_FUZZ_CORPUS") == "1" {
		writeWebhookCorpus(t)
	}
	checkCorpusSize(t, "testdata/fuzz")
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
		removeSeeds(t, filepath.Join("testdata/fuzz", dir))
	}
	for i, ev := range evs {
		name := fmt.Sprintf("seed-%02d-%s", i, ev.Type)
		writeCorpusFile(t, "FuzzParseEnvelope", name, ev.Body)
		if i%2 == 0 {
			writeCorpusFile(t, "FuzzWebhookRequest", name, ev.Body, ev.ID, uint8(i%5), uint(i*37), "", "")
		}
		if i%3 == 0 {
			writeCorpusFile(t, "FuzzVerify", name, ev.Body, ev.ID, uint(i*101), uint8(i+1), "", "")
		}
	}
}

func removeSeeds(t *testing.T, dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// writeCorpusFile writes one input in the "go test fuzz v1" format.
func writeCorpusFile(t *testing.T, target, name string, args ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case uint, uint8, int64, bool:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			t.Fatalf("corpus value of type %T", a)
		}
	}
	dir := filepath.Join("testdata/fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, ".", "_")), []byte(b.String()), 0o644); err != nil {
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
