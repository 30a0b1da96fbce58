package flow

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func reportPPS(b *testing.B, packets int) {
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkReplayTCP replays a TCP trace with few flows (in memory,
// pre-read packets) into a table: every packet but the first is a packet
// of a known flow.
func BenchmarkReplayTCP(b *testing.B) {
	datas, cis := readPcap(b, "testdata/eth-ip4-arp-dns-req-http-google.pcap")
	for _, opts := range []struct {
		name string
		o    Options
	}{{"default", Options{}}, {"tcpmetric", Options{ExtraTCPMetric: true, ReassembleTCP: true, IPDefrag: true}}} {
		b.Run(opts.name, func(b *testing.B) {
			tbl := NewTable(opts.o)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				i := n % len(datas)
				tbl.FeedPacket(datas[i], cis[i], layers.LinkTypeEthernet)
				n++
			}
			reportPPS(b, n)
		})
	}
}

// udpTemplate is an Ethernet/IPv4/UDP frame whose source address and port
// are rewritten to make distinct flows (offsets 26..29 and 34..35).
func udpTemplate(b *testing.B) []byte {
	return udpFrame(b, net.IP{10, 0, 0, 1}, net.IP{192, 168, 0, 1}, 1, 53, 32)
}

func setUDPFlow(d []byte, i int) {
	binary.BigEndian.PutUint16(d[28:30], uint16(i>>16)) // low half of the source IP
	binary.BigEndian.PutUint16(d[34:36], uint16(i))     // source port
}

// BenchmarkMillionUDPFlows sends packets of 1,000,000 distinct UDP flows:
// "create" measures the first packet of each flow (the table grows from
// empty to 1M flows), "known" packets of flows already in a 1M table.
func BenchmarkMillionUDPFlows(b *testing.B) {
	const flows = 1_000_000
	c := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: 74, Length: 74}
	b.Run("create", func(b *testing.B) {
		d := udpTemplate(b)
		b.ReportAllocs()
		tbl := NewTable(Options{MaxEntries: 2 * flows})
		n := 0
		for b.Loop() {
			if n%flows == 0 {
				b.StopTimer()
				tbl = NewTable(Options{MaxEntries: 2 * flows})
				b.StartTimer()
			}
			setUDPFlow(d, n%flows)
			tbl.FeedPacket(d, c, layers.LinkTypeEthernet)
			n++
		}
		reportPPS(b, n)
	})
	b.Run("known", func(b *testing.B) {
		d := udpTemplate(b)
		tbl := NewTable(Options{MaxEntries: 2 * flows})
		for i := range flows {
			setUDPFlow(d, i)
			tbl.FeedPacket(d, c, layers.LinkTypeEthernet)
		}
		if tbl.Len() != flows {
			b.Fatalf("%d flows", tbl.Len())
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			setUDPFlow(d, (n*7919)%flows) // spread over the table
			tbl.FeedPacket(d, c, layers.LinkTypeEthernet)
			n++
		}
		reportPPS(b, n)
	})
	// The same through FeedBatch, as captures feed their tables: an op is
	// a batch of 16 packets.
	batchOf := func(b *testing.B) []Packet {
		pkts := make([]Packet, BatchSize)
		for j := range pkts {
			pkts[j] = Packet{Data: udpTemplate(b), CI: c, LinkType: layers.LinkTypeEthernet}
		}
		return pkts
	}
	b.Run("create-batch", func(b *testing.B) {
		pkts := batchOf(b)
		b.ReportAllocs()
		var tbl *Table
		n := 0
		for b.Loop() {
			if n%flows == 0 {
				b.StopTimer()
				tbl = NewTable(Options{MaxEntries: 2 * flows})
				b.StartTimer()
			}
			for j := range pkts {
				setUDPFlow(pkts[j].Data, (n+j)%flows)
			}
			tbl.FeedBatch(pkts)
			n += len(pkts)
		}
		reportPPS(b, n)
	})
	b.Run("known-batch", func(b *testing.B) {
		pkts := batchOf(b)
		tbl := NewTable(Options{MaxEntries: 2 * flows})
		for i := 0; i < flows; i += len(pkts) {
			for j := range pkts {
				setUDPFlow(pkts[j].Data, i+j)
			}
			tbl.FeedBatch(pkts)
		}
		if tbl.Len() != flows {
			b.Fatalf("%d flows", tbl.Len())
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for j := range pkts {
				setUDPFlow(pkts[j].Data, ((n+j)*7919)%flows)
			}
			tbl.FeedBatch(pkts)
			n += len(pkts)
		}
		reportPPS(b, n)
	})
}

// BenchmarkVXLAN sends VXLAN encapsulated UDP traffic (16 inner flows in
// one tunnel, varying outer source ports): each packet updates the outer
// and an inner flow.
func BenchmarkVXLAN(b *testing.B) {
	var frames [][]byte
	for i := range 16 {
		inner := udpFrame(b, net.IP{192, 168, 0, 1}, net.IP{192, 168, 0, byte(2 + i)}, uint16(4000+i), 8080, 64)
		frames = append(frames, vxlanFrame(b, uint16(50000+i), 42, inner))
	}
	c := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(frames[0]), Length: len(frames[0])}
	tbl := NewTable(Options{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		tbl.FeedPacket(frames[n%len(frames)], c, layers.LinkTypeEthernet)
		n++
	}
	if tbl.Len() != 17 {
		b.Fatalf("%d flows, want 1 tunnel + 16 inner", tbl.Len())
	}
	reportPPS(b, n)
}
