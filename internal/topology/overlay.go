package topology

import (
	"sync"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Overlays hold metadata that one probe adds to a node another probe makes:
// the OVS probe enriches the interfaces the netlink probe finds. Both apply
// the overlay last whenever they write the node, so neither erases the other.
type Overlays struct {
	mu sync.Mutex
	m  map[overlayKey]graph.Metadata
}

type overlayKey struct {
	owner graph.Identifier
	name  string
}

// NewOverlays returns an empty set.
func NewOverlays() *Overlays { return &Overlays{m: map[overlayKey]graph.Metadata{}} }

// Get returns the overlay of the interface name owned by owner (nil if none).
func (o *Overlays) Get(owner graph.Identifier, name string) graph.Metadata {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[overlayKey{owner, name}].Clone()
}

// Set replaces an overlay (nil removes it) and returns the previous one.
func (o *Overlays) Set(owner graph.Identifier, name string, m graph.Metadata) graph.Metadata {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := overlayKey{owner, name}
	old := o.m[k]
	if m == nil {
		delete(o.m, k)
	} else {
		o.m[k] = m.Clone()
	}
	return old
}

// Names lists the interfaces of owner that have an overlay.
func (o *Overlays) Names(owner graph.Identifier) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for k := range o.m {
		if k.owner == owner {
			out = append(out, k.name)
		}
	}
	return out
}
