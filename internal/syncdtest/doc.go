// Package syncdtest runs the real syncd binary for tests outside
// cmd/syncd: the services that read the tables (clerkauth, examples/orgapi)
// prove their answers flip when syncd applies a signed webhook, and that
// needs syncd itself, not a stand-in writing rows.
//
// The binary is built once per test process from ./cmd/syncd of this module
// and run as `syncd serve` on a free port, so these tests exercise exactly
// what operators deploy, through its command-line contract only.
package syncdtest
