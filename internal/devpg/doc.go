// Package devpg finds, or starts, the PostgreSQL server that `make run` and
// `make test` use on a developer's machine, so that both work on a fresh
// machine with nothing but Go and either the PostgreSQL binaries or Docker.
//
// The choices, in order, are Finder.URLForRun and Finder.URLForTest: a URL
// from the environment, the machine's own server (tests only), a throwaway
// Cluster in ./.data/pg, docker Compose, else a NotFoundError that says what
// to install or set. The sources are functions in Finder so the order can be
// tested without any server.
//
// It is for development only: the throwaway cluster trusts every local
// connection and runs with fsync=off.
package devpg
