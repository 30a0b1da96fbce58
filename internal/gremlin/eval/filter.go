package eval

import (
	"strings"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
	"github.com/skydive-ng/skydive/internal/predicate"
)

// Getter reads a key of an element.
type Getter func(el *graph.Element) (any, bool)

// elementFields are the element fields reachable as keys: "@ID" always,
// "ID" when the metadata has no such key (the original's field names).
var elementFields = map[string]Getter{
	"ID":        func(el *graph.Element) (any, bool) { return string(el.ID), true },
	"Host":      func(el *graph.Element) (any, bool) { return el.Host, true },
	"Origin":    func(el *graph.Element) (any, bool) { return el.Origin, true },
	"CreatedAt": func(el *graph.Element) (any, bool) { return int64(el.CreatedAt), true },
	"UpdatedAt": func(el *graph.Element) (any, bool) { return int64(el.UpdatedAt), true },
	"DeletedAt": func(el *graph.Element) (any, bool) { return int64(el.DeletedAt), el.DeletedAt != 0 },
	"Revision":  func(el *graph.Element) (any, bool) { return el.Revision, true },
}

// KeyGetter compiles a key: "@ID", "@Host", "@Origin", "@CreatedAt",
// "@UpdatedAt", "@DeletedAt", "@Revision" are element fields; anything else
// is a dotted metadata path, with an optional "Metadata." prefix; the bare
// field names (ID, Host, CreatedAt ...) fall back to the element field when
// the metadata lacks them.
func KeyGetter(key string) Getter {
	if strings.HasPrefix(key, "@") {
		if g, ok := elementFields[key[1:]]; ok {
			return g
		}
	}
	meta := func(el *graph.Element) (any, bool) { return el.Metadata.Get(key) }
	if rest, ok := strings.CutPrefix(key, "Metadata."); ok && rest != "" {
		meta = func(el *graph.Element) (any, bool) {
			if v, ok := el.Metadata.Get(key); ok {
				return v, true
			}
			return el.Metadata.Get(rest)
		}
	}
	if field, ok := elementFields[key]; ok {
		return func(el *graph.Element) (any, bool) {
			if v, ok := el.Metadata[key]; ok {
				return v, true
			}
			return field(el)
		}
	}
	return meta
}

// Cond is one key/predicate pair of a filter.
type Cond struct {
	Key string
	P   *predicate.P
	Get Getter
	// eq is set when P is equality with a string (index lookups).
	eq    string
	hasEq bool
}

// Filter is a compiled list of conditions, all of which (or, for Any, one
// of which) must hold. A nil *Filter matches everything.
type Filter struct {
	Conds []Cond
	Any   bool
}

// Element tests a node's or an edge's element.
func (f *Filter) Element(el *graph.Element) bool {
	if f == nil || len(f.Conds) == 0 {
		return true
	}
	for i := range f.Conds {
		c := &f.Conds[i]
		v, ok := c.Get(el)
		if c.P.Match(v, ok) == f.Any {
			return f.Any
		}
	}
	return !f.Any
}

// Fields tests anything whose keys get can read (flows, maps).
func (f *Filter) Fields(get func(key string) (any, bool)) bool {
	if f == nil || len(f.Conds) == 0 {
		return true
	}
	for i := range f.Conds {
		v, ok := get(f.Conds[i].Key)
		if f.Conds[i].P.Match(v, ok) == f.Any {
			return f.Any
		}
	}
	return !f.Any
}

// Map tests a map with dotted keys.
func (f *Filter) Map(m map[string]any) bool {
	return f.Fields(func(key string) (any, bool) { return graph.Metadata(m).Get(key) })
}

func (f *Filter) empty() bool { return f == nil || len(f.Conds) == 0 }

// where is f for the graph's column scans: the conditions on plain
// top-level keys are read from columns, the others on each node.
func (f *Filter) where() graph.Where {
	if f.empty() {
		return graph.Where{}
	}
	if f.Any {
		return graph.Where{Node: func(n *graph.Node) bool { return f.Element(&n.Element) }}
	}
	var w graph.Where
	rest := &Filter{}
	for _, c := range f.Conds {
		if plainKey(c.Key) {
			t := graph.ColumnTest{Key: c.Key, Match: c.P.Match}
			if test, ok := c.P.AddrTest(); ok {
				// The graph keeps the parsed addresses of the key's values.
				t.Derived = &graph.Derived{Name: "predicate.Addrs", Of: predicate.Addrs, Match: test}
			}
			w.Columns = append(w.Columns, t)
		} else {
			rest.Conds = append(rest.Conds, c)
		}
	}
	if !rest.empty() {
		w.Node = func(n *graph.Node) bool { return rest.Element(&n.Element) }
	}
	return w
}

// plainKey tells a top-level metadata key, which KeyGetter reads as the
// map's entry and nothing else (no element field, no dotted path).
func plainKey(key string) bool {
	_, field := elementFields[key]
	return !field && !strings.ContainsAny(key, ".@")
}

// indexable returns a Type or Name equality usable with NodesByIndex.
func (f *Filter) indexable() (key, value string, ok bool) {
	if f == nil || f.Any {
		return "", "", false
	}
	for _, c := range f.Conds {
		if c.hasEq && (c.Key == graph.KeyType || c.Key == graph.KeyName) {
			return c.Key, c.eq, true
		}
	}
	return "", "", false
}

// Filter compiles key/value pairs ('Type', 'veth', 'MTU', GT(1500)) or a
// single key (key exists) into a filter.
func (c *Compiler) Filter(args []syntax.Expr) (*Filter, error) {
	f := &Filter{}
	if len(args) == 1 {
		k, ok := args[0].(*syntax.StringLit)
		if !ok {
			return nil, syntax.Errorf(args[0].Pos(), "expected a string key, got %s", args[0].Kind())
		}
		f.Conds = append(f.Conds, Cond{Key: k.Value, P: predicate.Exists(), Get: KeyGetter(k.Value)})
		return f, nil
	}
	if len(args)%2 != 0 {
		return nil, syntax.Errorf(args[len(args)-1].Pos(), "expected key/value pairs")
	}
	for i := 0; i < len(args); i += 2 {
		k, ok := args[i].(*syntax.StringLit)
		if !ok {
			return nil, syntax.Errorf(args[i].Pos(), "expected a string key, got %s", args[i].Kind())
		}
		p, err := c.Predicate(args[i+1])
		if err != nil {
			return nil, err
		}
		cond := Cond{Key: k.Value, P: p, Get: KeyGetter(k.Value)}
		if s, ok := args[i+1].(*syntax.StringLit); ok {
			cond.eq, cond.hasEq = s.Value, true
		}
		f.Conds = append(f.Conds, cond)
	}
	return f, nil
}

// MetadataFilter compiles a Metadata('K', v, ...) argument.
func (c *Compiler) MetadataFilter(e syntax.Expr) (*Filter, error) {
	call, ok := e.(*syntax.Call)
	if !ok || call.Name != "Metadata" {
		return nil, syntax.Errorf(e.Pos(), "expected Metadata(...), got %s", e)
	}
	return c.Filter(call.Args)
}

// Predicate compiles a value or a predicate call: a plain value means
// equality.
func (c *Compiler) Predicate(e syntax.Expr) (*predicate.P, error) {
	switch t := e.(type) {
	case *syntax.StringLit, *syntax.NumberLit, *syntax.BoolLit:
		v, _ := scalar(e)
		return predicate.Eq(v), nil
	case *syntax.Call:
		if t.Name == "Metadata" {
			return nil, syntax.Errorf(t.Pos(), "Metadata() is not a value, use it in ShortestPathTo()")
		}
		args := make([]any, len(t.Args))
		for i, a := range t.Args {
			v, ok := scalar(a)
			if !ok {
				return nil, syntax.Errorf(a.Pos(), "%s() argument %d must be a string, number or boolean", t.Name, i+1)
			}
			args[i] = v
		}
		p, err := predicate.New(t.Name, args)
		if err != nil {
			return nil, syntax.Errorf(t.Pos(), "%v", err)
		}
		return p, nil
	}
	return nil, syntax.Errorf(e.Pos(), "expected a value or a predicate, got %s", e)
}

func scalar(e syntax.Expr) (any, bool) {
	switch t := e.(type) {
	case *syntax.StringLit:
		return t.Value, true
	case *syntax.NumberLit:
		return t.Value(), true
	case *syntax.BoolLit:
		return t.Value, true
	}
	return nil, false
}
