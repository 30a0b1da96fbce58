//go:build privileged

package ovsdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/probe/probetest"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/ovstest"
	"github.com/skydive-ng/skydive/internal/topology"
)

func nodesOf(g *graph.Graph, key, value string) []*graph.Node {
	ns, _ := g.NodesByIndex(key, value)
	return ns
}

func one(g *graph.Graph, typ, name string) (*graph.Node, error) {
	var out []*graph.Node
	for _, n := range nodesOf(g, graph.KeyName, name) {
		if typ == "" || n.Metadata.String(graph.KeyType) == typ {
			out = append(out, n)
		}
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("%d nodes of type %q named %s", len(out), typ, name)
	}
	return out[0], nil
}

func linked(g *graph.Graph, a, b graph.Identifier, relation string) error {
	for _, e := range g.OutEdges(a) {
		if e.Child == b && e.Metadata.String(graph.KeyRelationType) == relation {
			return nil
		}
	}
	return fmt.Errorf("no %s edge %s -> %s", relation, a, b)
}

func TestOVSTopologyFromRealOVSDB(t *testing.T) {
	ovs := ovstest.Start(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	p := "ov" + hex.EncodeToString(b)
	br, br2 := p+"br", p+"b2"
	vmID, ifaceID := "24a20f49-a23a-4f30-b1c3-d67a8277e42f", "5e1e7a5c-1d2b-4c1f-9b3e-0a6e5b1c2d3e"

	host := probetest.NewHost(t, "test", "")
	g, w, hostID, overlays := host.G, host.W, host.ID, host.Overlays
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probe := New(Options{Writer: w, Host: hostID, Address: ovs.DB, Overlays: overlays, Retry: 100 * time.Millisecond})
	done := make(chan struct{})
	go func() { _ = probe.Run(ctx); close(done) }()

	ovs.Vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev")
	var nsNames []string
	for _, n := range []string{"1", "2"} {
		ns := p + "n" + n
		nsNames = append(nsNames, ns)
		testutil.Sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		testutil.Sh(t, "ip", "link", "add", p+"v"+n, "type", "veth", "peer", "name", p+"p"+n)
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", p+"v"+n).Run() })
		testutil.Sh(t, "ip", "link", "set", p+"p"+n, "netns", ns)
		testutil.Sh(t, "ip", "link", "set", p+"v"+n, "up")
		ovs.Vsctl("add-port", br, p+"v"+n)
	}
	internal := p + "in"
	ovs.Vsctl("add-port", br, internal, "--", "set", "interface", internal, "type=internal",
		fmt.Sprintf("external_ids:vm-id=%s", vmID), fmt.Sprintf("external_ids:iface-id=%s", ifaceID))
	// Patch ports to a second bridge.
	ovs.Vsctl("add-br", br2, "--", "set", "bridge", br2, "datapath_type=netdev")
	ovs.Vsctl("add-port", br, p+"pa", "--", "set", "interface", p+"pa", "type=patch", "options:peer="+p+"pb")
	ovs.Vsctl("add-port", br2, p+"pb", "--", "set", "interface", p+"pb", "type=patch", "options:peer="+p+"pa")

	testutil.Eventually(t, 5*time.Second, "OVS topology", func() error {
		if _, err := one(g, TypeSwitch, "openvswitch"); err != nil {
			return err
		}
		brN, err := one(g, TypeBridge, br)
		if err != nil {
			return err
		}
		if err := linked(g, hostID, brN.ID, topology.OwnershipLink); err != nil {
			return err
		}
		for _, name := range []string{p + "v1", p + "v2", internal} {
			port, err := one(g, TypePort, name)
			if err != nil {
				return err
			}
			if err := linked(g, brN.ID, port.ID, topology.OwnershipLink); err != nil {
				return err
			}
			// The kernel interface is the netlink node, enriched, not a duplicate.
			var ifs []*graph.Node
			for _, n := range nodesOf(g, graph.KeyName, name) {
				if n.Metadata.String(graph.KeyType) != TypePort {
					ifs = append(ifs, n)
				}
			}
			if len(ifs) != 1 {
				return fmt.Errorf("%s: %d interface nodes", name, len(ifs))
			}
			ifn := ifs[0]
			if _, ok := ifn.Metadata["IfIndex"]; !ok {
				return fmt.Errorf("%s is not the netlink node: %v", name, ifn.Metadata)
			}
			if _, ok := ifn.Metadata["OfPort"]; !ok {
				return fmt.Errorf("%s not enriched: %v", name, ifn.Metadata)
			}
			if err := linked(g, port.ID, ifn.ID, topology.Layer2Link); err != nil {
				return err
			}
		}
		in, err := one(g, "internal", internal)
		if err != nil {
			return err
		}
		if v, _ := in.Metadata.Get("ExtID.vm-id"); v != vmID {
			return fmt.Errorf("ExtID.vm-id %v", v)
		}
		if v, _ := in.Metadata.Get("ExtID.iface-id"); v != ifaceID {
			return fmt.Errorf("ExtID.iface-id %v", v)
		}
		pa, err := one(g, "patch", p+"pa")
		if err != nil {
			return err
		}
		pb, err := one(g, "patch", p+"pb")
		if err != nil {
			return err
		}
		if linked(g, pa.ID, pb.ID, topology.Layer2Link) != nil && linked(g, pb.ID, pa.ID, topology.Layer2Link) != nil {
			return fmt.Errorf("patch ports not linked")
		}
		return nil
	})

	// Deleting a port removes it, and the veth loses its OVS metadata.
	ovs.Vsctl("del-port", br, p+"v2")
	testutil.Eventually(t, 5*time.Second, "port removed", func() error {
		if ns := nodesOf(g, graph.KeyName, p+"v2"); len(ns) != 1 {
			return fmt.Errorf("%d nodes named %s", len(ns), p+"v2")
		} else if _, ok := ns[0].Metadata["OfPort"]; ok {
			return fmt.Errorf("still enriched")
		}
		return nil
	})

	// ovsdb-server restarts: the probe reconnects without duplicating nodes.
	before, _ := g.Len()
	ovs.StopDB()
	time.Sleep(300 * time.Millisecond)
	ovs.StartDB()
	ovs.Vsctl("set", "bridge", br, "external_ids:after-restart=yes")
	testutil.Eventually(t, 10*time.Second, "reconnected", func() error {
		brN, err := one(g, TypeBridge, br)
		if err != nil {
			return err
		}
		if v, _ := brN.Metadata.Get("ExtID.after-restart"); v != "yes" {
			return fmt.Errorf("not reconnected")
		}
		if after, _ := g.Len(); after != before {
			return fmt.Errorf("%d nodes before, %d after", before, after)
		}
		return nil
	})

	// The probe's nodes leave with it.
	cancel()
	<-done
	if ns := nodesOf(g, graph.KeyType, TypeBridge); len(ns) != 0 {
		t.Fatalf("%d bridges left after the probe stopped", len(ns))
	}
	_ = nsNames
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///var/run/openvswitch/db.sock": "unix:/var/run/openvswitch/db.sock",
		"tcp:127.0.0.1:6640":                  "tcp:127.0.0.1:6640",
		"tcp://127.0.0.1:6640":                "tcp:127.0.0.1:6640",
	} {
		if got, err := Endpoint(in); err != nil || got != want {
			t.Errorf("Endpoint(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := Endpoint("http://x"); err == nil {
		t.Error("http accepted")
	}
}
