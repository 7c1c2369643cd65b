package devpg

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// fakeSources records which sources a Finder called, in order.
type fakeSources struct {
	answers, cluster, compose error // nil: the source works
	calls                     []string
}

func (f *fakeSources) finder(env map[string]string) Finder {
	return Finder{
		Getenv: func(k string) string { return env[k] },
		Log:    io.Discard,
		Answers: func(_ context.Context, url string) error {
			f.calls = append(f.calls, "answers "+url)
			return f.answers
		},
		Cluster: func(_ context.Context, db string) (string, error) {
			f.calls = append(f.calls, "cluster "+db)
			return URL(54329, db), f.cluster
		},
		Compose: func(_ context.Context, db string) (string, error) {
			f.calls = append(f.calls, "compose "+db)
			return URL(5432, db), f.compose
		},
	}
}

func TestChoiceOrder(t *testing.T) {
	down := errors.New("down")
	for _, tc := range []struct {
		name      string
		test      bool // url-for-test, else url-for-run
		env       map[string]string
		src       fakeSources
		want      string
		wantCalls []string
		wantTried int // > 0: a NotFoundError with that many reasons
	}{
		{name: "run: DATABASE_URL first", env: map[string]string{"DATABASE_URL": "postgres://x/y"}, want: "postgres://x/y"},
		{name: "run: the cluster", want: URL(54329, "syncd"), wantCalls: []string{"cluster syncd"}},
		{name: "run: compose when the cluster fails", src: fakeSources{cluster: down},
			want: URL(5432, "syncd"), wantCalls: []string{"cluster syncd", "compose syncd"}},
		{name: "run: nothing", src: fakeSources{cluster: down, compose: down},
			wantCalls: []string{"cluster syncd", "compose syncd"}, wantTried: 2},
		{name: "run: ignores the test variable", env: map[string]string{"SYNCD_TEST_DATABASE_URL": "postgres://t/t"},
			want: URL(54329, "syncd"), wantCalls: []string{"cluster syncd"}},

		{name: "test: SYNCD_TEST_DATABASE_URL first", test: true,
			env: map[string]string{"SYNCD_TEST_DATABASE_URL": "postgres://t/t", "DATABASE_URL": "postgres://x/y"}, want: "postgres://t/t"},
		{name: "test: then DATABASE_URL", test: true, env: map[string]string{"DATABASE_URL": "postgres://x/y"}, want: "postgres://x/y"},
		{name: "test: then the machine's server", test: true, want: SystemURL, wantCalls: []string{"answers " + SystemURL}},
		{name: "test: then the cluster's postgres database", test: true, src: fakeSources{answers: down},
			want: URL(54329, "postgres"), wantCalls: []string{"answers " + SystemURL, "cluster postgres"}},
		{name: "test: SYNCD_SKIP_SYSTEM_PG skips the machine's server", test: true, env: map[string]string{"SYNCD_SKIP_SYSTEM_PG": "1"},
			want: URL(54329, "postgres"), wantCalls: []string{"cluster postgres"}},
		{name: "test: then compose", test: true, src: fakeSources{answers: down, cluster: down},
			want: URL(5432, "postgres"), wantCalls: []string{"answers " + SystemURL, "cluster postgres", "compose postgres"}},
		{name: "test: nothing", test: true, src: fakeSources{answers: down, cluster: down, compose: down},
			wantCalls: []string{"answers " + SystemURL, "cluster postgres", "compose postgres"}, wantTried: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.src.finder(tc.env)
			find := f.URLForRun
			if tc.test {
				find = f.URLForTest
			}
			got, err := find(context.Background())
			if !reflect.DeepEqual(tc.src.calls, tc.wantCalls) {
				t.Errorf("calls = %q, want %q", tc.src.calls, tc.wantCalls)
			}
			if tc.wantTried > 0 {
				var nf *NotFoundError
				if !errors.As(err, &nf) || len(nf.Tried) != tc.wantTried {
					t.Fatalf("err = %v, want a NotFoundError with %d reasons", err, tc.wantTried)
				}
				if !errors.Is(err, down) {
					t.Errorf("the error does not wrap the sources' errors: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCancelledSearchIsNotNotFound(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := fakeSources{cluster: errors.New("interrupted")}
	f := src.finder(nil)
	f.Cluster = func(context.Context, string) (string, error) {
		cancel() // as Ctrl-C during initdb
		return "", errors.New("interrupted")
	}
	_, err := f.URLForRun(ctx)
	if !errors.Is(err, context.Canceled) || len(src.calls) != 0 {
		t.Fatalf("err = %v, calls = %q; want context.Canceled and no compose", err, src.calls)
	}
}

func TestURL(t *testing.T) {
	if got, want := URL(54330, "syncd"), "postgres://postgres@127.0.0.1:54330/syncd?sslmode=disable"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if SystemURL != URL(5432, "postgres") {
		t.Errorf("SystemURL = %q, want the postgres database on 5432", SystemURL)
	}
}

func TestNotFoundErrorText(t *testing.T) {
	err := &NotFoundError{Var: "SYNCD_TEST_DATABASE_URL", Tried: []error{
		errors.New("no PostgreSQL server binaries (initdb, pg_ctl) in PG_BIN, on PATH or under [/usr/lib/postgresql/*/bin]"),
		errors.New("docker: not installed"),
	}}
	text := err.Error()
	for _, want := range []string{
		"no PostgreSQL server available for syncd.",
		"What was tried:\n  - no PostgreSQL server binaries",
		"\n  - docker: not installed\n",
		"export SYNCD_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'",
		"sudo apt-get install postgresql",
		"sudo dnf install postgresql-server",
		"brew install postgresql@16",
		"`docker compose up -d postgres` is then used",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the error lacks %q:\n%s", want, text)
		}
	}
	if text := (&NotFoundError{Var: "DATABASE_URL"}).Error(); strings.Contains(text, "What was tried") || !strings.Contains(text, "export DATABASE_URL=") {
		t.Errorf("with nothing tried:\n%s", text)
	}
}
