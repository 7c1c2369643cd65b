package devpg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeBin creates dir/initdb and dir/pg_ctl; initdb --version prints
// version as the real one does.
func fakeBin(t *testing.T, dir, version string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\necho 'initdb (PostgreSQL) %s'\n", version)
	for _, name := range []string{"initdb", "pg_ctl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindBins(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	v96 := fakeBin(t, filepath.Join(root, "usr/lib/postgresql/9.6/bin"), "9.6.24")
	v15 := fakeBin(t, filepath.Join(root, "usr/lib/postgresql/15/bin"), "15.13")
	v13 := fakeBin(t, filepath.Join(root, "usr/lib/postgresql/13/bin"), "13.2")
	v16 := fakeBin(t, filepath.Join(root, "usr/pgsql-16/bin"), "16.4")
	onPath := fakeBin(t, filepath.Join(root, "opt/pg/bin"), "14.1")
	// Not a server install: the client package has no initdb.
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/postgresql/17/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/lib/postgresql/17/bin/pg_ctl"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	patterns := []string{filepath.Join(root, "usr/lib/postgresql/*/bin"), filepath.Join(root, "usr/pgsql-*/bin")}
	emptyPath := filepath.Join(root, "nothing")

	search := BinSearch{Path: emptyPath, Patterns: patterns}
	if got := search.candidates(); !reflect.DeepEqual(got, []string{v16, v15, v13, v96}) {
		t.Errorf("candidates = %q, want newest first, 17 (no initdb) left out", got)
	}
	for _, tc := range []struct {
		name   string
		search BinSearch
		want   string // the directory
		major  string // of the existing cluster
		errHas string
	}{
		{name: "the newest installed", search: search, want: v16},
		{name: "PATH before the installed versions", search: BinSearch{Path: emptyPath + ":" + onPath, Patterns: patterns}, want: onPath},
		{name: "PG_BIN alone", search: BinSearch{PGBin: v13, Path: onPath, Patterns: patterns}, want: v13},
		{name: "PG_BIN without initdb", search: BinSearch{PGBin: emptyPath, Patterns: patterns}, errHas: "does not hold initdb and pg_ctl"},
		{name: "the existing cluster's version", search: search, major: "13", want: v13},
		{name: "PATH's of another version is passed over", search: BinSearch{Path: onPath, Patterns: patterns}, major: "15", want: v15},
		{name: "no binaries of the cluster's version", search: search, major: "12", errHas: "PostgreSQL 12 cluster but no PostgreSQL 12 server binaries"},
		{name: "PG_BIN of another version", search: BinSearch{PGBin: v13}, major: "15", errHas: "holds PostgreSQL 13"},
		{name: "nothing installed", search: BinSearch{Path: emptyPath, Patterns: []string{filepath.Join(root, "none/*/bin")}}, errHas: "no PostgreSQL server binaries (initdb, pg_ctl)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.search.Find(ctx, tc.major)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.errHas)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDirVersion(t *testing.T) {
	for dir, want := range map[string][]int{
		"/usr/lib/postgresql/15/bin":          {15},
		"/tmp/Test123/usr/pgsql-9.6/bin":      {9, 6},
		"/opt/homebrew/opt/postgresql@16/bin": {16},
		"/usr/local/bin":                      nil,
	} {
		if got := dirVersion(dir); !reflect.DeepEqual(got, want) {
			t.Errorf("dirVersion(%q) = %v, want %v", dir, got, want)
		}
	}
}
