//go:build privileged

package capture

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/nsexec"
)

// trafgenConf writes a trafgen configuration sending one 64-byte UDP frame
// from the pair's A side to its B side's address, but to another MAC: B's
// stack drops it at once (PACKET_OTHERHOST), after the TC hook and the
// packet sockets have seen it, so that the sender's CPU (see
// BenchmarkCaptureAtRate) is mostly the captures' and varies less.
func trafgenConf(b *testing.B, p *vethPair) string {
	mac := func(ns, ifName string) net.HardwareAddr {
		var hw net.HardwareAddr
		if err := nsexec.Do(ns, func() error {
			ifi, err := net.InterfaceByName(ifName)
			if err == nil {
				hw = ifi.HardwareAddr
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
		return hw
	}
	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	if other.String() == mac(p.pathB, p.ifB).String() {
		other[5]++
	}
	eth := &layers.Ethernet{SrcMAC: mac(p.pathA, p.ifA), DstMAC: other, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(p.ipA), DstIP: net.ParseIP(p.ipB)}
	u := &layers.UDP{SrcPort: 40000, DstPort: 9}
	_ = u.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, u, gopacket.Payload(make([]byte, 18))); err != nil {
		b.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString("{ ")
	for i, c := range buf.Bytes() {
		if i > 0 {
			cfg.WriteString(", ")
		}
		fmt.Fprintf(&cfg, "0x%02x", c)
	}
	cfg.WriteString(" }\n")
	f := filepath.Join(b.TempDir(), "udp.cfg")
	if err := os.WriteFile(f, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkCaptureAtRate: the CPU an afpacket and an ebpf capture cost per
// packet while trafgen sends 64-byte UDP frames into a veth at a fixed
// rate, and what they lose. Metrics:
//
//   - user-ns/pkt: the test process's CPU per packet sent (afpacket:
//     reading the ring and the flow table; ebpf: reading the map and the
//     table);
//   - bpf-ns/pkt: the kernel's time in the ebpf program, from the BPF
//     statistics, which are on in the "ebpf+stats" runs only (they cost
//     two clock reads per packet, in a VM not cheap);
//   - sender-ns/pkt: trafgen's CPU per packet (it sleeps between packets,
//     it does not spin): the veth hands each frame to the receiving stack
//     in the sender's softirq, so this holds the kernel side of a capture
//     (afpacket's copy into its ring, the ebpf program) above the "none"
//     baseline (no capture) of the same rate;
//   - ns/pkt: the capture's whole cost, measured alike for both:
//     user-ns/pkt + sender-ns/pkt - sender-ns/pkt of "none";
//   - drop-%: packets sent that the capture did not count;
//   - sent-kpps: the rate trafgen achieved (it may fall short on busy cores).
//
// Two cores are shared by trafgen, the capture and whatever else runs.
// Run: go test -tags privileged -run '^$' -bench CaptureAtRate -benchtime 1x ./internal/capture/
func BenchmarkCaptureAtRate(b *testing.B) {
	if _, err := exec.LookPath("trafgen"); err != nil {
		b.Skip("trafgen (netsniff-ng) not installed")
	}
	p := newVethPair(b)
	conf := trafgenConf(b, p)
	const seconds = 3
	for _, rate := range []int{50_000, 150_000, 250_000} {
		var baseline float64 // sender-ns/pkt without capture at this rate
		for _, typ := range []string{"none", TypeAFPacket, TypeEBPF, ebpfStats} {
			b.Run(fmt.Sprintf("%s/%dkpps", typ, rate/1000), func(b *testing.B) {
				var rx float64
				for range b.N {
					rx += runAtRate(b, p, conf, typ, rate, seconds, baseline)
				}
				if typ == "none" {
					baseline = rx / float64(b.N)
				}
			})
		}
	}
}

// ebpfStats is an ebpf run with the kernel's BPF statistics on, for
// bpf-ns/pkt: they read the clock twice per run of the program, which the
// other runs should not pay.
const ebpfStats = "ebpf+stats"

// runAtRate sends at rate for seconds with a capture of type typ ("none":
// no capture), reports the metrics and returns sender-ns/pkt.
func runAtRate(b *testing.B, p *vethPair, conf, typ string, rate, seconds int, baseline float64) float64 {
	var (
		c  *Capture
		tb *flow.Table
	)
	if typ == ebpfStats {
		stats, err := cebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			b.Fatalf("enabling BPF statistics: %v", err)
		}
		defer stats.Close()
	}
	if typ != "none" {
		// A log line would cut the benchmark's result line in two, and
		// benchreport would not read it.
		spec := Spec{Type: strings.TrimSuffix(typ, "+stats"), CaptureID: "bench", NodeTID: "bench", Logger: slog.New(slog.DiscardHandler)}
		tb = flow.NewTable(TableOptions(spec))
		var err error
		if c, err = Start(context.Background(), spec, Target{NsPath: p.pathB, IfName: p.ifB}, tb); err != nil {
			b.Fatal(err)
		}
		defer c.Stop()
	}
	bpfTime := func() time.Duration {
		if typ != ebpfStats {
			return 0
		}
		d, _, err := c.src.(*ebpfSource).col.ProgramRuntime()
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	sent := int64(rate * seconds)
	// -Q: leave the IRQ affinities alone (trafgen cannot change the socket
	// memory sysctls from a namespace: it says so and goes on).
	cmd := exec.Command("ip", "netns", "exec", p.nsA, "trafgen", "--dev", p.ifA, "--conf", conf,
		"--rate", strconv.Itoa(rate)+"pps", "--num", strconv.FormatInt(sent, 10), "--cpus", "1", "-Q", "-C")
	cpu0, bpf0, t0 := cpuTime(), bpfTime(), time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("trafgen: %v %s", err, out)
	}
	// ip netns exec execs trafgen, whose rusage holds its workers'. User
	// plus system time is exact (the kernel's split between them is
	// sampled at each tick).
	rx, wall := cmd.ProcessState.SystemTime()+cmd.ProcessState.UserTime(), time.Since(t0)
	var captured int64
	if c != nil {
		// Until the capture has everything or stops making progress
		// (afpacket: the ring drained; ebpf: its next read of the map).
		deadline, last, lastChange := time.Now().Add(5*time.Second), int64(-1), time.Now()
		for time.Now().Before(deadline) && time.Since(lastChange) < 1500*time.Millisecond {
			if captured = tb.Stats().PacketsReceived; captured >= sent {
				break
			}
			if captured != last {
				last, lastChange = captured, time.Now()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cpu, bpf := cpuTime()-cpu0, bpfTime()-bpf0
	if c != nil {
		_ = c.Stop()
		captured = tb.Stats().PacketsReceived
	}
	perPkt := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(sent) }
	rxPerPkt := perPkt(rx)
	if c != nil {
		b.ReportMetric(perPkt(cpu)+rxPerPkt-baseline, "ns/pkt")
	} else {
		b.ReportMetric(0, "ns/pkt")
	}
	b.ReportMetric(perPkt(cpu), "user-ns/pkt")
	b.ReportMetric(perPkt(bpf), "bpf-ns/pkt")
	b.ReportMetric(rxPerPkt, "sender-ns/pkt")
	// What trafgen achieved: on two busy cores it may fall short of rate.
	b.ReportMetric(float64(sent)/wall.Seconds()/1000, "sent-kpps")
	if c != nil {
		b.ReportMetric(100*float64(max(sent-captured, 0))/float64(sent), "drop-%")
	}
	return rxPerPkt
}
