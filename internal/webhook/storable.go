package webhook

import (
	"errors"
	"fmt"

	"github.com/syncd/syncd/internal/pgjson"
)

// MaxDepth is how deeply arrays and objects may nest in a body (package
// pgjson says why 512).
const MaxDepth = pgjson.MaxDepth

// errTooDeep marks a body nested deeper than MaxDepth.
var errTooDeep = fmt.Errorf("%w: JSON nested deeper than %d levels", ErrMalformed, MaxDepth)

// StorableJSON returns body as Postgres' jsonb can hold it: refused escapes
// (\u0000, lone surrogates) and bytes that are not UTF-8 become U+FFFD
// (pgjson.Storable). It refuses a body nested deeper than MaxDepth as
// malformed. It does not validate JSON: ParseEnvelope does, after it.
func StorableJSON(body []byte) ([]byte, error) {
	out, err := pgjson.Storable(body)
	return out, depthError(err)
}

// checkDepth refuses a body nested deeper than MaxDepth.
func checkDepth(body []byte) error {
	return depthError(pgjson.CheckDepth(body))
}

func depthError(err error) error {
	if errors.Is(err, pgjson.ErrTooDeep) {
		return errTooDeep
	}
	return err
}
