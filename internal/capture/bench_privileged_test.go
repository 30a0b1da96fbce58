//go:build privileged

package capture

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
)

// TestSenderProcess is not a test: BenchmarkAFPacketSustained runs the test
// binary inside a namespace with SKYDIVE_BENCH_SEND=ip:port to blast UDP
// from another process (so that the benchmark's CPU is the capture's).
func TestSenderProcess(t *testing.T) {
	target := os.Getenv("SKYDIVE_BENCH_SEND")
	if target == "" {
		t.Skip("helper process of BenchmarkAFPacketSustained")
	}
	secs, _ := strconv.ParseFloat(os.Getenv("SKYDIVE_BENCH_SECONDS"), 64)
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // several sockets: one sender alone is slower than the capture
		conn, err := net.Dial("udp", target)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 18) // 64-byte frames
			for time.Now().Before(end) {
				for j := 0; j < 256; j++ {
					_, _ = conn.Write(payload)
				}
			}
		}()
	}
	wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAFPacketSustained: packets per second an afpacket capture takes
// inside a namespace while another namespace sends UDP as fast as it can;
// reports what the kernel dropped and the CPU the capture cost.
// Run: go test -tags privileged -run '^$' -bench AFPacketSustained -benchtime 1x ./internal/capture/
func BenchmarkAFPacketSustained(b *testing.B) {
	p := newVethPair(b)
	const seconds = 3.0
	for i := 0; i < b.N; i++ {
		spec := Spec{Type: TypeAFPacket, BPFFilter: "udp", CaptureID: "bench", NodeTID: "bench", Logger: slog.New(slog.DiscardHandler)} // no log line in the result line
		tb := flow.NewTable(TableOptions(spec))
		c, err := Start(context.Background(), spec, Target{NsPath: p.pathB, IfName: p.ifB}, tb)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", p.nsA, os.Args[0], "-test.run=^TestSenderProcess$")
		cmd.Env = append(os.Environ(), "SKYDIVE_BENCH_SEND="+p.ipB+":9", "SKYDIVE_BENCH_SECONDS="+strconv.FormatFloat(seconds, 'f', 1, 64))
		cpu0, t0 := cpuTime(), time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("sender: %v %s", err, out)
		}
		time.Sleep(200 * time.Millisecond) // let the ring drain
		wall, cpu := time.Since(t0), cpuTime()-cpu0
		_ = c.Stop()
		st := c.Stats()
		total := st.PacketsReceived + st.PacketsDropped
		b.ReportMetric(float64(st.PacketsReceived)/seconds, "captured-pkts/s")
		if total > 0 {
			b.ReportMetric(100*float64(st.PacketsDropped)/float64(total), "drop-%")
		}
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
		b.ReportMetric(float64(tb.Len()), "flows")
	}
}
