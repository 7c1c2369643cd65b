package config_test

import (
	"errors"
	"fmt"

	"github.com/syncd/syncd/internal/config"
)

// Several secrets, separated by spaces or commas, keep events flowing while
// an endpoint's secret is rotated. Load is the one place secrets are
// checked; its errors count them and never repeat one.
func ExampleLoad_webhookSecrets() {
	for _, value := range []string{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_c2Vjb25kLXNlY3JldC0yNC1ieXRlcyEh",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_not*base64",
		"whsec_",
	} {
		cfg, err := config.Load(func(k string) string {
			if k == "CLERK_WEBHOOK_SECRET" {
				return value
			}
			return ""
		})
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Println(ce.Var, ce.Problem)
			continue
		}
		fmt.Println(len(cfg.WebhookSecrets), err)
	}
	// Output:
	// 2 <nil>
	// CLERK_WEBHOOK_SECRET secret 2 of 2 is not whsec_ followed by base64
	// CLERK_WEBHOOK_SECRET secret 1 of 1 decodes to 0 bytes, fewer than the 16 required
}
