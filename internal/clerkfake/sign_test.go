package clerkfake

import (
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

func TestSignedHeadersVerify(t *testing.T) {
	secret := NewSecret(rand.New(rand.NewPCG(1, 2)))
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, ev := range New(1).History(20) {
		h, err := SignedHeaders(secret, ev, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(ev.Body, h); err != nil {
			t.Fatalf("%s: %v", ev.ID, err)
		}
		if h.Get("svix-id") != ev.ID || h.Get("svix-timestamp") == "" || !strings.HasPrefix(h.Get("svix-signature"), "v1,") {
			t.Fatalf("headers %v", h)
		}
		tampered := append([]byte(nil), ev.Body...)
		tampered[len(tampered)-2] ^= 1
		if wh.Verify(tampered, h) == nil {
			t.Fatal("a tampered body verified")
		}
	}

	// Outside Svix's 5-minute tolerance the same signature is rejected.
	ev := New(2).History(1)[0]
	h, _ := SignedHeaders(secret, ev, now.Add(-6*time.Minute))
	if wh.Verify(ev.Body, h) == nil {
		t.Error("a 6-minute-old signature verified")
	}
	other, _ := svix.NewWebhook(NewSecret(nil))
	h, _ = SignedHeaders(secret, ev, now)
	if other.Verify(ev.Body, h) == nil {
		t.Error("verified with the wrong secret")
	}
}

// Known-answer vector from svix-webhooks go/webhook_test.go (v1.44.0).
func TestSignedHeadersKnownAnswer(t *testing.T) {
	ev := Event{ID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Body: []byte(`{"test": 2432232314}`)}
	h, err := SignedHeaders("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ev, time.Unix(1614265330, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Get("svix-signature"), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	if got := h.Get("svix-timestamp"); got != "1614265330" {
		t.Errorf("timestamp %s", got)
	}
}

func TestSignedHeadersRotation(t *testing.T) {
	old, cur := NewSecret(nil), NewSecret(nil)
	ev := New(3).History(1)[0]
	h, err := SignedHeadersMulti([]string{old, cur}, ev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h.Get("svix-signature"))); n != 2 {
		t.Fatalf("%d signatures, want 2", n)
	}
	for _, s := range []string{old, cur} {
		wh, _ := svix.NewWebhook(s)
		if err := wh.Verify(ev.Body, h); err != nil {
			t.Errorf("secret %d: %v", len(s), err)
		}
	}
	if _, err := SignedHeaders("whsec_", ev, time.Now()); err == nil {
		t.Error("an empty secret was accepted")
	}
	if _, err := SignedHeaders("whsec_not base64!", ev, time.Now()); err == nil {
		t.Error("a malformed secret was accepted")
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(rand.New(rand.NewPCG(5, 5))), NewSecret(rand.New(rand.NewPCG(5, 5)))
	if a != b {
		t.Error("same rng state gave different secrets")
	}
	for range 50 {
		s := NewSecret(nil)
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) < 24 || len(key) > 32 {
			t.Fatalf("secret %q: %d bytes, %v", s, len(key), err)
		}
	}
}

func TestNewWebhookRequest(t *testing.T) {
	secret := NewSecret(nil)
	ev := New(4).History(1)[0]
	req, err := NewWebhookRequest("http://syncd.test/webhooks/clerk", secret, ev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	wh, _ := svix.NewWebhook(secret)
	if req.Method != http.MethodPost || wh.Verify(body, req.Header) != nil {
		t.Errorf("request %s does not verify", req.Method)
	}
}
