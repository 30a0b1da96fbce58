package eval

import (
	"reflect"
	"slices"
	"sort"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// compileShortestPath: ShortestPathTo(Metadata(dst...)[, Metadata(edge...)])
// finds, for each input node, a shortest path (edges taken in either
// direction) to the nearest node matching dst. Nodes without a path give
// no path.
func compileShortestPath(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	dst, err := c.MetadataFilter(s.Args[0])
	if err != nil {
		return nil, "", err
	}
	var ef *Filter
	if len(s.Args) == 2 {
		if ef, err = c.MetadataFilter(s.Args[1]); err != nil {
			return nil, "", err
		}
	}
	return func(r *Run, v Value) (Value, error) {
		out := Paths{}
		for _, src := range v.(Nodes) {
			p, err := shortestPath(r, src, dst, ef)
			if err != nil {
				return nil, err
			}
			if p != nil {
				out = append(out, p)
			}
		}
		return out, nil
	}, KindPaths, nil
}

func shortestPath(r *Run, src *graph.Node, dst, ef *Filter) ([]*graph.Node, error) {
	if dst.Element(&src.Element) {
		return []*graph.Node{src}, nil
	}
	prev := map[graph.Identifier]*graph.Node{src.ID: nil}
	frontier := []*graph.Node{src}
	for len(frontier) > 0 {
		var next []*graph.Node
		for _, n := range frontier {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			var found *graph.Node
			step := func(id graph.Identifier) bool {
				if _, ok := prev[id]; ok {
					return false
				}
				m := r.View.Node(id)
				if m == nil {
					return false
				}
				prev[id] = n
				if dst.Element(&m.Element) {
					found = m
					return true
				}
				next = append(next, m)
				return false
			}
			for _, e := range r.View.OutEdges(n.ID) {
				if ef.Element(&e.Element) && step(e.Child) {
					break
				}
			}
			if found == nil {
				for _, e := range r.View.InEdges(n.ID) {
					if ef.Element(&e.Element) && step(e.Parent) {
						break
					}
				}
			}
			if found != nil {
				path := []*graph.Node{found}
				for p := prev[found.ID]; p != nil; p = prev[p.ID] {
					path = append(path, p)
				}
				slices.Reverse(path)
				return path, nil
			}
		}
		frontier = next
	}
	return nil, nil
}

// distinctIDs tells, without a set, that nodes in strictly increasing
// (creation time, ID) order, as steps give them, have distinct IDs.
func distinctIDs(nodes Nodes) bool {
	for i := 1; i < len(nodes); i++ {
		a, b := nodes[i-1], nodes[i]
		if a.CreatedAt > b.CreatedAt || (a.CreatedAt == b.CreatedAt && a.ID >= b.ID) {
			return false
		}
	}
	return true
}

// reachView is a graph that walks several levels in bulk (the live graph).
type reachView interface {
	Reach(from []*graph.Node, out, in bool, edgeOK func(*graph.Edge) bool, depth int) []*graph.Node
}

// compileWalk implements Descendants/Ascendants (default edge filter
// RelationType=ownership, default depth 1) and Neighbors (any edge, default
// depth 1): the input nodes and every node reached within depth (0:
// unlimited).
func compileWalk(dir direction, ownership bool) compileFunc {
	return func(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
		args := s.Args
		depth := int64(1)
		if len(args)%2 == 1 {
			depth = args[len(args)-1].(*syntax.NumberLit).Int
			args = args[:len(args)-1]
		}
		var ef *Filter
		var err error
		switch {
		case len(args) > 0:
			if ef, err = c.Filter(args); err != nil {
				return nil, "", err
			}
		case ownership:
			ef = &Filter{Conds: []Cond{{Key: graph.KeyRelationType, P: eqP("ownership"), Get: KeyGetter(graph.KeyRelationType)}}}
		}
		return func(r *Run, v Value) (Value, error) {
			if w, ok := r.View.(reachView); ok {
				in := v.(Nodes)
				reached := w.Reach(in, dir&dirOut != 0, dir&dirIn != 0, edgeTest(ef), int(depth))
				out := make(Nodes, 0, len(in)+len(reached))
				if distinctIDs(in) {
					out = append(out, in...)
				} else {
					seen := make(map[graph.Identifier]struct{}, len(in))
					for _, n := range in {
						if _, ok := seen[n.ID]; !ok {
							seen[n.ID] = struct{}{}
							out = append(out, n)
						}
					}
				}
				out = append(out, reached...)
				slices.SortFunc(out, compareNodes)
				return out, nil
			}
			seen := map[graph.Identifier]struct{}{}
			var out, frontier Nodes
			for _, n := range v.(Nodes) {
				if _, ok := seen[n.ID]; !ok {
					seen[n.ID] = struct{}{}
					out = append(out, n)
					frontier = append(frontier, n)
				}
			}
			for level := int64(0); len(frontier) > 0 && (depth == 0 || level < depth); level++ {
				var next Nodes
				visit := func(id graph.Identifier) {
					if _, ok := seen[id]; ok {
						return
					}
					seen[id] = struct{}{}
					if m := r.View.Node(id); m != nil {
						next = append(next, m)
					}
				}
				for _, n := range frontier {
					if err := r.Tick(); err != nil {
						return nil, err
					}
					if dir&dirOut != 0 {
						for _, e := range r.View.OutEdges(n.ID) {
							if ef.Element(&e.Element) {
								visit(e.Child)
							}
						}
					}
					if dir&dirIn != 0 {
						for _, e := range r.View.InEdges(n.ID) {
							if ef.Element(&e.Element) {
								visit(e.Parent)
							}
						}
					}
				}
				out = append(out, next...)
				frontier = next
			}
			slices.SortFunc(out, compareNodes)
			return out, nil
		}, KindNodes, nil
	}
}

// compileSubGraph builds a graph from the selected elements: nodes and the
// edges between them, edges and their ends, or paths and the edges along
// them; an optional edge filter restricts the edges. The following steps
// walk that graph.
func compileSubGraph(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	ef, err := pairsFilter(c, s)
	if err != nil {
		return nil, "", err
	}
	return func(r *Run, v Value) (Value, error) {
		b := newMemView()
		switch t := v.(type) {
		case Nodes:
			for _, n := range t {
				b.addNode(n)
			}
			for _, n := range t {
				if err := r.Tick(); err != nil {
					return nil, err
				}
				for _, e := range r.View.OutEdges(n.ID) {
					if b.nodes[e.Child] != nil && ef.Element(&e.Element) {
						b.addEdge(e)
					}
				}
			}
		case Edges:
			for _, e := range t {
				if !ef.Element(&e.Element) {
					continue
				}
				p, ch := r.View.Node(e.Parent), r.View.Node(e.Child)
				if p == nil || ch == nil {
					continue
				}
				b.addNode(p)
				b.addNode(ch)
				b.addEdge(e)
			}
		case Paths:
			for _, path := range t {
				for i, n := range path {
					b.addNode(n)
					if i == 0 {
						continue
					}
					prev := path[i-1]
					for _, e := range r.View.OutEdges(prev.ID) {
						if e.Child == n.ID && ef.Element(&e.Element) {
							b.addEdge(e)
						}
					}
					for _, e := range r.View.InEdges(prev.ID) {
						if e.Parent == n.ID && ef.Element(&e.Element) {
							b.addEdge(e)
						}
					}
				}
			}
		}
		b.seal()
		r.View = b
		return Graph{View: b}, nil
	}, KindGraph, nil
}

// DiffResult is the output of Diff(): what was added, removed and changed
// between the earlier time and the query's time. Elements are compared by
// ID; Changed lists the metadata keys (dotted paths) and element fields
// (@Host, @Origin) whose values differ.
type DiffResult struct {
	From    graph.Time `json:"From"`
	To      graph.Time `json:"To"`
	Added   Value      `json:"Added"`
	Removed Value      `json:"Removed"`
	Changed []Change   `json:"Changed"`
}

// Change is one element present at both times with different content.
type Change struct {
	ID   graph.Identifier `json:"ID"`
	Keys []string         `json:"Keys"`
	Old  any              `json:"Old"`
	New  any              `json:"New"`
}

func compileDiff(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	var at timeSpec = func(now timeT) timeT { return now }
	if len(s.Args) == 1 {
		var err error
		if at, err = compileTime(s.Args[0]); err != nil {
			return nil, "", err
		}
	}
	prefix := slices.Clone(c.steps)
	// The time the prefix looks at, when it is a point in time.
	var point timeSpec
	if len(prefix) > 1 && prefix[1].step.Sig.Name == "Context" && len(prefix[1].step.Args) == 1 {
		point, _ = compileTime(prefix[1].step.Args[0])
	}
	return func(r *Run, after Value) (Value, error) {
		h := r.Env.History
		if h == nil {
			return nil, syntax.Errorf(s.Pos(), "Backend does not support history")
		}
		from := at(r.now)
		sub := &Run{Ctx: r.Ctx, Env: r.Env, now: r.now, marks: map[string]Value{}, override: h.At(from)}
		before, err := runSteps(sub, prefix)
		if err != nil {
			return nil, err
		}
		to := graph.TimeOf(r.now)
		if point != nil {
			to = graph.TimeOf(point(r.now))
		}
		res := DiffResult{From: graph.TimeOf(from), To: to, Changed: []Change{}}
		switch a := after.(type) {
		case Nodes:
			added, removed, changed := diffElements(latestByID(before.(Nodes), nodeEl), latestByID(a, nodeEl), nodeEl)
			res.Added, res.Removed, res.Changed = Nodes(added), Nodes(removed), changed
		case Edges:
			added, removed, changed := diffElements(latestByID(before.(Edges), edgeEl), latestByID(a, edgeEl), edgeEl)
			res.Added, res.Removed, res.Changed = Edges(added), Edges(removed), changed
		}
		return Object{V: res}, nil
	}, KindObject, nil
}

func nodeEl(n *graph.Node) *graph.Element { return &n.Element }
func edgeEl(e *graph.Edge) *graph.Element { return &e.Element }

// latestByID keeps the last revision of each element, in order.
func latestByID[T any](in []T, el func(T) *graph.Element) []T {
	idx := map[graph.Identifier]int{}
	var out []T
	for _, x := range in {
		id := el(x).ID
		if i, ok := idx[id]; ok {
			if el(x).Revision >= el(out[i]).Revision {
				out[i] = x
			}
			continue
		}
		idx[id] = len(out)
		out = append(out, x)
	}
	return out
}

func diffElements[T any](before, after []T, el func(T) *graph.Element) (added, removed []T, changed []Change) {
	old := make(map[graph.Identifier]T, len(before))
	for _, x := range before {
		old[el(x).ID] = x
	}
	now := make(map[graph.Identifier]struct{}, len(after))
	changed = []Change{}
	for _, x := range after {
		e := el(x)
		now[e.ID] = struct{}{}
		o, ok := old[e.ID]
		if !ok {
			added = append(added, x)
			continue
		}
		if keys := changedKeys(el(o), e); len(keys) > 0 {
			changed = append(changed, Change{ID: e.ID, Keys: keys, Old: o, New: x})
		}
	}
	for _, x := range before {
		if _, ok := now[el(x).ID]; !ok {
			removed = append(removed, x)
		}
	}
	return added, removed, changed
}

func changedKeys(a, b *graph.Element) []string {
	var keys []string
	if a.Host != b.Host {
		keys = append(keys, "@Host")
	}
	if a.Origin != b.Origin {
		keys = append(keys, "@Origin")
	}
	set := map[string]struct{}{}
	for _, k := range a.Metadata.Keys() {
		set[k] = struct{}{}
	}
	for _, k := range b.Metadata.Keys() {
		set[k] = struct{}{}
	}
	var meta []string
	for k := range set {
		av, aok := a.Metadata.Get(k)
		bv, bok := b.Metadata.Get(k)
		if aok != bok || !reflect.DeepEqual(av, bv) {
			meta = append(meta, k)
		}
	}
	sort.Strings(meta)
	return append(keys, meta...)
}

// memView is a small immutable graph.View over a set of elements
// (SubGraph).
type memView struct {
	nodes    map[graph.Identifier]*graph.Node
	edges    map[graph.Identifier]*graph.Edge
	out, in  map[graph.Identifier][]*graph.Edge
	nodeList []*graph.Node
	edgeList []*graph.Edge
}

func newMemView() *memView {
	return &memView{
		nodes: map[graph.Identifier]*graph.Node{}, edges: map[graph.Identifier]*graph.Edge{},
		out: map[graph.Identifier][]*graph.Edge{}, in: map[graph.Identifier][]*graph.Edge{},
	}
}

func (m *memView) addNode(n *graph.Node) {
	if _, ok := m.nodes[n.ID]; !ok {
		m.nodes[n.ID] = n
		m.nodeList = append(m.nodeList, n)
	}
}

func (m *memView) addEdge(e *graph.Edge) {
	if _, ok := m.edges[e.ID]; !ok {
		m.edges[e.ID] = e
		m.edgeList = append(m.edgeList, e)
		m.out[e.Parent] = append(m.out[e.Parent], e)
		m.in[e.Child] = append(m.in[e.Child], e)
	}
}

func (m *memView) seal() {
	slices.SortFunc(m.nodeList, compareNodes)
	slices.SortFunc(m.edgeList, compareEdges)
	for _, es := range m.out {
		slices.SortFunc(es, compareEdges)
	}
	for _, es := range m.in {
		slices.SortFunc(es, compareEdges)
	}
}

func (m *memView) Node(id graph.Identifier) *graph.Node { return m.nodes[id] }
func (m *memView) Edge(id graph.Identifier) *graph.Edge { return m.edges[id] }
func (m *memView) Nodes() []*graph.Node                 { return slices.Clone(m.nodeList) }
func (m *memView) Edges() []*graph.Edge                 { return slices.Clone(m.edgeList) }
func (m *memView) OutEdges(id graph.Identifier) []*graph.Edge {
	return slices.Clone(m.out[id])
}
func (m *memView) InEdges(id graph.Identifier) []*graph.Edge {
	return slices.Clone(m.in[id])
}
func (m *memView) NodesByIndex(key, value string) ([]*graph.Node, bool) { return nil, false }
