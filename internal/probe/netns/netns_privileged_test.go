//go:build privileged

package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	nlprobe "github.com/skydive-ng/skydive/internal/probe/netlink"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

func byName(g *graph.Graph, name string) *graph.Node {
	ns, _ := g.NodesByIndex(graph.KeyName, name)
	if len(ns) != 1 {
		return nil
	}
	return ns[0]
}

func linked(g *graph.Graph, a, b graph.Identifier, relation string) bool {
	for _, e := range g.OutEdges(a) {
		if e.Child == b && e.Metadata.String(graph.KeyRelationType) == relation {
			return true
		}
	}
	return false
}

// TestProbesFollowNamespaces runs the netlink and netns probes against the
// real kernel: link kinds, veth peers across namespaces, and removal.
func TestProbesFollowNamespaces(t *testing.T) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	p := "pt" + hex.EncodeToString(b)
	ns, host, peer := p+"ns", p+"h", p+"p"

	g := graph.New()
	w := &topology.Writer{G: g, Host: "test", Origin: "agent.test"}
	hostID := topology.GenID("test-host")
	if err := w.AddNode(hostID, graph.Metadata{"Name": "test", "Type": "host", "TID": string(hostID)}); err != nil {
		t.Fatal(err)
	}
	peers := nlprobe.NewVethLinker()
	hostProbe, err := nlprobe.New(nlprobe.Options{Writer: w, Owner: hostID, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	peers.AddNamespace("", hostProbe.NsHandle())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = hostProbe.Run(ctx) }()
	go func() { _ = New(Options{Writer: w, Host: hostID, RunPath: "/var/run/netns", Peers: peers}).Run(ctx) }()

	testutil.Sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	testutil.Sh(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	testutil.Sh(t, "ip", "link", "set", peer, "netns", ns)
	testutil.Sh(t, "ip", "-n", ns, "addr", "add", "10.252.0.2/24", "dev", peer)
	testutil.Sh(t, "ip", "-n", ns, "addr", "add", "fd00:252::2/64", "dev", peer)
	testutil.Sh(t, "ip", "-n", ns, "link", "set", peer, "up")
	testutil.Sh(t, "ip", "link", "set", host, "up")
	testutil.Sh(t, "ip", "-n", ns, "link", "add", p+"vx", "type", "vxlan", "id", "42", "dstport", "4789", "local", "10.252.0.2", "dev", peer)
	testutil.Sh(t, "ip", "-n", ns, "link", "add", p+"mv", "link", peer, "type", "macvlan", "mode", "bridge")
	testutil.Sh(t, "ip", "-n", ns, "tuntap", "add", "dev", p+"tp", "mode", "tap")

	testutil.Eventually(t, 5*time.Second, "namespace subgraph", func() error {
		nsNode := byName(g, ns)
		if nsNode == nil || nsNode.Metadata["Type"] != "netns" || nsNode.Metadata["Path"] != "/var/run/netns/"+ns {
			return fmt.Errorf("netns node %v", nsNode)
		}
		if !linked(g, hostID, nsNode.ID, "ownership") {
			return fmt.Errorf("host does not own the namespace")
		}
		want := map[string]string{peer: "veth", p + "vx": "vxlan", p + "mv": "macvlan", p + "tp": "tap", "lo": ""}
		for name, typ := range want {
			if name == "lo" {
				continue
			}
			n := byName(g, name)
			if n == nil {
				return fmt.Errorf("no node %s", name)
			}
			if n.Metadata["Type"] != typ {
				return fmt.Errorf("%s: Type %v, want %s", name, n.Metadata["Type"], typ)
			}
			if !linked(g, nsNode.ID, n.ID, "ownership") {
				return fmt.Errorf("namespace does not own %s", name)
			}
		}
		pn := byName(g, peer)
		if ips := fmt.Sprint(pn.Metadata["IPV4"], pn.Metadata["IPV6"]); !strings.Contains(ips, "10.252.0.2/24") || !strings.Contains(ips, "fd00:252::2/64") {
			return fmt.Errorf("addresses %s", ips)
		}
		if pn.Metadata["Driver"] != "veth" {
			return fmt.Errorf("driver %v", pn.Metadata["Driver"])
		}
		if vx := byName(g, p+"vx"); vx.Metadata["VNI"] != int64(42) {
			return fmt.Errorf("VNI %v", vx.Metadata["VNI"])
		}
		hn := byName(g, host)
		if hn == nil {
			return fmt.Errorf("no host end")
		}
		if !linked(g, hn.ID, pn.ID, "layer2") && !linked(g, pn.ID, hn.ID, "layer2") {
			return fmt.Errorf("veth ends not linked across namespaces")
		}
		return nil
	})

	testutil.Sh(t, "ip", "netns", "del", ns)
	testutil.Eventually(t, 5*time.Second, "namespace subgraph removed", func() error {
		for _, name := range []string{ns, peer, p + "vx", p + "mv", p + "tp", host} {
			if n := byName(g, name); n != nil {
				return fmt.Errorf("%s still there", name)
			}
		}
		return nil
	})
}
