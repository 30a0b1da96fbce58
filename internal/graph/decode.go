package graph

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// fastMetadata decodes a JSON object straight into canonical metadata
// (integers int64, other numbers float64, lists []any, objects
// map[string]any), in one pass over b. It is what every graph event that
// agents and publishers send goes through, and encoding/json's way (a
// validation scan, a json.Number map, then Normalize copying it all) was
// most of the ingest's time. This package imports the standard library
// only, hence the small hand-written parser. ok is false for anything it
// does not take the fast way (escapes are left to encoding/json, and so is
// every error, so that messages and edge cases stay encoding/json's): the
// caller then decodes as before. FuzzFastMetadata holds the two equal.
func fastMetadata(b []byte) (m Metadata, ok bool) {
	p := parser{b: b}
	p.space()
	if p.literal("null") {
		p.space()
		return Metadata{}, p.i == len(p.b)
	}
	obj, ok := p.object()
	if !ok {
		return nil, false
	}
	p.space()
	if p.i != len(p.b) {
		return nil, false
	}
	return Metadata(obj), true
}

type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// items reads open, the items item reads separated by commas, and close.
func (p *parser) items(open, close byte, item func() bool) bool {
	if p.i >= len(p.b) || p.b[p.i] != open {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == close {
		p.i++
		return true
	}
	for {
		p.space()
		if !item() {
			return false
		}
		p.space()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case close:
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *parser) object() (map[string]any, bool) {
	out := map[string]any{}
	ok := p.items('{', '}', func() bool {
		k, ok := p.str()
		if !ok {
			return false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		v, ok := p.value()
		out[k] = v
		return ok
	})
	return out, ok
}

func (p *parser) array() ([]any, bool) {
	out := []any{}
	ok := p.items('[', ']', func() bool {
		v, ok := p.value()
		out = append(out, v)
		return ok
	})
	return out, ok
}

func (p *parser) value() (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		m, ok := p.object()
		return m, ok
	case c == '[':
		a, ok := p.array()
		return a, ok
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, false
}

// str reads a string without escapes, of valid UTF-8 and no control
// character (what encoding/json would change or refuse).
func (p *parser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	ascii := true
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number reads a JSON number as json.Number then Normalize would: int64
// when it parses as one, else float64.
func (p *parser) number() (any, bool) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	s := string(p.b[start:p.i])
	return Normalize(json.Number(s)), true
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
