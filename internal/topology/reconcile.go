package topology

import (
	"context"
	"log/slog"
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

// Follow applies desired() after graph changes (at most once per debounce)
// until ctx ends, then removes everything the reconciler made: the loop of
// a probe whose wishes come from the graph itself.
func (r *Reconciler) Follow(ctx context.Context, debounce time.Duration, desired func() *Desired) {
	defer r.Clear()
	RunOnChange(ctx, r.W.G, debounce, 0, func(context.Context) { r.Apply(desired()) })
}

// Clear removes everything the reconciler made.
func (r *Reconciler) Clear() { r.Apply(NewDesired()) }

func (r *Reconciler) warn(msg string, args ...any) {
	if r.Log != nil {
		r.Log.Warn(msg, args...)
	}
}

// RunOnChange calls pass once, then again after graph changes (at most once
// per debounce) and every period if period > 0, until ctx ends. Graph
// listeners run under the graph's lock, so the listener only pokes.
func RunOnChange(ctx context.Context, g *graph.Graph, debounce, period time.Duration, pass func(context.Context)) {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	remove := g.AddListener(func(graph.Event) { poke() })
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
