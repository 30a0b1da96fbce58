package topology

import (
	"sort"
	"sync"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Overlays hold metadata that other probes add to a node one probe makes:
// the OVS, Neutron and libvirt probes enrich the interfaces the netlink probe
// finds. Every writer of the node applies the overlays last, so none erases
// another; each source keeps its own layer, so sources never erase each other.
type Overlays struct {
	mu sync.Mutex
	m  map[overlayKey]map[string]graph.Metadata // by source
}

type overlayKey struct {
	owner graph.Identifier
	name  string
}

// NewOverlays returns an empty set.
func NewOverlays() *Overlays { return &Overlays{m: map[overlayKey]map[string]graph.Metadata{}} }

// Get returns the merged overlays of the interface name owned by owner (nil
// if none); sources are applied in name order.
func (o *Overlays) Get(owner graph.Identifier, name string) graph.Metadata {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	layers := o.m[overlayKey{owner, name}]
	if len(layers) == 0 {
		return nil
	}
	sources := make([]string, 0, len(layers))
	for s := range layers {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	out := graph.Metadata{}
	for _, s := range sources {
		for k, v := range layers[s].Clone() {
			out[k] = v
		}
	}
	return out
}

// Set replaces the overlay of one source (nil removes it) and returns the
// previous one.
func (o *Overlays) Set(source string, owner graph.Identifier, name string, m graph.Metadata) graph.Metadata {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := overlayKey{owner, name}
	layers := o.m[k]
	old := layers[source]
	if m == nil {
		delete(layers, source)
		if len(layers) == 0 {
			delete(o.m, k)
		}
		return old
	}
	if layers == nil {
		layers = map[string]graph.Metadata{}
		o.m[k] = layers
	}
	layers[source] = m.Clone()
	return old
}

// Apply sets source's overlay of the interface (owner, name), as Set does,
// and patches the node now if it exists: the keys of the previous overlay
// that no source's overlay has any more are removed, the merged overlays
// written (a key two sources give, PeerIntfMAC from Neutron and libvirt,
// stays when one of them goes). It reports whether the node was there.
func (o *Overlays) Apply(w *Writer, source string, owner graph.Identifier, name string, m graph.Metadata) bool {
	old := o.Set(source, owner, name, m)
	n := w.OwnedNode(owner, name)
	if n == nil {
		return false
	}
	merged := o.Get(owner, name)
	_ = w.G.UpdateNodeMetadata(n.ID, func(cur graph.Metadata) bool {
		for k := range old {
			if _, keep := merged[k]; !keep {
				delete(cur, k)
			}
		}
		for k, v := range merged {
			cur[k] = v
		}
		return true // the graph makes no revision when nothing changed
	})
	return true
}

// OwnedNode returns the interface named name that owner owns through an
// ownership edge (nil if none).
func (w *Writer) OwnedNode(owner graph.Identifier, name string) *graph.Node {
	for _, e := range w.G.OutEdges(owner) {
		if e.Metadata.String(graph.KeyRelationType) != OwnershipLink {
			continue
		}
		if n := w.G.Node(e.Child); n != nil && n.Metadata.String(graph.KeyName) == name {
			if _, iface := n.Metadata[KeyIfIndex]; iface {
				return n
			}
		}
	}
	return nil
}
