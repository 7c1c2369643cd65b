# syncd: developer and CI entry points. `make help` lists them.
#
# Postgres is found (or started) by bin/syncd-dev (cmd/syncd-dev, built here
# first), the one place that logic lives:
#   make run   DATABASE_URL, else a throwaway cluster in ./.data/pg, else
#              `docker compose up -d postgres`, else an error saying what to do
#   make test  SYNCD_TEST_DATABASE_URL, else DATABASE_URL, else the local
#              server on 127.0.0.1:5432, else the throwaway cluster, else
#              docker compose, else the same error

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
PKGS     ?= ./...
# Extra `go test` flags, e.g. make test TESTFLAGS='-run TestApply -v'
TESTFLAGS ?=
FUZZTIME ?= 30s
# Extra arguments for the syncd-bench program, e.g. make bench-ingest ARGS='-n 100000'
ARGS     ?=

# golangci-lint, built from the Go module proxy into ./bin by `make lint`
# (lint-tools) when missing or of another version; .golangci.yml is its
# configuration. shellcheck comes from Debian's package.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT         := bin/golangci-lint

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS  = -X main.version=$(VERSION) -X main.commit=$(COMMIT)

PG      := bin/syncd-dev
WITH_DB := $(PG) with-test-db

# Every target that runs $(PG) builds it first (a rule of prerequisites
# only, so those targets' own lines need not name it).
run send-test-event start-db stop-db clean-db test test-long test-faults soak bench bench-go \
	bench-ingest bench-apply bench-reconcile fuzz: dev-tool

.PHONY: dev-tool
dev-tool:
	@$(GO) build -o $(PG) ./cmd/syncd-dev

export GO FUZZTIME

.PHONY: help build run send-test-event start-db stop-db clean-db \
	test test-long test-faults soak bench bench-go bench-tool bench-ingest bench-apply bench-reconcile \
	lint lint-tools fmt fuzz fuzz-short docker-build docker-up clean

help: ## list the targets
	@echo "usage: make TARGET"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/syncd with version and commit
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/syncd ./cmd/syncd

run: build ## run syncd locally: Postgres, migrations, dev secret, then syncd serve
	@$(PG) run

send-test-event: build ## POST a signed sample event to the local server (TYPE=user.updated)
	@$(PG) send-test-event

start-db: ## start (or reuse) the throwaway Postgres in ./.data/pg; print its URL
	@$(PG) start

stop-db: ## stop the throwaway Postgres
	@$(PG) stop

clean-db: ## stop the throwaway Postgres and delete ./.data/pg
	@$(PG) clean

test: ## go test -race -count=1 ./... against Postgres
	$(WITH_DB) $(GO) test -race -count=1 $(TESTFLAGS) $(PKGS)

test-long: ## the tests with SYNCD_LONG=1 (long-running cases), 30m timeout
	SYNCD_LONG=1 $(WITH_DB) $(GO) test -race -count=1 -timeout 30m $(TESTFLAGS) $(PKGS)

# The fault suite kills syncd, restarts and stalls Postgres (a cluster of
# each test's own for restarts) and takes Clerk down; CI runs it. Its tests
# mostly wait on River's rescue timer, so they run side by side.
test-faults: ## the fault suite (internal/faults): kill -9, Postgres restarts and stalls, Clerk down (a few minutes)
	SYNCD_TEST_FAULTS=1 $(WITH_DB) $(GO) test -race -count=1 -parallel 16 -timeout 20m $(TESTFLAGS) ./internal/faults/

SOAK ?= 30m
soak: ## SOAK (30m) at 500 events/s with replays and a reconciliation; prints growth every minute, fails on unbounded growth
	SYNCD_SOAK=$(SOAK) $(WITH_DB) $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 0 ./internal/faults/

bench: build bench-tool ## the default `syncd serve` under load, ingest and apply at once, beside pgbench (medians of 3 runs)
	$(WITH_DB) bin/syncd-bench serve $(ARGS)

bench-go: ## every Go benchmark (go test -bench)
	$(WITH_DB) $(GO) test -run '^$$' -bench . -benchmem $(TESTFLAGS) $(PKGS)

bench-tool:
	$(GO) build -o bin/syncd-bench ./cmd/syncd-bench

bench-ingest: build bench-tool ## syncd serve --role api alone, beside pgbench
	$(WITH_DB) bin/syncd-bench ingest $(ARGS)

bench-apply: bench-tool ## the apply workers alone, draining a stored backlog
	$(WITH_DB) bin/syncd-bench apply $(ARGS)

bench-reconcile: bench-tool ## a reconciliation of 100,000 users against the fake Backend API
	$(WITH_DB) bin/syncd-bench reconcile $(ARGS)

lint: lint-tools ## gofmt -l, go vet, golangci-lint (.golangci.yml), shellcheck on the shell scripts
	@GOLANGCI_LINT=$(GOLANGCI_LINT) scripts/lint.sh

# Builds golangci-lint from source: minutes on a cold module and build
# cache, seconds on a warm one. shellcheck: apt-get as root, else sudo
# apt-get, else a message saying how to install it.
lint-tools: ## install golangci-lint $(GOLANGCI_LINT_VERSION) into ./bin and shellcheck, if missing
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -q 'has version $(GOLANGCI_LINT_VERSION:v%=%) '; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into ./bin (go install; minutes on a cold cache)"; \
		rm -f $(GOLANGCI_LINT); \
		GOBIN=$(CURDIR)/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi
	@if ! command -v shellcheck >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [[ $$(id -u) -eq 0 ]]; then sudo=; \
		elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then sudo=sudo; \
		else \
			echo "lint: shellcheck is not installed: apt-get install shellcheck (Debian, Ubuntu) or brew install shellcheck (macOS), then make lint again" >&2; \
			exit 1; \
		fi; \
		echo "installing shellcheck ($${sudo:+sudo }apt-get install shellcheck)"; \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; \
	fi

fmt: ## gofmt -w every Go file
	@find . \( -path ./.data -o -path ./.git -o -path ./bin -o -name vendor -o -name testdata \) -prune \
		-o -type f -name '*.go' -print0 | xargs -0 gofmt -w

# No fuzz target needs Postgres: the webhook handler is fuzzed up to its
# store call (scripts/fuzz.sh says how targets are found).
fuzz: ## run each Fuzz* target for FUZZTIME (30s), one after another
	scripts/fuzz.sh

fuzz-short: ## run each Fuzz* target for 3s (CI runs this after make test)
	FUZZTIME=3s scripts/fuzz.sh

docker-build: ## build the syncd image (syncd:local) with version and commit
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t syncd:local .

docker-up: ## docker compose up --build (needs CLERK_WEBHOOK_SECRET)
	VERSION=$(VERSION) COMMIT=$(COMMIT) docker compose up --build

clean: ## remove bin/ (the database stays: make clean-db)
	rm -rf bin
