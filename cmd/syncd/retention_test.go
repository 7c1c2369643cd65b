package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/testdb"
)

// A bad SYNCD_EVENT_RETENTION stops `syncd serve` with exit code 2 and a
// message naming the variable and what to set instead.
func TestServeRefusesABadEventRetention(t *testing.T) {
	t.Parallel()
	url := testdb.NewURL(t)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a webhook secret of 32 bytes...."))
	for _, v := range []string{"forever", "30", "-1h"} {
		var out, errOut lockedBuffer
		err := run(context.Background(), []string{"syncd", "serve", "--role", "worker"},
			env{"DATABASE_URL": url, "CLERK_WEBHOOK_SECRET": secret, "SYNCD_ADDR": "127.0.0.1:0",
				"SYNCD_EVENT_RETENTION": v}.get, &out, &errOut)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "SYNCD_EVENT_RETENTION") ||
			!strings.Contains(err.Error(), "off") {
			t.Errorf("SYNCD_EVENT_RETENTION=%q: %v (exit %d), want exit 2 naming the variable and its values", v, err, exitCode(err))
		}
	}
}
