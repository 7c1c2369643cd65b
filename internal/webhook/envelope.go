package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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

// ParseEnvelope reads type, timestamp, instance_id and data.id from a body.
// It insists on a JSON object with a non-empty string type and an object
// data; everything else is optional here and judged by the worker.
func ParseEnvelope(body []byte) (Envelope, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Envelope{}, fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	var raw struct {
		Type       *string         `json:"type"`
		Timestamp  json.Number     `json:"timestamp"`
		InstanceID *string         `json:"instance_id"`
		Data       json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Envelope{}, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	if raw.Type == nil || *raw.Type == "" {
		return Envelope{}, fmt.Errorf("%w: missing \"type\"", ErrMalformed)
	}
	data := bytes.TrimSpace(raw.Data)
	if len(data) == 0 || data[0] != '{' {
		return Envelope{}, fmt.Errorf("%w: missing \"data\" object", ErrMalformed)
	}
	env := Envelope{Type: *raw.Type}
	if raw.InstanceID != nil {
		env.InstanceID = *raw.InstanceID
	}
	if raw.Timestamp != "" {
		ts, err := raw.Timestamp.Int64()
		if err != nil || ts <= 0 {
			return Envelope{}, fmt.Errorf("%w: \"timestamp\" is not a positive integer", ErrMalformed)
		}
		if ts < secondsCutoff {
			ts *= 1000
		}
		env.OccurredAt = time.UnixMilli(ts).UTC()
	}
	var obj struct {
		ID any `json:"id"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return Envelope{}, fmt.Errorf("%w: data: %v", ErrMalformed, err)
	}
	if id, ok := obj.ID.(string); ok {
		env.ObjectID = id
	}
	return env, nil
}
