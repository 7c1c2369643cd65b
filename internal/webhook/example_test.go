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

// Several secrets, separated by spaces or commas, keep events flowing while
// an endpoint's secret is rotated. Errors never repeat a secret.
func ExampleParseSecrets() {
	secrets, err := webhook.ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_c2Vjb25k")
	fmt.Println(len(secrets), err)
	_, err = webhook.ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_not*base64")
	fmt.Println(err)
	_, err = webhook.ParseSecrets("whsec_")
	fmt.Println(err)
	// Output:
	// 2 <nil>
	// secret 2 of 2 is not whsec_ followed by base64
	// secret 1 of 1 is empty
}
