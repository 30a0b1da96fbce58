// Package peering is the analyzer's probe that joins the two ends of a link
// that different agents (or probes) see: a node whose PeerIntfMAC is X (a
// hypervisor's tap, whose guest end has MAC X) is linked at layer 2 to the
// node whose MAC is X, as the original's peering probe did.
package peering

import (
	"context"
	"log/slog"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// KeyPeerMAC is the metadata naming the MAC of the other end.
const KeyPeerMAC = "PeerIntfMAC"

// Probe keeps the peering edges.
type Probe struct {
	rec topology.Reconciler
}

// New returns the probe writing with w (the analyzer's writer).
func New(w *topology.Writer, log *slog.Logger) *Probe {
	if log == nil {
		log = slog.Default()
	}
	return &Probe{rec: topology.Reconciler{W: w, Log: log.With("probe", "peering")}}
}

// Run keeps the edges until ctx ends, then removes them.
func (p *Probe) Run(ctx context.Context) error {
	p.rec.Follow(ctx, 200*time.Millisecond, func(ev graph.Event) bool {
		return topology.Touches(ev, topology.KeyMAC, KeyPeerMAC) || topology.EdgeOf(ev, topology.Layer2Link)
	}, p.desired)
	return nil
}

func (p *Probe) desired() *topology.Desired {
	d := topology.NewDesired()
	g := p.rec.W.G
	// Scans of the PeerIntfMAC and MAC columns (dense, kept by the graph)
	// rather than a metadata lookup per node per pass: the pass runs after
	// each batch of changes, and half a million nodes' maps took a tenth
	// of an analyzer's CPU while agents sent their graphs.
	peers := g.NodesWhere(graph.Where{Columns: []graph.ColumnTest{{Key: KeyPeerMAC, Match: nonEmptyString}}})
	if len(peers) == 0 {
		return d
	}
	// The nodes of the MACs that some PeerMAC names (most often none).
	byMAC := map[string][]*graph.Node{}
	for _, n := range peers {
		byMAC[n.Metadata.String(KeyPeerMAC)] = nil
	}
	named := g.NodesWhere(graph.Where{Columns: []graph.ColumnTest{{Key: topology.KeyMAC, Match: func(v any, present bool) bool {
		s, _ := v.(string)
		_, ok := byMAC[s]
		return present && ok
	}}}})
	for _, n := range named {
		mac := n.Metadata.String(topology.KeyMAC)
		byMAC[mac] = append(byMAC[mac], n)
	}
	for _, n := range peers {
		for _, peer := range byMAC[n.Metadata.String(KeyPeerMAC)] {
			if peer.ID == n.ID || p.linked(n.ID, peer.ID) {
				continue
			}
			d.Edges[topology.EdgeKey{Parent: n.ID, Child: peer.ID, Relation: topology.Layer2Link}] = graph.Metadata{"Type": "peering"}
		}
	}
	return d
}

func nonEmptyString(v any, present bool) bool {
	s, _ := v.(string)
	return present && s != ""
}

// linked tells whether another source already joins a and b at layer 2
// (a veth pair seen by netlink): no second edge then.
func (p *Probe) linked(a, b graph.Identifier) bool {
	mine := topology.EdgeID(a, b, topology.Layer2Link)
	g := p.rec.W.G
	for _, e := range g.OutEdges(a) {
		if e.ID != mine && e.Child == b && e.Metadata.String(graph.KeyRelationType) == topology.Layer2Link {
			return true
		}
	}
	for _, e := range g.InEdges(a) {
		if e.Parent == b && e.Metadata.String(graph.KeyRelationType) == topology.Layer2Link {
			return true
		}
	}
	return false
}
