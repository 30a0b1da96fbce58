// Package jsonscan reads the common shapes of JSON documents in one pass,
// for the hot paths where encoding/json's validation scan, reflection and
// intermediate values were most of the time (graph events from agents and
// publishers). It takes only what it is sure of: strings without escapes,
// valid UTF-8, well-formed numbers; anything else makes a method return
// false, and the caller then decodes the document with encoding/json, so
// that results and error messages stay encoding/json's. The standard
// library has no such streaming reader, and the third-party ones bring
// their own value types.
package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// Scanner reads B from I.
type Scanner struct {
	B     []byte
	I     int
	depth int
}

// maxDepth bounds nesting: deeper documents are left to encoding/json,
// which refuses them past 10,000 levels with an error (here, each level is
// a few frames of recursion).
const maxDepth = 1000

// Space skips white space.
func (p *Scanner) Space() {
	for p.I < len(p.B) {
		switch p.B[p.I] {
		case ' ', '\t', '\n', '\r':
			p.I++
		default:
			return
		}
	}
}

// End reports whether only white space is left.
func (p *Scanner) End() bool {
	p.Space()
	return p.I == len(p.B)
}

// Peek returns the next byte, 0 at the end.
func (p *Scanner) Peek() byte {
	if p.I < len(p.B) {
		return p.B[p.I]
	}
	return 0
}

// Literal reads s if it is next.
func (p *Scanner) Literal(s string) bool {
	if len(p.B)-p.I >= len(s) && string(p.B[p.I:p.I+len(s)]) == s {
		p.I += len(s)
		return true
	}
	return false
}

// Items reads open, the items item reads separated by commas, and close.
func (p *Scanner) Items(open, close byte, item func() bool) bool {
	if p.I >= len(p.B) || p.B[p.I] != open || p.depth >= maxDepth {
		return false
	}
	p.I++
	p.depth++
	defer func() { p.depth-- }()
	p.Space()
	if p.I < len(p.B) && p.B[p.I] == close {
		p.I++
		return true
	}
	for {
		p.Space()
		if !item() {
			return false
		}
		p.Space()
		if p.I >= len(p.B) {
			return false
		}
		switch p.B[p.I] {
		case ',':
			p.I++
		case close:
			p.I++
			return true
		default:
			return false
		}
	}
}

// Members reads an object, calling member with each key (valid only
// during the call) with the scanner at its value, which member reads.
func (p *Scanner) Members(member func(key []byte) bool) bool {
	return p.Items('{', '}', func() bool {
		k, ok := p.RawStr()
		if !ok {
			return false
		}
		p.Space()
		if p.I >= len(p.B) || p.B[p.I] != ':' {
			return false
		}
		p.I++
		p.Space()
		return member(k)
	})
}

// Object reads an object into a map: integers int64, other numbers
// float64, lists []any, objects map[string]any.
func (p *Scanner) Object() (map[string]any, bool) {
	out := map[string]any{}
	ok := p.Members(func(k []byte) bool {
		v, ok := p.Value()
		out[string(k)] = v
		return ok
	})
	return out, ok
}

// Array reads a list.
func (p *Scanner) Array() ([]any, bool) {
	out := []any{}
	ok := p.Items('[', ']', func() bool {
		v, ok := p.Value()
		out = append(out, v)
		return ok
	})
	return out, ok
}

// Value reads any value.
func (p *Scanner) Value() (any, bool) {
	if p.I >= len(p.B) {
		return nil, false
	}
	switch c := p.B[p.I]; {
	case c == '{':
		m, ok := p.Object()
		return m, ok
	case c == '[':
		a, ok := p.Array()
		return a, ok
	case c == '"':
		return p.Str()
	case c == 't':
		return true, p.Literal("true")
	case c == 'f':
		return false, p.Literal("false")
	case c == 'n':
		return nil, p.Literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.Number()
	}
	return nil, false
}

// Skip reads a value without building it.
func (p *Scanner) Skip() bool {
	if p.I >= len(p.B) {
		return false
	}
	switch c := p.B[p.I]; {
	case c == '{':
		return p.Members(func([]byte) bool { return p.Skip() })
	case c == '[':
		return p.Items('[', ']', p.Skip)
	case c == '"':
		_, ok := p.RawStr()
		return ok
	case c == 't':
		return p.Literal("true")
	case c == 'f':
		return p.Literal("false")
	case c == 'n':
		return p.Literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, ok := p.rawNumber()
		return ok
	}
	return false
}

// Str reads a string without escapes, of valid UTF-8 and no control
// character (what encoding/json would change or refuse).
func (p *Scanner) Str() (string, bool) {
	s, ok := p.RawStr()
	return string(s), ok
}

// RawStr is Str in place: the bytes between the quotes.
func (p *Scanner) RawStr() ([]byte, bool) {
	if p.I >= len(p.B) || p.B[p.I] != '"' {
		return nil, false
	}
	start := p.I + 1
	ascii := true
	for j := start; j < len(p.B); j++ {
		switch c := p.B[j]; {
		case c == '"':
			s := p.B[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			p.I = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// Number reads a number as encoding/json's json.Number then Int64 or, when
// that fails, Float64 would: int64 or float64.
func (p *Scanner) Number() (any, bool) {
	s, ok := p.rawNumber()
	if !ok {
		return nil, false
	}
	if i, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		return i, true
	}
	f, _ := strconv.ParseFloat(string(s), 64)
	return f, true
}

// Int reads an integer that fits an int64, and nothing else (no fraction,
// no exponent).
func (p *Scanner) Int() (int64, bool) {
	start := p.I
	s, ok := p.rawNumber()
	if !ok {
		p.I = start
		return 0, false
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) > 18 { // beyond 18 digits it may not fit: left to encoding/json
		p.I = start
		return 0, false
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			p.I = start
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// rawNumber reads a number's text.
func (p *Scanner) rawNumber() ([]byte, bool) {
	start := p.I
	if p.I < len(p.B) && p.B[p.I] == '-' {
		p.I++
	}
	digits := func() int {
		n := 0
		for p.I < len(p.B) && p.B[p.I] >= '0' && p.B[p.I] <= '9' {
			p.I++
			n++
		}
		return n
	}
	if p.I < len(p.B) && p.B[p.I] == '0' {
		p.I++
	} else if digits() == 0 {
		return nil, false
	}
	if p.I < len(p.B) && p.B[p.I] == '.' {
		p.I++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.I < len(p.B) && (p.B[p.I] == 'e' || p.B[p.I] == 'E') {
		p.I++
		if p.I < len(p.B) && (p.B[p.I] == '+' || p.B[p.I] == '-') {
			p.I++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return p.B[start:p.I], true
}
