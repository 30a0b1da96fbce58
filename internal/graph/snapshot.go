package graph

import (
	"cmp"
	"slices"
)

// Snapshot is an immutable View over a set of element revisions: the graph
// as it was at a time, or every revision alive in a window. Node and Edge
// answer the last revision added; the lists hold every revision. Build it
// with AddNode/AddEdge, then Finish.
type Snapshot struct {
	nodes    map[Identifier]*Node
	edges    map[Identifier]*Edge
	out, in  map[Identifier][]*Edge
	byType   map[string][]*Node
	byName   map[string][]*Node
	nodeList []*Node
	edgeList []*Edge
}

var _ View = (*Snapshot)(nil)

// NewSnapshot returns an empty snapshot to fill.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		nodes:  map[Identifier]*Node{},
		edges:  map[Identifier]*Edge{},
		out:    map[Identifier][]*Edge{},
		in:     map[Identifier][]*Edge{},
		byType: map[string][]*Node{},
		byName: map[string][]*Node{},
	}
}

// AddNode adds a node revision (the last one added is the node's current).
func (v *Snapshot) AddNode(n *Node) {
	v.nodeList = append(v.nodeList, n)
	v.nodes[n.ID] = n
}

// AddEdge adds an edge revision.
func (v *Snapshot) AddEdge(e *Edge) {
	v.edgeList = append(v.edgeList, e)
	v.edges[e.ID] = e
}

// Finish orders the revisions (creation time, ID, revision) and builds the
// indexes; the snapshot is read-only afterwards.
func (v *Snapshot) Finish() *Snapshot {
	slices.SortFunc(v.nodeList, func(a, b *Node) int { return compareRevisions(&a.Element, &b.Element) })
	slices.SortFunc(v.edgeList, func(a, b *Edge) int { return compareRevisions(&a.Element, &b.Element) })
	for _, n := range v.nodeList {
		if t := n.Metadata.String(KeyType); t != "" {
			v.byType[t] = append(v.byType[t], n)
		}
		if name := n.Metadata.String(KeyName); name != "" {
			v.byName[name] = append(v.byName[name], n)
		}
	}
	for _, e := range v.edgeList {
		if v.edges[e.ID] == e { // the last revision only
			v.out[e.Parent] = append(v.out[e.Parent], e)
			v.in[e.Child] = append(v.in[e.Child], e)
		}
	}
	return v
}

func compareRevisions(a, b *Element) int {
	return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Revision, b.Revision))
}

// Node returns a node (its last revision in the snapshot) or nil.
func (v *Snapshot) Node(id Identifier) *Node { return v.nodes[id] }

// Edge returns an edge (its last revision in the snapshot) or nil.
func (v *Snapshot) Edge(id Identifier) *Edge { return v.edges[id] }

// Nodes returns every node revision, by creation time, ID and revision.
func (v *Snapshot) Nodes() []*Node { return slices.Clone(v.nodeList) }

// Edges returns every edge revision, by creation time, ID and revision.
func (v *Snapshot) Edges() []*Edge { return slices.Clone(v.edgeList) }

// OutEdges returns the edges whose parent is id.
func (v *Snapshot) OutEdges(id Identifier) []*Edge { return slices.Clone(v.out[id]) }

// InEdges returns the edges whose child is id.
func (v *Snapshot) InEdges(id Identifier) []*Edge { return slices.Clone(v.in[id]) }

// NodesByIndex looks Type and Name up.
func (v *Snapshot) NodesByIndex(key, value string) ([]*Node, bool) {
	switch key {
	case KeyType:
		return slices.Clone(v.byType[value]), true
	case KeyName:
		return slices.Clone(v.byName[value]), true
	}
	return nil, false
}
