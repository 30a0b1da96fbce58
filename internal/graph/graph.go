// Package graph holds the topology graph: nodes and edges with metadata,
// revisions, typed change events and indexes. Elements are immutable once
// stored: every change stores a new copy, so a reader may keep the pointers it
// got without holding any lock, and history can keep old revisions as they are.
package graph

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Identifier names a node or an edge.
type Identifier string

// Time is a moment in milliseconds since the epoch, the unit of the original's
// JSON; the zero value marshals to null.
type Time int64

// TimeOf converts a time.Time.
func TimeOf(t time.Time) Time { return Time(t.UnixMilli()) }

// Now is the current time.
func Now() Time { return TimeOf(time.Now()) }

// IsZero reports whether t is unset.
func (t Time) IsZero() bool { return t == 0 }

// MarshalJSON writes milliseconds, or null when unset.
func (t Time) MarshalJSON() ([]byte, error) {
	if t == 0 {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, int64(t), 10), nil
}

// UnmarshalJSON reads milliseconds or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = 0
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil {
			return fmt.Errorf("time must be milliseconds since the epoch: %w", err)
		}
		v = int64(f)
	}
	*t = Time(v)
	return nil
}

// Element is what nodes and edges share.
type Element struct {
	ID        Identifier `json:"ID"`
	Metadata  Metadata   `json:"Metadata"`
	Host      string     `json:"Host"`
	Origin    string     `json:"Origin"`
	CreatedAt Time       `json:"CreatedAt"`
	UpdatedAt Time       `json:"UpdatedAt"`
	DeletedAt Time       `json:"DeletedAt"`
	Revision  int64      `json:"Revision"`
}

// Node is a vertex of the topology.
type Node struct {
	Element
}

// Edge links a parent node to a child node.
type Edge struct {
	Element
	Parent Identifier `json:"Parent"`
	Child  Identifier `json:"Child"`
}

// Clone returns a deep copy that may be changed freely.
func (n *Node) Clone() *Node {
	c := *n
	c.Metadata = n.Metadata.Clone()
	return &c
}

// Clone returns a deep copy that may be changed freely.
func (e *Edge) Clone() *Edge {
	c := *e
	c.Metadata = e.Metadata.Clone()
	return &c
}

// EventType tells what happened to an element.
type EventType int

// The events of a graph, named as the original's websocket messages.
const (
	NodeAdded EventType = iota + 1
	NodeUpdated
	NodeDeleted
	EdgeAdded
	EdgeUpdated
	EdgeDeleted
)

var eventNames = map[EventType]string{
	NodeAdded: "NodeAdded", NodeUpdated: "NodeUpdated", NodeDeleted: "NodeDeleted",
	EdgeAdded: "EdgeAdded", EdgeUpdated: "EdgeUpdated", EdgeDeleted: "EdgeDeleted",
}

func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is one change. Exactly one of Node and Edge is set; for an update the
// previous revision is in Old.
type Event struct {
	Type    EventType
	Node    *Node
	Edge    *Edge
	OldNode *Node
	OldEdge *Edge
}

// Listener receives events synchronously, in order, while the graph is
// locked: it must not block and must not call back into the graph.
type Listener func(Event)

// Errors returned by mutations.
var (
	ErrNodeNotFound = errors.New("node not found")
	ErrEdgeNotFound = errors.New("edge not found")
	ErrExists       = errors.New("element already exists")
)

// View is read access to a graph: the live one, or the graph as it was at
// some time (history). Query evaluation works on a View.
type View interface {
	Node(id Identifier) *Node
	Edge(id Identifier) *Edge
	Nodes() []*Node
	Edges() []*Edge
	OutEdges(id Identifier) []*Edge
	InEdges(id Identifier) []*Edge
	// NodesByIndex answers from an index; ok is false if key has none.
	NodesByIndex(key, value string) (nodes []*Node, ok bool)
}

var _ View = (*Graph)(nil)

// Graph is a concurrency-safe topology graph.
type Graph struct {
	mu sync.RWMutex
	// nodes keep their adjacency (their edges) beside them.
	nodes *orderedSet[*Node, *nodeAdj]
	edges *orderedSet[*Edge, struct{}]
	// adjAt is the adjacencies by creation position, valid up to the number of nodes
	// whenever the order is (see placed; beyond, stale entries).
	adjAt []*nodeAdj
	// edgeMeta holds the small metadata edges share (see
	// shareEdgeMetadata), copied on write: decoders read it without the
	// graph's lock (see EdgeDecoder).
	edgeMeta  atomic.Pointer[map[string]Metadata]
	intern    *interner
	byType    *index
	byName    *index
	listeners []listener // in the order they were added
	nextL     int
	now       func() Time
}

// Option configures a graph.
type Option func(*Graph)

// WithClock sets the clock used to stamp elements (tests).
func WithClock(now func() Time) Option { return func(g *Graph) { g.now = now } }

// New returns an empty graph.
func New(opts ...Option) *Graph {
	g := &Graph{
		nodes:  newColumnSet(),
		edges:  newOrderedSet[*Edge, struct{}](edgeKey),
		intern: newInterner(),
		byType: newIndex(),
		byName: newIndex(),
		now:    Now,
	}
	g.nodes.posOf = func(a *nodeAdj) int { return a.ord }
	g.nodes.placed = func(a *nodeAdj, i int) {
		a.ord = i
		for len(g.adjAt) <= i {
			g.adjAt = append(g.adjAt, nil)
		}
		g.adjAt[i] = a
	}
	for _, o := range opts {
		o(g)
	}
	g.edgeMeta.Store(&map[string]Metadata{})
	return g
}

// Now returns the graph's clock.
func (g *Graph) Now() Time { return g.now() }

// AddListener registers l and returns a function that removes it.
func (g *Graph) AddListener(l Listener) (remove func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addListenerLocked(l)
}

func (g *Graph) addListenerLocked(l Listener) func() {
	id := g.nextL
	g.nextL++
	g.listeners = append(g.listeners, listener{id, l})
	return func() {
		g.mu.Lock()
		g.listeners = slices.DeleteFunc(g.listeners, func(x listener) bool { return x.id == id })
		g.mu.Unlock()
	}
}

// listener is a registered Listener and its number.
type listener struct {
	id int
	fn Listener
}

// SnapshotAndListen returns every element and registers l in one atomic step,
// so that l sees exactly the changes made after the snapshot.
func (g *Graph) SnapshotAndListen(l Listener) (nodes []*Node, edges []*Edge, remove func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodesLocked(), g.edgesLocked(), g.addListenerLocked(l)
}

func (g *Graph) emit(ev Event) {
	for _, l := range g.listeners {
		l.fn(ev)
	}
}

func (g *Graph) index(n *Node) {
	g.byType.add(n.Metadata.String(KeyType), n)
	g.byName.add(n.Metadata.String(KeyName), n)
}

func (g *Graph) unindex(n *Node) {
	g.byType.remove(n.Metadata.String(KeyType), n)
	g.byName.remove(n.Metadata.String(KeyName), n)
}

// replaceStored swaps the stored revision of a node, keeping the orders.
func (g *Graph) replaceStored(old, n *Node) {
	g.nodes.update(n.ID, n, old.CreatedAt != n.CreatedAt)
	for _, ix := range [...]struct {
		idx *index
		key string
	}{{g.byType, KeyType}, {g.byName, KeyName}} {
		ok, nk := old.Metadata.String(ix.key), n.Metadata.String(ix.key)
		if ok == nk {
			ix.idx.replace(nk, old, n)
			continue
		}
		ix.idx.remove(ok, old)
		ix.idx.add(nk, n)
	}
}

// AddNode stores n as given (ID, host, origin, times, revision). Unset times
// are stamped now and an unset revision becomes 1.
func (g *Graph) AddNode(n *Node) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addNodeLocked(n, false)
}

func (g *Graph) addNodeLocked(n *Node, owned bool) error {
	if n.ID == "" {
		return errors.New("node has no ID")
	}
	if g.nodes.has(n.ID) {
		return fmt.Errorf("node %s: %w", n.ID, ErrExists)
	}
	g.addNewNodeLocked(n, owned)
	return nil
}

// addNewNodeLocked adds a node of a non-empty ID that the graph does not
// have.
func (g *Graph) addNewNodeLocked(n *Node, owned bool) {
	n = g.stored(n, owned)
	g.nodes.add(n.ID, n, &nodeAdj{})
	g.index(n)
	g.emit(Event{Type: NodeAdded, Node: n})
}

// stored returns the node the graph stores: stamped, its metadata
// canonical and interned. It is a copy (one copy: canonical already copies
// the metadata deeply) unless owned: n itself, its metadata made canonical
// in place (see ReplaceNodeOwned).
func (g *Graph) stored(n *Node, owned bool) *Node {
	if !owned {
		c := *n
		n = &c
	}
	g.stamp(&n.Element, owned)
	return n
}

// storedEdge is stored for edges; its ends share their nodes' IDs.
func (g *Graph) storedEdge(e *Edge, parent, child *Node, owned bool) *Edge {
	if !owned {
		c := *e
		e = &c
	}
	// Most edges' metadata is shared already: then it is not interned for
	// nothing.
	if m, ok := g.sharedEdgeMetadata(e.Metadata); ok {
		g.stampTimes(&e.Element)
		e.Metadata = m
	} else {
		g.stamp(&e.Element, owned)
		e.Metadata = g.shareEdgeMetadata(e.Metadata)
	}
	e.Parent, e.Child = parent.ID, child.ID
	return e
}

func (g *Graph) stamp(e *Element, owned bool) {
	g.stampTimes(e)
	if owned {
		e.Metadata = g.intern.own(e.Metadata)
	} else {
		e.Metadata = g.intern.canonical(e.Metadata)
	}
}

// stampTimes sets the unset times to now and an unset revision to 1.
func (g *Graph) stampTimes(e *Element) {
	now := g.now()
	if e.CreatedAt == 0 {
		e.CreatedAt = now
	}
	if e.UpdatedAt == 0 {
		e.UpdatedAt = e.CreatedAt
	}
	if e.Revision == 0 {
		e.Revision = 1
	}
}

// ReplaceNode stores n in place of the node with the same ID, as given (used by
// replication, where the owner already stamped it). It adds the node if absent.
func (g *Graph) ReplaceNode(n *Node) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replaceNodeLocked(n, false)
}

// ReplaceNodeOwned is ReplaceNode for a node that the caller gives to the
// graph, as replication does with the nodes it decodes: n and its metadata
// are stored as they are (the metadata made canonical and interned in
// place) instead of copied, so that a node sent over a websocket is
// allocated once. The caller must not change n nor its metadata afterwards.
func (g *Graph) ReplaceNodeOwned(n *Node) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replaceNodeLocked(n, true)
}

func (g *Graph) replaceNodeLocked(n *Node, owned bool) error {
	old, ok := g.nodes.get(n.ID)
	if !ok {
		if n.ID == "" {
			return errors.New("node has no ID")
		}
		g.addNewNodeLocked(n, owned)
		return nil
	}
	n = g.stored(n, owned)
	g.replaceStored(old, n)
	g.emit(Event{Type: NodeUpdated, Node: n, OldNode: old})
	return nil
}

// UpdateNodeMetadata applies change to a copy of the node's metadata; when
// change reports a difference the copy is stored with a new revision.
func (g *Graph) UpdateNodeMetadata(id Identifier, change func(Metadata) bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, ok := g.nodes.get(id)
	if !ok {
		return fmt.Errorf("node %s: %w", id, ErrNodeNotFound)
	}
	n := old.Clone()
	if !change(n.Metadata) {
		return nil
	}
	n.Metadata = g.intern.canonical(n.Metadata)
	if sameNormalized(old.Metadata, n.Metadata) {
		return nil
	}
	n.Revision++
	n.UpdatedAt = g.now()
	g.replaceStored(old, n)
	g.emit(Event{Type: NodeUpdated, Node: n, OldNode: old})
	return nil
}

// SetNodeMetadata replaces the node's metadata if it differs.
func (g *Graph) SetNodeMetadata(id Identifier, m Metadata) error {
	return g.UpdateNodeMetadata(id, func(cur Metadata) bool {
		if cur.Equal(m) {
			return false
		}
		for k := range cur {
			delete(cur, k)
		}
		for k, v := range m.Clone() {
			cur[k] = v
		}
		return true
	})
}

// DeleteNode removes a node and every edge touching it.
func (g *Graph) DeleteNode(id Identifier) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deleteNodeLocked(id)
}

func (g *Graph) deleteNodeLocked(id Identifier) error {
	sl, ok := g.nodes.m.Get(id)
	if !ok {
		return fmt.Errorf("node %s: %w", id, ErrNodeNotFound)
	}
	n, a := sl.el, sl.x
	// The last edge first: unlinking it from this node's list is then
	// immediate.
	for len(a.out) > 0 {
		g.deleteEdgeLocked(a.out[len(a.out)-1].e.ID)
	}
	for len(a.in) > 0 {
		g.deleteEdgeLocked(a.in[len(a.in)-1].e.ID)
	}
	g.unindex(n)
	g.nodes.remove(id)
	d := *n
	d.DeletedAt = g.now()
	g.emit(Event{Type: NodeDeleted, Node: &d})
	return nil
}

// AddEdge stores e; both ends must exist.
func (g *Graph) AddEdge(e *Edge) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addEdgeLocked(e, false)
}

func (g *Graph) addEdgeLocked(e *Edge, owned bool) error {
	if e.ID == "" {
		return errors.New("edge has no ID")
	}
	if g.edges.has(e.ID) {
		return fmt.Errorf("edge %s: %w", e.ID, ErrExists)
	}
	return g.addNewEdgeLocked(e, owned)
}

// addNewEdgeLocked adds an edge of a non-empty ID that the graph does not
// have, if it has both its ends.
func (g *Graph) addNewEdgeLocked(e *Edge, owned bool) error {
	parent, ok := g.nodes.m.Get(e.Parent)
	if !ok {
		return fmt.Errorf("edge %s parent %s: %w", e.ID, e.Parent, ErrNodeNotFound)
	}
	child, ok := g.nodes.m.Get(e.Child)
	if !ok {
		return fmt.Errorf("edge %s child %s: %w", e.ID, e.Child, ErrNodeNotFound)
	}
	e = g.storedEdge(e, parent.el, child.el, owned)
	g.edges.add(e.ID, e, struct{}{})
	parent.x.out = append(parent.x.out, adjEdge{e, child.x})
	child.x.in = append(child.x.in, adjEdge{e, parent.x})
	g.emit(Event{Type: EdgeAdded, Edge: e})
	return nil
}

// nodeAdj is a node's edges: out where it is the parent, in where it is
// the child, each with the other end's nodeAdj, so that a walk goes from
// node to node without looking IDs up. ord is the node's position in the
// creation order, kept by g.nodes (see placed) whenever that order is
// valid.
type nodeAdj struct {
	ord     int
	out, in []adjEdge
}

type adjEdge struct {
	e     *Edge
	other *nodeAdj
}

// relink swaps a stored edge's revision in the adjacency of its ends.
func (g *Graph) relink(e *Edge) {
	for _, l := range [][]adjEdge{g.nodes.at(e.Parent).x.out, g.nodes.at(e.Child).x.in} {
		if i := findAdj(l, e.ID); i >= 0 {
			l[i].e = e
		}
	}
}

func (g *Graph) unlink(e *Edge) {
	p, c := g.nodes.at(e.Parent).x, g.nodes.at(e.Child).x
	p.out = removeAdj(p.out, e.ID)
	c.in = removeAdj(c.in, e.ID)
}

// findAdj searches from the end: the edge deleted is most often the last
// (a node's edges deleted with it, newest first).
func findAdj(l []adjEdge, id Identifier) int {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].e.ID == id {
			return i
		}
	}
	return -1
}

// removeAdj removes an edge, moving the last one in its place (the order
// of a node's edges is not kept: readers sort or use positions).
func removeAdj(l []adjEdge, id Identifier) []adjEdge {
	i := findAdj(l, id)
	if i < 0 {
		return l
	}
	last := len(l) - 1
	l[i] = l[last]
	l[last] = adjEdge{}
	return l[:last]
}

// ReplaceEdge stores e in place of the edge with the same ID (adds it if absent).
func (g *Graph) ReplaceEdge(e *Edge) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replaceEdgeLocked(e, false)
}

// ReplaceEdgeOwned is ReplaceNodeOwned for edges.
func (g *Graph) ReplaceEdgeOwned(e *Edge) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replaceEdgeLocked(e, true)
}

func (g *Graph) replaceEdgeLocked(e *Edge, owned bool) error {
	old, ok := g.edges.get(e.ID)
	if !ok {
		if e.ID == "" {
			return errors.New("edge has no ID")
		}
		return g.addNewEdgeLocked(e, owned)
	}
	if old.Parent != e.Parent || old.Child != e.Child {
		g.deleteEdgeLocked(e.ID)
		return g.addEdgeLocked(e, owned)
	}
	e = g.storedEdge(e, g.nodes.at(old.Parent).el, g.nodes.at(old.Child).el, owned)
	g.edges.update(e.ID, e, old.CreatedAt != e.CreatedAt)
	g.relink(e)
	g.emit(Event{Type: EdgeUpdated, Edge: e, OldEdge: old})
	return nil
}

// UpdateEdgeMetadata is UpdateNodeMetadata for edges.
func (g *Graph) UpdateEdgeMetadata(id Identifier, change func(Metadata) bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, ok := g.edges.get(id)
	if !ok {
		return fmt.Errorf("edge %s: %w", id, ErrEdgeNotFound)
	}
	e := old.Clone()
	if !change(e.Metadata) {
		return nil
	}
	e.Metadata = g.intern.canonical(e.Metadata)
	if sameNormalized(old.Metadata, e.Metadata) {
		return nil
	}
	e.Metadata = g.shareEdgeMetadata(e.Metadata)
	e.Revision++
	e.UpdatedAt = g.now()
	g.edges.update(id, e, false)
	g.relink(e)
	g.emit(Event{Type: EdgeUpdated, Edge: e, OldEdge: old})
	return nil
}

// DeleteEdge removes an edge.
func (g *Graph) DeleteEdge(id Identifier) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.edges.has(id) {
		return fmt.Errorf("edge %s: %w", id, ErrEdgeNotFound)
	}
	g.deleteEdgeLocked(id)
	return nil
}

func (g *Graph) deleteEdgeLocked(id Identifier) {
	e := g.edges.at(id).el
	g.edges.remove(id)
	g.unlink(e)
	d := *e
	d.DeletedAt = g.now()
	g.emit(Event{Type: EdgeDeleted, Edge: &d})
}

// DeleteWhere removes every node and edge for which match is true (edges of
// removed nodes go with them). It returns how many nodes were removed.
// The nodes go first, the most linked first: a host leaving with its
// thousands of interfaces then takes its edges from the end of its own
// list, each in constant time, instead of each interface's deletion
// searching the host's list.
func (g *Graph) DeleteWhere(match func(*Element) bool) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var nodes []*Node
	for sl := range g.nodes.m.All() {
		if match(&sl.el.Element) {
			nodes = append(nodes, sl.el)
		}
	}
	degree := func(n *Node) int { a := g.nodes.at(n.ID).x; return len(a.out) + len(a.in) }
	slices.SortFunc(nodes, func(a, b *Node) int { return cmp.Compare(degree(b), degree(a)) })
	for _, n := range nodes {
		_ = g.deleteNodeLocked(n.ID)
	}
	var edges []Identifier
	for sl := range g.edges.m.All() {
		if match(&sl.el.Element) {
			edges = append(edges, sl.el.ID)
		}
	}
	for _, id := range edges {
		g.deleteEdgeLocked(id)
	}
	return len(nodes)
}

// Node returns a node or nil.
func (g *Graph) Node(id Identifier) *Node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes.at(id).el
}

// Edge returns an edge or nil.
func (g *Graph) Edge(id Identifier) *Edge {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.edges.at(id).el
}

// Nodes returns every node, ordered by creation time then ID.
func (g *Graph) Nodes() []*Node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodesLocked()
}

func (g *Graph) nodesLocked() []*Node { return g.nodes.list() }

// Edges returns every edge, ordered by creation time then ID.
func (g *Graph) Edges() []*Edge {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.edgesLocked()
}

func (g *Graph) edgesLocked() []*Edge { return g.edges.list() }

// SortNodes orders nodes by creation time, then ID, for stable answers.
func SortNodes(ns []*Node) {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].CreatedAt != ns[j].CreatedAt {
			return ns[i].CreatedAt < ns[j].CreatedAt
		}
		return ns[i].ID < ns[j].ID
	})
}

// SortEdges orders edges by creation time, then ID.
func SortEdges(es []*Edge) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].CreatedAt != es[j].CreatedAt {
			return es[i].CreatedAt < es[j].CreatedAt
		}
		return es[i].ID < es[j].ID
	})
}

// NodesByIndex returns the nodes whose indexed key (Type or Name) equals
// value; ok is false when key is not indexed.
func (g *Graph) NodesByIndex(key, value string) (nodes []*Node, ok bool) {
	var idx *index
	switch key {
	case KeyType:
		idx = g.byType
	case KeyName:
		idx = g.byName
	default:
		return nil, false
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	return idx.get(value), true
}

// OutEdges returns the edges whose parent is id.
func (g *Graph) OutEdges(id Identifier) []*Edge { return g.adjacent(id, true) }

// InEdges returns the edges whose child is id.
func (g *Graph) InEdges(id Identifier) []*Edge { return g.adjacent(id, false) }

func (g *Graph) adjacent(id Identifier, parent bool) []*Edge {
	g.mu.RLock()
	defer g.mu.RUnlock()
	a := g.nodes.at(id).x
	if a == nil {
		return []*Edge{}
	}
	l := a.in
	if parent {
		l = a.out
	}
	out := make([]*Edge, len(l))
	for i, x := range l {
		out[i] = x.e
	}
	// slices.SortFunc rather than SortEdges: sort.Slice allocates.
	slices.SortFunc(out, func(a, b *Edge) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Len returns the number of nodes and edges.
func (g *Graph) Len() (nodes, edges int) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes.len(), g.edges.len()
}
