package graph

import (
	"math/bits"
	"slices"
)

// Neighbors returns, each once and in creation order, the nodes at the
// other end of the edges of from: the edges where a node of from is the
// parent when out is set, the child when in is set. edgeOK (nil: every
// edge) chooses the edges followed, nodeOK (nil: every node) the nodes
// returned. Unlike OutEdges and InEdges, which copy and sort a node's edges,
// it reads the adjacency in place under one read lock, with no allocation
// per node. The callbacks run under that lock: they must not call into the
// graph.
func (g *Graph) Neighbors(from []*Node, out, in bool, edgeOK func(*Edge) bool, where Where) []*Node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	// The positions in nodeAdj are valid once the order is.
	sorted, cols := g.nodes.orderedColumns(where.Columns)
	sel := newOrdinals(len(sorted), len(from))
	follow := func(l []adjEdge) {
		for _, x := range l {
			if edgeOK == nil || edgeOK(x.e) {
				sel.add(x.other.ord)
			}
		}
	}
	g.eachAdj(from, sorted, func(a *nodeAdj) {
		if out {
			follow(a.out)
		}
		if in {
			follow(a.in)
		}
	})
	if where.empty() {
		return pick(sel, sorted, nil)
	}
	var res []*Node
	sel.each(func(i int) {
		if n := sorted[i]; where.match(cols, i, n) {
			res = append(res, n)
		}
	})
	return res
}

// Reach returns the nodes reached from from within depth steps (0: no
// bound) along the edges edgeOK (nil: every edge) accepts, from parent to
// child when out is set, child to parent when in is set: each once, in
// creation order, the nodes of from excluded. As Neighbors, it reads the
// adjacency in place, marking the nodes seen in a bitmap of positions.
func (g *Graph) Reach(from []*Node, out, in bool, edgeOK func(*Edge) bool, depth int) []*Node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	sorted, _ := g.nodes.ordered()
	seen := make([]uint64, (len(sorted)+63)/64)
	mark := func(i int) bool {
		if seen[i>>6]&(1<<(i&63)) != 0 {
			return false
		}
		seen[i>>6] |= 1 << (i & 63)
		return true
	}
	var frontier, next []*nodeAdj
	g.eachAdj(from, sorted, func(a *nodeAdj) {
		if mark(a.ord) {
			frontier = append(frontier, a)
		}
	})
	reached := newOrdinals(len(sorted), len(from))
	follow := func(l []adjEdge) {
		for _, x := range l {
			if (edgeOK == nil || edgeOK(x.e)) && mark(x.other.ord) {
				reached.add(x.other.ord)
				next = append(next, x.other)
			}
		}
	}
	for level := 0; len(frontier) > 0 && (depth == 0 || level < depth); level++ {
		next = next[:0]
		for _, a := range frontier {
			if out {
				follow(a.out)
			}
			if in {
				follow(a.in)
			}
		}
		frontier, next = next, frontier
	}
	return pick(reached, sorted, nil)
}

// eachAdj calls f with the adjacency of each node of from that the graph
// holds; sorted is the nodes' creation order, valid (the read lock held).
// Many nodes in that order, as steps give them, are found by one pass
// over it comparing pointers: a lookup in a map of half a million IDs
// costs several cache misses, the pass a sequential read. The rest (a
// node out of order, a former revision, few nodes) are looked up by ID.
func (g *Graph) eachAdj(from, sorted []*Node, f func(*nodeAdj)) {
	k := 0
	if len(from) > 0 && len(from) >= len(sorted)/64 {
		for j := 0; j < len(sorted) && k < len(from); j++ {
			for k < len(from) && sorted[j] == from[k] {
				f(g.adjAt[j])
				k++
			}
		}
	}
	for _, n := range from[k:] {
		if a := g.nodes.at(n.ID).x; a != nil {
			f(a)
		}
	}
}

// ColumnTest is a condition on a top-level metadata key, which the graph
// answers from its column of that key (a dense slice in creation order)
// rather than from each node's map, whose lookups are a cache miss per key
// compared. Match gets the value and whether the key is present.
type ColumnTest struct {
	Key   string
	Match func(v any, present bool) bool
	// Derived, when set, is tested instead of Match.
	Derived *Derived
}

// Derived is a form of a key's values that costs to compute (addresses
// parsed from their text): the graph computes it once per value and keeps
// it as a column of its own, kept in step with changes, so that a test
// reads the form instead of computing it for every node of every query.
type Derived struct {
	// Name identifies Of: the graph keeps one column per key and name,
	// computed by the Of first given under that name.
	Name string
	// Of is the form of a value (present false: the key is absent).
	Of func(v any, present bool) any
	// Match tests a form.
	Match func(form any) bool
}

// Where selects nodes: every column test, then Node (nil: any), must hold.
type Where struct {
	Columns []ColumnTest
	Node    func(*Node) bool
}

func (w *Where) empty() bool { return len(w.Columns) == 0 && w.Node == nil }

// match tests the node at position i; cols are the columns of w's keys.
func (w *Where) match(cols [][]any, i int, n *Node) bool {
	for j, t := range w.Columns {
		if d := t.Derived; d != nil {
			var form any
			if cols[j] != nil {
				form = cols[j][i]
			} else {
				v, present := n.Metadata[t.Key]
				form = d.Of(v, present)
			}
			if !d.Match(form) {
				return false
			}
			continue
		}
		var v any
		present := true
		if cols[j] != nil {
			v = cols[j][i]
			if _, absent := v.(absentKey); absent {
				v, present = nil, false
			}
		} else {
			v, present = n.Metadata[t.Key]
		}
		if !t.Match(v, present) {
			return false
		}
	}
	return w.Node == nil || w.Node(n)
}

// NodesWhere returns the nodes that where selects, in creation order,
// reading the columns in place under the graph's read lock (Where's
// functions run under it and must not call into the graph).
func (g *Graph) NodesWhere(where Where) []*Node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	sorted, cols := g.nodes.orderedColumns(where.Columns)
	out := make([]*Node, 0, 64)
	for i, n := range sorted {
		if where.match(cols, i, n) {
			out = append(out, n)
		}
	}
	return out
}

// IncidentEdges returns, each once and in creation order, the edges of
// from (where a node is the parent when out is set, the child when in is
// set) that edgeOK (nil: every edge) accepts; as Neighbors, without
// allocation per node. edgeOK runs under the graph's read lock.
func (g *Graph) IncidentEdges(from []*Node, out, in bool, edgeOK func(*Edge) bool) []*Edge {
	g.mu.RLock()
	defer g.mu.RUnlock()
	sorted, pos := g.edges.ordered()
	sel := newOrdinals(len(sorted), len(from))
	follow := func(l []adjEdge) {
		for _, x := range l {
			if i, ok := pos(x.e.ID); ok {
				sel.add(i)
			}
		}
	}
	nodes, _ := g.nodes.ordered()
	g.eachAdj(from, nodes, func(a *nodeAdj) {
		if out {
			follow(a.out)
		}
		if in {
			follow(a.in)
		}
	})
	return pick(sel, sorted, edgeOK)
}

// pick returns the elements of sorted at the selected positions, in order,
// that ok (nil: all) accepts; nil when none.
func pick[T any](sel *ordinals, sorted []T, ok func(T) bool) []T {
	var out []T
	sel.each(func(i int) {
		if el := sorted[i]; ok == nil || ok(el) {
			out = append(out, el)
		}
	})
	return out
}

// ordinals collects positions in a creation order of n elements and gives
// them back ascending and each once. A few are listed, then sorted; many (a
// walk from much of the graph) are marked in a bitmap of the whole order,
// which gives them back in order without sorting.
type ordinals struct {
	n     int
	list  []int32
	words []uint64 // the bitmap, when used
}

// newOrdinals expects the positions reached from about from elements.
func newOrdinals(n, from int) *ordinals {
	o := &ordinals{n: n}
	// Sorting k positions costs about k·log k steps, the bitmap n/64
	// words: below n/1024 positions, sorting is cheaper. A walk reaches
	// at least one position per starting element, most often more.
	if from >= n/1024 {
		o.words = make([]uint64, (n+63)/64)
	}
	return o
}

func (o *ordinals) add(i int) {
	if o.words != nil {
		o.words[i>>6] |= 1 << (i & 63)
		return
	}
	o.list = append(o.list, int32(i))
	if len(o.list) >= o.n/1024 {
		// More than expected: the bitmap is cheaper now.
		o.words = make([]uint64, (o.n+63)/64)
		for _, j := range o.list {
			o.words[j>>6] |= 1 << (j & 63)
		}
		o.list = nil
	}
}

// each calls f for every distinct position, ascending.
func (o *ordinals) each(f func(i int)) {
	if o.words == nil {
		slices.Sort(o.list)
		for j, i := range o.list {
			if j == 0 || i != o.list[j-1] {
				f(int(i))
			}
		}
		return
	}
	for w, word := range o.words {
		for word != 0 {
			f(w<<6 | bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
}
