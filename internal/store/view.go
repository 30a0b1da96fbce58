package store

import (
	"cmp"
	"slices"

	"github.com/skydive-ng/skydive/internal/graph"
)

// viewAt builds the graph at t from the rows of [t-C, t] (ordered by Time,
// Seq): the last row of each element decides.
func viewAt(rows []Revision, t graph.Time) *View {
	type key struct {
		k  ElemKind
		id graph.Identifier
	}
	last := map[key]int{}
	for i := range rows {
		if rows[i].Time > t {
			break
		}
		last[key{rows[i].Kind, rows[i].ID()}] = i
	}
	v := newView()
	for _, i := range last {
		r := &rows[i]
		if r.Op == OpDelete {
			continue
		}
		if r.Node != nil {
			v.addNode(r.Node)
		} else if r.Edge != nil {
			v.addEdge(r.Edge)
		}
	}
	v.finish()
	return v
}

// viewWindow builds every revision alive at some point of [from, to] from
// the rows of [from-C, to], with history.Store's semantics: a revision
// [From, To) is kept when From <= to and (To is open or To > from); a
// revision replaced within the millisecond it began is dropped.
func viewWindow(rows []Revision, from, to graph.Time) *View {
	type key struct {
		k  ElemKind
		id graph.Identifier
	}
	type rev struct {
		r        *Revision
		from, to graph.Time
	}
	byID := map[key][]int{}
	var order []key
	for i := range rows {
		k := key{rows[i].Kind, rows[i].ID()}
		if _, ok := byID[k]; !ok {
			order = append(order, k)
		}
		byID[k] = append(byID[k], i)
	}
	v := newView()
	for _, k := range order {
		var cur *rev
		emit := func(end graph.Time) {
			if cur == nil {
				return
			}
			c := cur
			cur = nil
			c.to = end
			if c.to != 0 && c.to <= c.from {
				return // replaced within the same millisecond
			}
			if c.from <= to && (c.to == 0 || c.to > from) {
				if c.r.Node != nil {
					v.addNode(c.r.Node)
				} else if c.r.Edge != nil {
					v.addEdge(c.r.Edge)
				}
			}
		}
		for _, i := range byID[k] {
			r := &rows[i]
			switch r.Op {
			case OpCheckpoint:
				if cur != nil && sameRevision(cur.r, r) {
					continue
				}
				emit(r.Time)
				cur = &rev{r: r, from: r.From}
			case OpSet:
				emit(r.Time)
				cur = &rev{r: r, from: r.From}
			case OpDelete:
				emit(r.Time)
			}
		}
		emit(0)
	}
	v.finish()
	return v
}

func sameRevision(a, b *Revision) bool {
	ea, eb := a.element(), b.element()
	return ea != nil && eb != nil && ea.Revision == eb.Revision && ea.UpdatedAt == eb.UpdatedAt && a.From == b.From
}

// View is an immutable graph.View over historical revisions (the same
// shape as history.View).
type View struct {
	nodes    map[graph.Identifier]*graph.Node
	edges    map[graph.Identifier]*graph.Edge
	out, in  map[graph.Identifier][]*graph.Edge
	byType   map[string][]*graph.Node
	byName   map[string][]*graph.Node
	nodeList []*graph.Node
	edgeList []*graph.Edge
}

var _ graph.View = (*View)(nil)

func newView() *View {
	return &View{
		nodes:  map[graph.Identifier]*graph.Node{},
		edges:  map[graph.Identifier]*graph.Edge{},
		out:    map[graph.Identifier][]*graph.Edge{},
		in:     map[graph.Identifier][]*graph.Edge{},
		byType: map[string][]*graph.Node{},
		byName: map[string][]*graph.Node{},
	}
}

func (v *View) addNode(n *graph.Node) {
	v.nodeList = append(v.nodeList, n)
	v.nodes[n.ID] = n
}

func (v *View) addEdge(e *graph.Edge) {
	v.edgeList = append(v.edgeList, e)
	v.edges[e.ID] = e
}

func (v *View) finish() {
	slices.SortFunc(v.nodeList, func(a, b *graph.Node) int { return compareElements(&a.Element, &b.Element) })
	slices.SortFunc(v.edgeList, func(a, b *graph.Edge) int { return compareElements(&a.Element, &b.Element) })
	for _, n := range v.nodeList {
		if t := n.Metadata.String(graph.KeyType); t != "" {
			v.byType[t] = append(v.byType[t], n)
		}
		if name := n.Metadata.String(graph.KeyName); name != "" {
			v.byName[name] = append(v.byName[name], n)
		}
	}
	for _, e := range v.edgeList {
		if v.edges[e.ID] == e { // the last revision only
			v.out[e.Parent] = append(v.out[e.Parent], e)
			v.in[e.Child] = append(v.in[e.Child], e)
		}
	}
}

func compareElements(a, b *graph.Element) int {
	return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Revision, b.Revision))
}

// Node returns a node (its last revision in the view) or nil.
func (v *View) Node(id graph.Identifier) *graph.Node { return v.nodes[id] }

// Edge returns an edge (its last revision in the view) or nil.
func (v *View) Edge(id graph.Identifier) *graph.Edge { return v.edges[id] }

// Nodes returns every node revision, by creation time, ID and revision.
func (v *View) Nodes() []*graph.Node { return slices.Clone(v.nodeList) }

// Edges returns every edge revision, by creation time, ID and revision.
func (v *View) Edges() []*graph.Edge { return slices.Clone(v.edgeList) }

// OutEdges returns the edges whose parent is id.
func (v *View) OutEdges(id graph.Identifier) []*graph.Edge { return slices.Clone(v.out[id]) }

// InEdges returns the edges whose child is id.
func (v *View) InEdges(id graph.Identifier) []*graph.Edge { return slices.Clone(v.in[id]) }

// NodesByIndex looks Type and Name up.
func (v *View) NodesByIndex(key, value string) ([]*graph.Node, bool) {
	switch key {
	case graph.KeyType:
		return slices.Clone(v.byType[value]), true
	case graph.KeyName:
		return slices.Clone(v.byName[value]), true
	}
	return nil, false
}
