package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// PatchOp is one operation of a JSON patch (RFC 6902): add, replace,
// remove or test.
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// ApplyPatch applies the JSON patch ops to the JSON document doc and returns
// the patched document. Errors name the failing operation.
func ApplyPatch(doc []byte, ops []PatchOp) ([]byte, error) {
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("patch: document: %w", err)
	}
	for i, op := range ops {
		var err error
		root, err = applyOp(root, op)
		if err != nil {
			return nil, fmt.Errorf("patch operation %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	return json.Marshal(root)
}

func applyOp(root any, op PatchOp) (any, error) {
	tokens, err := pointerTokens(op.Path)
	if err != nil {
		return nil, err
	}
	var value any
	switch op.Op {
	case "add", "replace", "test":
		if len(op.Value) == 0 {
			return nil, errors.New("missing value")
		}
		if err := json.Unmarshal(op.Value, &value); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
	case "remove":
	default:
		return nil, fmt.Errorf("unsupported op %q, expected add, replace, remove or test", op.Op)
	}
	if len(tokens) == 0 {
		switch op.Op {
		case "add", "replace":
			return value, nil
		case "test":
			if !reflect.DeepEqual(root, value) {
				return nil, errors.New("test failed")
			}
			return root, nil
		}
		return nil, errors.New("cannot remove the whole document")
	}
	parent, err := walk(root, tokens[:len(tokens)-1])
	if err != nil {
		return nil, err
	}
	last := tokens[len(tokens)-1]
	switch p := parent.(type) {
	case map[string]any:
		cur, exists := p[last]
		switch op.Op {
		case "add":
			p[last] = value
		case "replace":
			if !exists {
				return nil, fmt.Errorf("no member %q to replace", last)
			}
			p[last] = value
		case "remove":
			if !exists {
				return nil, fmt.Errorf("no member %q to remove", last)
			}
			delete(p, last)
		case "test":
			if !exists || !reflect.DeepEqual(cur, value) {
				return nil, errors.New("test failed")
			}
		}
		return root, nil
	case []any:
		// Arrays are changed in place in their parent: rebuild the slice and
		// store it back.
		idx := len(p)
		if last != "-" || op.Op != "add" {
			n, err := strconv.Atoi(last)
			if err != nil || n < 0 || n > len(p) || (n == len(p) && op.Op != "add") {
				return nil, fmt.Errorf("bad array index %q", last)
			}
			idx = n
		}
		var out []any
		switch op.Op {
		case "add":
			out = append(append(append([]any{}, p[:idx]...), value), p[idx:]...)
		case "replace":
			out = append([]any{}, p...)
			out[idx] = value
		case "remove":
			out = append(append([]any{}, p[:idx]...), p[idx+1:]...)
		case "test":
			if !reflect.DeepEqual(p[idx], value) {
				return nil, errors.New("test failed")
			}
			return root, nil
		}
		if len(tokens) == 1 {
			return out, nil
		}
		grand, err := walk(root, tokens[:len(tokens)-2])
		if err != nil {
			return nil, err
		}
		key := tokens[len(tokens)-2]
		switch g := grand.(type) {
		case map[string]any:
			g[key] = out
		case []any:
			n, _ := strconv.Atoi(key)
			g[n] = out
		}
		return root, nil
	}
	return nil, fmt.Errorf("%q is not an object or an array", strings.Join(tokens[:len(tokens)-1], "/"))
}

func walk(v any, tokens []string) (any, error) {
	for _, t := range tokens {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("no member %q", t)
			}
			v = next
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return nil, fmt.Errorf("bad array index %q", t)
			}
			v = c[n]
		default:
			return nil, fmt.Errorf("%q: not an object or an array", t)
		}
	}
	return v, nil
}

// pointerTokens splits a JSON pointer (RFC 6901).
func pointerTokens(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q must start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}
