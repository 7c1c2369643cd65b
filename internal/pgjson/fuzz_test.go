package pgjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/syncd/syncd/internal/pgjson"
)

// nulEscape matches a \u0000 escape whose backslash is not itself escaped
// (an odd run of backslashes before the u).
var nulEscape = regexp.MustCompile(`(^|[^\\])(\\\\)*\\u0000`)

func FuzzStorable(f *testing.F) {
	for _, s := range []string{
		`{"a":"x\u0000y"}`, `{"\u0000":1}`, `{"a":"\\u0000"}`, `{"a":"\\\u0000"}`,
		`{"a":"\ud800x"}`, `{"a":"\udc00"}`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}",
		`[1,true,null,{"b":[]}]`, `"\u0000`, `{"a":"\`, `[[[[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, err := pgjson.Storable(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("the input was changed")
		}
		if err != nil {
			if !errors.Is(err, pgjson.ErrTooDeep) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not UTF-8: %q", out)
		}
		if utf8.Valid(in) && len(out) != len(in) {
			t.Fatalf("a UTF-8 input changed length: %d to %d", len(in), len(out))
		}
		if json.Valid(in) != json.Valid(out) {
			t.Fatalf("validity changed: %q (%v) to %q (%v)", in, json.Valid(in), out, json.Valid(out))
		}
		if json.Valid(out) && nulEscape.Match(out) {
			t.Fatalf("a \\u0000 escape is left in %q", out)
		}
		again, err := pgjson.Storable(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q then %q (%v)", out, again, err)
		}
	})
}
