package flow

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// udpFrame builds an Ethernet/IPv4/UDP frame from src:sport to dst:dport.
func udpFrame(t testing.TB, src, dst net.IP, sport, dport uint16, payload int) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := u.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, u, gopacket.Payload(make([]byte, payload)))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// vxlanFrame wraps inner (an Ethernet frame) in Ethernet/IPv4/UDP/VXLAN.
func vxlanFrame(t testing.TB, sport uint16, vni uint32, inner []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 1, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 1, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{172, 16, 0, 1}, DstIP: net.IP{172, 16, 0, 2}}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 4789}
	vx := &layers.VXLAN{ValidIDFlag: true, VNI: vni}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, u, vx, gopacket.Payload(inner))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ci(ts time.Time, data []byte) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
}

// readPcap returns the packets of a trace.
func readPcap(t testing.TB, file string) ([][]byte, []gopacket.CaptureInfo) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var datas [][]byte
	var cis []gopacket.CaptureInfo
	for {
		d, c, err := r.ReadPacketData()
		if err != nil {
			break
		}
		datas = append(datas, d)
		cis = append(cis, c)
	}
	return datas, cis
}

// pcapLinkType returns the link type of a trace.
func pcapLinkType(t testing.TB, file string) layers.LinkType {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r.LinkType()
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestUpdateAndExpire(t *testing.T) {
	var batches []Batch
	tbl := NewTable(Options{
		NodeTID: "probe-1", CaptureID: "cap-1",
		Update: 10 * time.Second, Expire: 60 * time.Second,
		OnUpdate: func(b Batch) { batches = append(batches, b) },
	})
	a := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}, 1000, 2000, 10)
	b := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}, 1001, 2000, 10)

	tbl.Tick(t0) // starts the first update window
	tbl.FeedPacket(a, ci(t0.Add(time.Second), a), layers.LinkTypeEthernet)
	tbl.FeedPacket(a, ci(t0.Add(2*time.Second), a), layers.LinkTypeEthernet)
	tbl.FeedPacket(b, ci(t0.Add(3*time.Second), b), layers.LinkTypeEthernet)
	tbl.Tick(t0.Add(5 * time.Second)) // no update yet
	if len(batches) != 0 {
		t.Fatalf("update before the period: %+v", batches)
	}
	tbl.Tick(t0.Add(10 * time.Second))
	if len(batches) != 1 || len(batches[0].Flows) != 2 {
		t.Fatalf("want one batch of 2 flows, got %+v", batches)
	}
	for _, f := range batches[0].Flows {
		if f.NodeTID != "probe-1" || f.CaptureID != "cap-1" || f.LastUpdateMetric == nil {
			t.Errorf("flow %+v", f)
		}
		if f.Transport.A == 1000 && f.LastUpdateMetric.ABPackets != 2 {
			t.Errorf("LastUpdateMetric %+v, want 2 packets", f.LastUpdateMetric)
		}
	}
	if s := batches[0].Stats; s.FlowCount != 2 || s.PacketsReceived != 3 || s.CaptureID != "cap-1" {
		t.Errorf("stats %+v", s)
	}

	// only the flow updated since is sent, with the delta
	tbl.FeedPacket(a, ci(t0.Add(15*time.Second), a), layers.LinkTypeEthernet)
	tbl.Tick(t0.Add(20 * time.Second))
	if len(batches) != 2 || len(batches[1].Flows) != 1 || batches[1].Flows[0].LastUpdateMetric.ABPackets != 1 ||
		batches[1].Flows[0].Metric.ABPackets != 3 {
		t.Fatalf("second update: %+v", batches[1:])
	}

	// expiry: b is idle for 60 s at t0+63s, a at t0+75s
	tbl.Tick(t0.Add(64 * time.Second))
	last := batches[len(batches)-1]
	if len(last.Flows) != 1 || last.Flows[0].Transport.A != 1001 || last.Flows[0].FinishType != Timeout {
		t.Fatalf("expiry of b: %+v", last.Flows)
	}
	if tbl.Len() != 1 {
		t.Fatalf("table has %d flows", tbl.Len())
	}
	tbl.Flush(t0.Add(65 * time.Second))
	if tbl.Len() != 0 {
		t.Fatalf("flush left %d flows", tbl.Len())
	}
}

func TestAppTimeoutAndHold(t *testing.T) {
	var sent []*Flow
	tbl := NewTable(Options{
		AppTimeout: map[string]time.Duration{"ARP": 10 * time.Second, "DNS": 20 * time.Second},
		OnUpdate:   func(b Batch) { sent = append(sent, b.Flows...) },
	})
	datas, cis := readPcap(t, "testdata/eth-ip4-arp-dns-req-http-google.pcap")
	for i := range datas {
		tbl.FeedPacket(datas[i], cis[i], layers.LinkTypeEthernet)
	}
	start := cis[0].Timestamp
	tbl.Tick(start)
	tbl.Tick(start.Add(16 * time.Second))
	apps := map[string]int{}
	for _, f := range sent {
		apps[f.Application]++
		if f.Application == "ARP" && f.FinishType != Timeout {
			t.Errorf("ARP flow FinishType %d", f.FinishType)
		}
	}
	// ARP flows timed out; TCP flows ended with FIN are past the 15 s hold
	if apps["ARP"] != 2 || apps["DNS"] != 0 || apps["TCP"] != 2 {
		t.Errorf("ended flows by application: %v", apps)
	}
	if tbl.Len() != 2 {
		t.Errorf("%d flows left, want the 2 DNS flows", tbl.Len())
	}
}

func TestMaxEntries(t *testing.T) {
	tbl := NewTable(Options{MaxEntries: 10})
	for i := range 20 {
		d := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}, uint16(1000+i), 53, 0)
		tbl.FeedPacket(d, ci(t0, d), layers.LinkTypeEthernet)
	}
	if s := tbl.Stats(); s.FlowCount != 10 || s.FlowDropped != 10 {
		t.Errorf("stats %+v, want 10 flows and 10 dropped", s)
	}
}

func TestRawIP(t *testing.T) {
	// LINKTYPE_RAW (101) and DLT_RAW (12): frames start with the IP header
	d := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}, 1000, 53, 4)[14:]
	for _, lt := range []layers.LinkType{layers.LinkTypeRaw, 12, 14, layers.LinkTypeIPv4} {
		tbl := NewTable(Options{})
		tbl.FeedPacket(d, ci(t0, d), lt)
		fl := tbl.Flows()
		if len(fl) != 1 || fl[0].Link != nil || fl[0].Network == nil || fl[0].Metric.ABBytes != 20+8+4 /* IP length, without the Ethernet padding */ {
			t.Fatalf("link type %d: %d flows %+v", lt, len(fl), fl)
		}
	}
}

func TestQinQ(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeQinQ}
	outer := &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}
	inner := &layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP{1, 1, 1, 1}, DstIP: net.IP{2, 2, 2, 2}}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, outer, inner, ip, icmp); err != nil {
		t.Fatal(err)
	}
	tbl := NewTable(Options{})
	tbl.FeedPacket(buf.Bytes(), ci(t0, buf.Bytes()), layers.LinkTypeEthernet)
	f := tbl.Flows()[0]
	// outer tag in the low 12 bits, as the original's linkID()
	if f.LayersPath != "Ethernet/Dot1Q/Dot1Q/IPv4/ICMPv4" || f.Link.ID != 200<<12|100 || f.ICMP.ID != 7 {
		t.Errorf("flow %s link %+v icmp %+v", f.LayersPath, f.Link, f.ICMP)
	}
}

func TestTruncatedPackets(t *testing.T) {
	// every prefix of every packet of every trace decodes without panic
	for _, file := range pcapFiles(t) {
		datas, cis := readPcap(t, file)
		lt := pcapLinkType(t, file)
		tbl := NewTable(Options{IPDefrag: true, ReassembleTCP: true, ExtraTCPMetric: true, ExtraLayers: ExtraAll})
		for i, d := range datas {
			for n := 0; n <= len(d); n += 1 + n/8 {
				tbl.FeedPacket(d[:n], cis[i], lt)
			}
		}
	}
}

// TestKnownFlowZeroAlloc asserts that a packet of a known flow allocates
// nothing (decode, key, lookup and update).
func TestKnownFlowZeroAlloc(t *testing.T) {
	cases := map[string]string{"tcp": "testdata/simple-tcpv4.pcap", "vxlan": "testdata/vxlan-src-port.pcap",
		"geneve": "testdata/geneve.pcap", "gre": "testdata/gre-gre-icmpv4.pcap", "tcpv6": "testdata/simple-tcpv6.pcap",
		"vxlan-reply": "testdata/vxlan-other-src-port.pcap", "mplsoudp": "testdata/mplsoudp-51234.pcap",
		"mplsoudp-ipv6": "testdata/mplsoudp-6635.pcap", "raw-ip": "testdata/raw-ip-linktype12.pcap",
		"openbsd-loop": "testdata/loop-linktype12-openbsd.pcap"}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			datas, cis := readPcap(t, file)
			lt := pcapLinkType(t, file)
			tbl := NewTable(Options{ExtraTCPMetric: true, ReassembleTCP: true, IPDefrag: true})
			for i := range datas {
				tbl.FeedPacket(datas[i], cis[i], lt)
			}
			d, c := datas[len(datas)-1], cis[len(cis)-1]
			if n := testing.AllocsPerRun(1000, func() { tbl.FeedPacket(d, c, lt) }); n != 0 {
				t.Errorf("%v allocations per known-flow packet", n)
			}
		})
	}
}

func TestXXH64(t *testing.T) {
	for _, tc := range []struct {
		in   string
		seed uint64
		want uint64
	}{
		{"", 0, 0xef46db3751d8e999},
		{"a", 0, 0xd24ec4f1a98c6e5b},
		{"abc", 0, 0x44bc2cf5ad770999},
		{"Nobody inspects the spammish repetition", 0, 0xfbcea83c8a378bf1},
	} {
		if got := xxh64([]byte(tc.in), tc.seed); got != tc.want {
			t.Errorf("xxh64(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], 1)
	_ = xxh64(b[:], 42)
}

// TestConcurrentUse feeds packets while another goroutine reads and ticks
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	datas, cis := readPcap(t, "testdata/eth-ip4-arp-dns-req-http-google.pcap")
	tbl := NewTable(Options{Update: time.Millisecond, OnUpdate: func(b Batch) {
		for _, f := range b.Flows {
			_ = f.Metric.ABPackets
		}
	}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			_ = tbl.Flows()
			tbl.Tick(cis[0].Timestamp.Add(time.Duration(i) * time.Millisecond))
		}
	}()
	for range 50 {
		for i := range datas {
			tbl.FeedPacket(datas[i], cis[i], layers.LinkTypeEthernet)
		}
	}
	<-done
}

// A router rewrites both MACs: the two sides of one flow have the same
// L3TrackingID whatever the order of their MACs, and different TrackingIDs.
func TestL3TrackingIDIgnoresMACs(t *testing.T) {
	frame := udpFrame(t, net.IP{192, 168, 10, 5}, net.IP{192, 168, 20, 7}, 4000, 53, 4)
	routed := append([]byte{}, frame...)
	copy(routed[0:6], []byte{0x02, 0, 0, 0, 0, 0x09}) // dst MAC now above the src's
	copy(routed[6:12], []byte{0xfa, 0x16, 0x3e, 0, 0, 0x01})
	var l3, l2 []string
	for _, d := range [][]byte{frame, routed} {
		tbl := NewTable(Options{})
		tbl.FeedPacket(d, ci(t0, d), layers.LinkTypeEthernet)
		fl := tbl.Flows()
		if len(fl) != 1 {
			t.Fatalf("%d flows", len(fl))
		}
		l3, l2 = append(l3, fl[0].L3TrackingID), append(l2, fl[0].TrackingID)
	}
	if l3[0] != l3[1] {
		t.Errorf("L3TrackingID %s before the router, %s after", l3[0], l3[1])
	}
	if l2[0] == l2[1] {
		t.Errorf("same TrackingID %s on both sides of a router", l2[0])
	}
	// The L3 key does not depend on the layer key mode either.
	tbl := NewTable(Options{LayerKeyMode: L3})
	tbl.FeedPacket(routed, ci(t0, routed), layers.LinkTypeEthernet)
	if fl := tbl.Flows(); len(fl) != 1 || fl[0].L3TrackingID != l3[0] {
		t.Errorf("L3 mode: %+v, want L3TrackingID %s", fl, l3[0])
	}
}

// A pcap file with a good magic number but a bad header or record is
// ErrBadPcap, one cut in a record ErrTruncated, with the packets before it.
func TestReadPcapErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/dns.pcap")
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte{}, good...)
	binary.LittleEndian.PutUint32(huge[24+8:], 0x7fffffff) // first record's captured length
	for _, tc := range []struct {
		name    string
		data    []byte
		want    error
		packets int
	}{
		{"header cut", good[:10], ErrBadPcap, 0},
		{"record longer than the file allows", huge, ErrBadPcap, 0},
		{"cut in a record", good[:len(good)-7], ErrTruncated, -1},
		{"not pcap", []byte("GET / HTTP/1.1\r\n"), ErrNotPcap, 0},
		{"whole", good, nil, -1},
	} {
		n, err := ReadPcap(context.Background(), bytes.NewReader(tc.data), func([]byte, gopacket.CaptureInfo, layers.LinkType) {})
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if tc.packets >= 0 && n != tc.packets || tc.packets < 0 && n == 0 {
			t.Errorf("%s: %d packets", tc.name, n)
		}
	}
}
