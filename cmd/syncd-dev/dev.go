package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/syncd/syncd/internal/devpg"
)

// dev is the local development loop behind `make run` and
// `make send-test-event`.
type dev struct {
	root           string
	getenv         func(string) string
	stdout, stderr io.Writer
}

func (d dev) syncd() (string, error) {
	path := filepath.Join(d.root, "bin", "syncd")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s is missing: build it with `make build`: %w", path, err)
	}
	return path, nil
}

func (d dev) secretFile() string { return filepath.Join(d.root, ".data", "dev-webhook-secret") }

// run finds or starts Postgres, migrates, prints how to reach the server,
// and becomes `syncd serve`.
func (d dev) run(ctx context.Context, finder devpg.Finder) error {
	syncd, err := d.syncd()
	if err != nil {
		return err
	}
	hookURL, err := webhookURL(d.getenv)
	if err != nil {
		return err
	}
	ownDB := d.getenv("DATABASE_URL") == ""
	dbURL, err := finder.URLForRun(ctx)
	if err != nil {
		return err
	}
	secret, note := d.getenv("CLERK_WEBHOOK_SECRET"), "(from CLERK_WEBHOOK_SECRET)"
	if secret == "" {
		if secret, err = devSecret(d.secretFile(), d.stderr); err != nil {
			return err
		}
		note = "(dev secret, kept in .data/dev-webhook-secret)"
	}
	env := setenv(os.Environ(), "DATABASE_URL", dbURL, "CLERK_WEBHOOK_SECRET", secret)

	fmt.Fprintln(d.stderr, "syncd-dev: applying migrations: syncd migrate up")
	migrate := exec.CommandContext(ctx, syncd, "migrate", "up")
	migrate.Env, migrate.Stdout, migrate.Stderr = env, d.stdout, d.stderr
	if err := migrate.Run(); err != nil {
		return fmt.Errorf("syncd migrate up: %w", err)
	}

	fmt.Fprintf(d.stdout, `
======================================================================
 syncd is starting (Ctrl-C stops it)

   Webhook URL:     %s
   Webhook secret:  %s
                    %s
   DATABASE_URL:    %s

 Send a signed test event (from another terminal, in this checkout):

   make send-test-event

`, hookURL, secret, note, dbURL)
	if ownDB {
		fmt.Fprint(d.stdout, ` Postgres keeps running after Ctrl-C, for next time:
   make stop-db stops it, make clean-db deletes its data (./.data/pg).
`)
	}
	fmt.Fprint(d.stdout, "======================================================================\n\n")
	return execve([]string{syncd, "serve"}, env)
}

// sendTestEvent becomes `syncd send-test-event`, signing with the secret
// the server uses.
func (d dev) sendTestEvent() error {
	syncd, err := d.syncd()
	if err != nil {
		return err
	}
	secret := d.getenv("CLERK_WEBHOOK_SECRET")
	if secret == "" {
		if _, err := os.Stat(d.secretFile()); err != nil {
			return errors.New("no dev webhook secret yet: start the server with `make run` first (it creates .data/dev-webhook-secret), or set CLERK_WEBHOOK_SECRET to the secret the server uses")
		}
		if secret, err = devSecret(d.secretFile(), d.stderr); err != nil {
			return err
		}
	}
	url, err := webhookURL(d.getenv)
	if err != nil {
		return err
	}
	argv := []string{syncd, "send-test-event", "--url", url}
	if t := d.getenv("TYPE"); t != "" {
		argv = append(argv, "--type", t)
	}
	fmt.Fprintf(d.stderr, "syncd-dev: running: bin/syncd %s\n", strings.Join(argv[1:], " "))
	return execve(argv, setenv(os.Environ(), "CLERK_WEBHOOK_SECRET", secret))
}

func (d dev) secret() (string, error) {
	if s := d.getenv("CLERK_WEBHOOK_SECRET"); s != "" {
		return s, nil
	}
	return devSecret(d.secretFile(), d.stderr)
}

// webhookURL is $WEBHOOK_URL, else the local URL of the port in SYNCD_ADDR
// (":8080", "0.0.0.0:9000", "[::1]:9000"; default 8080).
func webhookURL(getenv func(string) string) (string, error) {
	if u := getenv("WEBHOOK_URL"); u != "" {
		return u, nil
	}
	addr := getenv("SYNCD_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	if !regexp.MustCompile(`^[0-9]+$`).MatchString(port) {
		return "", fmt.Errorf("SYNCD_ADDR=%s has no port; set it like :8080 or 127.0.0.1:8080", addr)
	}
	return "http://localhost:" + port + "/webhooks/clerk", nil
}

// devSecret returns the dev webhook secret kept in path, first generating
// one (whsec_ and the base64 of 32 random bytes, the shape Svix gives) so it
// survives restarts and send-test-event can sign with it.
func devSecret(path string, log io.Writer) (string, error) {
	if err := createSecret(path, log); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the dev webhook secret: %w", err)
	}
	secret := string(bytes.TrimSpace(b))
	if !strings.HasPrefix(secret, "whsec_") || len(secret) == len("whsec_") {
		return "", fmt.Errorf("%s does not hold a whsec_... secret; delete it and a new one is generated", path)
	}
	return secret, nil
}

// createSecret writes a new secret to path unless it exists. The secret is
// written to a private temporary file and linked into place: a link fails
// when another `make run` got there first, and its secret is kept.
func createSecret(path string, log io.Writer) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create the dev webhook secret: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)                                                         // never fails (crypto/rand documents it)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-webhook-secret.*") // mode 0600
	if err != nil {
		return fmt.Errorf("create the dev webhook secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = fmt.Fprintf(tmp, "whsec_%s\n", base64.StdEncoding.EncodeToString(raw))
	if err := errors.Join(err, tmp.Close()); err != nil {
		return fmt.Errorf("write the dev webhook secret: %w", err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		fmt.Fprintln(log, "syncd-dev: generated a dev webhook secret in .data/dev-webhook-secret")
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("keep the dev webhook secret: %w", err)
	}
	return nil
}
