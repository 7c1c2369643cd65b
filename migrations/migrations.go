// Package migrations embeds syncd's goose migrations (the clerk schema), so
// the binary can apply them without the source tree beside it.
package migrations

import "embed"

// FS holds every *.sql migration in this directory, in goose's format.
//
//go:embed *.sql
var FS embed.FS
