package flow

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The traces of these tests are written by testdata/gen_traces.py (scapy).

func ipv6(a, b string) *FlowLayer { return &FlowLayer{Protocol: ProtoIPv6, A: a, B: b} }

func icmpEcho(id uint32) *ICMPLayer { return &ICMPLayer{Type: ICMPEcho, ID: id} }

// findFlows returns, for each expectation, the flow that matches it,
// failing on an expectation that matches no flow or several.
func findFlows(t *testing.T, flows []*Flow, want []*Flow) []*Flow {
	t.Helper()
	got := make([]*Flow, len(want))
	for i, w := range want {
		for _, g := range flows {
			if matches(w, g) {
				if got[i] != nil {
					t.Errorf("expected flow %d (%s) matches several flows", i, describe(withMetric(w)))
				}
				got[i] = g
			}
		}
		if got[i] == nil {
			for _, f := range flows {
				t.Log(describe(f))
			}
			t.Fatalf("expected flow %d (%s) not found", i, describe(withMetric(w)))
		}
	}
	return got
}

func withMetric(f *Flow) *Flow {
	c := *f
	c.Metric = orZero(f.Metric)
	return &c
}

// TestRawIPLinkTypes checks that frames without a link layer decode as IP,
// never as Ethernet, under each link type that pcap writers use for them:
// 12, 14 and 101 (IPv4 and IPv6 in the same file, the version nibble
// decides), 228 (IPv4), 229 (IPv6), and OpenBSD's DLT_LOOP written as 12.
// Each trace has a ping, a DNS query and answer and a small TCP connection
// per IP version; bytes are the IP lengths (40 + payload for IPv6).
func TestRawIPLinkTypes(t *testing.T) {
	v4 := []*Flow{
		{LayersPath: "IPv4/ICMPv4", Network: ipv4("192.0.2.1", "192.0.2.2", 0), ICMP: icmpEcho(0x1234), Metric: metric(1, 43, 1, 43)},
		{LayersPath: "IPv4/UDP/DNS", Application: "DNS", Network: ipv4("192.0.2.1", "192.0.2.53", 0), Transport: udp(40000, 53), Metric: metric(1, 57, 1, 84)},
		{LayersPath: "IPv4/TCP", Network: ipv4("192.0.2.1", "192.0.2.2", 0), Transport: tcp(40001, 8080), Metric: metric(5, 205, 3, 126)},
	}
	v6 := []*Flow{
		{LayersPath: "IPv6/ICMPv6/ICMPv6Echo", Network: ipv6("2001:db8::1", "2001:db8::2"), ICMP: icmpEcho(0x4321), Metric: metric(1, 63, 1, 63)},
		{LayersPath: "IPv6/UDP/DNS", Application: "DNS", Network: ipv6("2001:db8::1", "2001:db8::53"), Transport: udp(40002, 53), Metric: metric(1, 77, 1, 104)},
		{LayersPath: "IPv6/TCP", Network: ipv6("2001:db8::1", "2001:db8::2"), Transport: tcp(40003, 8080), Metric: metric(5, 305, 3, 186)},
	}
	both := append(append([]*Flow(nil), v4...), v6...)
	for _, tc := range []struct {
		file     string
		linkType layers.LinkType
		want     []*Flow
	}{
		{"raw-ip-linktype12.pcap", 12, both},
		{"raw-ip-linktype14.pcap", 14, both},
		{"raw-ip-linktype101.pcap", layers.LinkTypeRaw, both},
		{"raw-ipv4-linktype228.pcap", layers.LinkTypeIPv4, v4},
		{"raw-ipv6-linktype229.pcap", layers.LinkTypeIPv6, v6},
		{"loop-linktype12-openbsd.pcap", 12, both},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := "testdata/" + tc.file
			if lt := pcapLinkType(t, file); lt != tc.linkType {
				t.Fatalf("link type %d, want %d", lt, tc.linkType)
			}
			for _, mode := range []LayerKeyMode{L2, L3} {
				opts := harnessOpts()
				opts.LayerKeyMode = mode
				flows := flowsFromFile(t, file, opts)
				if len(flows) != len(tc.want) {
					for _, f := range flows {
						t.Log(describe(f))
					}
					t.Fatalf("%s: %d flows, want %d", mode, len(flows), len(tc.want))
				}
				for _, f := range flows {
					if f.Link != nil || f.ParentUUID != "" {
						t.Errorf("%s: flow %s has a link layer %+v or a parent %q", mode, describe(f), f.Link, f.ParentUUID)
					}
				}
				got := findFlows(t, flows, tc.want)
				if tcp := got[2]; tcp.TCPMetric == nil || tcp.TCPMetric.ABSynStart == 0 || tcp.FinishType != TCPFin || tcp.Metric.RTT != 1e6 {
					t.Errorf("%s: TCP flow %+v metric %+v finish %d", mode, tcp.TCPMetric, tcp.Metric, tcp.FinishType)
				}
			}
		})
	}
}

// TestVXLANBothDirections checks a ping between two VMs through two VXLAN
// VTEPs, the reply coming from the same UDP source port (a) or from
// another one (b), both to 4789: the outer flow is keyed on the VNI and
// the destination port, so each trace has exactly one outer flow with
// packets both ways, and one inner ICMP flow with both ways too, whose
// parent is the outer flow.
func TestVXLANBothDirections(t *testing.T) {
	for _, tc := range []struct {
		file                               string
		replyPort                          uint16
		flows                              int
		outerAB, outerBA, innerAB, innerBA int64 // packets
	}{
		{"vxlan-same-src-port.pcap", 50000, 2, 2, 2, 2, 2},
		{"vxlan-other-src-port.pcap", 61000, 2, 2, 2, 2, 2},
	} {
		for _, mode := range []LayerKeyMode{L2, L3} {
			t.Run(tc.file+"/"+mode.String(), func(t *testing.T) {
				file := "testdata/" + tc.file
				datas, _ := readPcap(t, file)
				if got := binary.BigEndian.Uint16(datas[1][34:36]); got != tc.replyPort {
					t.Fatalf("reply source port %d, want %d", got, tc.replyPort)
				}
				opts := harnessOpts()
				opts.LayerKeyMode = mode
				flows := flowsFromFile(t, file, opts)
				if len(flows) != tc.flows {
					for _, f := range flows {
						t.Log(describe(f))
					}
					t.Fatalf("%d flows, want %d (one outer, one inner)", len(flows), tc.flows)
				}
				got := findFlows(t, flows, []*Flow{
					{LayersPath: "Ethernet/IPv4/UDP/VXLAN", Application: "VXLAN", Link: link("02:00:00:00:00:01", "02:00:00:00:00:02"),
						Network: ipv4("198.51.100.1", "198.51.100.2", 42), Transport: udp(50000, 4789),
						Metric: metric(tc.outerAB, tc.outerAB*105, tc.outerBA, tc.outerBA*105)},
					{LayersPath: "Ethernet/IPv4/ICMPv4", Link: link("02:00:00:00:01:01", "02:00:00:00:01:02"),
						Network: ipv4("10.0.0.1", "10.0.0.2", 0), ICMP: icmpEcho(7),
						Metric: metric(tc.innerAB, tc.innerAB*55, tc.innerBA, tc.innerBA*55)},
				})
				outer, inner := got[0], got[1]
				if outer.ParentUUID != "" || inner.ParentUUID != outer.UUID {
					t.Errorf("outer parent %q, inner parent %q, want \"\" and %q", outer.ParentUUID, inner.ParentUUID, outer.UUID)
				}
				if inner.Metric.RTT != 1e6 {
					t.Errorf("inner RTT %d, want 1ms (echo request to reply)", inner.Metric.RTT)
				}
			})
		}
	}
}

// TestVXLANReverseTunnelTrackingID checks that the tunnel key does not
// depend on the direction: a trace read from its reply on gives the outer
// flow the same TrackingID and L3TrackingID.
func TestVXLANReverseTunnelTrackingID(t *testing.T) {
	datas, cis := readPcap(t, "testdata/vxlan-other-src-port.pcap")
	ids := func(order []int) (string, string) {
		tbl := NewTable(harnessOpts())
		for _, i := range order {
			tbl.FeedPacket(datas[i], cis[i], layers.LinkTypeEthernet)
		}
		f := tbl.Flows()[0]
		return f.TrackingID, f.L3TrackingID
	}
	a, a3 := ids([]int{0, 1, 2, 3})
	b, b3 := ids([]int{1, 0, 3, 2})
	if a != b || a3 != b3 {
		t.Errorf("tunnel TrackingIDs %s/%s from the request, %s/%s from the reply", a, a3, b, b3)
	}
}

// TestMPLSOverUDP checks MPLS over UDP on the Contrail vRouter's port
// (51234, the default of Options.MPLSUDPPort) and on RFC 7510's (6635):
// one ping per payload after the label stack (Ethernet, IPv4 with a
// two-label stack one way, IPv6). Each packet gives an outer UDP flow
// (LayersPath up to the labels) and an inner flow whose parent it is. The
// vRouter sends each direction from its own source port with its own
// label, so the outer flows, and thus the inner ones, are one per
// direction, as in the original.
func TestMPLSOverUDP(t *testing.T) {
	for _, tc := range []struct {
		file    string
		port    int64
		vmMAC   string // the Ethernet VM's MAC, made to look like an IP version nibble
		v6Outer bool
	}{
		{file: "mplsoudp-51234.pcap", port: 51234, vmMAC: "4a:00:0a:00:00:02"},
		{file: "mplsoudp-6635.pcap", port: 6635, vmMAC: "6a:00:0a:00:00:02", v6Outer: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			flows := flowsFromFile(t, "testdata/"+tc.file, harnessOpts())
			if len(flows) != 12 {
				for _, f := range flows {
					t.Log(describe(f))
				}
				t.Fatalf("%d flows, want 12 (6 outer, 6 inner)", len(flows))
			}
			cn := func(a, b string, v6 bool) *FlowLayer {
				if v6 {
					return ipv6("2001:db8:100::"+a, "2001:db8:100::"+b)
				}
				return ipv4("198.51.100."+a, "198.51.100."+b, 0)
			}
			mpls := "Ethernet/IPv4/UDP/MPLS"
			mpls6, bytes6 := mpls, int64(100)
			if tc.v6Outer {
				mpls6, bytes6 = "Ethernet/IPv6/UDP/MPLS", 120
			}
			want := []*Flow{
				// Ethernet payload, request and reply
				{LayersPath: mpls, Application: "MPLS", Network: cn("11", "12", false), Transport: udp(49200, tc.port), Metric: metric(1, 93, 0, 0)},
				{LayersPath: "Ethernet/IPv4/ICMPv4", Link: link("02:00:0a:00:00:01", tc.vmMAC), Network: ipv4("10.1.0.1", "10.1.0.2", 0), ICMP: icmpEcho(21), Metric: metric(1, 47, 0, 0)},
				{LayersPath: mpls, Network: cn("12", "11", false), Transport: udp(49201, tc.port), Metric: metric(1, 93, 0, 0)},
				{LayersPath: "Ethernet/IPv4/ICMPv4", Link: link(tc.vmMAC, "02:00:0a:00:00:01"), Network: ipv4("10.1.0.2", "10.1.0.1", 0), ICMP: icmpEcho(21), Metric: metric(1, 47, 0, 0)},
				// IPv4 payload, two labels in the request
				{LayersPath: mpls + "/MPLS", Network: cn("11", "12", false), Transport: udp(49300, tc.port), Metric: metric(1, 83, 0, 0)},
				{LayersPath: "IPv4/ICMPv4", Network: ipv4("10.2.0.1", "10.2.0.2", 0), ICMP: icmpEcho(22), Metric: metric(1, 33, 0, 0)},
				{LayersPath: mpls, Network: cn("12", "11", false), Transport: udp(49301, tc.port), Metric: metric(1, 79, 0, 0)},
				{LayersPath: "IPv4/ICMPv4", Network: ipv4("10.2.0.2", "10.2.0.1", 0), ICMP: icmpEcho(22), Metric: metric(1, 33, 0, 0)},
				// IPv6 payload
				{LayersPath: mpls6, Network: cn("11", "12", tc.v6Outer), Transport: udp(49400, tc.port), Metric: metric(1, bytes6, 0, 0)},
				{LayersPath: "IPv6/ICMPv6/ICMPv6Echo", Network: ipv6("fd00:2::1", "fd00:2::2"), ICMP: icmpEcho(23), Metric: metric(1, 54, 0, 0)},
				{LayersPath: mpls6, Network: cn("12", "11", tc.v6Outer), Transport: udp(49401, tc.port), Metric: metric(1, bytes6, 0, 0)},
				{LayersPath: "IPv6/ICMPv6/ICMPv6Echo", Network: ipv6("fd00:2::2", "fd00:2::1"), ICMP: icmpEcho(23), Metric: metric(1, 54, 0, 0)},
			}
			got := findFlows(t, flows, want)
			for i := 0; i < len(got); i += 2 {
				if got[i].ParentUUID != "" || got[i+1].ParentUUID != got[i].UUID {
					t.Errorf("%s: parent %q; %s: parent %q, want %q", describe(got[i]), got[i].ParentUUID, describe(got[i+1]), got[i+1].ParentUUID, got[i].UUID)
				}
			}
		})
	}
}

// TestMPLSUDPPortOption checks Options.MPLSUDPPort: another port moves
// MPLS over UDP to it (51234 is then plain UDP), a negative one leaves
// only 6635, which is always decoded.
func TestMPLSUDPPortOption(t *testing.T) {
	countInner := func(opts Options, file string, sport, dport uint16) (flows, inner int) {
		datas, cis := readPcap(t, file)
		tbl := NewTable(opts)
		for i, d := range datas {
			// Ethernet, IPv4 (20 bytes) outer: UDP ports at 34 and 36
			d = append([]byte(nil), d...)
			if sport != 0 {
				binary.BigEndian.PutUint16(d[34:36], sport)
			}
			if dport != 0 {
				binary.BigEndian.PutUint16(d[36:38], dport)
			}
			tbl.FeedPacket(d, cis[i], layers.LinkTypeEthernet)
		}
		fl := tbl.Flows()
		for _, f := range fl {
			if f.ParentUUID != "" {
				inner++
			}
		}
		return len(fl), inner
	}
	for _, tc := range []struct {
		name         string
		port         int
		file         string
		sport, dport uint16 // rewritten ports, 0 to keep them
		flows, inner int
	}{
		{"default 51234", 0, "testdata/mplsoudp-51234.pcap", 0, 0, 12, 6},
		{"51234 explicitly", 51234, "testdata/mplsoudp-51234.pcap", 0, 0, 12, 6},
		{"another port, 51234 is plain UDP", 7000, "testdata/mplsoudp-51234.pcap", 0, 0, 6, 0},
		{"another port", 7000, "testdata/mplsoudp-51234.pcap", 0, 7000, 12, 6},
		{"none, 51234 is plain UDP", -1, "testdata/mplsoudp-51234.pcap", 0, 0, 6, 0},
		{"out of range is none", 70000, "testdata/mplsoudp-51234.pcap", 0, 0, 6, 0},
		{"none, 6635 stays", -1, "testdata/mplsoudp-6635.pcap", 0, 0, 12, 6},
		// the ports rewritten alike in every packet: one outer flow each
		// way. From the MPLS port to an unknown one:
		{"from 51234", 0, "testdata/mplsoudp-51234.pcap", 51234, 40000, 2 + 6, 6},
		// from or to a well-known port, no MPLS whatever it carries:
		{"from a well-known port", 0, "testdata/mplsoudp-51234.pcap", 123, 0, 2, 0},
		{"to a well-known port", 0, "testdata/mplsoudp-51234.pcap", 51234, 123, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flows, inner := countInner(Options{MPLSUDPPort: tc.port}, tc.file, tc.sport, tc.dport)
			if flows != tc.flows || inner != tc.inner {
				t.Errorf("%d flows, %d inner, want %d and %d", flows, inner, tc.flows, tc.inner)
			}
		})
	}
}

// TestMPLSUDPPortKeepsOtherProtocols checks that a DNS client whose
// ephemeral port is 51234 keeps its DNS flow: a packet from or to a
// well-known port, or whose payload is no label stack followed by IP or
// Ethernet, is not MPLS over UDP.
func TestMPLSUDPPortKeepsOtherProtocols(t *testing.T) {
	datas, cis := readPcap(t, "testdata/dns.pcap")
	// feed feeds the packets of the DNS client port 41278 (a query and its
	// answer, twice), the client port set to 51234 and, if server is not
	// 0, the server port 53 to server.
	feed := func(server uint16) []*Flow {
		tbl := NewTable(Options{})
		for i, d := range datas {
			p := gopacket.NewPacket(d, layers.LinkTypeEthernet, gopacket.Default)
			u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if u == nil || u.SrcPort != 41278 && u.DstPort != 41278 {
				continue
			}
			off := len(d) - len(u.Contents) - len(u.Payload)
			d = append([]byte(nil), d...)
			client, srv := off, off+2
			if u.SrcPort == 53 {
				client, srv = srv, client
			}
			binary.BigEndian.PutUint16(d[client:], DefaultMPLSUDPPort)
			if server != 0 {
				binary.BigEndian.PutUint16(d[srv:], server)
			}
			tbl.FeedPacket(d, cis[i], layers.LinkTypeEthernet)
		}
		return tbl.Flows()
	}
	for _, tc := range []struct {
		name       string
		server     uint16
		layersPath string
	}{
		{"from and to port 53", 0, "Ethernet/IPv4/UDP/DNS"},
		{"DNS messages are no label stack", 40053, "Ethernet/IPv4/UDP"},
	} {
		fl := feed(tc.server)
		if len(fl) != 1 || fl[0].LayersPath != tc.layersPath || fl[0].Metric.ABPackets != 2 || fl[0].Metric.BAPackets != 2 {
			for _, f := range fl {
				t.Log(describe(f))
			}
			t.Errorf("%s: %d flows, want one %s flow, 2 packets each way", tc.name, len(fl), tc.layersPath)
		}
	}

	// zeros from an unknown port to 51234: no bottom-of-stack label
	d := udpFrame(t, []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, 40000, DefaultMPLSUDPPort, 64)
	tbl := NewTable(Options{})
	tbl.FeedPacket(d, ci(t0, d), layers.LinkTypeEthernet)
	if fl := tbl.Flows(); len(fl) != 1 || fl[0].LayersPath != "Ethernet/IPv4/UDP" {
		t.Errorf("zeros to 51234: %d flows, first %s", len(fl), fl[0].LayersPath)
	}
}

// TestMPLSStack checks the guess of what follows an MPLS label stack.
func TestMPLSStack(t *testing.T) {
	label := func(bottom bool) []byte {
		if bottom {
			return []byte{0, 0x01, 0xe1, 64}
		}
		return []byte{0, 0x01, 0xe0, 64}
	}
	ip4 := func(hdr0 byte, total, have int) []byte {
		b := make([]byte, have)
		b[0] = hdr0
		binary.BigEndian.PutUint16(b[2:], uint16(total))
		return b
	}
	ip6 := func(payload, have int) []byte {
		b := make([]byte, have)
		b[0] = 0x60
		binary.BigEndian.PutUint16(b[4:], uint16(payload))
		return b
	}
	eth := func(dst0 byte, etype uint16, have int) []byte {
		b := make([]byte, have)
		b[0] = dst0
		binary.BigEndian.PutUint16(b[12:], etype)
		return b
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		labels int
		bottom bool
		next   gopacket.LayerType
	}{
		{"IPv4", cat(label(true), ip4(0x45, 40, 40)), 1, true, layers.LayerTypeIPv4},
		{"IPv4 two labels", cat(label(false), label(true), ip4(0x45, 40, 40)), 2, true, layers.LayerTypeIPv4},
		{"IPv4 cut short", cat(label(true), ip4(0x45, 1500, 40)), 1, true, layers.LayerTypeIPv4},
		{"IPv6", cat(label(true), ip6(8, 48)), 1, true, layers.LayerTypeIPv6},
		{"IPv6 cut short", cat(label(true), ip6(1400, 60)), 1, true, layers.LayerTypeIPv6},
		{"Ethernet", cat(label(true), eth(0x02, 0x0800, 60)), 1, true, layers.LayerTypeEthernet},
		{"Ethernet, MAC like IPv4", cat(label(true), eth(0x4a, 0x0800, 60)), 1, true, layers.LayerTypeEthernet},
		{"Ethernet, MAC like IPv6", cat(label(true), eth(0x6a, 0x86dd, 60)), 1, true, layers.LayerTypeEthernet},
		{"Ethernet, VLAN", cat(label(true), eth(0x02, 0x8100, 60)), 1, true, layers.LayerTypeEthernet},
		{"unknown EtherType", cat(label(true), eth(0x02, 0x1234, 60)), 1, true, gopacket.LayerTypeZero},
		{"IPv4 header too short", cat(label(true), ip4(0x44, 40, 40)), 1, true, gopacket.LayerTypeZero},
		{"nothing after the stack", label(true), 1, true, gopacket.LayerTypeZero},
		{"no bottom label", cat(label(false), label(false)), 2, false, gopacket.LayerTypeZero},
		{"cut label", cat(label(false), []byte{0, 1}), 1, false, gopacket.LayerTypeZero},
		{"too many labels", cat(label(false), label(false), label(false), label(false), label(false), label(false),
			label(false), label(false), label(false), label(false), label(false), label(false), label(false), label(false),
			label(false), label(false), label(true), ip4(0x45, 20, 20)), maxMPLSLabels, false, gopacket.LayerTypeZero},
		{"empty", nil, 0, false, gopacket.LayerTypeZero},
	} {
		labels, bottom, next := mplsStack(tc.data)
		if labels != tc.labels || bottom != tc.bottom || next != tc.next {
			t.Errorf("%s: %d labels bottom %v next %v, want %d %v %v", tc.name, labels, bottom, next, tc.labels, tc.bottom, tc.next)
		}
	}
}
