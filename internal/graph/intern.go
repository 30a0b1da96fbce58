package graph

// interner shares, among the elements a graph stores, the metadata keys
// (every veth repeats Name, MTU, State ...) and the values of the keys that
// take few distinct values (Type "veth", State "UP", MTU 1500): a string or
// an int64 put in an `any` is a heap object of its own, so half a million
// nodes held millions of copies of a few values. The tables are bounded:
// past them, keys and values are stored as they come. The graph's write
// lock guards them.
type interner struct {
	keys  map[string]string
	vals  map[string]map[any]any // by key
	nvals int
}

// Bounds of the interner: keys, values of one key (a key with more
// distinct values, a Name, a MAC, gains nothing), values in all.
const (
	maxInternKeys         = 4096
	maxInternKeyValues    = 256
	maxInternValues       = 1 << 16
	maxInternedStringSize = 64
)

func newInterner() *interner {
	return &interner{keys: map[string]string{}, vals: map[string]map[any]any{}}
}

func (in *interner) key(k string) string {
	if s, ok := in.keys[k]; ok {
		return s
	}
	if len(in.keys) < maxInternKeys {
		in.keys[k] = k
	}
	return k
}

// value returns the shared copy of a scalar v of key k (v if none).
func (in *interner) value(k string, v any) any {
	switch t := v.(type) {
	case string:
		if len(t) > maxInternedStringSize {
			return v
		}
	case int64:
		if t >= 0 && t < 256 {
			return v // the runtime boxes these without allocating
		}
	default:
		return v
	}
	tab := in.vals[k]
	if tab == nil {
		if len(in.vals) >= maxInternKeys {
			return v
		}
		tab = map[any]any{}
		in.vals[k] = tab
	}
	if s, ok := tab[v]; ok {
		return s
	}
	if len(tab) < maxInternKeyValues && in.nvals < maxInternValues {
		tab[v] = v
		in.nvals++
	}
	return v
}

// canonical returns m in canonical form (as NormalizeMetadata), a deep
// copy that shares keys and values through the interner.
func (in *interner) canonical(m Metadata) Metadata {
	if m == nil {
		return Metadata{}
	}
	return Metadata(in.canonMap(m))
}

func (in *interner) canonMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		k = in.key(k)
		out[k] = in.canonValue(k, v)
	}
	return out
}

func (in *interner) canonValue(k string, v any) any {
	switch t := v.(type) {
	case nil, bool, float64:
		return v
	case string, int64:
		return in.value(k, v)
	case map[string]any:
		return in.canonMap(t)
	case Metadata:
		return in.canonMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = in.canonValue(k, e)
		}
		return out
	}
	// Normalize gives one of the forms above.
	return in.canonValue(k, Normalize(v))
}

// own makes m canonical and interned in place (as canonical does in a
// copy) and returns it: for metadata the graph is given (see
// ReplaceNodeOwned). Metadata decoded from JSON is canonical already: only
// its keys and values are swapped for the shared ones.
func (in *interner) own(m Metadata) Metadata {
	if m == nil {
		return Metadata{}
	}
	return Metadata(in.ownMap(m))
}

func (in *interner) ownMap(m map[string]any) map[string]any {
	// Assigning an existing key stores the key given too (maps update
	// string keys, see TestInternedMetadata): no entry is added.
	for k, v := range m {
		k = in.key(k)
		m[k] = in.ownValue(k, v)
	}
	return m
}

func (in *interner) ownValue(k string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		return in.ownMap(t)
	case Metadata:
		return in.ownMap(t)
	case []any:
		for i, e := range t {
			t[i] = in.ownValue(k, e)
		}
		return v // not t: a slice put in an interface is boxed again
	}
	return in.canonValue(k, v)
}
