package peering

import (
	"context"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

func TestPeering(t *testing.T) {
	g := graph.New()
	c1 := &topology.Writer{G: g, Host: "c1", Origin: "agent.c1"}
	c2 := &topology.Writer{G: g, Host: "c2", Origin: "agent.c2"}
	tap, guest, vethA, vethB := graph.Identifier("tap"), graph.Identifier("guest"), graph.Identifier("va"), graph.Identifier("vb")
	for _, n := range []struct {
		w  *topology.Writer
		id graph.Identifier
		m  graph.Metadata
	}{
		{c1, tap, graph.Metadata{"Name": "tap1", "MAC": "fe:16:3e:00:00:01", KeyPeerMAC: "fa:16:3e:00:00:01"}},
		{c2, guest, graph.Metadata{"Name": "eth0", "MAC": "fa:16:3e:00:00:01"}},
		{c1, vethA, graph.Metadata{"Name": "va", "MAC": "02:00:00:00:00:0a", KeyPeerMAC: "02:00:00:00:00:0b"}},
		{c1, vethB, graph.Metadata{"Name": "vb", "MAC": "02:00:00:00:00:0b"}},
	} {
		if err := n.w.AddNode(n.id, n.m); err != nil {
			t.Fatal(err)
		}
	}
	// The veth pair is already joined by netlink.
	if _, err := c1.Link(vethB, vethA, topology.Layer2Link, nil); err != nil {
		t.Fatal(err)
	}
	p := New(&topology.Writer{G: g, Host: "an", Origin: "analyzer.an"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	peer := topology.EdgeID(tap, guest, topology.Layer2Link)
	testutil.EventuallyTrue(t, 3*time.Second, "peering edge", func() bool { return g.Edge(peer) != nil })
	if g.Edge(topology.EdgeID(vethA, vethB, topology.Layer2Link)) != nil {
		t.Error("a second edge between already joined veths")
	}
	// The guest goes: the edge goes with it; it comes back: so does the edge.
	if err := g.DeleteNode(guest); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 3*time.Second, "edge gone", func() bool { return g.Edge(peer) == nil })
	if err := c2.AddNode(guest, graph.Metadata{"Name": "eth0", "MAC": "fa:16:3e:00:00:01"}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 3*time.Second, "edge back", func() bool { return g.Edge(peer) != nil })
	cancel()
	<-done
}
