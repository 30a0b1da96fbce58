package flow

import (
	"fmt"
	"testing"
)

// matches implements the original's compareFlow (inventory §14.1): string
// fields are compared when set in the expectation, layers exactly when
// given (ID included), metrics on packet and byte counts when given.
func matches(want, got *Flow) bool {
	switch {
	case want.LayersPath != "" && want.LayersPath != got.LayersPath,
		want.Application != "" && want.Application != got.Application,
		want.TrackingID != "" && want.TrackingID != got.TrackingID,
		want.L3TrackingID != "" && want.L3TrackingID != got.L3TrackingID,
		want.ParentUUID != "" && want.ParentUUID != got.ParentUUID:
		return false
	}
	if want.Link != nil && (got.Link == nil || *want.Link != *got.Link) {
		return false
	}
	if want.Network != nil && (got.Network == nil || *want.Network != *got.Network) {
		return false
	}
	if want.Transport != nil && (got.Transport == nil || *want.Transport != *got.Transport) {
		return false
	}
	if want.ICMP != nil && (got.ICMP == nil || *want.ICMP != *got.ICMP) {
		return false
	}
	if w := want.Metric; w != nil {
		g := got.Metric
		if w.ABPackets != g.ABPackets || w.ABBytes != g.ABBytes || w.BAPackets != g.BAPackets || w.BABytes != g.BABytes {
			return false
		}
		if w.RTT != 0 && w.RTT != g.RTT {
			return false
		}
	}
	return true
}

func link(a, b string) *FlowLayer { return &FlowLayer{Protocol: ProtoEthernet, A: a, B: b} }
func ipv4(a, b string, id int64) *FlowLayer {
	return &FlowLayer{Protocol: ProtoIPv4, A: a, B: b, ID: id}
}
func tcp(a, b int64) *TransportLayer { return &TransportLayer{Protocol: ProtoTCP, A: a, B: b} }
func udp(a, b int64) *TransportLayer { return &TransportLayer{Protocol: ProtoUDP, A: a, B: b} }
func metric(abp, abb, bap, bab int64) *Metric {
	return &Metric{ABPackets: abp, ABBytes: abb, BAPackets: bap, BABytes: bab}
}

func describe(f *Flow) string {
	s := f.LayersPath + " " + f.Application
	if f.Network != nil {
		s += fmt.Sprintf(" %s>%s/%d", f.Network.A, f.Network.B, f.Network.ID)
	}
	if f.Transport != nil {
		s += fmt.Sprintf(" %d>%d", f.Transport.A, f.Transport.B)
	}
	m := f.Metric
	return s + fmt.Sprintf(" %d/%d/%d/%d", m.ABPackets, m.ABBytes, m.BAPackets, m.BABytes)
}

// TestOriginalExpectations asserts, trace by trace, what the original
// Skydive's own flow tests expect (inventory §14.3). Unlike the original's
// validatePCAP, the number of flows is always checked too.
func TestOriginalExpectations(t *testing.T) {
	tests := []struct {
		file  string
		opts  func(*Options)
		count int
		want  []*Flow
	}{
		{file: "simple-tcpv4.pcap", count: 1, want: []*Flow{{
			LayersPath: "Ethernet/IPv4/TCP", Application: "TCP",
			Network: ipv4("192.168.0.2", "192.168.0.1", 0), Transport: tcp(36108, 3333),
			Metric: &Metric{ABPackets: 5, ABBytes: 344, BAPackets: 3, BABytes: 206, RTT: 33000},
		}}},
		{file: "simple-tcpv6.pcap", count: 1, want: []*Flow{{
			LayersPath: "Ethernet/IPv6/TCP", Metric: &Metric{ABPackets: 3, ABBytes: 272, BAPackets: 2, BABytes: 180, RTT: 28000},
		}}},
		{file: "dns.pcap", count: 6, opts: func(o *Options) { o.ExtraLayers = ExtraDNS }, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/UDP/DNS", Application: "DNS", Link: link("14:4f:8a:d7:59:3d", "40:9b:cd:d2:7b:11"),
				Network: ipv4("10.0.0.12", "10.0.0.138", 0), Transport: udp(41278, 53), Metric: metric(2, 150, 2, 683)},
			{Transport: udp(33823, 53), Metric: metric(1, 77, 1, 294)},
			{Transport: udp(56656, 53), Metric: metric(2, 148, 2, 510)},
			{Transport: udp(54893, 53), Metric: metric(1, 77, 1, 354)},
			{Transport: udp(42992, 53), Metric: metric(1, 74, 1, 440)},
			{Transport: udp(57048, 53), Metric: metric(1, 70, 1, 154)},
		}},
		// The original's test checks the listing order: GRE first.
		{file: "erspanII.pcap", count: 2, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/GRE"}, {LayersPath: "Ethernet/IPv4/ICMPv4"},
		}},
		{file: "ipv4-fragments.pcap", count: 2, opts: func(o *Options) { o.IPDefrag = false }, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/Fragment"},
		}},
		{file: "ipv4-fragments.pcap", count: 1, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/Fragment/ICMPv4"},
		}},
		{file: "eth-ipv4-tcp-http-ooo.pcap", count: 1, want: []*Flow{{LayersPath: "Ethernet/IPv4/TCP"}}},
		// 6 flows: ARP request and ARP reply (distinct MAC pairs), 2 DNS, 2 TCP.
		{file: "eth-ip4-arp-dns-req-http-google.pcap", count: 6, want: []*Flow{
			{LayersPath: "Ethernet/ARP", Application: "ARP", Link: link("fa:16:3e:29:e0:82", "ff:ff:ff:ff:ff:ff"), Metric: metric(1, 42, 0, 0)},
			{Link: link("fa:16:3e:29:e0:82", "fa:16:3e:96:06:e8"), Network: ipv4("192.168.0.5", "8.8.8.8", 0),
				Transport: udp(37686, 53), Metric: metric(2, 148, 2, 256)},
			{Application: "TCP", Network: ipv4("192.168.0.5", "173.194.40.147", 0), Transport: tcp(47838, 80), Metric: metric(6, 516, 4, 760)},
			{Network: ipv4("192.168.0.5", "8.8.8.8", 0), Transport: udp(33553, 53), Metric: metric(2, 146, 2, 190)},
			{Network: ipv4("192.168.0.5", "216.58.211.67", 0), Transport: tcp(54785, 80), Metric: metric(20, 1475, 18, 21080)},
		}},
		{file: "gre-gre-icmpv4.pcap", count: 3, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/GRE", Application: "GRE", Link: link("00:0f:fe:dd:22:42", "00:1b:d5:ff:54:d9"),
				Network: ipv4("72.205.54.70", "86.106.164.150", 0), Metric: metric(5, 810, 5, 810)},
			{LayersPath: "IPv4/GRE", Network: ipv4("10.10.11.2", "10.10.13.2", 0), Metric: metric(5, 620, 5, 620)},
			{LayersPath: "IPv4/ICMPv4", Network: ipv4("10.10.25.1", "192.168.1.2", 0), Metric: metric(5, 500, 5, 500)},
		}},
		{file: "vxlan-src-port.pcap", count: 3, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/UDP/VXLAN", Link: link("fa:36:71:46:76:19", "3a:07:fe:34:45:8e"),
				Network: ipv4("172.16.0.1", "172.16.0.2", 10), Transport: udp(51031, 4789), Metric: metric(2, 208, 0, 0)},
			{Link: link("f2:98:72:99:56:08", "26:09:b6:98:f9:64"), Network: ipv4("192.168.0.1", "192.168.0.2", 0),
				Transport: tcp(1468, 8080), Metric: metric(1, 54, 0, 0)},
			{Link: link("f2:98:72:99:56:08", "26:09:b6:98:f9:64"), Network: ipv4("192.168.0.1", "192.168.0.2", 0),
				Transport: tcp(1890, 8080), Metric: metric(1, 54, 0, 0)},
		}},
		// count 6: the original's test lists 5 flows and allows extras; the
		// sixth is the TCP flow 30.0.0.1:22 -> 30.0.0.2:51225 carried in
		// the other tunnel (VNI 10).
		{file: "geneve.pcap", count: 6, want: []*Flow{
			{LayersPath: "Ethernet/IPv4/UDP/Geneve", Application: "Geneve", Link: link("00:1b:21:3c:ab:64", "00:1b:21:3c:ac:30"),
				Network: ipv4("20.0.0.1", "20.0.0.2", 10), Transport: udp(12618, 6081), Metric: metric(19, 5027, 0, 0)},
			{Network: ipv4("20.0.0.2", "20.0.0.1", 11), Transport: udp(50525, 6081), Metric: metric(20, 4253, 0, 0)},
			{Link: link("fe:71:d8:83:72:4f", "b6:9e:d2:49:51:48"), Network: ipv4("30.0.0.2", "30.0.0.1", 0),
				ICMP: &ICMPLayer{Type: ICMPEcho, ID: 10578}, Metric: metric(3, 294, 0, 0)},
			{Link: link("b6:9e:d2:49:51:48", "fe:71:d8:83:72:4f"), Network: ipv4("30.0.0.1", "30.0.0.2", 0),
				ICMP: &ICMPLayer{Type: ICMPEcho, ID: 10578}, Metric: metric(3, 294, 0, 0)},
			{Network: ipv4("30.0.0.2", "30.0.0.1", 0), Transport: tcp(51225, 22), Metric: metric(17, 2959, 0, 0)},
		}},
		{file: "layer-key-mode.pcap", count: 1, opts: func(o *Options) { o.LayerKeyMode = L3 }, want: []*Flow{{
			Link: link("f2:45:25:5b:3a:bc", "2e:b9:2d:76:24:07"), Metric: metric(2, 196, 2, 196),
			TrackingID: "9e42a86914a043b8", L3TrackingID: "9e42a86914a043b8",
		}}},
		{file: "layer-key-mode.pcap", count: 2, want: []*Flow{
			{Link: link("f2:45:25:5b:3a:ac", "2e:b9:2d:76:24:07"), Metric: metric(1, 98, 1, 98),
				TrackingID: "6952cad8cd38c63c", L3TrackingID: "9e42a86914a043b8"},
			{Link: link("f2:45:25:5b:3a:bc", "2e:b9:2d:76:24:07"), Metric: metric(1, 98, 1, 98),
				TrackingID: "a25d427a9f9dcdb8", L3TrackingID: "9e42a86914a043b8"},
		}},
		{file: "icmp-vlan.pcap", count: 1, want: []*Flow{{LayersPath: "Ethernet/Dot1Q/IPv4/ICMPv4",
			Link: &FlowLayer{Protocol: ProtoEthernet, A: "fa:16:3e:ef:a8:2a", B: "fa:16:3e:56:f2:e9", ID: 5}}}},
		{file: "icmpv4-symetric.pcap", count: 100},
		// ping-with-without-ethernet: 3 flows, the plain ping, the
		// GRE/MPLS tunnel and the ping inside it (checked below).
		{file: "ping-with-without-ethernet.pcap", count: 3},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			opts := harnessOpts()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			flows := flowsFromFile(t, "testdata/"+tc.file, opts)
			if len(flows) != tc.count {
				for _, f := range flows {
					t.Log(describe(f))
				}
				t.Fatalf("got %d flows, want %d", len(flows), tc.count)
			}
			for i, w := range tc.want {
				found := false
				for _, g := range flows {
					if matches(w, g) {
						found = true
						break
					}
				}
				if !found {
					for _, f := range flows {
						t.Log(describe(f))
					}
					t.Errorf("expected flow %d (%s) not found", i, describe(&Flow{LayersPath: w.LayersPath, Network: w.Network, Transport: w.Transport, Metric: orZero(w.Metric)}))
				}
			}
		})
	}
}

func orZero(m *Metric) *Metric {
	if m == nil {
		return &Metric{}
	}
	return m
}

// TestFlowDetails checks the metrics of the original's tests that
// matches() does not cover.
func TestFlowDetails(t *testing.T) {
	t.Run("TCPMetric", func(t *testing.T) {
		f := flowsFromFile(t, "testdata/simple-tcpv4.pcap", harnessOpts())[0]
		m := f.TCPMetric
		if m == nil || m.ABSynStart != 1490086703768 || m.BASynStart != 1490086703768 || m.ABSynTTL != 64 || m.BASynTTL != 64 ||
			m.ABFinStart != 1490086707507 || m.BAFinStart != 1490086707507 {
			t.Errorf("TCPMetric = %+v", m)
		}
		if f.LastUpdateMetric != nil {
			t.Errorf("LastUpdateMetric = %+v before any update", f.LastUpdateMetric)
		}
		if f.FinishType != TCPFin {
			t.Errorf("FinishType = %d, want TCP_FIN", f.FinishType)
		}
	})
	t.Run("SegmentOutOfOrder", func(t *testing.T) {
		m := flowsFromFile(t, "testdata/eth-ipv4-tcp-http-ooo.pcap", harnessOpts())[0].TCPMetric
		if m.ABSegmentOutOfOrder != 0 || m.BASegmentOutOfOrder != 3 {
			t.Errorf("out of order AB %d BA %d, want 0 and 3", m.ABSegmentOutOfOrder, m.BASegmentOutOfOrder)
		}
	})
	t.Run("IPMetric", func(t *testing.T) {
		f := flowsFromFile(t, "testdata/ipv4-fragments.pcap", harnessOpts())[0]
		if f.IPMetric == nil || *f.IPMetric != (IPMetric{Fragments: 1}) {
			t.Errorf("IPMetric = %+v, want {Fragments:1}", f.IPMetric)
		}
	})
	t.Run("DNS", func(t *testing.T) {
		opts := harnessOpts()
		opts.ExtraLayers = ExtraDNS
		var f *Flow
		for _, g := range flowsFromFile(t, "testdata/dns.pcap", opts) {
			if g.Transport.A == 41278 {
				f = g
			}
		}
		d := f.DNS
		// the last message seen: the second response
		if d == nil || !d.QR || !d.RD || !d.RA || d.OpCode != "Query" || d.ResponseCode != "No Error" || d.ID != 38125 {
			t.Fatalf("DNS = %+v", d)
		}
		if len(d.Questions) != 1 || d.Questions[0] != (DNSQuestion{Name: "c.go-mpulse.net", Type: "AAAA", Class: "IN"}) {
			t.Errorf("Questions = %+v", d.Questions)
		}
		if len(d.Answers) != 2 || d.Answers[0].CNAME != "wildcard.go-mpulse.net.edgekey.net" || d.Answers[0].TTL != 728 ||
			d.Answers[0].DataLength != 33 || d.Answers[1].CNAME != "e4518.x.akamaiedge.net" || d.Answers[1].TTL != 2924 {
			t.Errorf("Answers = %+v", d.Answers)
		}
		if len(d.Authorities) != 1 || d.Authorities[0].SOA == nil || *d.Authorities[0].SOA != (DNSSOA{MName: "n0x.akamaiedge.net",
			RName: "hostmaster.akamai.com", Serial: 1559791419, Refresh: 1000, Retry: 1000, Expire: 1000, Minimum: d.Authorities[0].SOA.Minimum}) {
			t.Errorf("Authorities = %+v", d.Authorities)
		}
		if d.Timestamp != f.Last {
			t.Errorf("DNS timestamp %d, want the response time %d", d.Timestamp, f.Last)
		}
	})
	t.Run("L3TrackingIDWithWithoutEthernet", func(t *testing.T) {
		ids := map[string]int{}
		for _, f := range flowsFromFile(t, "testdata/ping-with-without-ethernet.pcap", harnessOpts()) {
			if f.Application == "ICMPv4" {
				ids[f.L3TrackingID]++
			}
		}
		if len(ids) != 1 {
			t.Errorf("ICMPv4 flows have L3TrackingIDs %v, want one", ids)
		}
	})
	t.Run("TrackingIDAcrossTraces", func(t *testing.T) {
		// the same TCP connection is in both traces
		find := func(file string) *Flow {
			for _, f := range flowsFromFile(t, file, harnessOpts()) {
				if f.Transport != nil && f.Transport.A == 54785 {
					return f
				}
			}
			t.Fatalf("no flow from port 54785 in %s", file)
			return nil
		}
		a, b := find("testdata/eth-ip4-arp-dns-req-http-google.pcap"), find("testdata/eth-ipv4-tcp-http-ooo.pcap")
		if a.TrackingID != b.TrackingID || a.L3TrackingID != b.L3TrackingID {
			t.Errorf("TrackingIDs differ: %s/%s and %s/%s", a.TrackingID, a.L3TrackingID, b.TrackingID, b.L3TrackingID)
		}
	})
	t.Run("ParentChain", func(t *testing.T) {
		flows := flowsFromFile(t, "testdata/gre-gre-icmpv4.pcap", harnessOpts())
		if flows[0].ParentUUID != "" || flows[1].ParentUUID != flows[0].UUID || flows[2].ParentUUID != flows[1].UUID {
			t.Errorf("GRE in GRE chain broken: %q %q/%q %q/%q", flows[0].ParentUUID, flows[0].UUID, flows[1].ParentUUID, flows[1].UUID, flows[2].ParentUUID)
		}
		if flows[0].Network.ID != 0 || flows[2].Network.ID != 0 {
			t.Errorf("GRE key: outer ID %d inner ID %d", flows[0].Network.ID, flows[2].Network.ID)
		}
	})
	t.Run("AppPorts", func(t *testing.T) {
		opts := harnessOpts()
		opts.AppPorts = &AppPorts{TCP: map[uint16]string{80: "HTTP"}}
		for _, f := range flowsFromFile(t, "testdata/eth-ip4-arp-dns-req-http-google.pcap", opts) {
			if f.Transport != nil && f.Transport.Protocol == ProtoTCP && f.Application != "HTTP" {
				t.Errorf("TCP flow application %q, want HTTP", f.Application)
			}
		}
	})
}
