package clerkfake

import (
	"bytes"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// NewSecret returns a Svix endpoint secret, whsec_ followed by the base64 of
// 24 to 32 random bytes. With a non-nil r the secret is reproducible from
// the seed; with nil it comes from crypto/rand.
func NewSecret(r *rand.Rand) string {
	n := 24
	if r != nil {
		n += r.IntN(9)
	}
	key := make([]byte, n)
	if r != nil {
		for i := range key {
			key[i] = byte(r.Uint32())
		}
	} else {
		crand.Read(key) // never returns an error since Go 1.24
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// SignedHeaders returns the headers Svix sends with ev when delivering at
// now, signed with secret (a whsec_... string). The signature is computed
// by the Svix library itself, so a receiver that verifies these headers
// verifies real Svix deliveries.
//
// svix-timestamp is the delivery attempt, not the event time: pass the
// current time for a delivery, or a shifted one to test the 5-minute
// tolerance. Headers are set with Header.Set because svix reads them with
// Header.Get, which only finds canonical keys.
func SignedHeaders(secret string, ev Event, now time.Time) (http.Header, error) {
	return SignedHeadersMulti([]string{secret}, ev, now)
}

// SignedHeadersMulti signs with several secrets at once, as Svix does while
// an endpoint secret is being rotated: svix-signature then carries one
// space-separated "v1,..." entry per secret.
func SignedHeadersMulti(secrets []string, ev Event, now time.Time) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, errors.New("clerkfake: no webhook secret to sign with")
	}
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		// svix v1.44.0 accepts an empty key and signs with it; a test that
		// forgot to configure a secret should fail here, not pass quietly.
		if strings.TrimPrefix(secret, "whsec_") == "" {
			return nil, errors.New("clerkfake: empty webhook secret")
		}
		wh, err := svix.NewWebhook(secret)
		if err != nil {
			return nil, fmt.Errorf("clerkfake: webhook secret: %w", err)
		}
		sig, err := wh.Sign(ev.ID, now, ev.Body)
		if err != nil {
			return nil, fmt.Errorf("clerkfake: signing %s: %w", ev.ID, err)
		}
		sigs = append(sigs, sig)
	}
	h := make(http.Header)
	h.Set("Content-Type", "application/json")
	h.Set("svix-id", ev.ID)
	h.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("svix-signature", strings.Join(sigs, " "))
	return h, nil
}

// NewWebhookRequest builds the POST Svix would make to url for ev, signed
// with secret at now.
func NewWebhookRequest(url, secret string, ev Event, now time.Time) (*http.Request, error) {
	h, err := SignedHeaders(secret, ev, now)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(ev.Body))
	if err != nil {
		return nil, err
	}
	req.Header = h
	req.Header.Set("User-Agent", "Svix-Webhooks/1.44.0")
	return req, nil
}
