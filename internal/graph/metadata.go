package graph

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/skydive-ng/skydive/internal/num"
)

// Metadata keys every node or edge may carry.
const (
	KeyType         = "Type"
	KeyName         = "Name"
	KeyRelationType = "RelationType"
)

// Metadata is the free-form part of an element. Values are kept in a canonical
// JSON-like form (string, bool, int64, float64, []any, map[string]any) so that
// metadata from a probe and the same metadata from the wire compare equal.
type Metadata map[string]any

// String returns the value of a top-level key when it is a string.
func (m Metadata) String(key string) string {
	s, _ := m[key].(string)
	return s
}

// Strings returns the strings of a top-level key: a list of strings ([]any
// as JSON gives it, or []string) or one string.
func (m Metadata) Strings(key string) []string {
	switch v := m[key].(type) {
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Clone deep-copies m.
func (m Metadata) Clone() Metadata {
	if m == nil {
		return nil
	}
	return Metadata(cloneMap(m))
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return cloneMap(t)
	case Metadata:
		return cloneMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}

// Equal reports whether two metadata hold the same values.
func (m Metadata) Equal(o Metadata) bool {
	return reflect.DeepEqual(Normalize(map[string]any(m)), Normalize(map[string]any(o)))
}

// sameNormalized compares metadata both already in canonical form (what the
// graph stores), without normalizing them again on every update.
func sameNormalized(a, b Metadata) bool {
	return reflect.DeepEqual(map[string]any(a), map[string]any(b))
}

// Normalize converts a value to the canonical form: integers become int64,
// integral json.Numbers int64, typed slices []any and typed maps map[string]any.
func Normalize(v any) any {
	switch t := v.(type) {
	case nil, string, bool, int64, float64:
		return v
	case int, int8, int16, int32, uint, uint8, uint16, uint32, uint64, float32:
		return num.Canon(v)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case Metadata:
		return normalizeMap(t)
	case map[string]any:
		return normalizeMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Normalize(e)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			it := rv.MapRange()
			for it.Next() {
				out[it.Key().String()] = Normalize(it.Value().Interface())
			}
			return out
		}
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return Normalize(rv.Elem().Interface())
	}
	// Structs and other types go through JSON, as they would on the wire.
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if dec.Decode(&out) != nil {
		return nil
	}
	return Normalize(out)
}

func normalizeMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = Normalize(v)
	}
	return out
}

// NormalizeMetadata returns m in canonical form.
func NormalizeMetadata(m Metadata) Metadata {
	if m == nil {
		return Metadata{}
	}
	return Metadata(normalizeMap(m))
}

// UnmarshalJSON decodes numbers exactly (integers stay int64).
func (m *Metadata) UnmarshalJSON(b []byte) error {
	if fast, ok := fastMetadata(b); ok {
		*m = fast
		return nil
	}
	slow, err := slowMetadata(b)
	if err != nil {
		return err
	}
	*m = slow
	return nil
}

// Get returns the value at a dotted path ("Neutron.IPV4", "ExtID.vm-id",
// "Captures.ID"). A key that itself contains dots is found too. When the
// path crosses a list of maps, the values of every element are returned as a
// list, so that "Captures.ID" matches any capture.
func (m Metadata) Get(path string) (any, bool) {
	return getPath(map[string]any(m), path)
}

func getPath(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		head, rest := path[:i], path[i+1:]
		v, ok := m[head]
		if !ok {
			continue
		}
		switch t := v.(type) {
		case map[string]any:
			if r, ok := getPath(t, rest); ok {
				return r, true
			}
		case Metadata:
			if r, ok := getPath(t, rest); ok {
				return r, true
			}
		case []any:
			var found []any
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					if r, ok := getPath(em, rest); ok {
						found = append(found, r)
					}
				}
			}
			if len(found) > 0 {
				return found, true
			}
		}
	}
	return nil, false
}

// Keys returns every dotted key path reaching a leaf value.
func (m Metadata) Keys() []string {
	var out []string
	var walk func(prefix string, mm map[string]any)
	walk = func(prefix string, mm map[string]any) {
		for k, v := range mm {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(prefix+k+".", sub)
				continue
			}
			out = append(out, prefix+k)
		}
	}
	walk("", m)
	return out
}
