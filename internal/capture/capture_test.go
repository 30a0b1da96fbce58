package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  Spec
		field string // "" = valid
		msg   string
	}{
		{"zero", Spec{}, "", ""},
		{"all types", Spec{Type: TypePcapSocket}, "", ""},
		{"pcap", Spec{Type: TypePcap, BPFFilter: "icmp or tcp port 80"}, "", ""},
		{"unknown type", Spec{Type: "sflow2"}, "Type", `unknown capture type "sflow2"`},
		{"bad bpf", Spec{BPFFilter: "icmp and and"}, "BPFFilter", "syntax error"},
		{"bad bpf keyword", Spec{BPFFilter: "nosuchproto"}, "BPFFilter", ""},
		{"header size min", Spec{HeaderSize: 14}, "", ""},
		{"header size max", Spec{HeaderSize: 4096}, "", ""},
		{"header size low", Spec{HeaderSize: 13}, "HeaderSize", "13 is out of range"},
		{"header size high", Spec{HeaderSize: 4097}, "HeaderSize", "out of range"},
		{"header size negative", Spec{HeaderSize: -1}, "HeaderSize", ""},
		{"raw limit", Spec{RawPacketLimit: 10}, "", ""},
		{"raw limit high", Spec{RawPacketLimit: 11}, "RawPacketLimit", "11 is out of range (0..10)"},
		{"raw limit infinite", Spec{RawPacketLimit: -1}, "RawPacketLimit", ""},
		{"layer key mode", Spec{LayerKeyMode: "L3"}, "", ""},
		{"bad layer key mode", Spec{LayerKeyMode: "L4"}, "LayerKeyMode", "L4"},
		{"bad port", Spec{Type: TypePcapSocket, Port: 70000}, "Port", "out of range"},
		{"ebpf", Spec{Type: TypeEBPF, LayerKeyMode: "L3"}, "", ""},
		{"ebpf filter", Spec{Type: TypeEBPF, BPFFilter: "icmp"}, "BPFFilter", "ebpf captures receive flow records"},
		{"ebpf raw packets", Spec{Type: TypeEBPF, RawPacketLimit: 1}, "RawPacketLimit", "no raw packets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError on %s", err, tc.field)
			}
			if ve.Field != tc.field || !strings.HasPrefix(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Validate() = %q, want field %s and %q", err, tc.field, tc.msg)
			}
		})
	}
	var ve *ValidationError
	if err := (Spec{Type: "x"}).Validate(); !errors.As(err, &ve) || !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type error %v does not wrap ErrUnknownType", err)
	}
}

func TestStartInvalid(t *testing.T) {
	tb := flow.NewTable(flow.Options{})
	if _, err := Start(context.Background(), Spec{BPFFilter: "(("}, Target{IfName: "lo"}, tb); err == nil || !strings.HasPrefix(err.Error(), "BPFFilter: ") {
		t.Errorf("Start with a bad filter: %v", err)
	}
	if _, err := Start(context.Background(), Spec{Type: TypeAFPacket}, Target{IfName: "lo", NsPath: "/nonexistent/ns"}, tb); err == nil {
		t.Error("Start in a missing namespace succeeded")
	}
}

func TestCompileBPF(t *testing.T) {
	ins, err := CompileBPF("icmp", 256)
	if err != nil || len(ins) == 0 {
		t.Fatalf("CompileBPF(icmp) = %v, %v", ins, err)
	}
	if _, err := CompileBPF("", 256); err == nil {
		t.Error("empty filter compiled")
	}
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "flow", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startPcapSocket starts a pcapsocket capture and sends it a trace; it
// returns the capture once the table has seen every packet of the trace.
func startPcapSocket(t *testing.T, spec Spec, trace []byte, wantPackets int64) (*Capture, *flow.Table) {
	t.Helper()
	spec.Type = TypePcapSocket
	tb := flow.NewTable(TableOptions(spec))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := Start(ctx, spec, Target{}, tb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(trace); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for tb.Stats().PacketsReceived < wantPackets {
		if time.Now().After(deadline) {
			t.Fatalf("table got %d packets, want %d", tb.Stats().PacketsReceived, wantPackets)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c, tb
}

func countPackets(t *testing.T, trace []byte) int64 {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			return n
		}
		n++
	}
}

func TestPcapSocket(t *testing.T) {
	for _, name := range []string{"icmpv4-symetric.pcap", "simple-tcpv4.pcap", "gre-gre-icmpv4.pcap", "vxlan-src-port.pcap"} {
		t.Run(name, func(t *testing.T) {
			trace := testdata(t, name)
			spec := Spec{CaptureID: "cap-1", NodeTID: "tid-1", RawPacketLimit: 3}
			c, tb := startPcapSocket(t, spec, trace, countPackets(t, trace))
			if a := c.Addr(); !strings.HasPrefix(a, "127.0.0.1:81") {
				t.Errorf("Addr() = %s, want 127.0.0.1:8100..8132", a)
			}
			want, err := flow.FlowsFromPcap(context.Background(), bytes.NewReader(trace), TableOptions(spec.Normalize()))
			if err != nil {
				t.Fatal(err)
			}
			got := tb.Flows()
			if !slices.EqualFunc(got, want, func(a, b *flow.Flow) bool { return a.UUID == b.UUID && *a.Metric == *b.Metric }) {
				t.Fatalf("flows differ from FlowsFromPcap: got %d, want %d", len(got), len(want))
			}
			if st := c.Stats(); st.PacketsReceived != countPackets(t, trace) {
				t.Errorf("Stats() = %+v", st)
			}

			raw := c.RawPackets(got)
			for _, f := range got {
				n := min(3, f.Metric.ABPackets+f.Metric.BAPackets)
				ps := raw[f.UUID]
				if int64(len(ps)) != n || f.RawPacketsCaptured != n {
					t.Errorf("flow %s %s: %d raw packets, RawPacketsCaptured %d, want %d", f.UUID, f.LayersPath, len(ps), f.RawPacketsCaptured, n)
					continue
				}
				if ps[0].Timestamp != f.Start || ps[0].Index != 0 {
					t.Errorf("flow %s: first raw packet at %d (index %d), flow Start %d", f.UUID, ps[0].Timestamp, ps[0].Index, f.Start)
				}
				// Each raw packet belongs to the flow: alone it makes the same flow.
				var buf bytes.Buffer
				if err := rawpacket.WritePcap(&buf, ps); err != nil {
					t.Fatal(err)
				}
				one, err := flow.FlowsFromPcap(context.Background(), &buf, TableOptions(spec.Normalize()))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(one, func(g *flow.Flow) bool { return g.TrackingID == f.TrackingID }) {
					t.Errorf("flow %s: its raw packets do not make its flow", f.UUID)
				}
			}
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			if _, err := net.DialTimeout("tcp", c.Addr(), time.Second); err == nil {
				t.Error("pcapsocket still listening after Stop")
			}
		})
	}
}

func TestPcapSocketPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	tb := flow.NewTable(flow.Options{})
	if _, err := Start(context.Background(), Spec{Type: TypePcapSocket, Port: port}, Target{}, tb); err == nil {
		t.Error("listening on a busy port succeeded")
	}
	c, err := Start(context.Background(), Spec{Type: TypePcapSocket, PcapSocketMinPort: port, PcapSocketMaxPort: port + 1}, Target{}, tb)
	if err != nil {
		t.Skipf("port %d taken: %v", port+1, err)
	}
	defer c.Stop()
	if !strings.HasSuffix(c.Addr(), ":"+strconv.Itoa(port+1)) {
		t.Errorf("Addr() = %s, want the next free port %d", c.Addr(), port+1)
	}
}

func TestReadPcapStream(t *testing.T) {
	var n int
	feed := func([]byte, gopacket.CaptureInfo, layers.LinkType) { n++ }
	if _, err := flow.ReadPcap(context.Background(), strings.NewReader("garbage!"), feed); !errors.Is(err, ErrNotPcap) {
		t.Errorf("garbage: %v", err)
	}
	trace := testdata(t, "dns.pcap")
	got, err := flow.ReadPcap(context.Background(), bytes.NewReader(trace[:len(trace)-7]), feed)
	if !errors.Is(err, flow.ErrTruncated) || got == 0 {
		t.Errorf("truncated trace: %d packets, %v", got, err)
	}
}

func FuzzReadPcapStream(f *testing.F) {
	f.Add(testdata(f, "dns.pcap"))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tb := flow.NewTable(flow.Options{})
		flow.ReadPcap(context.Background(), io.LimitReader(bytes.NewReader(data), 1<<20), func(b []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
			tb.FeedPacket(b, ci, lt)
		})
	})
}
