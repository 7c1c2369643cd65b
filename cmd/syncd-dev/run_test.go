package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// inRepo runs the test in a fresh directory holding a go.mod, as the
// root of a checkout, and returns it.
func inRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	return root
}

func runWith(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errs bytes.Buffer
	err := run(context.Background(), append([]string{"syncd-dev"}, args...), func(k string) string { return env[k] }, &out, &errs)
	code = exitCode(err, &errs)
	return out.String(), errs.String(), code
}

func TestUsageErrors(t *testing.T) {
	inRepo(t)
	for _, args := range [][]string{nil, {"frobnicate"}, {"with-test-db"}} {
		_, stderr, code := runWith(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "syncd-dev: error:") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and an error", args, code, stderr)
		}
	}
	if stdout, _, code := runWith(t, nil, "help"); code != 0 || !strings.Contains(stdout, "url-for-test") {
		t.Errorf("help: exit %d, stdout %q", code, stdout)
	}
}

// Only the URL goes to stdout, so $(syncd-dev url-for-run) is the URL.
func TestURLOnStdout(t *testing.T) {
	inRepo(t)
	env := map[string]string{"DATABASE_URL": "postgres://u@h/db"}
	for _, cmd := range []string{"url-for-run", "url-for-test"} {
		stdout, stderr, code := runWith(t, env, cmd)
		if code != 0 || stdout != "postgres://u@h/db\n" || !strings.Contains(stderr, "using DATABASE_URL") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", cmd, code, stdout, stderr)
		}
	}
}

// status of a checkout without a cluster exits 3, as pg_ctl status does,
// with nothing on stdout.
func TestStatusWithoutCluster(t *testing.T) {
	inRepo(t)
	stdout, stderr, code := runWith(t, nil, "status")
	if code != 3 || stdout != "" || !strings.Contains(stderr, "no throwaway cluster") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, stderr, code := runWith(t, nil, "stop"); code != 0 || !strings.Contains(stderr, "nothing to stop") {
		t.Errorf("stop: exit %d, stderr %q", code, stderr)
	}
}

func TestRepoRootFromASubdirectory(t *testing.T) {
	root := inRepo(t)
	sub := filepath.Join(root, "internal", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	got, err := repoRoot()
	if want, _ := filepath.EvalSymlinks(root); err != nil || (got != root && got != want) {
		t.Errorf("repoRoot = %q, %v; want %q", got, err, root)
	}
}

func TestDevSecretIsMadeOnceAndKept(t *testing.T) {
	root := inRepo(t)
	stdout, stderr, code := runWith(t, nil, "secret")
	if code != 0 || !strings.Contains(stderr, "generated a dev webhook secret") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	secret := strings.TrimSpace(stdout)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q is not whsec_ and the base64 of 32 bytes (%v)", secret, err)
	}
	fi, err := os.Stat(filepath.Join(root, ".data", "dev-webhook-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the secret file: %v, %v; want mode 0600", fi, err)
	}
	if again, _, _ := runWith(t, nil, "secret"); strings.TrimSpace(again) != secret {
		t.Errorf("second secret %q differs from the first %q", again, secret)
	}
	if got, _, _ := runWith(t, map[string]string{"CLERK_WEBHOOK_SECRET": "whsec_mine"}, "secret"); got != "whsec_mine\n" {
		t.Errorf("CLERK_WEBHOOK_SECRET is not preferred: %q", got)
	}
	if err := os.WriteFile(filepath.Join(root, ".data", "dev-webhook-secret"), []byte("nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runWith(t, nil, "secret"); code != 1 || !strings.Contains(stderr, "delete it and a new one is generated") {
		t.Errorf("a bad secret file: exit %d, stderr %q", code, stderr)
	}
}

func TestSendTestEventNeedsASecret(t *testing.T) {
	root := inRepo(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "syncd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runWith(t, nil, "send-test-event"); code != 1 || !strings.Contains(stderr, "start the server with `make run` first") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestWebhookURL(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://localhost:8080/webhooks/clerk"},
		{map[string]string{"SYNCD_ADDR": "0.0.0.0:9000"}, "http://localhost:9000/webhooks/clerk"},
		{map[string]string{"SYNCD_ADDR": "[::1]:9001"}, "http://localhost:9001/webhooks/clerk"},
		{map[string]string{"SYNCD_ADDR": ":9000", "WEBHOOK_URL": "http://h/x"}, "http://h/x"},
		{map[string]string{"SYNCD_ADDR": "localhost"}, ""},
	} {
		got, err := webhookURL(func(k string) string { return tc.env[k] })
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("%v: %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
}

func TestSetenv(t *testing.T) {
	got := setenv([]string{"A=1", "B=2", "C=3=x"}, "B", "new", "D", "4")
	if want := []string{"A=1", "C=3=x", "B=new", "D=4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("setenv = %q, want %q", got, want)
	}
}
