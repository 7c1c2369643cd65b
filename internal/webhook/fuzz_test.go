package webhook_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/syncd/syncd/internal/webhook"
)

func FuzzParseEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"data":{"id":"user_1","object":"user"},"object":"event","type":"user.created","timestamp":1654012591835,"instance_id":"ins_1"}`,
		`{"data":{"id":"org_1"},"type":"organization.deleted","timestamp":1716883200}`,
		`{"data":{},"type":"session.created"}`,
		`{"data":null,"type":"user.created"}`,
		`{"type":"user.created","data":{"id":7}}`,
		`{"type":"","data":{}}`,
		`{"type":"x","data":{},"timestamp":-5}`,
		`{"type":"x","data":{},"timestamp":1.5e12}`,
		`{"type":"x","data":{}} trailing`,
		`[]`, `null`, ``, `{`, `{"type":{"a":1},"data":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := webhook.ParseEnvelope(body)
		if err != nil {
			if env != (webhook.Envelope{}) {
				t.Fatalf("error %v but a non-empty envelope %+v", err, env)
			}
			return
		}
		if env.Type == "" {
			t.Fatal("accepted an envelope without a type")
		}
		if !env.OccurredAt.IsZero() && env.OccurredAt.Before(time.Unix(0, 0)) {
			t.Fatalf("timestamp before 1970: %s", env.OccurredAt)
		}
		if !utf8.ValidString(env.Type) && bytes.Equal(body, []byte(env.Type)) {
			t.Fatal("type is the raw body")
		}
	})
}

// FuzzVerify: a body signed with the secret verifies; any change to the
// body, or a signature from another secret, never does.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"test": 2432232314}`), []byte(`{"test": 2432232315}`), "msg_p5jXN8AQM9LWM0D4loKWxJek")
	f.Add([]byte(`{"type":"user.created","data":{"id":"user_1"}}`), []byte(`{"type":"user.created","data":{"id":"user_2"}}`), "msg_1")
	f.Add([]byte(``), []byte(` `), "msg_empty")
	f.Add([]byte("\x00\xff"), []byte("\x00\xfe"), "msg_bin")
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, err := webhook.NewVerifier([]string{secret})
	if err != nil {
		f.Fatal(err)
	}
	signer, err := svix.NewWebhook(secret)
	if err != nil {
		f.Fatal(err)
	}
	other, err := svix.NewWebhook("whsec_b3RoZXItc2VjcmV0LWtleS1mb3ItZnV6emluZw==")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, changed []byte, id string) {
		if id == "" || len(id) > 200 {
			return
		}
		now := time.Now()
		sig, err := signer.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("svix-id", id)
		h.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
		h.Set("svix-signature", sig)
		if h.Get("svix-id") != id {
			return // not representable as a header value
		}
		got, err := v.Verify(body, h)
		if err != nil {
			t.Fatalf("a correctly signed body did not verify: %v", err)
		}
		if got != id {
			t.Fatalf("message id %q, want %q", got, id)
		}
		if !bytes.Equal(body, changed) {
			if _, err := v.Verify(changed, h); err == nil {
				t.Fatalf("a changed body verified: %q -> %q", body, changed)
			}
		}
		foreign, _ := other.Sign(id, now, body)
		h.Set("svix-signature", foreign)
		if _, err := v.Verify(body, h); err == nil {
			t.Fatal("a signature by another secret verified")
		}
	})
}
