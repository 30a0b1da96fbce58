package topology

import (
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
)

// Two sources give the same key (Neutron and libvirt both say the tap's
// PeerIntfMAC): when one withdraws its overlay the key stays, with the
// other's value; when both have, it goes.
func TestOverlaysSharedKey(t *testing.T) {
	g := graph.New()
	w := &Writer{G: g, Host: "h", Origin: "agent.h"}
	g.AddNode(&graph.Node{Element: graph.Element{ID: "host", Metadata: graph.Metadata{"Type": "host", "Name": "h"}}})
	g.AddNode(&graph.Node{Element: graph.Element{ID: "tap", Metadata: graph.Metadata{"Type": "veth", "Name": "tap1", KeyIfIndex: int64(7)}}})
	g.AddEdge(&graph.Edge{Parent: "host", Child: "tap", Element: graph.Element{ID: "own", Metadata: graph.Metadata{graph.KeyRelationType: OwnershipLink}}})
	o := NewOverlays()
	peer := func() any { return g.Node("tap").Metadata["PeerIntfMAC"] }

	o.Apply(w, "neutron", "host", "tap1", graph.Metadata{"PeerIntfMAC": "fa:16:3e:00:00:01", "Manager": "neutron"})
	o.Apply(w, "libvirt", "host", "tap1", graph.Metadata{"PeerIntfMAC": "fa:16:3e:00:00:01", "Libvirt": map[string]any{"Domain": "vm"}})
	if peer() != "fa:16:3e:00:00:01" || g.Node("tap").Metadata["Libvirt"] == nil {
		t.Fatalf("both overlays: %v", g.Node("tap").Metadata)
	}
	o.Apply(w, "libvirt", "host", "tap1", nil)
	if md := g.Node("tap").Metadata; peer() != "fa:16:3e:00:00:01" || md["Libvirt"] != nil || md["Manager"] != "neutron" {
		t.Fatalf("libvirt gone: %v", md)
	}
	o.Apply(w, "neutron", "host", "tap1", nil)
	if md := g.Node("tap").Metadata; md["PeerIntfMAC"] != nil || md["Manager"] != nil || md["Name"] != "tap1" {
		t.Fatalf("both gone: %v", md)
	}
}
