package pgjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/pgjson"
)

func TestStorableReplacesOnlyWhatJSONBRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"nul escape in a value", `{"a":"x\u0000y"}`, `{"a":"x\ufffdy"}`},
		{"nul escape in a key", `{"\u0000":1}`, `{"\ufffd":1}`},
		{"escaped backslash then u0000 is text", `{"a":"\\u0000"}`, `{"a":"\\u0000"}`},
		{"lone high surrogate", `{"a":"\ud800x"}`, `{"a":"\ufffdx"}`},
		{"lone low surrogate", `{"a":"\udc00"}`, `{"a":"\ufffd"}`},
		{"surrogate pair kept", `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d\ude00"}`},
		{"other escapes kept", `{"a":"\n\"\u00e9"}`, `{"a":"\n\"\u00e9"}`},
		{"not UTF-8", "{\"a\":\"\xff\"}", "{\"a\":\"\uFFFD\"}"},
		{"outside strings untouched", `[1,true,null]`, `[1,true,null]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got, err := pgjson.Storable(in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("Storable(%s) = %s, want %s", tc.in, got, tc.want)
			}
			if string(in) != tc.in {
				t.Fatal("the input was changed")
			}
		})
	}
}

func TestDepthIsBounded(t *testing.T) {
	ok := strings.Repeat("[", pgjson.MaxDepth) + strings.Repeat("]", pgjson.MaxDepth)
	if err := pgjson.CheckDepth([]byte(ok)); err != nil {
		t.Fatalf("depth %d refused: %v", pgjson.MaxDepth, err)
	}
	deep := "[" + ok + "]"
	if err := pgjson.CheckDepth([]byte(deep)); !errors.Is(err, pgjson.ErrTooDeep) {
		t.Fatalf("depth %d: %v, want ErrTooDeep", pgjson.MaxDepth+1, err)
	}
	// Brackets inside strings are text.
	if err := pgjson.CheckDepth([]byte(`"` + strings.Repeat("[", 10000) + `"`)); err != nil {
		t.Fatalf("brackets in a string counted: %v", err)
	}
	if _, err := pgjson.Storable([]byte(strings.Repeat("{", 400000))); !errors.Is(err, pgjson.ErrTooDeep) {
		t.Fatalf("400k levels: %v, want ErrTooDeep", err)
	}
}
