package graph

import (
	"fmt"
	"strings"
)

// ParseKeyValues reads "k1=v1, k2=v2" as the original's CLI and fabric
// definitions write metadata: dotted keys make nested objects (a.b=c gives
// {"a": {"b": "c"}}); value turns each value's text into its value (nil:
// the text itself).
func ParseKeyValues(s string, value func(string) any) (Metadata, error) {
	m := Metadata{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("metadata %q: expected key=value", pair)
		}
		cur := map[string]any(m)
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				if _, set := cur[p]; set {
					return nil, fmt.Errorf("metadata %q: %s is already a value", pair, p)
				}
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		if value != nil {
			cur[parts[len(parts)-1]] = value(v)
		} else {
			cur[parts[len(parts)-1]] = v
		}
	}
	return m, nil
}
