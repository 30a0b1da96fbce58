//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/testutil/ovstest"
)

// TestOVSTopology runs allinone against a real ovsdb-server/ovs-vswitchd.
func TestOVSTopology(t *testing.T) {
	ovs := ovstest.Start(t)
	c, addr, _, _ := allInOneWith(t, fmt.Sprintf("ovs:\n  ovsdb: %s\n", ovs.DB))

	p := uniq()
	br, internal := p+"br", p+"in"
	vmID := "3f2c1a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c"
	ovs.Vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev")
	for _, n := range []string{"1", "2"} {
		ns := p + "n" + n
		netnsAdd(t, ns)
		testutil.Sh(t, "ip", "link", "add", p+"v"+n, "type", "veth", "peer", "name", p+"p"+n)
		linkCleanup(t, p+"v"+n)
		testutil.Sh(t, "ip", "link", "set", p+"p"+n, "netns", ns)
		testutil.Sh(t, "ip", "link", "set", p+"v"+n, "up")
		testutil.Sh(t, "ip", "-n", ns, "addr", "add", "10.244.0."+n+"/24", "dev", p+"p"+n)
		testutil.Sh(t, "ip", "-n", ns, "link", "set", p+"p"+n, "up")
		ovs.Vsctl("add-port", br, p+"v"+n)
	}
	ovs.Vsctl("add-port", br, internal, "--", "set", "interface", internal, "type=internal",
		"external_ids:vm-id="+vmID, "external_ids:iface-id=8d1c2b3a-4e5f-6a7b-8c9d-0e1f2a3b4c5d")

	testutil.Eventually(t, 5*time.Second, "OVS bridge, ports and interfaces", func() error {
		if _, err := oneNode(c, fmt.Sprintf("G.V().Has('Type', 'ovsbridge', 'Name', '%s')", br)); err != nil {
			return err
		}
		ports, err := queryNodes(c, fmt.Sprintf("G.V().Has('Type', 'ovsbridge', 'Name', '%s').Out('Type', 'ovsport')", br))
		if err != nil {
			return err
		}
		if len(ports) != 4 { // the bridge's own port, two veths, the internal port
			return fmt.Errorf("%d ports", len(ports))
		}
		n, err := oneNode(c, fmt.Sprintf("G.V().Has('ExtID.vm-id', '%s')", vmID))
		if err != nil {
			return err
		}
		if n.Metadata["Name"] != internal || n.Metadata["Type"] != "internal" {
			return fmt.Errorf("vm-id on %v", n.Metadata)
		}
		// The original's own test query: bridge -> port -> internal interface.
		_, err = oneNode(c, fmt.Sprintf("G.V().Has('Type','ovsbridge','Name','%s').Out('Type','ovsport').Out('Type','internal','Driver','openvswitch').Has('Name', '%s')", br, internal))
		return err
	})
	reachable(t, p+"n1", "10.244.0.2")
	// An ovssflow capture: the agent points the bridge's sFlow at itself.
	id := createCapture(t, addr, "--type", "ovssflow", "--samplingrate", "1", "--gremlin",
		fmt.Sprintf("G.V().Has('Type', 'ovsbridge', 'Name', '%s')", br))
	waitCaptureActive(t, c, br, id)
	if got := strings.TrimSpace(ovs.Vsctl("get", "bridge", br, "sflow")); got == "[]" {
		t.Fatalf("bridge sflow not configured")
	}
	testutil.Sh(t, "ip", "netns", "exec", p+"n1", "ping", "-c", "5", "-i", "0.2", "10.244.0.2")
	testutil.Eventually(t, 10*time.Second, "ICMPv4 flow from sFlow", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", id))
		if err != nil {
			return err
		}
		if len(fs) != 1 || fs[0].Metric.ABPackets+fs[0].Metric.BAPackets == 0 {
			return fmt.Errorf("flows %+v", fs)
		}
		return nil
	})
	if out, err := cli(addr, "capture", "delete", id); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	testutil.Eventually(t, 5*time.Second, "bridge sflow removed", func() error {
		if got := strings.TrimSpace(ovs.Vsctl("get", "bridge", br, "sflow")); got != "[]" {
			return fmt.Errorf("sflow %s", got)
		}
		return nil
	})

	// An ovsmirror capture: a mirror of a port to an internal port the agent
	// captures with afpacket.
	mid := createCapture(t, addr, "--type", "ovsmirror", "--bpf", "icmp", "--gremlin",
		fmt.Sprintf("G.V().Has('Type', 'ovsport', 'Name', '%s')", p+"v2"))
	waitCaptureActive(t, c, p+"v2", mid)
	if got := strings.TrimSpace(ovs.Vsctl("get", "bridge", br, "mirrors")); got == "[]" {
		t.Fatalf("no mirror on the bridge")
	}
	testutil.Sh(t, "ip", "netns", "exec", p+"n1", "ping", "-c", "4", "-i", "0.2", "10.244.0.2")
	testutil.Eventually(t, 10*time.Second, "ICMPv4 flow from the mirror", func() error {
		fs, err := queryFlows(c, fmt.Sprintf("G.Flows().Has('CaptureID', '%s', 'Application', 'ICMPv4')", mid))
		if err != nil {
			return err
		}
		if len(fs) != 1 || fs[0].Metric.ABPackets != 4 || fs[0].Metric.BAPackets != 4 {
			return fmt.Errorf("flows %+v", fs)
		}
		return nil
	})
	if out, err := cli(addr, "capture", "delete", mid); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	testutil.Eventually(t, 5*time.Second, "mirror removed", func() error {
		if got := strings.TrimSpace(ovs.Vsctl("get", "bridge", br, "mirrors")); got != "[]" {
			return fmt.Errorf("mirrors %s", got)
		}
		return nil
	})

	ovs.Vsctl("del-port", br, internal)
	testutil.Eventually(t, 5*time.Second, "port removed", func() error {
		ns, err := queryNodes(c, fmt.Sprintf("G.V().Has('Type', 'ovsport', 'Name', '%s')", internal))
		if err != nil {
			return err
		}
		if len(ns) != 0 {
			return fmt.Errorf("port still there")
		}
		return nil
	})
}
