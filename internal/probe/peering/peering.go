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
	nodes := g.Nodes()
	// The nodes of the MACs that some PeerMAC names (most often none): a
	// map of every node's MAC, built at each pass, was 50 MB at 500,000
	// interfaces.
	byMAC := map[string][]*graph.Node{}
	for _, n := range nodes {
		if mac := n.Metadata.String(KeyPeerMAC); mac != "" {
			byMAC[mac] = nil
		}
	}
	if len(byMAC) == 0 {
		return d
	}
	for _, n := range nodes {
		if mac := n.Metadata.String(topology.KeyMAC); mac != "" {
			if l, ok := byMAC[mac]; ok {
				byMAC[mac] = append(l, n)
			}
		}
	}
	for _, n := range nodes {
		mac := n.Metadata.String(KeyPeerMAC)
		if mac == "" {
			continue
		}
		for _, peer := range byMAC[mac] {
			if peer.ID == n.ID || p.linked(n.ID, peer.ID) {
				continue
			}
			d.Edges[topology.EdgeKey{Parent: n.ID, Child: peer.ID, Relation: topology.Layer2Link}] = graph.Metadata{"Type": "peering"}
		}
	}
	return d
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
