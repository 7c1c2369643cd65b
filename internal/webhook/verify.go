package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// ErrUnauthorized marks a request whose signature no configured secret
// verifies (or whose timestamp is outside Svix's five-minute window).
var ErrUnauthorized = errors.New("signature not verified")

// Verifier checks Svix signatures against one or more secrets, so a secret
// can be rotated without dropping events signed with the old one.
type Verifier struct {
	hooks []*svix.Webhook
}

// NewVerifier builds a Verifier from secrets config.Load has already
// checked (whsec_ then base64 of at least 16 bytes, which also rules out
// the empty key svix-webhooks would accept): that is the one place a secret
// is validated. The only error left is svix's own, should it fail to
// decode a secret it is handed.
func NewVerifier(secrets []string) (*Verifier, error) {
	v := &Verifier{}
	for i, s := range secrets {
		wh, err := svix.NewWebhook(s)
		if err != nil {
			return nil, fmt.Errorf("webhook verifier: secret %d: %w", i+1, err)
		}
		v.hooks = append(v.hooks, wh)
	}
	return v, nil
}

// Verify checks the signature over the raw body with each secret in turn and
// returns the message id (svix-id, or webhook-id for Standard Webhooks
// headers), which is the same on every redelivery of the message.
func (v *Verifier) Verify(body []byte, h http.Header) (string, error) {
	var last error
	for _, wh := range v.hooks {
		err := wh.Verify(body, h)
		if err == nil {
			return messageID(h), nil
		}
		last = err
	}
	return "", fmt.Errorf("%w: %v", ErrUnauthorized, last)
}

// Tolerance is how far a signature's timestamp may be from this host's
// clock, either way: Svix's five minutes, which its library enforces again
// in Verify.
const Tolerance = 5 * time.Minute

// CheckHeaders is what can be known of a request's signature before its
// body is read: the id, timestamp and signature headers are all present
// (the svix-* set, else the webhook-* set, as Verify chooses), and the
// timestamp is an integer within Tolerance of now. A request that fails it
// can never verify, so its body need not be read at all.
func CheckHeaders(h http.Header, now time.Time) error {
	id, ts, sig := h.Get("svix-id"), h.Get("svix-timestamp"), h.Get("svix-signature")
	if id == "" || ts == "" || sig == "" {
		id, ts, sig = h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	}
	if id == "" || ts == "" || sig == "" {
		return fmt.Errorf("%w: missing signature headers", ErrUnauthorized)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp header is not an integer", ErrUnauthorized)
	}
	// Bounds around now, so no absurd sec can overflow a subtraction.
	tol := int64(Tolerance / time.Second)
	if sec < now.Unix()-tol || sec > now.Unix()+tol {
		return fmt.Errorf("%w: timestamp outside the %s tolerance", ErrUnauthorized, Tolerance)
	}
	return nil
}

// messageID mirrors svix-webhooks' choice of header set: svix-* when all
// three are present, webhook-* otherwise.
func messageID(h http.Header) string {
	if h.Get("svix-id") != "" && h.Get("svix-timestamp") != "" && h.Get("svix-signature") != "" {
		return h.Get("svix-id")
	}
	return h.Get("webhook-id")
}
