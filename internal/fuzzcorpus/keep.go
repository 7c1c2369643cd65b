package fuzzcorpus

import (
	"os"
	"testing"
)

// WriteEnv is the environment variable that asks TestFuzzCorpus to rewrite
// the seed files: SYNCD_WRITE_FUZZ_CORPUS=1 go test -run TestFuzzCorpus ./PKG/
const WriteEnv = "SYNCD_WRITE_FUZZ_CORPUS"

// Keep is the body of a package's TestFuzzCorpus. With WriteEnv set to 1 it
// first has write rewrite the package's seed files (seed-*; RemoveSeeds
// them first); then it bounds the corpora (CheckSize), since every seed is
// committed. Inputs a fuzzer saved on a failure are left alone.
func Keep(t *testing.T, maxFiles int, maxBytes int64, write func(*testing.T)) {
	t.Helper()
	if os.Getenv(WriteEnv) == "1" {
		write(t)
	}
	CheckSize(t, maxFiles, maxBytes)
}
