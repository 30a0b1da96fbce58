package eval

import (
	"cmp"
	"encoding/json"
	"slices"
	"sort"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
	"github.com/skydive-ng/skydive/internal/predicate"
)

// compileFunc is the shape of StepDef.Compile.
type compileFunc = func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error)

func def(name string, in []Kind, f compileFunc) StepDef {
	return StepDef{Name: name, In: in, Compile: f}
}

var (
	onGraph     = []Kind{KindGraph}
	onNodes     = []Kind{KindNodes}
	onEdges     = []Kind{KindEdges}
	onElements  = []Kind{KindNodes, KindEdges}
	onFilterabl = []Kind{KindNodes, KindEdges, KindValues}
	onLists     = []Kind{KindNodes, KindEdges, KindValues, KindPaths}
)

func coreSteps() []StepDef {
	defs := []StepDef{
		def("G", []Kind{KindStart}, compileG),
		def("Context", onGraph, compileContext),
		def("V", onGraph, compileV),
		def("E", onGraph, compileE),
		def("Has", onFilterabl, compileHas),
		def("HasKey", onFilterabl, compileHas),
		def("HasNot", onFilterabl, compileHas),
		def("HasEither", onFilterabl, compileHas),
		def("Out", onNodes, compileNeighbours(dirOut)),
		def("In", onNodes, compileNeighbours(dirIn)),
		def("Both", onNodes, compileNeighbours(dirBoth)),
		def("OutE", onNodes, compileNodeEdges(dirOut)),
		def("InE", onNodes, compileNodeEdges(dirIn)),
		def("BothE", onNodes, compileNodeEdges(dirBoth)),
		// Skydive's convention: InV is the parent, OutV the child.
		def("InV", onEdges, compileEdgeNodes(dirIn)),
		def("OutV", onEdges, compileEdgeNodes(dirOut)),
		def("BothV", onEdges, compileEdgeNodes(dirBoth)),
		def("Dedup", onFilterabl, compileDedup),
		def("Count", onLists, compileCount),
		def("Limit", onLists, compileSlice),
		def("Range", onLists, compileSlice),
		def("Sort", onElements, compileSort),
		def("Values", onElements, compileValues),
		def("ValueMap", onElements, compileValueMap),
		def("Keys", onElements, compileKeys),
		def("Sum", onFilterabl, compileSum),
		def("As", onLists, compileAs),
		def("Select", nil, compileSelect),
		def("ShortestPathTo", onNodes, compileShortestPath),
		def("SubGraph", []Kind{KindNodes, KindEdges, KindPaths}, compileSubGraph),
		def("Descendants", onNodes, compileWalk(dirOut, true)),
		def("Ascendants", onNodes, compileWalk(dirIn, true)),
		def("Neighbors", onNodes, compileWalk(dirBoth, false)),
		def("Diff", onElements, compileDiff),
		def("NextHop", onNodes, compileNextHop),
		def("MTUAudit", []Kind{KindPaths}, compileMTUAudit),
	}
	for _, name := range []string{"Flows", "Hops", "CaptureNode", "Nodes", "Metrics", "Aggregates", "RawPackets", "BPF", "Group", "MoreThan", "Sockets"} {
		defs = append(defs, def(name, nil, placeholder("no flow source")))
	}
	for _, name := range []string{"Workflow"} {
		defs = append(defs, def(name, nil, placeholder("not supported by this server")))
	}
	return defs
}

// placeholder compiles a step whose implementation is not configured: it
// fails at run time, so that the query is still syntactically valid.
func placeholder(msg string) compileFunc {
	return func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
		return func(r *Run, _ Value) (Value, error) { return nil, stepError(s, "%s", msg) }, KindAny, nil
	}
}

func compileG(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	return func(r *Run, _ Value) (Value, error) {
		v := r.override
		if v == nil {
			v = r.Env.Graph
		}
		if v == nil {
			return nil, syntax.Errorf(s.Pos(), "no graph to query")
		}
		r.View = v
		return Graph{View: v}, nil
	}, KindGraph, nil
}

func compileContext(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	if p := c.Previous(); p == nil || p.Name != "G" {
		return nil, KindGraph, syntax.Errorf(s.Pos(), "%s() must directly follow G", s.Name)
	}
	at, err := compileTime(s.Args[0])
	if err != nil {
		return nil, "", err
	}
	var dur durationSpec
	if len(s.Args) == 2 {
		if dur, err = compileDuration(s.Args[1]); err != nil {
			return nil, "", err
		}
	}
	return func(r *Run, in Value) (Value, error) {
		if r.override != nil {
			return in, nil
		}
		h := r.Env.History
		if h == nil {
			return nil, syntax.Errorf(s.Pos(), "Backend does not support history")
		}
		t := at(r.now)
		if dur == nil {
			r.View = h.At(t)
		} else {
			r.View = h.Window(dur.from(t), t)
		}
		return Graph{View: r.View}, nil
	}, KindGraph, nil
}

// selector is V()/E() with the Has() steps that follow it merged in, so that
// V().Has('Type', 'veth') is one index lookup.
type selector struct {
	kind   Kind
	id     string
	hasID  bool
	filter *Filter
}

func compileSelector(c *Compiler, s *syntax.Step, kind Kind) (*selector, error) {
	sel := &selector{kind: kind, filter: &Filter{}}
	if len(s.Args) == 1 {
		sel.id, sel.hasID = s.Args[0].(*syntax.StringLit).Value, true
	} else if len(s.Args) > 0 {
		f, err := c.Filter(s.Args)
		if err != nil {
			return nil, err
		}
		sel.filter = f
	}
	c.lastV = sel
	return sel, nil
}

func compileV(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	sel, err := compileSelector(c, s, KindNodes)
	if err != nil {
		return nil, "", err
	}
	return func(r *Run, _ Value) (Value, error) {
		v := r.View
		if sel.hasID {
			n := v.Node(graph.Identifier(sel.id))
			if n == nil {
				return nil, syntax.Errorf(s.Pos(), "Node '%s' does not exist", sel.id)
			}
			if !sel.filter.Element(&n.Element) {
				return Nodes{}, nil
			}
			return Nodes{n}, nil
		}
		var cands []*graph.Node
		if _, _, indexed := sel.filter.indexable(); !indexed {
			if w, ok := v.(walkView); ok && !sel.filter.empty() {
				return Nodes(w.NodesWhere(sel.filter.where())), nil
			}
		}
		if k, val, ok := sel.filter.indexable(); ok {
			var indexed bool
			cands, indexed = v.NodesByIndex(k, val)
			if !indexed {
				cands = v.Nodes()
			} else if len(sel.filter.Conds) == 1 {
				return Nodes(cands), nil // the index answered the only condition
			}
		} else {
			cands = v.Nodes()
		}
		out, err := filtered(r, sel.filter, cands, func(n *graph.Node) *graph.Element { return &n.Element })
		return Nodes(out), err
	}, KindNodes, nil
}

func compileE(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	sel, err := compileSelector(c, s, KindEdges)
	if err != nil {
		return nil, "", err
	}
	return func(r *Run, _ Value) (Value, error) {
		v := r.View
		if sel.hasID {
			e := v.Edge(graph.Identifier(sel.id))
			if e == nil {
				return nil, syntax.Errorf(s.Pos(), "Edge '%s' does not exist", sel.id)
			}
			if !sel.filter.Element(&e.Element) {
				return Edges{}, nil
			}
			return Edges{e}, nil
		}
		out, err := filtered(r, sel.filter, v.Edges(), func(e *graph.Edge) *graph.Element { return &e.Element })
		return Edges(out), err
	}, KindEdges, nil
}

// filtered keeps the candidates f accepts (all of them when f is empty).
func filtered[T any](r *Run, f *Filter, cands []T, elem func(T) *graph.Element) ([]T, error) {
	if f.empty() {
		return cands, nil
	}
	out := make([]T, 0, min(len(cands), 64))
	for _, c := range cands {
		if err := r.Tick(); err != nil {
			return nil, err
		}
		if f.Element(elem(c)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func identity(r *Run, in Value) (Value, error) { return in, nil }

func compileHas(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	var f *Filter
	switch s.Sig.Name {
	case "HasKey":
		k := s.Args[0].(*syntax.StringLit).Value
		f = &Filter{Conds: []Cond{{Key: k, P: predicate.Exists(), Get: KeyGetter(k)}}}
	case "HasNot":
		k := s.Args[0].(*syntax.StringLit).Value
		f = &Filter{Conds: []Cond{{Key: k, P: predicate.Absent(), Get: KeyGetter(k)}}}
	default:
		var err error
		if f, err = c.Filter(s.Args); err != nil {
			return nil, "", err
		}
		f.Any = s.Sig.Name == "HasEither"
	}
	if sel := c.lastV; sel != nil && sel.kind == in && !f.Any {
		sel.filter.Conds = append(sel.filter.Conds, f.Conds...)
		return identity, in, nil
	}
	// Out().Has(...) is Out(...): both keep the neighbours that match.
	if nb := c.lastNb; nb != nil && in == KindNodes && !f.Any {
		nb.Conds = append(nb.Conds, f.Conds...)
		return identity, in, nil
	}
	return func(r *Run, v Value) (Value, error) {
		switch t := v.(type) {
		case Nodes:
			return filterSlice(r, t, func(n *graph.Node) bool { return f.Element(&n.Element) })
		case Edges:
			return filterSlice(r, t, func(e *graph.Edge) bool { return f.Element(&e.Element) })
		case Values:
			return filterSlice(r, t, func(x any) bool {
				m, ok := x.(map[string]any)
				return ok && f.Map(m)
			})
		}
		return nil, stepError(s, "unexpected input %T", v)
	}, in, nil
}

func filterSlice[S ~[]E, E any](r *Run, in S, keep func(E) bool) (S, error) {
	out := make(S, 0, min(len(in), 64))
	for _, x := range in {
		if err := r.Tick(); err != nil {
			return nil, err
		}
		if keep(x) {
			out = append(out, x)
		}
	}
	return out, nil
}

type direction int

const (
	dirOut direction = 1 << iota
	dirIn
	dirBoth = dirOut | dirIn
)

func pairsFilter(c *Compiler, s *syntax.Step) (*Filter, error) {
	if len(s.Args) == 0 {
		return nil, nil
	}
	return c.Filter(s.Args)
}

// compareNodes orders by creation time, ID, then revision.
func compareNodes(a, b *graph.Node) int {
	return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Revision, b.Revision))
}

func compareEdges(a, b *graph.Edge) int {
	return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Revision, b.Revision))
}

// walkView is a graph that follows edges in bulk (the live graph): one call
// per step, reading its adjacency in place, instead of a copied and sorted
// edge list per node.
type walkView interface {
	Neighbors(from []*graph.Node, out, in bool, edgeOK func(*graph.Edge) bool, where graph.Where) []*graph.Node
	IncidentEdges(from []*graph.Node, out, in bool, edgeOK func(*graph.Edge) bool) []*graph.Edge
	NodesWhere(where graph.Where) []*graph.Node
}

// edgeTest returns f as an edge predicate; nil when f accepts everything.
func edgeTest(f *Filter) func(*graph.Edge) bool {
	if f.empty() {
		return nil
	}
	return func(e *graph.Edge) bool { return f.Element(&e.Element) }
}

func compileNeighbours(dir direction) compileFunc {
	return func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
		f, err := pairsFilter(c, s)
		if err != nil {
			return nil, "", err
		}
		if f == nil {
			f = &Filter{}
		}
		// The Has() steps right after are merged into f: a node's filter
		// is then read once, and no list of every neighbour is made.
		c.lastNb = f
		return func(r *Run, v Value) (Value, error) {
			if w, ok := r.View.(walkView); ok {
				return Nodes(w.Neighbors(v.(Nodes), dir&dirOut != 0, dir&dirIn != 0, nil, f.where())), nil
			}
			seen := make(map[graph.Identifier]struct{}, len(v.(Nodes)))
			var out Nodes
			visit := func(id graph.Identifier) {
				if _, ok := seen[id]; ok {
					return
				}
				seen[id] = struct{}{}
				if n := r.View.Node(id); n != nil && f.Element(&n.Element) {
					out = append(out, n)
				}
			}
			for _, n := range v.(Nodes) {
				if err := r.Tick(); err != nil {
					return nil, err
				}
				if dir&dirOut != 0 {
					for _, e := range r.View.OutEdges(n.ID) {
						visit(e.Child)
					}
				}
				if dir&dirIn != 0 {
					for _, e := range r.View.InEdges(n.ID) {
						visit(e.Parent)
					}
				}
			}
			slices.SortFunc(out, compareNodes)
			return out, nil
		}, KindNodes, nil
	}
}

func compileNodeEdges(dir direction) compileFunc {
	return func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
		f, err := pairsFilter(c, s)
		if err != nil {
			return nil, "", err
		}
		return func(r *Run, v Value) (Value, error) {
			if w, ok := r.View.(walkView); ok {
				return Edges(w.IncidentEdges(v.(Nodes), dir&dirOut != 0, dir&dirIn != 0, edgeTest(f))), nil
			}
			seen := map[graph.Identifier]struct{}{}
			var out Edges
			add := func(es []*graph.Edge) {
				for _, e := range es {
					if _, ok := seen[e.ID]; ok {
						continue
					}
					seen[e.ID] = struct{}{}
					if f.Element(&e.Element) {
						out = append(out, e)
					}
				}
			}
			for _, n := range v.(Nodes) {
				if err := r.Tick(); err != nil {
					return nil, err
				}
				if dir&dirOut != 0 {
					add(r.View.OutEdges(n.ID))
				}
				if dir&dirIn != 0 {
					add(r.View.InEdges(n.ID))
				}
			}
			slices.SortFunc(out, compareEdges)
			return out, nil
		}, KindEdges, nil
	}
}

// compileEdgeNodes: dirIn = InV = parent, dirOut = OutV = child.
func compileEdgeNodes(dir direction) compileFunc {
	return func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
		f, err := pairsFilter(c, s)
		if err != nil {
			return nil, "", err
		}
		return func(r *Run, v Value) (Value, error) {
			seen := map[graph.Identifier]struct{}{}
			var out Nodes
			visit := func(id graph.Identifier) {
				if _, ok := seen[id]; ok {
					return
				}
				seen[id] = struct{}{}
				if n := r.View.Node(id); n != nil && f.Element(&n.Element) {
					out = append(out, n)
				}
			}
			for _, e := range v.(Edges) {
				if err := r.Tick(); err != nil {
					return nil, err
				}
				if dir&dirIn != 0 {
					visit(e.Parent)
				}
				if dir&dirOut != 0 {
					visit(e.Child)
				}
			}
			slices.SortFunc(out, compareNodes)
			return out, nil
		}, KindNodes, nil
	}
}

func stringArgs(args []syntax.Expr) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.(*syntax.StringLit).Value
	}
	return out
}

// hashKey renders values as a map key.
func hashKey(vs ...any) string {
	if len(vs) == 1 {
		if s, ok := vs[0].(string); ok {
			return "s" + s
		}
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return "?"
	}
	return string(b)
}

func compileDedup(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	keys := stringArgs(s.Args)
	getters := make([]Getter, len(keys))
	for i, k := range keys {
		getters[i] = KeyGetter(k)
	}
	elemKey := func(el *graph.Element) string {
		if len(getters) == 0 {
			return string(el.ID)
		}
		vs := make([]any, len(getters))
		for i, g := range getters {
			vs[i], _ = g(el)
		}
		return hashKey(vs...)
	}
	return func(r *Run, v Value) (Value, error) {
		seen := map[string]struct{}{}
		first := func(k string) bool {
			if _, ok := seen[k]; ok {
				return false
			}
			seen[k] = struct{}{}
			return true
		}
		switch t := v.(type) {
		case Nodes:
			return filterSlice(r, t, func(n *graph.Node) bool { return first(elemKey(&n.Element)) })
		case Edges:
			return filterSlice(r, t, func(e *graph.Edge) bool { return first(elemKey(&e.Element)) })
		case Values:
			return filterSlice(r, t, func(x any) bool {
				if len(keys) == 0 {
					return first(hashKey(x))
				}
				m, _ := x.(map[string]any)
				vs := make([]any, len(keys))
				for i, k := range keys {
					vs[i], _ = graph.Metadata(m).Get(k)
				}
				return first(hashKey(vs...))
			})
		}
		return nil, stepError(s, "unexpected input %T", v)
	}, in, nil
}

func length(v Value) int {
	switch t := v.(type) {
	case Nodes:
		return len(t)
	case Edges:
		return len(t)
	case Values:
		return len(t)
	case Paths:
		return len(t)
	}
	return 0
}

func compileCount(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	return func(r *Run, v Value) (Value, error) { return Number{V: int64(length(v))}, nil }, KindNumber, nil
}

func compileSlice(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	var from, to int64
	if s.Sig.Name == "Limit" {
		to = s.Args[0].(*syntax.NumberLit).Int
	} else {
		from, to = s.Args[0].(*syntax.NumberLit).Int, s.Args[1].(*syntax.NumberLit).Int
	}
	return func(r *Run, v Value) (Value, error) {
		n := int64(length(v))
		a, b := min(from, n), min(to, n)
		switch t := v.(type) {
		case Nodes:
			return t[a:b:b], nil
		case Edges:
			return t[a:b:b], nil
		case Values:
			return t[a:b:b], nil
		case Paths:
			return t[a:b:b], nil
		}
		return nil, stepError(s, "unexpected input %T", v)
	}, in, nil
}

// CompareValues is a total order for sorting: comparable values by
// predicate.Compare, otherwise by kind; absent values last.
func CompareValues(a any, aok bool, b any, bok bool) int {
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return 1
	case !bok:
		return -1
	}
	if c, ok := predicate.Compare(a, b); ok {
		return c
	}
	return cmp.Compare(rank(a), rank(b))
}

func rank(v any) int {
	switch v.(type) {
	case bool:
		return 0
	case int64, float64:
		return 1
	case string:
		return 2
	}
	return 3
}

// SortArgs reads the arguments of a Sort step: the key (key when none)
// and whether the order is descending (DESC).
func SortArgs(s *syntax.Step, key string) (string, bool) {
	desc := false
	for _, a := range s.Args {
		switch t := a.(type) {
		case *syntax.Const:
			desc = t.Name == "DESC"
		case *syntax.StringLit:
			key = t.Value
		}
	}
	return key, desc
}

func compileSort(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	key, desc := SortArgs(s, "@CreatedAt")
	get := KeyGetter(key)
	order := func(a, b *graph.Element) int {
		av, aok := get(a)
		bv, bok := get(b)
		c := CompareValues(av, aok, bv, bok)
		if desc && aok && bok {
			c = -c
		}
		return c
	}
	return func(r *Run, v Value) (Value, error) {
		switch t := v.(type) {
		case Nodes:
			out := slices.Clone(t)
			slices.SortStableFunc(out, func(a, b *graph.Node) int { return order(&a.Element, &b.Element) })
			return out, nil
		case Edges:
			out := slices.Clone(t)
			slices.SortStableFunc(out, func(a, b *graph.Edge) int { return order(&a.Element, &b.Element) })
			return out, nil
		}
		return nil, stepError(s, "unexpected input %T", v)
	}, in, nil
}

func elements(v Value) []*graph.Element {
	switch t := v.(type) {
	case Nodes:
		out := make([]*graph.Element, len(t))
		for i, n := range t {
			out[i] = &n.Element
		}
		return out
	case Edges:
		out := make([]*graph.Element, len(t))
		for i, e := range t {
			out[i] = &e.Element
		}
		return out
	}
	return nil
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

func compileValues(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	get := KeyGetter(s.Args[0].(*syntax.StringLit).Value)
	return func(r *Run, v Value) (Value, error) {
		out := Values{}
		for _, el := range elements(v) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			if x, ok := get(el); ok && !isEmpty(x) {
				out = append(out, x)
			}
		}
		return out, nil
	}, KindValues, nil
}

func compileValueMap(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	keys := stringArgs(s.Args)
	getters := make([]Getter, len(keys))
	for i, k := range keys {
		getters[i] = KeyGetter(k)
	}
	return func(r *Run, v Value) (Value, error) {
		out := Values{}
		for _, el := range elements(v) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			if len(keys) == 0 {
				out = append(out, map[string]any(el.Metadata))
				continue
			}
			m := make(map[string]any, len(keys))
			for i, g := range getters {
				if x, ok := g(el); ok {
					m[keys[i]] = x
				}
			}
			out = append(out, m)
		}
		return out, nil
	}, KindValues, nil
}

func compileKeys(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	return func(r *Run, v Value) (Value, error) {
		set := map[string]struct{}{}
		for _, el := range elements(v) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			for _, k := range el.Metadata.Keys() {
				set[k] = struct{}{}
			}
		}
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(Values, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	}, KindValues, nil
}

// summer adds int64 exactly and switches to float64 when needed.
type summer struct {
	i       int64
	f       float64
	isFloat bool
}

func (s *summer) add(v any) {
	switch t := v.(type) {
	case int64:
		if s.isFloat {
			s.f += float64(t)
		} else {
			s.i += t
		}
	case float64:
		if !s.isFloat {
			s.isFloat, s.f = true, float64(s.i)
		}
		s.f += t
	case []any:
		for _, e := range t {
			s.add(e)
		}
	}
}

func (s *summer) value() Number {
	if s.isFloat {
		return Number{V: s.f}
	}
	return Number{V: s.i}
}

func compileSum(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	var key string
	if len(s.Args) == 1 {
		key = s.Args[0].(*syntax.StringLit).Value
	} else if in != KindValues {
		return nil, "", syntax.Errorf(s.Pos(), "Sum() needs a key on %s", in)
	}
	get := KeyGetter(key)
	return func(r *Run, v Value) (Value, error) {
		var sum summer
		if vals, ok := v.(Values); ok {
			for _, x := range vals {
				if key != "" {
					m, _ := x.(map[string]any)
					x, _ = graph.Metadata(m).Get(key)
				}
				sum.add(x)
			}
			return sum.value(), nil
		}
		for _, el := range elements(v) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			if x, ok := get(el); ok {
				sum.add(x)
			}
		}
		return sum.value(), nil
	}, KindNumber, nil
}

func compileAs(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	name := s.Args[0].(*syntax.StringLit).Value
	c.marks[name] = in
	return func(r *Run, v Value) (Value, error) {
		r.marks[name] = v
		return v, nil
	}, in, nil
}

func compileSelect(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	names := stringArgs(s.Args)
	var kind Kind
	for i, n := range names {
		k, ok := c.marks[n]
		if !ok {
			return nil, "", syntax.Errorf(s.Args[i].Pos(), "Select(): no step named '%s', use As('%s') before", n, n)
		}
		if kind != "" && k != kind {
			return nil, "", syntax.Errorf(s.Args[i].Pos(), "Select(): '%s' holds %s, not %s like '%s'", n, k, kind, names[0])
		}
		kind = k
	}
	return func(r *Run, _ Value) (Value, error) {
		if len(names) == 1 {
			return r.marks[names[0]], nil
		}
		switch kind {
		case KindNodes:
			var out Nodes
			seen := map[graph.Identifier]struct{}{}
			for _, n := range names {
				for _, x := range r.marks[n].(Nodes) {
					if _, ok := seen[x.ID]; !ok {
						seen[x.ID] = struct{}{}
						out = append(out, x)
					}
				}
			}
			slices.SortFunc(out, compareNodes)
			return out, nil
		case KindEdges:
			var out Edges
			seen := map[graph.Identifier]struct{}{}
			for _, n := range names {
				for _, x := range r.marks[n].(Edges) {
					if _, ok := seen[x.ID]; !ok {
						seen[x.ID] = struct{}{}
						out = append(out, x)
					}
				}
			}
			slices.SortFunc(out, compareEdges)
			return out, nil
		case KindValues:
			var out Values
			for _, n := range names {
				out = append(out, r.marks[n].(Values)...)
			}
			return out, nil
		case KindPaths:
			var out Paths
			for _, n := range names {
				out = append(out, r.marks[n].(Paths)...)
			}
			return out, nil
		}
		return nil, stepError(s, "cannot merge %s", kind)
	}, kind, nil
}
