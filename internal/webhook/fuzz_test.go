package webhook_test

// Fuzz targets for what every webhook request goes through before the
// store: the envelope parser, the Svix signature check, and the whole
// handler up to its store call (request_fuzz_test.go). Seed corpora live in
// testdata/fuzz/<Target>/ and are written from clerkfake events by
// TestFuzzCorpus (fuzzcorpus_test.go); `go test` runs them as unit tests,
// scripts/fuzz.sh (make fuzz, make fuzz-short) fuzzes from them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/syncd/syncd/internal/webhook"
)

// maxIDBytes bounds the id-like strings an accepted envelope may carry
// (type, data.id, instance_id), as webhook.MaxIDLength does. Clerk's ids are about 30 characters; anything far longer is
// hostile input that must be refused as malformed (400), not handed to the
// database to fail as temporary (503) again and again.
const maxIDBytes = 256

// maxDepth bounds how deeply an accepted body nests, as webhook.MaxDepth
// does: Postgres refuses deeper jsonb as a stack overflow, which must be a
// 400 at parse time, not a 503 from the store that Svix retries for days.
const maxDepth = 512

// depth is how deeply arrays and objects nest in valid JSON, counted
// without any JSON library.
func depth(body []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range body {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// Unix milliseconds of 1970-01-01 and of the end of 9999: the range an
// accepted envelope timestamp must fall in (Postgres' timestamptz, and Go's
// time.UnixMilli without wrapping).
const maxMillis int64 = 253402300799999

func FuzzParseEnvelope(f *testing.F) {
	// Odd shapes; realistic events come from testdata/fuzz/FuzzParseEnvelope.
	for _, seed := range []string{
		`{"data":{"id":"user_1","object":"user"},"object":"event","type":"user.created","timestamp":1654012591835,"instance_id":"ins_1"}`,
		`{"data":{"id":"org_1"},"type":"organization.deleted","timestamp":1716883200}`,
		`{"data":{},"type":"session.created"}`,
		`{"data":null,"type":"user.created"}`,
		`{"type":"user.created","data":{"id":7}}`,
		`{"type":"","data":{}}`,
		`{"type":"x","data":{},"timestamp":-5}`,
		`{"type":"x","data":{},"timestamp":1.5e12}`,
		`{"type":"x","data":{},"timestamp":9e18}`,
		`{"type":"x","data":{},"timestamp":9223372036854775807}`,
		`{"type":"x","data":{},"timestamp":253402300800}`,
		`{"type":"x","data":{"id":"` + strings.Repeat("u", 5000) + `"}}`,
		`{"type":"x","data":{"id":"` + strings.Repeat("u", 257) + `"},"instance_id":"` + strings.Repeat("i", 256) + `"}`,
		`{"type":"x","data":{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}}`,
		`{"type":"x","data":{"a":` + strings.Repeat("[", 510) + strings.Repeat("]", 510) + `}}`,
		`{"type":"x","data":{"id":"a\u0000b"},"instance_id":"\ud800"}`,
		`{"type":"x","type":"y","data":{}}`,
		`{"type":"x","data":{}} trailing`,
		`[]`, `null`, ``, `{`, `{"type":{"a":1},"data":{}}`,
		strings.Repeat("[", 10000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		env, err := webhook.ParseEnvelope(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("ParseEnvelope changed its input")
		}
		again, err2 := webhook.ParseEnvelope(body)
		if env != again || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %+v, %v then %+v, %v", env, err, again, err2)
		}
		if err != nil {
			if !errors.Is(err, webhook.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if env != (webhook.Envelope{}) {
				t.Fatalf("error %v but a non-empty envelope %+v", err, env)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatal("accepted a body encoding/json finds invalid")
		}
		var shape struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		if json.Unmarshal(body, &shape) != nil || shape.Data == nil {
			// (duplicate "data" keys are read differently by gjson, the
			// first, and encoding/json and jsonb, the last: not checked)
			if bytes.Count(body, []byte(`"data"`)) < 2 {
				t.Fatal("accepted a body that is not an object with a data object")
			}
		}
		if env.Type == "" {
			t.Fatal("accepted an envelope without a type")
		}
		if len(env.Type) > maxIDBytes || len(env.ObjectID) > maxIDBytes || len(env.InstanceID) > maxIDBytes {
			t.Fatalf("accepted strings of %d, %d and %d bytes (type, data.id, instance_id), over %d",
				len(env.Type), len(env.ObjectID), len(env.InstanceID), maxIDBytes)
		}
		if d := depth(body); d > maxDepth {
			t.Fatalf("accepted a body nested %d deep, over %d", d, maxDepth)
		}
		if !env.OccurredAt.IsZero() {
			if ms := env.OccurredAt.UnixMilli(); ms <= 0 || ms > maxMillis {
				t.Fatalf("accepted a timestamp outside 1970..9999: %s (%d ms)", env.OccurredAt, ms)
			}
		}
	})
}

// fuzzSecret is the webhook secret of the fuzz targets.
const fuzzSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// fuzzSigning is a verifier of fuzzSecret, and a signer with it as Svix
// signs, for the targets that need a genuine signature.
func fuzzSigning(f *testing.F) (*webhook.Verifier, *svix.Webhook) {
	f.Helper()
	v, err := webhook.NewVerifier([]string{fuzzSecret})
	if err != nil {
		f.Fatal(err)
	}
	signer, err := svix.NewWebhook(fuzzSecret)
	if err != nil {
		f.Fatal(err)
	}
	return v, signer
}

// FuzzVerify: for any body and message id, a signature made with the right
// secret over exactly these bytes with a fresh timestamp verifies and yields
// the id; changing any one byte of the body or of the signature, a stale
// timestamp, or another secret's signature never verifies; and arbitrary
// header values (ts, sig) verify only if they carry the right signature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"test": 2432232314}`), "msg_p5jXN8AQM9LWM0D4loKWxJek", uint(7), uint8(1), "1700000000", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add([]byte(``), "msg_empty", uint(0), uint8(255), "", "")
	f.Add([]byte("\x00\xff"), "msg_bin", uint(1), uint8(0x80), "-1", "v1, v1,,")
	f.Add([]byte(`{}`), "msg_1", uint(100), uint8(32), "99999999999999999999", "v2,abc v1,abc=")
	v, signer := fuzzSigning(f)
	other, err := svix.NewWebhook("whsec_b3RoZXItc2VjcmV0LWtleS1mb3ItZnV6emluZw==")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, id string, pos uint, delta uint8, rawTS, rawSig string) {
		now := time.Now()
		h := http.Header{}
		h.Set("svix-id", id)
		h.Set("svix-timestamp", rawTS)
		h.Set("svix-signature", rawSig)
		if _, err := v.Verify(body, h); err == nil {
			// Only possible if rawSig carries the right signature.
			ts, perr := strconv.ParseInt(rawTS, 10, 64)
			good, _ := signer.Sign(id, time.Unix(ts, 0), body)
			if perr != nil || !strings.Contains(rawSig, good[len("v1,"):]) {
				t.Fatalf("arbitrary headers verified: id %q ts %q sig %q", id, rawTS, rawSig)
			}
		} else if !errors.Is(err, webhook.ErrUnauthorized) {
			t.Fatalf("refusal %v does not wrap ErrUnauthorized", err)
		}

		if id == "" || len(id) > 1024 {
			return // not a usable message id
		}
		sig, err := signer.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		h = http.Header{}
		h.Set("svix-id", id)
		h.Set("svix-timestamp", ts)
		h.Set("svix-signature", sig)
		got, err := v.Verify(body, h)
		if err != nil {
			t.Fatalf("a correctly signed body did not verify: %v", err)
		}
		if got != id {
			t.Fatalf("message id %q, want %q", got, id)
		}

		if delta != 0 && len(body) > 0 {
			changed := bytes.Clone(body)
			changed[pos%uint(len(body))] += delta
			if _, err := v.Verify(changed, h); err == nil {
				t.Fatalf("a body changed at byte %d verified", pos%uint(len(body)))
			}
		}
		if delta != 0 {
			i := pos % uint(len(sig))
			changed := []byte(sig)
			changed[i] += delta
			h.Set("svix-signature", string(changed))
			if _, err := v.Verify(body, h); err == nil {
				t.Fatalf("a signature changed at byte %d verified: %q", i, changed)
			}
		}

		stale := now.Add(-10 * time.Minute)
		staleSig, _ := signer.Sign(id, stale, body)
		h.Set("svix-timestamp", strconv.FormatInt(stale.Unix(), 10))
		h.Set("svix-signature", staleSig)
		if _, err := v.Verify(body, h); err == nil {
			t.Fatal("a signature ten minutes old verified")
		}

		foreign, _ := other.Sign(id, now, body)
		h.Set("svix-timestamp", ts)
		h.Set("svix-signature", foreign)
		if _, err := v.Verify(body, h); err == nil {
			t.Fatal("a signature by another secret verified")
		}
		if got1, err1 := v.Verify(body, h); err1 == nil || got1 != "" {
			t.Fatal("refusal returned a message id")
		}
	})
}
