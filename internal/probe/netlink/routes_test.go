package netlink

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func cidr(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutingTables(t *testing.T) {
	routes := []netlink.Route{
		// main: default route (no Dst), connected route, a gateway route
		// with two metrics, an IPv6 default route.
		{Family: unix.AF_INET, Table: 254, Protocol: 3, LinkIndex: 3, Gw: net.ParseIP("10.0.0.254").To4()},
		{Family: unix.AF_INET, Table: 254, Protocol: 2, LinkIndex: 3, Dst: cidr("10.0.0.0/24"), Src: net.ParseIP("10.0.0.1").To4()},
		{Family: unix.AF_INET, Table: 254, Protocol: 4, LinkIndex: 3, Dst: cidr("10.1.0.0/24"), Gw: net.ParseIP("10.0.0.3").To4(), Priority: 200},
		{Family: unix.AF_INET, Table: 254, Protocol: 4, LinkIndex: 3, Dst: cidr("10.1.0.0/24"), Gw: net.ParseIP("10.0.0.2").To4(), Priority: 100},
		{Family: unix.AF_INET6, Table: 254, Protocol: 3, LinkIndex: 3, Gw: net.ParseIP("fe80::1"), Priority: 1024},
		// local table, on the same interface.
		{Family: unix.AF_INET, Table: 255, Protocol: 2, LinkIndex: 3, Dst: cidr("10.0.0.1/32"), Src: net.ParseIP("10.0.0.1").To4()},
		// another interface, and a multipath route over both.
		{Family: unix.AF_INET, Table: 254, Protocol: 2, LinkIndex: 4, Dst: cidr("192.168.1.0/24")},
		{Family: unix.AF_INET, Table: 100, Protocol: 4, Dst: cidr("172.16.0.0/12"), MultiPath: []*netlink.NexthopInfo{
			{LinkIndex: 3, Gw: net.ParseIP("10.0.0.9").To4()}, {LinkIndex: 4, Gw: net.ParseIP("192.168.1.9").To4()},
		}},
		// no interface (blackhole): on no node.
		{Family: unix.AF_INET, Table: 254, Protocol: 4, Dst: cidr("10.66.0.0/16"), Type: unix.RTN_BLACKHOLE},
	}
	got := routingTables(routes)
	if len(got) != 2 {
		t.Fatalf("interfaces %v, want 3 and 4", got)
	}
	want3 := `[{"ID":100,"Routes":[{"NextHops":[{"IP":"10.0.0.9","IfIndex":3,"Priority":0}],"Prefix":"172.16.0.0/12","Protocol":4}],"Src":""},` +
		`{"ID":254,"Routes":[` +
		`{"NextHops":[{"IP":"10.0.0.254","IfIndex":3,"Priority":0}],"Prefix":"0.0.0.0/0","Protocol":3},` +
		`{"NextHops":[{"IfIndex":3,"Priority":0}],"Prefix":"10.0.0.0/24","Protocol":2},` +
		`{"NextHops":[{"IP":"10.0.0.2","IfIndex":3,"Priority":100},{"IP":"10.0.0.3","IfIndex":3,"Priority":200}],"Prefix":"10.1.0.0/24","Protocol":4},` +
		`{"NextHops":[{"IP":"fe80::1","IfIndex":3,"Priority":1024}],"Prefix":"::/0","Protocol":3}],"Src":"10.0.0.1"},` +
		`{"ID":255,"Routes":[{"NextHops":[{"IfIndex":3,"Priority":0}],"Prefix":"10.0.0.1/32","Protocol":2}],"Src":"10.0.0.1"}]`
	if s := jsonOf(t, got[3]); s != want3 {
		t.Errorf("interface 3:\n got %s\nwant %s", s, want3)
	}
	want4 := `[{"ID":100,"Routes":[{"NextHops":[{"IP":"192.168.1.9","IfIndex":4,"Priority":0}],"Prefix":"172.16.0.0/12","Protocol":4}],"Src":""},` +
		`{"ID":254,"Routes":[{"NextHops":[{"IfIndex":4,"Priority":0}],"Prefix":"192.168.1.0/24","Protocol":2}],"Src":""}]`
	if s := jsonOf(t, got[4]); s != want4 {
		t.Errorf("interface 4:\n got %s\nwant %s", s, want4)
	}
}

func TestNeighbors(t *testing.T) {
	mac := func(s string) net.HardwareAddr {
		m, _ := net.ParseMAC(s)
		return m
	}
	list := []netlink.Neigh{
		{LinkIndex: 3, Family: unix.AF_INET, IP: net.ParseIP("10.0.0.9"), HardwareAddr: mac("02:00:00:00:00:09"), State: unix.NUD_STALE},
		{LinkIndex: 3, Family: unix.AF_INET, IP: net.ParseIP("10.0.0.2"), HardwareAddr: mac("02:00:00:00:00:02"), State: unix.NUD_PERMANENT, Flags: unix.NTF_ROUTER},
		{LinkIndex: 3, Family: unix.AF_INET, IP: net.ParseIP("10.0.0.3"), State: unix.NUD_FAILED},
		{LinkIndex: 4, Family: unix.AF_BRIDGE, HardwareAddr: mac("02:00:00:00:00:04"), State: unix.NUD_REACHABLE | unix.NUD_NOARP, Flags: unix.NTF_MASTER | unix.NTF_EXT_LEARNED, Vlan: 10, VNI: 42},
		{LinkIndex: 4, Family: unix.AF_BRIDGE, HardwareAddr: mac("33:33:00:00:00:01"), State: unix.NUD_NONE, Flags: unix.NTF_SELF},
	}
	got := neighbors(list)
	want3 := `[{"IP":"10.0.0.2","IfIndex":3,"MAC":"02:00:00:00:00:02","State":["NUD_PERMANENT"],"Flags":["NTF_ROUTER"]},` +
		`{"IP":"10.0.0.3","IfIndex":3,"State":["NUD_FAILED"]},` +
		`{"IP":"10.0.0.9","IfIndex":3,"MAC":"02:00:00:00:00:09","State":["NUD_STALE"]}]`
	want4 := `[{"Flags":["NTF_MASTER","NTF_EXT_LEARNED"],"IfIndex":4,"MAC":"02:00:00:00:00:04","State":["NUD_REACHABLE","NUD_NOARP"],"VNI":42,"Vlan":10},` +
		`{"Flags":["NTF_SELF"],"IfIndex":4,"MAC":"33:33:00:00:00:01","State":["NUD_NONE"]}]`
	// encoding/json sorts map keys: compare in that form.
	for idx, want := range map[int]string{3: want3, 4: want4} {
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if s, ws := jsonOf(t, got[idx]), jsonOf(t, w); s != ws {
			t.Errorf("interface %d:\n got %s\nwant %s", idx, s, ws)
		}
	}
}
