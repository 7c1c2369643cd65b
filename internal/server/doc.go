// Package server owns syncd's HTTP surface: routes.go lists every route top
// to bottom, and the small handlers beside it answer health, readiness and
// the admin API. The webhook handler itself lives in package webhook; this
// package only mounts it.
package server
