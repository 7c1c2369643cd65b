package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// syncHash digests the synced content of a row. Metadata is canonicalised
// first (keys sorted, numbers kept exact) because the same object arrives
// from webhooks and from the Backend API with different formatting, and a
// formatting difference must not count as drift.
func syncHash(parts ...any) ([]byte, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for i, p := range parts {
		if raw, ok := p.(json.RawMessage); ok {
			c, err := canonicalJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("hash part %d: %w", i, err)
			}
			p = c
		}
		if err := enc.Encode(p); err != nil {
			return nil, fmt.Errorf("hash part %d: %w", i, err)
		}
	}
	return h.Sum(nil), nil
}

func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
