package graph

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the node's JSON to b, byte for byte what
// encoding/json writes for it (TestAppendJSON, FuzzAppendJSON), without
// its reflection: elements are encoded on every store write, sync and
// query answer. Metadata values of other than the canonical types (see
// Normalize) are left to encoding/json.
func (n *Node) AppendJSON(b []byte) ([]byte, error) {
	return appendElement(b, &n.Element, nil)
}

// MarshalJSON is AppendJSON for encoding/json.
func (n *Node) MarshalJSON() ([]byte, error) { return n.AppendJSON(nil) }

// AppendJSON appends the edge's JSON to b, as Node.AppendJSON.
func (e *Edge) AppendJSON(b []byte) ([]byte, error) {
	return appendElement(b, &e.Element, e)
}

// MarshalJSON is AppendJSON for encoding/json.
func (e *Edge) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

func appendElement(b []byte, el *Element, edge *Edge) ([]byte, error) {
	b = append(b, `{"ID":`...)
	b = appendString(b, string(el.ID))
	b = append(b, `,"Metadata":`...)
	var err error
	if b, err = appendValue(b, map[string]any(el.Metadata)); err != nil {
		return nil, err
	}
	b = append(b, `,"Host":`...)
	b = appendString(b, el.Host)
	b = append(b, `,"Origin":`...)
	b = appendString(b, el.Origin)
	b = append(b, `,"CreatedAt":`...)
	b = appendTime(b, el.CreatedAt)
	b = append(b, `,"UpdatedAt":`...)
	b = appendTime(b, el.UpdatedAt)
	b = append(b, `,"DeletedAt":`...)
	b = appendTime(b, el.DeletedAt)
	b = append(b, `,"Revision":`...)
	b = strconv.AppendInt(b, el.Revision, 10)
	if edge != nil {
		b = append(b, `,"Parent":`...)
		b = appendString(b, string(edge.Parent))
		b = append(b, `,"Child":`...)
		b = appendString(b, string(edge.Child))
	}
	return append(b, '}'), nil
}

func appendTime(b []byte, t Time) []byte {
	if t == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(t), 10)
}

func appendValue(b []byte, v any) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		return appendFloat(b, v)
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			if b, err = appendValue(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case Metadata:
		return appendValue(b, map[string]any(v))
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, js...), nil
}

// appendFloat writes a float64 as encoding/json does: %f below 1e21 and
// from 1e-6, else %e with a one-digit exponent kept short.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string as encoding/json does, HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
