package webhook_test

import (
	"fmt"

	"github.com/syncd/syncd/internal/webhook"
)

// Clerk documents the envelope timestamp in milliseconds, but some of its
// examples show seconds; both come out as the same instant.
func ExampleParseEnvelope() {
	for _, body := range []string{
		`{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user"},"object":"event","type":"user.created","timestamp":1716883200000,"instance_id":"ins_123"}`,
		`{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user"},"object":"event","type":"user.created","timestamp":1716883200,"instance_id":"ins_123"}`,
		`{"object":"event","timestamp":1716883200000}`,
	} {
		env, err := webhook.ParseEnvelope([]byte(body))
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(env.Type, env.ObjectID, env.OccurredAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	// Output:
	// user.created user_29w83sxmDNGwOuEthce5gg56FcC 2024-05-28T08:00:00Z
	// user.created user_29w83sxmDNGwOuEthce5gg56FcC 2024-05-28T08:00:00Z
	// error: malformed event: missing "type"
}
