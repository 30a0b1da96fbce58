package flow

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

func TestFeedRecordMergesDirections(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for _, mode := range []LayerKeyMode{L2, L3} {
		tb := NewTable(Options{NodeTID: "tid", CaptureID: "cap", LayerKeyMode: mode})
		// UDP both ways, the reply's record first with a later start.
		if !tb.FeedRecord(Record{Src: a, Dst: b, Proto: ProtoNumUDP, SrcPort: 5353, DstPort: 53, Packets: 3, Bytes: 300,
			Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)}) {
			t.Fatal("record refused")
		}
		tb.FeedRecord(Record{Src: b, Dst: a, Proto: ProtoNumUDP, SrcPort: 53, DstPort: 5353, Packets: 2, Bytes: 250,
			Start: t0, End: t0.Add(2 * time.Second)})
		// ICMP echo: the request's type in the destination port (8*256), the reply 0.
		tb.FeedRecord(Record{Src: a, Dst: b, Proto: ProtoNumICMP, DstPort: 8 << 8, Packets: 4, Bytes: 336, Start: t0, End: t0.Add(3 * time.Second)})
		tb.FeedRecord(Record{Src: b, Dst: a, Proto: ProtoNumICMP, Packets: 4, Bytes: 336, Start: t0, End: t0.Add(3 * time.Second)})
		// IPv6 TCP, ended by a FIN.
		a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
		tb.FeedRecord(Record{Src: a6, Dst: b6, Proto: ProtoNumTCP, SrcPort: 40000, DstPort: 80, Packets: 5, Bytes: 500, TCPFlags: 0x1b, Start: t0, End: t0})
		tb.FeedRecord(Record{Src: b6, Dst: a6, Proto: ProtoNumTCP, SrcPort: 80, DstPort: 40000, Packets: 4, Bytes: 4000, Start: t0, End: t0})
		// Refused: no packets, mixed families.
		if tb.FeedRecord(Record{Src: a, Dst: b, Proto: ProtoNumUDP}) || tb.FeedRecord(Record{Src: a, Dst: b6, Packets: 1}) {
			t.Fatal("bad record accepted")
		}

		fs := tb.Flows()
		if len(fs) != 3 {
			t.Fatalf("%v: %d flows, want 3", mode, len(fs))
		}
		udp, icmp, tcp := fs[0], fs[1], fs[2]
		m := udp.Metric
		if udp.Network.A != "10.0.0.1" || udp.Network.B != "10.0.0.2" || udp.Transport.A != 5353 || udp.Transport.B != 53 ||
			m.ABPackets != 3 || m.ABBytes != 300 || m.BAPackets != 2 || m.BABytes != 250 {
			t.Errorf("%v: udp flow %+v %+v %+v", mode, udp.Network, udp.Transport, m)
		}
		if udp.Start != t0.UnixMilli() || m.Start != t0.UnixMilli() || udp.Last != t0.Add(3*time.Second).UnixMilli() {
			t.Errorf("%v: udp times %d %d %d", mode, udp.Start, m.Start, udp.Last)
		}
		if udp.NodeTID != "tid" || udp.CaptureID != "cap" || udp.Link != nil || udp.LayersPath != "IPv4/UDP" {
			t.Errorf("%v: udp flow %+v", mode, udp)
		}
		if icmp.ICMP == nil || icmp.ICMP.Type != ICMPEcho || icmp.Metric.ABPackets != 4 || icmp.Metric.BAPackets != 4 || icmp.LayersPath != "IPv4/ICMPv4" {
			t.Errorf("%v: icmp flow %+v %+v", mode, icmp.ICMP, icmp.Metric)
		}
		if tcp.Network.Protocol != ProtoIPv6 || tcp.Metric.ABPackets != 5 || tcp.Metric.BABytes != 4000 || tcp.FinishType != TCPFin {
			t.Errorf("%v: tcp flow %+v %+v", mode, tcp.Network, tcp.Metric)
		}
		if st := tb.Stats(); st.PacketsReceived != 3+2+4+4+5+4 {
			t.Errorf("%v: PacketsReceived %d", mode, st.PacketsReceived)
		}
	}
}

// A record is keyed as its packets: its flow has the TrackingIDs (L3 mode)
// and the L3TrackingID of the same conversation captured as packets.
func TestFeedRecordKeyedAsPackets(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	pk := NewTable(Options{LayerKeyMode: L3})
	fr := udpFrame(t, net.IP{192, 168, 1, 2}, net.IP{192, 168, 1, 1}, 33000, 53, 10)
	pk.FeedPacket(fr, ci(t0, fr), layers.LinkTypeEthernet)
	rec := NewTable(Options{LayerKeyMode: L3})
	rec.FeedRecord(Record{Src: netip.MustParseAddr("192.168.1.1"), Dst: netip.MustParseAddr("192.168.1.2"), Proto: ProtoNumUDP,
		SrcPort: 53, DstPort: 33000, Packets: 1, Bytes: 60, End: t0})
	p, r := pk.Flows()[0], rec.Flows()[0]
	if p.TrackingID != r.TrackingID || p.L3TrackingID != r.L3TrackingID {
		t.Fatalf("packet flow %s/%s, record flow %s/%s", p.TrackingID, p.L3TrackingID, r.TrackingID, r.L3TrackingID)
	}
}

func TestFeedRecordReportsUpdates(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	var got []Batch
	tb := NewTable(Options{Update: time.Second, Now: func() time.Time { return now }, OnUpdate: func(b Batch) { got = append(got, b) }})
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tb.Tick(now)
	tb.FeedRecord(Record{Src: a, Dst: b, Proto: ProtoNumUDP, SrcPort: 1, DstPort: 2, Packets: 2, Bytes: 20})
	now = now.Add(time.Second)
	tb.Tick(now)
	tb.FeedRecord(Record{Src: b, Dst: a, Proto: ProtoNumUDP, SrcPort: 2, DstPort: 1, Packets: 1, Bytes: 10})
	now = now.Add(time.Second)
	tb.Tick(now)
	if len(got) != 2 {
		t.Fatalf("%d updates", len(got))
	}
	u1, u2 := got[0].Flows[0].LastUpdateMetric, got[1].Flows[0].LastUpdateMetric
	if u1.ABPackets != 2 || u1.BAPackets != 0 || u2.ABPackets != 0 || u2.BAPackets != 1 || u2.BABytes != 10 {
		t.Fatalf("updates %+v %+v", u1, u2)
	}
}

func TestFeedRecordKnownFlowAllocs(t *testing.T) {
	tb := NewTable(Options{})
	r := Record{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoNumTCP,
		SrcPort: 1000, DstPort: 80, Packets: 1, Bytes: 60, End: time.Now()}
	tb.FeedRecord(r)
	if n := testing.AllocsPerRun(100, func() { tb.FeedRecord(r) }); n != 0 {
		t.Fatalf("%v allocations per record of a known flow", n)
	}
}

// A record with its link layer and ICMP identifier (an ebpf capture's)
// makes the flow its frames would in L2 mode: same Link, LayersPath,
// TrackingIDs, UUID and metrics.
func TestFeedRecordWithLink(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	macA, macB := [6]byte{2, 0, 0, 0, 0, 1}, [6]byte{2, 0, 0, 0, 0, 2}
	a, b := netip.MustParseAddr("192.168.1.2"), netip.MustParseAddr("192.168.1.1")
	fr := udpFrame(t, a.AsSlice(), b.AsSlice(), 33000, 53, 10)
	pk := NewTable(Options{NodeTID: "tid"})
	pk.FeedPacket(fr, ci(t0, fr), layers.LinkTypeEthernet)
	rec := NewTable(Options{NodeTID: "tid"})
	rec.FeedRecord(Record{Link: true, SrcMAC: macA, DstMAC: macB, Src: a, Dst: b, Proto: ProtoNumUDP,
		SrcPort: 33000, DstPort: 53, Packets: 1, Bytes: uint64(len(fr)), Start: t0, End: t0})
	p, r := pk.Flows()[0], rec.Flows()[0]
	if r.Link == nil || *r.Link != *p.Link || r.LayersPath != "Ethernet/IPv4/UDP" || p.TrackingID != r.TrackingID ||
		p.L3TrackingID != r.L3TrackingID || p.UUID != r.UUID || p.Metric.ABBytes != r.Metric.ABBytes {
		t.Fatalf("packet flow %+v %+v, record flow %+v %+v", p, p.Link, r, r.Link)
	}

	// ICMP echo request and reply, the identifier kept.
	tb := NewTable(Options{})
	tb.FeedRecord(Record{Link: true, SrcMAC: macA, DstMAC: macB, Src: a, Dst: b, Proto: ProtoNumICMP, ICMPType: 8, ICMPID: 77,
		Packets: 2, Bytes: 196, Start: t0, End: t0})
	tb.FeedRecord(Record{Link: true, SrcMAC: macB, DstMAC: macA, Src: b, Dst: a, Proto: ProtoNumICMP, ICMPType: 0, ICMPID: 77,
		Packets: 2, Bytes: 196, Start: t0, End: t0})
	fs := tb.Flows()
	if len(fs) != 1 || fs[0].ICMP == nil || fs[0].ICMP.ID != 77 || fs[0].Metric.ABPackets != 2 || fs[0].Metric.BAPackets != 2 ||
		fs[0].Link.A != "02:00:00:00:00:01" {
		t.Fatalf("icmp flows %+v", fs)
	}
}
