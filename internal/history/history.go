// Package history keeps every revision of every node and edge of a graph,
// each with its validity interval [From, To), for a bounded retention, and
// answers "the graph as it was at t" (At) and "everything alive during a
// window" (Window) as graph.View values that queries run on.
//
// Feed it with Attach(g) (or Handle(ev) as a graph listener); prune it with
// Prune(now) or Run(ctx). It is safe for concurrent use. It implements the
// query engine's eval.History interface.
package history

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Options configure a Store.
type Options struct {
	// Retention is how long a revision is kept after it ended; 0 keeps
	// everything.
	Retention time.Duration
	// PruneInterval is the period of Run's pruning (default: Retention/10,
	// at least a second).
	PruneInterval time.Duration
	// Now is the clock used by Run (default time.Now).
	Now func() time.Time
}

// Revision is one state of an element and when it was current: From
// included, To excluded; To is zero while the revision is current.
type Revision[T any] struct {
	Elem     T
	From, To graph.Time
}

func (r *Revision[T]) aliveAt(t graph.Time) bool {
	return r.From <= t && (r.To == 0 || t < r.To)
}

func (r *Revision[T]) aliveDuring(from, to graph.Time) bool {
	return r.From <= to && (r.To == 0 || r.To > from)
}

// Store holds the revisions.
type Store struct {
	opts  Options
	mu    sync.RWMutex
	nodes map[graph.Identifier][]Revision[*graph.Node]
	edges map[graph.Identifier][]Revision[*graph.Edge]
}

// New returns an empty store.
func New(opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = max(opts.Retention/10, time.Second)
	}
	return &Store{
		opts:  opts,
		nodes: map[graph.Identifier][]Revision[*graph.Node]{},
		edges: map[graph.Identifier][]Revision[*graph.Edge]{},
	}
}

// Attach records the graph's current elements and every later change. It
// returns a function that stops listening.
func (s *Store) Attach(g *graph.Graph) (detach func()) {
	nodes, edges, remove := g.SnapshotAndListen(s.Handle)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		if _, ok := s.nodes[n.ID]; !ok {
			s.nodes[n.ID] = []Revision[*graph.Node]{{Elem: n, From: start(&n.Element)}}
		}
	}
	for _, e := range edges {
		if _, ok := s.edges[e.ID]; !ok {
			s.edges[e.ID] = []Revision[*graph.Edge]{{Elem: e, From: start(&e.Element)}}
		}
	}
	return remove
}

func start(el *graph.Element) graph.Time {
	if el.UpdatedAt != 0 {
		return el.UpdatedAt
	}
	if el.CreatedAt != 0 {
		return el.CreatedAt
	}
	return graph.Now()
}

// Handle records one graph event; it is a graph.Listener.
func (s *Store) Handle(ev graph.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Type {
	case graph.NodeAdded, graph.NodeUpdated:
		s.nodes[ev.Node.ID] = open(s.nodes[ev.Node.ID], ev.Node, start(&ev.Node.Element))
	case graph.NodeDeleted:
		s.nodes[ev.Node.ID] = closeLast(s.nodes[ev.Node.ID], deletedAt(&ev.Node.Element))
	case graph.EdgeAdded, graph.EdgeUpdated:
		s.edges[ev.Edge.ID] = open(s.edges[ev.Edge.ID], ev.Edge, start(&ev.Edge.Element))
	case graph.EdgeDeleted:
		s.edges[ev.Edge.ID] = closeLast(s.edges[ev.Edge.ID], deletedAt(&ev.Edge.Element))
	}
}

func deletedAt(el *graph.Element) graph.Time {
	if el.DeletedAt != 0 {
		return el.DeletedAt
	}
	return graph.Now()
}

// open closes the current revision at t and appends a new one from t. Times
// never go backwards: a change stamped before the current revision began
// starts when it began.
func open[T any](revs []Revision[T], elem T, t graph.Time) []Revision[T] {
	if n := len(revs); n > 0 {
		last := &revs[n-1]
		t = max(t, last.From)
		if last.To == 0 || last.To > t {
			last.To = t
		}
		if last.From == t && last.To == t {
			// Replaced within the same millisecond: keep only the newer.
			revs = revs[:n-1]
		}
	}
	return append(revs, Revision[T]{Elem: elem, From: t})
}

func closeLast[T any](revs []Revision[T], t graph.Time) []Revision[T] {
	if n := len(revs); n > 0 && revs[n-1].To == 0 {
		revs[n-1].To = max(t, revs[n-1].From)
	}
	return revs
}

// Prune drops the revisions that ended before now minus the retention; it
// returns how many were dropped.
func (s *Store) Prune(now time.Time) int {
	if s.opts.Retention <= 0 {
		return 0
	}
	limit := graph.TimeOf(now.Add(-s.opts.Retention))
	s.mu.Lock()
	defer s.mu.Unlock()
	return prune(s.nodes, limit) + prune(s.edges, limit)
}

func prune[T any](m map[graph.Identifier][]Revision[T], limit graph.Time) int {
	dropped := 0
	for id, revs := range m {
		keep := revs[:0]
		for _, r := range revs {
			if r.To != 0 && r.To < limit {
				dropped++
				continue
			}
			keep = append(keep, r)
		}
		if len(keep) == 0 {
			delete(m, id)
			continue
		}
		clear(revs[len(keep):])
		m[id] = keep
	}
	return dropped
}

// Run prunes periodically until ctx is done.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Prune(s.opts.Now())
		}
	}
}

// Len returns the number of node and edge revisions held.
func (s *Store) Len() (nodes, edges int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.nodes {
		nodes += len(r)
	}
	for _, r := range s.edges {
		edges += len(r)
	}
	return nodes, edges
}

// NodeRevisions returns the revisions of a node, oldest first.
func (s *Store) NodeRevisions(id graph.Identifier) []Revision[*graph.Node] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.nodes[id])
}

// EdgeRevisions returns the revisions of an edge, oldest first.
func (s *Store) EdgeRevisions(id graph.Identifier) []Revision[*graph.Edge] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.edges[id])
}

// At returns the graph as it was at t.
func (s *Store) At(t time.Time) graph.View {
	at := graph.TimeOf(t)
	return s.view(func(r *Revision[*graph.Node]) bool { return r.aliveAt(at) },
		func(r *Revision[*graph.Edge]) bool { return r.aliveAt(at) })
}

// Window returns every revision alive at some point in [from, to]: Nodes()
// and Edges() list all of them (an element updated in the window appears
// once per revision, as in the original's time slices), while Node(id),
// Edge(id) and the adjacency give each element's last revision in the
// window.
func (s *Store) Window(from, to time.Time) graph.View {
	f, t := graph.TimeOf(from), graph.TimeOf(to)
	return s.view(func(r *Revision[*graph.Node]) bool { return r.aliveDuring(f, t) },
		func(r *Revision[*graph.Edge]) bool { return r.aliveDuring(f, t) })
}

func (s *Store) view(nodeOK func(*Revision[*graph.Node]) bool, edgeOK func(*Revision[*graph.Edge]) bool) *View {
	v := graph.NewSnapshot()
	s.mu.RLock()
	for _, revs := range s.nodes {
		for i := range revs {
			if nodeOK(&revs[i]) {
				v.AddNode(revs[i].Elem)
			}
		}
	}
	for _, revs := range s.edges {
		for i := range revs {
			if edgeOK(&revs[i]) {
				v.AddEdge(revs[i].Elem)
			}
		}
	}
	s.mu.RUnlock()
	return v.Finish()
}

// View is an immutable graph.View over historical revisions.
type View = graph.Snapshot
