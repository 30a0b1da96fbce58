package ebpf

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/skydive-ng/skydive/internal/flow"
)

// The Go mirrors of the C structs have their sizes (bpf/flows.c).
func TestStructSizes(t *testing.T) {
	if n := unsafe.Sizeof(flowKey{}); n != 56 {
		t.Errorf("flowKey: %d bytes, struct flow_key has 56", n)
	}
	if n := unsafe.Sizeof(flowValue{}); n != 40 {
		t.Errorf("flowValue: %d bytes, struct flow_value has 40", n)
	}
}

// Kernel entries become the records that make afpacket's flows: both
// directions of a conversation one flow, with its link layer, the ICMP
// identifier kept, fragments without ports.
func TestRecord(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000).UnixNano()
	macA, macB := [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2}
	v4 := func(a netip.Addr) (b [16]byte) { copy(b[:], a.AsSlice()); return b }
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tb := flow.NewTable(flow.Options{NodeTID: "tid"})
	req := flowKey{SrcMAC: macA, DstMAC: macB, SrcIP: v4(a), DstIP: v4(b), IPVersion: 4, Proto: flow.ProtoNumICMP, ICMPType: 8, ICMPID: 42}
	rep := flowKey{SrcMAC: macB, DstMAC: macA, SrcIP: v4(b), DstIP: v4(a), IPVersion: 4, Proto: flow.ProtoNumICMP, ICMPType: 0, ICMPID: 42}
	udp := flowKey{SrcMAC: macA, DstMAC: macB, SrcIP: v4(a), DstIP: v4(b), IPVersion: 4, Proto: flow.ProtoNumUDP, SrcPort: 5000, DstPort: 53}
	frag := flowKey{SrcMAC: macA, DstMAC: macB, SrcIP: v4(a), DstIP: v4(b), IPVersion: 4, Proto: flow.ProtoNumUDP, Flags: keyNoPorts}
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	tcp6 := flowKey{SrcMAC: macA, DstMAC: macB, SrcIP: a6.As16(), DstIP: b6.As16(), IPVersion: 6, Proto: flow.ProtoNumTCP, SrcPort: 40000, DstPort: 80}
	for _, r := range []flow.Record{
		record(&req, 3, 294, 0, t0, t0+2e9),
		record(&rep, 3, 294, 0, t0+1e6, t0+2e9),
		record(&udp, 4, 400, 0, t0, t0),
		record(&frag, 2, 3000, 0, t0, t0),
		record(&tcp6, 5, 500, 0x11, t0, t0), // FIN|ACK
	} {
		if !tb.FeedRecord(r) {
			t.Fatalf("record %+v refused", r)
		}
	}
	fs := tb.Flows()
	if len(fs) != 4 {
		t.Fatalf("%d flows, want 4", len(fs))
	}
	icmp, u, fr, tcp := fs[0], fs[1], fs[2], fs[3]
	if icmp.LayersPath != "Ethernet/IPv4/ICMPv4" || icmp.Link.A != "02:00:00:00:00:01" || icmp.ICMP.ID != 42 || icmp.ICMP.Type != flow.ICMPEcho ||
		icmp.Network.A != "10.0.0.1" || icmp.Metric.ABPackets != 3 || icmp.Metric.BAPackets != 3 || icmp.Start != t0/1e6 || icmp.Metric.Last != t0/1e6+2000 {
		t.Errorf("icmp flow %+v %+v %+v", icmp, icmp.ICMP, icmp.Metric)
	}
	if u.Transport == nil || u.Transport.A != 5000 || u.Transport.B != 53 || u.Metric.ABBytes != 400 {
		t.Errorf("udp flow %+v %+v", u.Transport, u.Metric)
	}
	if fr.Transport != nil || fr.LayersPath != "Ethernet/IPv4" || fr.Metric.ABBytes != 3000 {
		t.Errorf("fragment flow %s %+v", fr.LayersPath, fr.Transport)
	}
	if tcp.Network.Protocol != flow.ProtoIPv6 || tcp.Network.A != "fd00::1" || tcp.FinishType != flow.TCPFin || tcp.LayersPath != "Ethernet/IPv6/TCP" {
		t.Errorf("tcp flow %s %+v fin=%d", tcp.LayersPath, tcp.Network, tcp.FinishType)
	}
}
