// Package fuzzcorpus keeps the committed seed corpora of syncd's fuzz
// targets: it writes inputs in Go's "go test fuzz v1" file format and checks
// that a package's testdata/fuzz stays small, since every seed is committed
// and also runs as a unit test. Only tests import it.
package fuzzcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Root is where go test keeps a package's fuzz inputs.
const Root = "testdata/fuzz"

// Write writes one input of target under name ('.' becomes '_'), one line
// per argument of the fuzz function.
func Write(t testing.TB, target, name string, args ...any) {
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
	dir := filepath.Join(Root, target)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, ".", "_")), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// RemoveSeeds deletes the generated seeds (seed-*) of target before they are
// written again; inputs a fuzzer saved on a failure are kept.
func RemoveSeeds(t testing.TB, target string) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(Root, target, "seed-*"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// CheckSize fails the test when a target holds more than maxFiles inputs or
// the package's corpora more than maxBytes.
func CheckSize(t testing.TB, maxFiles int, maxBytes int64) {
	t.Helper()
	total := int64(0)
	dirs, _ := os.ReadDir(Root)
	for _, d := range dirs {
		files, err := os.ReadDir(filepath.Join(Root, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > maxFiles {
			t.Errorf("%s/%s holds %d inputs; keep a seed corpus under %d", Root, d.Name(), len(files), maxFiles)
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil {
				t.Fatal(err)
			}
			total += info.Size()
		}
	}
	if total > maxBytes {
		t.Errorf("%s holds %d bytes; keep the seed corpora under %d", Root, total, maxBytes)
	}
}
