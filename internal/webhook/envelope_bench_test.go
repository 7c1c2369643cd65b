package webhook_test

import (
	"testing"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/webhook"
)

func BenchmarkParseEnvelope(b *testing.B) {
	m := clerkfake.New(1)
	_, evs := m.CreateUser()
	body := evs[0].Body
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := webhook.ParseEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}
