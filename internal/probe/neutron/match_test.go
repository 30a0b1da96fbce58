package neutron

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/topology"
)

const (
	portA = "a1b2c3d4-e5f6-4a5b-8c7d-0123456789ab"
	portB = "b9b8b7b6-b5b4-4b3b-8b2b-1b0b9b8b7b6b"
	macA  = "fa:16:3e:00:00:0a"
	macB  = "fa:16:3e:00:00:0b"
)

func testCatalog() *Catalog {
	ports := []Port{
		{ID: portA, MAC: macA, TenantID: "t1", NetworkID: "n1",
			FixedIPs: []FixedIP{{SubnetID: "s4", IPAddress: "10.0.0.3"}, {SubnetID: "s6", IPAddress: "fd00::3"}, {SubnetID: "gone", IPAddress: "10.9.9.9"}}},
		{ID: portB, MAC: strings.ToUpper(macB), ProjectID: "p2", NetworkID: "n2"},
	}
	nets := map[string]*Network{
		"n1": {ID: "n1", Name: "net1", Type: "vxlan", SegmentationID: float64(595)},
		"n2": {ID: "n2", Name: "ext", Type: "flat"},
	}
	subs := map[string]*Subnet{"s4": {ID: "s4", CIDR: "10.0.0.0/24"}, "s6": {ID: "s6", CIDR: "fd00::/64"}}
	return NewCatalog(ports, nets, subs)
}

func TestMatch(t *testing.T) {
	c := testCatalog()
	short := portA[:11]
	tests := []struct {
		name string
		in   Interface
		want string // port ID, "" for none
	}{
		{"iface-id", Interface{Name: "whatever", Type: "internal", IfaceID: portA}, portA},
		{"iface-id wins over name", Interface{Name: "tap" + portB[:11], IfaceID: portA}, portA},
		{"unknown iface-id falls through to name", Interface{Name: "qvo" + short, IfaceID: "nope"}, portA},
		{"attached-mac", Interface{Name: "vnet0", AttachedMAC: macB}, portB},
		{"attached-mac upper case port", Interface{Name: "vnet0", AttachedMAC: macB}, portB},
		{"tap name", Interface{Name: "tap" + short, Type: "tap"}, portA},
		{"qvo name", Interface{Name: "qvo" + short, Type: "veth"}, portA},
		{"qvb name", Interface{Name: "qvb" + short, Type: "veth"}, portA},
		{"qr- name", Interface{Name: "qr-" + short, Type: "internal"}, portA},
		{"qg- name", Interface{Name: "qg-" + short}, portA},
		{"ha- name", Interface{Name: "ha-" + short}, portA},
		{"sg- name", Interface{Name: "sg-" + short}, portA},
		{"name with a longer suffix", Interface{Name: "tap" + portA[:12]}, ""},
		{"name with a shorter suffix", Interface{Name: "tap" + portA[:10]}, ""},
		{"unknown prefix", Interface{Name: "xyz" + short}, ""},
		{"MAC of a tap", Interface{Name: "vnet3", Type: "tap", MAC: macA}, portA},
		{"MAC of a veth", Interface{Name: "eth0", Type: "veth", MAC: macB}, portB},
		{"MAC of a device does not count", Interface{Name: "eth0", Type: "device", MAC: macA}, ""},
		{"nothing", Interface{Name: "lo", Type: "device", MAC: "00:00:00:00:00:00"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if p := c.Match(tt.in); p != nil {
				got = p.ID
			}
			if got != tt.want {
				t.Fatalf("Match(%+v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	var nilCat *Catalog
	if nilCat.Match(Interface{IfaceID: portA}) != nil {
		t.Fatal("a nil catalog matched")
	}
}

func TestMetadata(t *testing.T) {
	c := testCatalog()
	tests := []struct {
		name string
		in   Interface
		port string
		want graph.Metadata
	}{
		{"tap with the VM's MAC on the other end", Interface{Name: "tap" + portA[:11], MAC: "fe:16:3e:00:00:0a"}, portA,
			graph.Metadata{"Manager": "neutron", "PeerIntfMAC": macA, "Neutron": map[string]any{
				"PortID": portA, "TenantID": "t1", "NetworkID": "n1", "NetworkName": "net1", "NetworkType": "vxlan",
				"VNI": 595, "SegmentationID": 595,
				"IPV4": []string{"10.0.0.3/24", "10.9.9.9/32"}, "IPV6": []string{"fd00::3/64"}}}},
		{"same MAC: no PeerIntfMAC", Interface{Name: "qr-x", MAC: macA}, portA,
			graph.Metadata{"Manager": "neutron", "Neutron": map[string]any{
				"PortID": portA, "TenantID": "t1", "NetworkID": "n1", "NetworkName": "net1", "NetworkType": "vxlan",
				"VNI": 595, "SegmentationID": 595,
				"IPV4": []string{"10.0.0.3/24", "10.9.9.9/32"}, "IPV6": []string{"fd00::3/64"}}}},
		{"flat network, project_id, no address, upper-case MAC", Interface{Name: "eth0", MAC: macB}, portB,
			graph.Metadata{"Manager": "neutron", "Neutron": map[string]any{
				"PortID": portB, "TenantID": "p2", "NetworkID": "n2", "NetworkName": "ext", "NetworkType": "flat"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Metadata(tt.in, c.byID[tt.port])
			if !got.Equal(tt.want) {
				t.Fatalf("Metadata:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestSegmentationID(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want int
		ok   bool
	}{{float64(42), 42, true}, {int64(7), 7, true}, {"1001", 1001, true}, {"", 0, false}, {"x1", 0, false}, {nil, 0, false}} {
		got, ok := segmentationID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("segmentationID(%#v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInterfaceOf(t *testing.T) {
	m := graph.NormalizeMetadata(graph.Metadata{"Name": "tapx", "Type": "tap", "MAC": "FA:16:3E:00:00:01",
		"ExtID": map[string]any{"iface-id": portA, "attached-mac": "FA:16:3E:00:00:0A"}})
	got := interfaceOf("h", m)
	want := Interface{Owner: "h", Name: "tapx", Type: "tap", MAC: "fa:16:3e:00:00:01", IfaceID: portA, AttachedMAC: macA}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// The queries of Red Hat's guide find the enriched interface.
func TestQueriesFindEnrichedInterface(t *testing.T) {
	g := graph.New()
	w := &topology.Writer{G: g, Host: "h", Origin: "agent.h"}
	if err := w.AddNode("host", graph.Metadata{"Name": "h", "Type": "host"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddNode("tap", graph.Metadata{"Name": "tap" + portA[:11], "Type": "tap", "IfIndex": 7, "MAC": "fe:16:3e:00:00:0a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Link("host", "tap", topology.OwnershipLink, nil); err != nil {
		t.Fatal(err)
	}
	c := testCatalog()
	i := interfaceOf("host", g.Node("tap").Metadata)
	if !topology.NewOverlays().Apply(w, Source, "host", i.Name, c.Metadata(i, c.Match(i))) {
		t.Fatal("node not found")
	}
	for _, q := range []string{
		"G.V().Has('Neutron.IPV4', IPRange('10.0.0.3/32'))",
		"G.V().Has('Neutron.IPV4', IPRANGE('10.0.0.0/24'))",
		"G.V().Has('Neutron.IPV6', IPRange('fd00::/64'))",
		"G.V().Has('Neutron.NetworkName', 'net1')",
		"G.V().Has('Neutron.VNI', 595)",
		"G.V().Has('Manager', 'neutron', 'Neutron.PortID', '" + portA + "')",
		"G.V().Has('PeerIntfMAC', '" + macA + "')",
	} {
		cq, err := eval.Compile(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		v, err := cq.Run(context.Background(), eval.Env{Graph: g, Now: time.Now})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		ns, ok := v.(eval.Nodes)
		if !ok || len(ns) != 1 || ns[0].ID != "tap" {
			t.Errorf("%s: %v, want the tap", q, v)
		}
	}
	for _, q := range []string{
		"G.V().Has('Neutron.IPV4', IPRange('10.0.0.4/32'))",
		"G.V().Has('Neutron.NetworkName', 'net2')",
	} {
		cq, _ := eval.Compile(q)
		v, err := cq.Run(context.Background(), eval.Env{Graph: g})
		if err != nil {
			t.Fatal(err)
		}
		if ns, _ := v.(eval.Nodes); len(ns) != 0 {
			t.Errorf("%s matched %v", q, ns)
		}
	}
}
