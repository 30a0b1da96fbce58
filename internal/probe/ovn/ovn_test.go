package ovn

import (
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// The logical topology as networking-ovn writes it: a switch with a VM
// port and a router port, the router and its port; the agent's tap whose
// iface-id names the VM port.
func TestDesired(t *testing.T) {
	g := graph.New()
	agent := &topology.Writer{G: g, Host: "c1", Origin: "agent.c1"}
	if err := agent.AddNode("tap", graph.Metadata{"Name": "tap1", "IfIndex": 3, "ExtID": map[string]any{"iface-id": "vm-port"}}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Writer: &topology.Writer{G: g, Host: "an", Origin: "analyzer.an"}, Address: "tcp:127.0.0.1:6641"})
	if err != nil {
		t.Fatal(err)
	}
	up := true
	d := p.desired(
		[]logicalSwitch{{UUID: "ls", Name: "neutron-net1", Ports: []string{"lsp1", "lsp2", "gone"}, ExternalIDs: map[string]string{"neutron:network_name": "net1"}}},
		[]logicalSwitchPort{
			{UUID: "lsp1", Name: "vm-port", Addresses: []string{"fa:16:3e:00:00:01 10.0.0.5"}, Up: &up},
			{UUID: "lsp2", Name: "rp", Type: "router", Options: map[string]string{"router-port": "lrp-rp"}},
		},
		[]logicalRouter{{UUID: "lr", Name: "neutron-r1", Ports: []string{"lrp"}}},
		[]logicalRouterPort{{UUID: "lrp", Name: "lrp-rp", MAC: "fa:16:3e:00:00:0a", Networks: []string{"10.0.0.1/24"}}},
	)
	for id, want := range map[graph.Identifier]graph.Metadata{
		ID("ls"):   {"Name": "neutron-net1", "Type": TypeSwitch, "Manager": "ovn"},
		ID("lsp1"): {"Name": "vm-port", "Type": TypePort, "OVN.Up": true},
		ID("lsp2"): {"Name": "rp", "Type": TypePort, "OVN.Type": "router"},
		ID("lr"):   {"Name": "neutron-r1", "Type": TypeRouter},
		ID("lrp"):  {"Name": "lrp-rp", "Type": TypeRouterPort, "MAC": "fa:16:3e:00:00:0a"},
	} {
		m, ok := d.Nodes[id]
		if !ok {
			t.Errorf("no node %s (%v)", id, want["Name"])
			continue
		}
		for k, v := range want {
			if got, _ := m.Get(k); got != v {
				t.Errorf("%v: %s = %v, want %v", want["Name"], k, got, v)
			}
		}
	}
	if len(d.Nodes) != 5 {
		t.Errorf("%d nodes, want 5 (a dangling port UUID makes none)", len(d.Nodes))
	}
	for _, e := range []topology.EdgeKey{
		{Parent: ID("ls"), Child: ID("lsp1"), Relation: topology.OwnershipLink},
		{Parent: ID("lr"), Child: ID("lrp"), Relation: topology.OwnershipLink},
		{Parent: ID("lsp1"), Child: "tap", Relation: MappingLink},
		{Parent: ID("lsp2"), Child: ID("lrp"), Relation: topology.Layer2Link},
	} {
		if _, ok := d.Edges[e]; !ok {
			t.Errorf("no edge %+v", e)
		}
	}
}

func TestBadAddress(t *testing.T) {
	if _, err := New(Options{Address: "nowhere"}); err == nil {
		t.Error("no error for a bad analyzer.topology.ovn.address")
	}
}
