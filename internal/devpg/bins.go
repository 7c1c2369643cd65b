package devpg

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
)

// BinSearch says where initdb and pg_ctl are looked for: PGBin alone when
// set, else the first PATH directory holding both, else the newest
// versioned install directory matching Patterns. Distributions install the
// server binaries off PATH (Debian: /usr/lib/postgresql/15/bin), which is
// why the patterns exist at all.
type BinSearch struct {
	PGBin    string
	Path     string
	Patterns []string
}

// DefaultPatterns are the versioned install directories of Debian/Ubuntu,
// the PGDG RPMs and Homebrew.
func DefaultPatterns() []string {
	return []string{
		"/usr/lib/postgresql/*/bin",
		"/usr/pgsql-*/bin",
		"/opt/homebrew/opt/postgresql@*/bin",
		"/usr/local/opt/postgresql@*/bin",
	}
}

// Find returns the directory holding initdb and pg_ctl. want is the major
// version of an existing cluster ("15"), which only binaries of that version
// can run; "" takes the first candidate.
func (s BinSearch) Find(ctx context.Context, want string) (string, error) {
	if s.PGBin != "" {
		if !hasServerBins(s.PGBin) {
			return "", fmt.Errorf("PG_BIN=%s does not hold initdb and pg_ctl", s.PGBin)
		}
		if err := checkMajor(ctx, s.PGBin, want); err != nil {
			return "", err
		}
		return s.PGBin, nil
	}
	candidates := s.candidates()
	for _, dir := range candidates {
		if want == "" || major(ctx, dir) == want {
			return dir, nil
		}
	}
	if want != "" && len(candidates) > 0 {
		return "", fmt.Errorf("./.data/pg is a PostgreSQL %s cluster but no PostgreSQL %s server binaries were found (remove it with `make clean-db` to start over with the installed version)", want, want)
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) in PG_BIN, on PATH or under %v", s.Patterns)
}

// candidates lists the directories holding both binaries: PATH's first, then
// the installed versions, newest first.
func (s BinSearch) candidates() []string {
	var dirs []string
	for _, dir := range filepath.SplitList(s.Path) {
		if dir != "" && hasServerBins(dir) {
			dirs = append(dirs, dir)
			break
		}
	}
	var installed []string
	for _, pattern := range s.Patterns {
		matches, _ := filepath.Glob(pattern) // the patterns are constants: no ErrBadPattern
		for _, dir := range matches {
			if hasServerBins(dir) {
				installed = append(installed, dir)
			}
		}
	}
	slices.SortStableFunc(installed, func(a, b string) int {
		return slices.Compare(dirVersion(b), dirVersion(a))
	})
	return append(dirs, installed...)
}

// dirVersion is the version in the name of a bin directory's parent
// ("15" in /usr/lib/postgresql/15/bin, "16.2" in postgresql@16.2/bin) as
// numbers, so 9.6 sorts below 10. Only the parent is read, because the rest
// of the path may hold digits too.
func dirVersion(binDir string) []int {
	var v []int
	for _, n := range regexp.MustCompile(`\d+`).FindAllString(filepath.Base(filepath.Dir(binDir)), -1) {
		i, _ := strconv.Atoi(n) // \d+ always parses, short of overflow
		v = append(v, i)
	}
	return v
}

func hasServerBins(dir string) bool {
	return isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl"))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// major is the major version of the initdb in dir ("15"), or "" if it
// cannot be told.
func major(ctx context.Context, dir string) string {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "initdb"), "--version").Output()
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`\(PostgreSQL\) (\d+)`).FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func checkMajor(ctx context.Context, dir, want string) error {
	if got := major(ctx, dir); want != "" && got != want {
		return fmt.Errorf("./.data/pg is a PostgreSQL %s cluster but %s holds PostgreSQL %s (run `make clean-db` to start over)", want, dir, cmp.Or(got, "of unknown version"))
	}
	return nil
}
