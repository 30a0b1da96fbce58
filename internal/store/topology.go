package store

import (
	"context"
	"fmt"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
)

func start(el *graph.Element) graph.Time {
	if el.UpdatedAt != 0 {
		return el.UpdatedAt
	}
	if el.CreatedAt != 0 {
		return el.CreatedAt
	}
	return graph.Now()
}

func deletedAt(el *graph.Element) graph.Time {
	if el.DeletedAt != 0 {
		return el.DeletedAt
	}
	return graph.Now()
}

func (s *Store) nextSeqLocked() uint64 {
	s.revSeq++
	return s.revSeq
}

// setLocked records a new revision of an element starting at t (times never
// go backwards for an element). added tells that the graph has just added
// it: the store has no row of it live then (it listens to the deletions),
// so its times need no look-up, a cache miss in a map of a million.
func (s *Store) setLocked(kind ElemKind, id graph.Identifier, n *graph.Node, e *graph.Edge, t graph.Time, added bool) Revision {
	switch {
	case kind == KindNode && added:
		s.liveNodes.Put(id, live[*graph.Node]{el: n, from: t, lastTime: t})
	case kind == KindNode:
		t = setLive(s.liveNodes, id, n, t)
	case added:
		s.liveEdges.Put(id, live[*graph.Edge]{el: e, from: t, lastTime: t})
	default:
		t = setLive(s.liveEdges, id, e, t)
	}
	return Revision{Time: t, Seq: s.nextSeqLocked(), Kind: kind, Op: OpSet, From: t, Node: n, Edge: e}
}

// setLive records el live from t, or from its last row's time if later,
// and returns that time.
func setLive[T interface{ *graph.Node | *graph.Edge }](set *liveSet[T], id graph.Identifier, el T, t graph.Time) graph.Time {
	if l, ok := set.Get(id); ok {
		t = max(t, l.from, l.lastTime)
	}
	set.Put(id, live[T]{el: el, from: t, lastTime: t})
	return t
}

// deleteLive forgets a live element and returns the time of its deletion
// (t, or its last row's time if later); ok is false if it was not live.
func deleteLive[T interface{ *graph.Node | *graph.Edge }](set *liveSet[T], id graph.Identifier, t graph.Time) (graph.Time, bool) {
	l, ok := set.Delete(id)
	if !ok {
		return 0, false
	}
	return max(t, l.from, l.lastTime), true
}

func (s *Store) deleteLocked(kind ElemKind, id graph.Identifier, n *graph.Node, e *graph.Edge, t graph.Time) (Revision, bool) {
	var ok bool
	if kind == KindNode {
		t, ok = deleteLive(s.liveNodes, id, t)
	} else {
		t, ok = deleteLive(s.liveEdges, id, t)
	}
	if !ok {
		return Revision{}, false
	}
	return Revision{Time: t, Seq: s.nextSeqLocked(), Kind: kind, Op: OpDelete, From: t, Node: n, Edge: e}, true
}

// Handle implements TopologyStore and graph.Listener: it queues the row of
// one event and never blocks.
func (s *Store) Handle(ev graph.Event) {
	s.topoMu.Lock()
	var r Revision
	ok := true
	switch ev.Type {
	case graph.NodeAdded, graph.NodeUpdated:
		r = s.setLocked(KindNode, ev.Node.ID, ev.Node, nil, start(&ev.Node.Element), ev.Type == graph.NodeAdded)
	case graph.NodeDeleted:
		r, ok = s.deleteLocked(KindNode, ev.Node.ID, ev.Node, nil, deletedAt(&ev.Node.Element))
	case graph.EdgeAdded, graph.EdgeUpdated:
		r = s.setLocked(KindEdge, ev.Edge.ID, nil, ev.Edge, start(&ev.Edge.Element), ev.Type == graph.EdgeAdded)
	case graph.EdgeDeleted:
		r, ok = s.deleteLocked(KindEdge, ev.Edge.ID, nil, ev.Edge, deletedAt(&ev.Edge.Element))
	default:
		ok = false
	}
	s.topoMu.Unlock()
	if ok {
		s.enqueueRevision(r)
	}
}

// Attach implements TopologyStore: it records the graph's elements (rows
// dated now for those the store did not know live, and deletions for the
// elements the store had live that the graph no longer has, e.g. removed
// while the analyzer was down) and every later change. It returns once
// the first rows are queued, which it waits for room for (none dropped).
func (s *Store) Attach(g *graph.Graph) (detach func()) {
	now := graph.TimeOf(s.opts.Now())
	var prev *View
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	rows, err := s.b.Revisions(ctx, now-graph.Time(s.opts.CheckpointInterval.Milliseconds()), now)
	cancel()
	if err != nil {
		s.log.Warn("store attach: cannot read the last topology", "err", err)
	} else {
		prev = viewAt(rows, now)
	}
	nodes, edges, remove := g.SnapshotAndListen(s.Handle)
	var revs []Revision
	s.topoMu.Lock()
	seenN := map[graph.Identifier]bool{}
	seenE := map[graph.Identifier]bool{}
	for _, n := range nodes {
		seenN[n.ID] = true
		if !s.liveNodes.Has(n.ID) {
			from := start(&n.Element)
			s.liveNodes.Put(n.ID, live[*graph.Node]{el: n, from: from, lastTime: max(now, from)})
			revs = append(revs, Revision{Time: max(now, from), Seq: s.nextSeqLocked(), Kind: KindNode, Op: OpCheckpoint, From: from, Node: n})
		}
	}
	for _, e := range edges {
		seenE[e.ID] = true
		if !s.liveEdges.Has(e.ID) {
			from := start(&e.Element)
			s.liveEdges.Put(e.ID, live[*graph.Edge]{el: e, from: from, lastTime: max(now, from)})
			revs = append(revs, Revision{Time: max(now, from), Seq: s.nextSeqLocked(), Kind: KindEdge, Op: OpCheckpoint, From: from, Edge: e})
		}
	}
	if prev != nil {
		for _, n := range prev.Nodes() {
			id := n.ID
			if prev.Node(id) == n && !seenN[id] && !s.liveNodes.Has(id) {
				revs = append(revs, Revision{Time: now, Seq: s.nextSeqLocked(), Kind: KindNode, Op: OpDelete, From: now, Node: n})
			}
		}
		for _, e := range prev.Edges() {
			id := e.ID
			if prev.Edge(id) == e && !seenE[id] && !s.liveEdges.Has(id) {
				revs = append(revs, Revision{Time: now, Seq: s.nextSeqLocked(), Kind: KindEdge, Op: OpDelete, From: now, Edge: e})
			}
		}
	}
	s.lastCkpt = s.opts.Now()
	s.topoMu.Unlock()
	// Every row is kept: after a restart, the elements the graph no longer
	// has (all of them until agents are back) are as many rows as the
	// history held, more than the queue takes at once.
	if err := s.enqueueBulk(context.Background(), revs); err != nil {
		s.log.Warn("store attach", "err", err)
	}
	return remove
}

// Checkpoint queues a checkpoint row for every live element (Run calls it
// every CheckpointInterval/2), waiting for room rather than dropping any.
func (s *Store) Checkpoint(now time.Time) {
	s.checkpoint(context.Background(), now)
}

func (s *Store) checkpoint(ctx context.Context, now time.Time) {
	t := graph.TimeOf(now)
	s.topoMu.Lock()
	revs := make([]Revision, 0, s.liveNodes.Len()+s.liveEdges.Len())
	checkpoint(s.liveNodes, t, func(l live[*graph.Node]) {
		revs = append(revs, Revision{Time: l.lastTime, Seq: s.nextSeqLocked(), Kind: KindNode, Op: OpCheckpoint, From: l.from, Node: l.el})
	})
	checkpoint(s.liveEdges, t, func(l live[*graph.Edge]) {
		revs = append(revs, Revision{Time: l.lastTime, Seq: s.nextSeqLocked(), Kind: KindEdge, Op: OpCheckpoint, From: l.from, Edge: l.el})
	})
	s.lastCkpt = now
	s.topoMu.Unlock()
	if err := s.enqueueBulk(ctx, revs); err != nil {
		s.log.Warn("store checkpoint", "err", err)
	}
}

// AtContext returns the graph as it was at t.
func (s *Store) AtContext(ctx context.Context, t time.Time) (*View, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	at := graph.TimeOf(t)
	rows, err := s.b.Revisions(ctx, at-graph.Time(s.opts.CheckpointInterval.Milliseconds()), at)
	if err != nil {
		return nil, fmt.Errorf("store %s: revisions: %w", s.b.Name(), err)
	}
	return viewAt(rows, at), nil
}

// WindowContext returns every revision alive at some point of [from, to].
func (s *Store) WindowContext(ctx context.Context, from, to time.Time) (*View, error) {
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	f, t := graph.TimeOf(from), graph.TimeOf(to)
	rows, err := s.b.Revisions(ctx, f-graph.Time(s.opts.CheckpointInterval.Milliseconds()), t)
	if err != nil {
		return nil, fmt.Errorf("store %s: revisions: %w", s.b.Name(), err)
	}
	return viewWindow(rows, f, t), nil
}

// At implements TopologyStore (eval.History). An error is logged and gives
// an empty view.
func (s *Store) At(t time.Time) graph.View {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := s.AtContext(ctx, t)
	if err != nil {
		s.log.Error("store At", "t", t, "err", err)
		return newView()
	}
	return v
}

// Window implements TopologyStore (eval.History). An error is logged and
// gives an empty view.
func (s *Store) Window(from, to time.Time) graph.View {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := s.WindowContext(ctx, from, to)
	if err != nil {
		s.log.Error("store Window", "from", from, "to", to, "err", err)
		return newView()
	}
	return v
}
