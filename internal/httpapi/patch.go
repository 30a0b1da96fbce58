package httpapi

import (
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// ApplyPatch applies the JSON patch (RFC 6902) to the JSON document doc and
// returns the patched document. Errors name the failing operation.
func ApplyPatch(doc, patch []byte) ([]byte, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	return out, nil
}
