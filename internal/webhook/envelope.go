package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// ErrMalformed marks a body that is not a Clerk event envelope.
var ErrMalformed = errors.New("malformed event")

// Envelope is the part of a Clerk event the ingest path reads.
type Envelope struct {
	Type       string
	OccurredAt time.Time // zero when the envelope has no timestamp
	InstanceID string
	ObjectID   string // data.id; empty when data has none
}

// secondsCutoff separates Unix seconds from Unix milliseconds: 1e12 ms is
// September 2001, while 1e12 s lies tens of thousands of years ahead. Clerk
// documents milliseconds, but some of its published examples show seconds.
const secondsCutoff = 1_000_000_000_000

// maxTimestampMillis is the last millisecond of the year 9999, the latest
// envelope timestamp accepted. Past it Go and Postgres stop agreeing
// (Postgres' timestamptz ends in 294276; pgx's microseconds overflow
// int64 near 292277, where 9223372036854775807 ms was stored as 1969), and
// no real event is dated there.
const maxTimestampMillis = 253_402_300_799_999

// MaxIDLength bounds the svix-id and every id-like envelope string (type,
// instance_id, data.id). Clerk's ids are about 30 characters; a longer one
// is refused as malformed (400) rather than stored, indexed and labelled.
const MaxIDLength = 256

// ParseEnvelope reads type, timestamp, instance_id and data.id from a body.
// It insists on valid JSON nested at most MaxDepth deep: an object with a
// non-empty string type and an object data; everything else is optional
// here and judged by the worker. Strings it returns are at most MaxIDLength
// bytes and the timestamp lies between 1970 and the end of 9999.
//
// It runs on every webhook, so it validates and picks the four fields with
// gjson instead of decoding the whole body, several times cheaper for a
// typical user event (BenchmarkParseEnvelope measures it).
func ParseEnvelope(body []byte) (Envelope, error) {
	if err := checkDepth(body); err != nil {
		return Envelope{}, err
	}
	return parseEnvelope(body)
}

// parseEnvelope is ParseEnvelope on a body whose depth is already checked.
func parseEnvelope(body []byte) (Envelope, error) {
	if !gjson.ValidBytes(body) {
		return Envelope{}, fmt.Errorf("%w: body is not valid JSON", ErrMalformed)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Envelope{}, fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	f := gjson.GetManyBytes(body, "type", "timestamp", "instance_id", "data", "data.id")
	typ, ts, instance, data, id := f[0], f[1], f[2], f[3], f[4]
	if typ.Type != gjson.String || typ.Str == "" {
		return Envelope{}, fmt.Errorf("%w: missing \"type\"", ErrMalformed)
	}
	if !data.IsObject() {
		return Envelope{}, fmt.Errorf("%w: missing \"data\" object", ErrMalformed)
	}
	env := Envelope{Type: typ.Str}
	if instance.Type == gjson.String {
		env.InstanceID = instance.Str
	}
	if id.Type == gjson.String {
		env.ObjectID = id.Str
	}
	for _, s := range []struct{ name, v string }{{"type", env.Type}, {"instance_id", env.InstanceID}, {"data.id", env.ObjectID}} {
		if len(s.v) > MaxIDLength {
			return Envelope{}, fmt.Errorf("%w: %q is longer than %d bytes", ErrMalformed, s.name, MaxIDLength)
		}
	}
	if ts.Exists() && ts.Type != gjson.Null {
		ms, err := strconv.ParseInt(ts.Raw, 10, 64)
		if ts.Type != gjson.Number || err != nil || ms <= 0 {
			return Envelope{}, fmt.Errorf("%w: \"timestamp\" is not a positive integer", ErrMalformed)
		}
		if ms < secondsCutoff {
			ms *= 1000
		}
		if ms > maxTimestampMillis {
			return Envelope{}, fmt.Errorf("%w: \"timestamp\" is after the year 9999", ErrMalformed)
		}
		env.OccurredAt = time.UnixMilli(ms).UTC()
	}
	return env, nil
}
