package topology

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
)

// EdgeKey names an edge by its ends and relation (its ID is derived from them).
type EdgeKey struct {
	Parent, Child graph.Identifier
	Relation      string
}

// Desired is what one source wants in the graph: its nodes and its edges.
type Desired struct {
	Nodes map[graph.Identifier]graph.Metadata
	Edges map[EdgeKey]graph.Metadata
}

// NewDesired returns an empty set.
func NewDesired() *Desired {
	return &Desired{Nodes: map[graph.Identifier]graph.Metadata{}, Edges: map[EdgeKey]graph.Metadata{}}
}

// Reconciler makes the graph hold exactly what a source last desired: it adds
// and updates the desired elements and removes those it made before and no
// longer wants. Edges whose ends are missing wait for the next pass.
type Reconciler struct {
	W     *Writer
	Log   *slog.Logger
	nodes map[graph.Identifier]bool
	edges map[EdgeKey]bool
}

// Apply writes d; it reports whether some edge waits for a missing end.
func (r *Reconciler) Apply(d *Desired) (pending bool) {
	if r.nodes == nil {
		r.nodes, r.edges = map[graph.Identifier]bool{}, map[EdgeKey]bool{}
	}
	ids := make([]graph.Identifier, 0, len(d.Nodes))
	for id := range d.Nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := r.W.AddNode(id, d.Nodes[id]); err != nil {
			r.warn("add node", "id", id, "err", err)
			continue
		}
		r.nodes[id] = true
	}
	edges := map[EdgeKey]bool{}
	for k, extra := range d.Edges {
		if r.W.G.Node(k.Parent) == nil || r.W.G.Node(k.Child) == nil {
			pending = true
			continue
		}
		if _, err := r.W.Link(k.Parent, k.Child, k.Relation, extra); err != nil {
			r.warn("link", "parent", k.Parent, "child", k.Child, "err", err)
			pending = true
			continue
		}
		edges[k] = true
	}
	for k := range r.edges {
		if !edges[k] {
			r.W.Unlink(k.Parent, k.Child, k.Relation)
		}
	}
	r.edges = edges
	for id := range r.nodes {
		if _, ok := d.Nodes[id]; !ok {
			_ = r.W.G.DeleteNode(id)
			delete(r.nodes, id)
		}
	}
	return pending
}

// Follow applies desired() after the graph changes that matter to it
// (relevant; nil: every change), at most once per debounce, until ctx ends,
// then removes everything the reconciler made: the loop of a probe whose
// wishes come from the graph itself.
func (r *Reconciler) Follow(ctx context.Context, debounce time.Duration, relevant func(graph.Event) bool, desired func() *Desired) {
	defer r.Clear()
	RunOnChange(ctx, r.W.G, debounce, 0, relevant, func(context.Context) { r.Apply(desired()) })
}

// Clear removes everything the reconciler made.
func (r *Reconciler) Clear() { r.Apply(NewDesired()) }

func (r *Reconciler) warn(msg string, args ...any) {
	if r.Log != nil {
		r.Log.Warn(msg, args...)
	}
}

// RunOnChange calls pass once, then again after the graph changes relevant
// tells (nil: every change; at most once per debounce) and every period if
// period > 0, until ctx ends. Graph listeners run under the graph's lock, so
// the listener only filters and pokes: the passes that scan the whole graph
// are not run for the counter updates that make most of its changes.
func RunOnChange(ctx context.Context, g *graph.Graph, debounce, period time.Duration, relevant func(graph.Event) bool, pass func(context.Context)) {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	remove := g.AddListener(func(ev graph.Event) {
		if relevant == nil || relevant(ev) {
			poke()
		}
	})
	defer remove()
	var tick <-chan time.Time
	if period > 0 {
		t := time.NewTicker(period)
		defer t.Stop()
		tick = t.C
	}
	poke()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick:
		}
		pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(debounce):
		}
	}
}

// Touches tells whether a node event concerns one of keys (dotted paths):
// a node added or deleted that has one, or an update that changes one.
// Edge events never do.
func Touches(ev graph.Event, keys ...string) bool {
	if ev.Node == nil {
		return false
	}
	for _, k := range keys {
		v, ok := ev.Node.Metadata.Get(k)
		switch ev.Type {
		case graph.NodeAdded, graph.NodeDeleted:
			if ok {
				return true
			}
		case graph.NodeUpdated:
			var old any
			var had bool
			if ev.OldNode != nil {
				old, had = ev.OldNode.Metadata.Get(k)
			}
			if ok != had || !reflect.DeepEqual(v, old) {
				return true
			}
		}
	}
	return false
}

// EdgeOf tells whether an edge was added or deleted with one of relations.
func EdgeOf(ev graph.Event, relations ...string) bool {
	if ev.Edge == nil || ev.Type == graph.EdgeUpdated {
		return false
	}
	rt := ev.Edge.Metadata.String(graph.KeyRelationType)
	for _, r := range relations {
		if rt == r {
			return true
		}
	}
	return false
}
