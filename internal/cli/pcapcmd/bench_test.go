package pcapcmd

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skydive-ng/skydive/internal/flow"
)

const (
	benchFlows   = 5000
	benchPerFlow = 60 // 300,000 packets
)

// writeBenchTrace writes a pcap of benchFlows flows of benchPerFlow packets
// each, interleaved (packet r of every flow, then packet r+1 ...) so that
// every flow is live at once: even flows are TCP conversations (SYN,
// SYN/ACK, data both ways, FIN), odd ones UDP exchanges.
func writeBenchTrace(b *testing.B, file string) int {
	b.Helper()
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	payload := make([]byte, 100)
	ts := time.Unix(1700000000, 0)
	n := 0
	for r := range benchPerFlow {
		for i := range benchFlows {
			a := net.IP{10, 1, byte(i >> 8), byte(i)}
			z := net.IP{10, 2, byte(i % 7), 1}
			amac := net.HardwareAddr{2, 0, 0, 1, byte(i >> 8), byte(i)}
			zmac := net.HardwareAddr{2, 0, 0, 2, 0, 1}
			sport, dport := 20000+i, 80+i%3
			fromB := r%2 == 1
			if fromB {
				a, z, amac, zmac, sport, dport = z, a, zmac, amac, dport, sport
			}
			eth := &layers.Ethernet{SrcMAC: amac, DstMAC: zmac, EthernetType: layers.EthernetTypeIPv4}
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: a, DstIP: z}
			var l4 gopacket.SerializableLayer
			if i%2 == 0 {
				ip.Protocol = layers.IPProtocolTCP
				t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: uint32(1000 + r*100), Window: 1024}
				switch {
				case r == 0:
					t.SYN = true
				case r == 1:
					t.SYN, t.ACK = true, true
				case r >= benchPerFlow-2:
					t.FIN, t.ACK = true, true
				default:
					t.ACK, t.PSH = true, true
				}
				_ = t.SetNetworkLayerForChecksum(ip)
				l4 = t
			} else {
				ip.Protocol = layers.IPProtocolUDP
				u := &layers.UDP{SrcPort: layers.UDPPort(sport + 10000), DstPort: layers.UDPPort(dport + 8000)}
				_ = u.SetNetworkLayerForChecksum(ip)
				l4 = u
			}
			if err := gopacket.SerializeLayers(buf, opts, eth, ip, l4, gopacket.Payload(payload)); err != nil {
				b.Fatal(err)
			}
			d := buf.Bytes()
			ts = ts.Add(10 * time.Microsecond)
			ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d)}
			if err := w.WritePacket(ci, d); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPcapFlowsEndToEnd runs what "skydive pcap flows" runs (read the
// file, decode, the flow table, indented JSON of every flow) on a
// 300,000-packet, 5,000-flow trace: ns/pkt is wall time per packet,
// cpu-ns/pkt the process's CPU time (every goroutine, the GC's too) per
// packet, the "µs of CPU per packet end to end".
func BenchmarkPcapFlowsEndToEnd(b *testing.B) {
	file := filepath.Join(b.TempDir(), "trace.pcap")
	pkts := writeBenchTrace(b, file)
	for _, c := range []struct {
		name string
		opts flow.Options
	}{
		{"default", flow.Options{IPDefrag: true}},
		{"tcpmetric", flow.Options{IPDefrag: true, ExtraTCPMetric: true, ReassembleTCP: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				if err := writeFlows(context.Background(), f, io.Discard, c.opts); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
			cpu := cpuTime() - cpu0
			total := float64(b.N) * float64(pkts)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/pkt")
			b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/pkt")
		})
	}
}
