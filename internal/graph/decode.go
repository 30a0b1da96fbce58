package graph

import (
	"bytes"
	"encoding/json"

	"github.com/skydive-ng/skydive/internal/jsonscan"
)

// fastMetadata decodes a JSON object straight into canonical metadata
// (integers int64, other numbers float64, lists []any, objects
// map[string]any), in one pass over b. It is what every graph event that
// agents and publishers send goes through, and encoding/json's way (a
// validation scan, a json.Number map, then Normalize copying it all) was
// most of the ingest's time (the parser: internal/jsonscan). ok is false
// for anything it does not take the fast way (escapes are left to
// encoding/json, and so is every error, so that messages and edge cases
// stay encoding/json's): the caller then decodes as before.
// FuzzFastMetadata holds the two equal.
func fastMetadata(b []byte) (m Metadata, ok bool) {
	p := jsonscan.Scanner{B: b}
	p.Space()
	if p.Literal("null") {
		return Metadata{}, p.End()
	}
	obj, ok := p.Object()
	if !ok || !p.End() {
		return nil, false
	}
	return Metadata(obj), true
}

// slowMetadata is encoding/json's way: numbers as json.Number, then
// Normalize.
func slowMetadata(b []byte) (Metadata, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	return NormalizeMetadata(raw), nil
}
