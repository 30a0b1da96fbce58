// Package probetest gives the probes' privileged tests what an agent has:
// a graph with its host node, fed by the real netlink probe (and, if asked,
// the netns probe), and the overlays the probes share.
package probetest

import (
	"context"
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
	nlprobe "github.com/skydive-ng/skydive/internal/probe/netlink"
	nsprobe "github.com/skydive-ng/skydive/internal/probe/netns"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Host is an agent's graph of the test's host.
type Host struct {
	G        *graph.Graph
	W        *topology.Writer
	ID       graph.Identifier // the host node
	Overlays *topology.Overlays
	// Netns is the netns probe when NewHost was asked to run one.
	Netns *nsprobe.Probe
}

// NewHost makes the graph and runs the netlink probe of this namespace,
// and the netns probe of netnsRunPath unless it is empty, until the test
// ends.
func NewHost(t *testing.T, name, netnsRunPath string) *Host {
	t.Helper()
	g := graph.New()
	h := &Host{G: g, W: &topology.Writer{G: g, Host: name, Origin: "agent." + name},
		ID: topology.GenID(name + "-test-host"), Overlays: topology.NewOverlays()}
	if err := h.W.AddNode(h.ID, graph.Metadata{"Name": name, "Type": "host", "TID": string(h.ID)}); err != nil {
		t.Fatal(err)
	}
	peers := nlprobe.NewVethLinker()
	links, err := nlprobe.New(nlprobe.Options{Writer: h.W, Owner: h.ID, Overlays: h.Overlays, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	peers.AddNamespace("", links.NsHandle())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	t.Cleanup(func() {
		cancel()
		<-done
		if h.Netns != nil {
			<-done
		}
	})
	go func() { _ = links.Run(ctx); done <- struct{}{} }()
	if netnsRunPath != "" {
		h.Netns = nsprobe.New(nsprobe.Options{Writer: h.W, Host: h.ID, RunPath: netnsRunPath, Peers: peers, Overlays: h.Overlays})
		go func() { _ = h.Netns.Run(ctx); done <- struct{}{} }()
	}
	return h
}
