// Package pgjson owns what Postgres' jsonb can hold. Clerk's JSON is valid
// JSON that jsonb may still refuse (a \u0000 escape, a lone surrogate), and
// both ways in, webhooks and the Backend API's listings, must store such
// objects rather than refuse them: an end user can write those strings into
// their own unsafe_metadata, and refusing the object would freeze their row.
package pgjson

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and objects may nest in a body. Clerk's
// events nest a few levels, and Clerk caps the metadata users write at a few
// KiB; 512 leaves room for anything real while keeping far below the depth
// at which Postgres' jsonb input runs out of stack (SQLSTATE 54001), and
// bounds the recursion of the JSON validator.
const MaxDepth = 512

// ErrTooDeep marks a body nested deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)

// replacement is the escape written over those jsonb refuses: U+FFFD, the
// Unicode replacement character, six bytes like every \uXXXX escape, so the
// body keeps its length and every other byte.
const replacement = `\ufffd`

// Storable returns body as Postgres' jsonb can hold it, after one pass
// over the bytes that tracks strings and escapes without parsing:
//
//   - a \u0000 escape in any string (key or value) becomes \ufffd: jsonb
//     refuses it ("unsupported Unicode escape sequence"), and Clerk lets end
//     users write such strings into unsafe_metadata, so refusing it would
//     let a user freeze their own row;
//   - so does the escape of a lone UTF-16 surrogate (a \ud800 not followed
//     by a low surrogate's escape, or a \udc00 alone), which jsonb refuses
//     too and which a browser's JSON.stringify can produce;
//   - bytes that are not UTF-8 become U+FFFD, as Postgres refuses them in
//     any text.
//
// An escaped backslash followed by "u0000" (`\\u0000`) is text, not an
// escape, and is left alone. The input is never changed; a copy is made
// only when something is replaced. The same pass refuses a body whose
// arrays and objects nest deeper than MaxDepth, so the full parse that
// follows is bounded.
//
// Storable does not validate JSON: the caller's parser does, after it.
func Storable(body []byte) ([]byte, error) {
	out, err := scan(body, true)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	return out, nil
}

// CheckDepth refuses a body nested deeper than MaxDepth, without copying.
func CheckDepth(body []byte) error {
	_, err := scan(body, false)
	return err
}

// scan is the one pass behind Storable and CheckDepth; it rewrites
// refused escapes only when rewrite is set.
func scan(body []byte, rewrite bool) ([]byte, error) {
	out := body
	copied := false
	put := func(i int) {
		if !copied {
			out = bytes.Clone(body)
			copied = true
		}
		copy(out[i:i+len(replacement)], replacement)
	}
	depth := 0
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			switch c {
			case '"':
				inString = true
			case '[', '{':
				depth++
				if depth > MaxDepth {
					return nil, ErrTooDeep
				}
			case ']', '}':
				// Unbalanced closers are the validator's to refuse.
				depth--
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(body) {
				return out, nil
			}
			if body[i+1] != 'u' {
				i++ // \" \\ \/ \b \f \n \r \t (or junk the validator refuses)
				continue
			}
			cp, ok := hex4(body, i+2)
			if !ok {
				i++ // not \uXXXX: invalid JSON, the validator refuses it
				continue
			}
			refused := false
			switch {
			case cp == 0:
				refused = true
			case cp >= 0xD800 && cp < 0xDC00:
				// A high surrogate is fine only as the first half of a pair.
				if i+11 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
					if lo, ok := hex4(body, i+8); ok && lo >= 0xDC00 && lo < 0xE000 {
						i += 11
						continue
					}
				}
				refused = true
			case cp >= 0xDC00 && cp < 0xE000:
				refused = true
			}
			if refused && rewrite {
				put(i)
			}
			i += 5
		}
	}
	return out, nil
}

// hex4 reads the four hex digits at body[i:i+4].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
