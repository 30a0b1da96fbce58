package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"github.com/skydive-ng/skydive/internal/config"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
)

var t0 = time.UnixMilli(1_700_000_000_000)

func testFlow(uuid, tid, a, b string, proto flow.Protocol, pa, pb int64, ab, ba int64) *flow.Flow {
	f := &flow.Flow{UUID: uuid, NodeTID: tid, CaptureID: "cap", Start: t0.UnixMilli(), Last: t0.Add(2 * time.Second).UnixMilli(),
		Metric:           &flow.Metric{ABPackets: ab * 3, ABBytes: ab * 300, BAPackets: ba * 3, BABytes: ba * 300},
		LastUpdateMetric: &flow.Metric{ABPackets: ab, ABBytes: ab * 100, BAPackets: ba, BABytes: ba * 100, Start: t0.Add(-time.Second).UnixMilli(), Last: t0.Add(3 * time.Second).UnixMilli()},
	}
	netProto := flow.ProtoIPv4
	if strings.Contains(a, ":") {
		netProto = flow.ProtoIPv6
	}
	f.Network = &flow.FlowLayer{Protocol: netProto, A: a, B: b}
	switch proto {
	case flow.ProtoICMPv4, flow.ProtoICMPv6:
		f.ICMP = &flow.ICMPLayer{Type: flow.ICMPEcho}
		f.Application = "ICMPv4"
	default:
		f.Transport = &flow.TransportLayer{Protocol: proto, A: pa, B: pb}
		f.Application = proto.String()
	}
	return f
}

// decoded is a data record read back with goflow2's decoder.
type decoded struct {
	src, dst              netip.Addr
	sport, dport          uint16
	proto                 uint8
	packets, octets       uint64
	revPackets, revOctets uint64
	startMs, endMsec      uint64
	biflowDir             uint8
}

func decodeIPFIX(t *testing.T, ts netflow.NetFlowTemplateSystem, msg []byte) []decoded {
	t.Helper()
	var v9 netflow.NFv9Packet
	var p netflow.IPFIXPacket
	if err := netflow.DecodeMessageVersion(bytes.NewBuffer(msg), ts, &v9, &p); err != nil {
		t.Fatalf("goflow2 refuses the message: %v", err)
	}
	if p.Version != 10 || int(p.Length) != len(msg) || p.ObservationDomainId != 1 {
		t.Fatalf("header %+v, %d bytes", p, len(msg))
	}
	var out []decoded
	for _, s := range p.FlowSets {
		ds, ok := s.(netflow.DataFlowSet)
		if !ok {
			continue
		}
		for _, r := range ds.Records {
			var d decoded
			for _, v := range r.Values {
				b := v.Value.([]byte)
				u := func() uint64 {
					var x uint64
					for _, c := range b {
						x = x<<8 | uint64(c)
					}
					return x
				}
				if v.PenProvided {
					if v.Pen != ReversePEN {
						t.Fatalf("enterprise %d", v.Pen)
					}
					switch v.Type {
					case iePacketDeltaCount:
						d.revPackets = u()
					case ieOctetDeltaCount:
						d.revOctets = u()
					default:
						t.Fatalf("reverse element %d", v.Type)
					}
					continue
				}
				switch v.Type {
				case ieBiflowDirection:
					d.biflowDir = uint8(u())
				case ieSourceIPv4Address, ieSourceIPv6Address:
					d.src, _ = netip.AddrFromSlice(b)
				case ieDestinationIPv4Address, ieDestinationIPv6Address:
					d.dst, _ = netip.AddrFromSlice(b)
				case ieSourceTransportPort:
					d.sport = uint16(u())
				case ieDestinationTransportPort:
					d.dport = uint16(u())
				case ieProtocolIdentifier:
					d.proto = uint8(u())
				case iePacketDeltaCount:
					d.packets = u()
				case ieOctetDeltaCount:
					d.octets = u()
				case ieFlowStartMilliseconds:
					d.startMs = u()
				case ieFlowEndMilliseconds:
					d.endMsec = u()
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// The encoder's messages decoded back by goflow2: every field of every
// biflow record (forward and reverse counters), IPv4 and IPv6 sets, split
// into messages of at most MaxSize bytes whose sequence numbers count
// records.
func TestIPFIXRoundTrip(t *testing.T) {
	flows := []*flow.Flow{
		testFlow("1", "n", "10.0.0.1", "10.0.0.2", flow.ProtoUDP, 5353, 53, 2, 1),
		testFlow("2", "n", "fd00::1", "fd00::2", flow.ProtoTCP, 40000, 443, 7, 5),
		testFlow("3", "n", "10.0.0.1", "10.0.0.3", flow.ProtoICMPv4, 0, 0, 4, 4),
		testFlow("4", "n", "10.0.0.1", "10.0.0.4", flow.ProtoUDP, 1, 2, 3, 0), // no answer
		testFlow("5", "n", "10.0.0.1", "10.0.0.5", flow.ProtoUDP, 1, 2, 0, 0), // idle: no record
	}
	var recs []Record
	for _, f := range flows {
		if r, ok := RecordOf(f); ok {
			recs = append(recs, r)
		}
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	enc := Encoder{Domain: 1}
	msgs := enc.Encode(t0, recs)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	ts := netflow.CreateTemplateSystem()
	got := decodeIPFIX(t, ts, msgs[0])
	start, end := uint64(t0.UnixMilli()), uint64(t0.Add(2*time.Second).UnixMilli())
	ip := netip.MustParseAddr
	want := []decoded{
		{ip("10.0.0.1"), ip("10.0.0.2"), 5353, 53, 17, 2, 200, 1, 100, start, end, 1},
		{ip("fd00::1"), ip("fd00::2"), 40000, 443, 6, 7, 700, 5, 500, start, end, 1},
		{ip("10.0.0.1"), ip("10.0.0.3"), 0, 8 << 8, 1, 4, 400, 4, 400, start, end, 1},
		{ip("10.0.0.1"), ip("10.0.0.4"), 1, 2, 17, 3, 300, 0, 0, start, end, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records decoded, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// Small messages: each carries the templates and as many records as
	// fit; a fresh collector decodes any of them alone.
	enc = Encoder{Domain: 1, MaxSize: 260}
	msgs = enc.Encode(t0, recs)
	if len(msgs) < 3 {
		t.Fatalf("%d messages of at most 260 bytes", len(msgs))
	}
	n := 0
	for _, m := range msgs {
		if len(m) > 260 {
			t.Fatalf("message of %d bytes", len(m))
		}
		if seq := binary.BigEndian.Uint32(m[8:]); int(seq) != n {
			t.Fatalf("sequence %d, want %d", seq, n)
		}
		rs := decodeIPFIX(t, netflow.CreateTemplateSystem(), m)
		for _, r := range rs {
			if r != want[n] {
				t.Fatalf("record %d: %+v, want %+v", n, r, want[n])
			}
			n++
		}
	}
	if n != len(want) {
		t.Fatalf("%d records in the small messages", n)
	}
}

func TestRecordOfFlowWithoutUpdate(t *testing.T) {
	f := testFlow("1", "n", "10.0.0.1", "10.0.0.2", flow.ProtoUDP, 1, 2, 1, 1)
	f.LastUpdateMetric = nil // a pcap's flow: its totals
	if r, ok := RecordOf(f); !ok || r.Packets != 3 || r.RevOctets != 300 {
		t.Fatalf("record %+v", r)
	}
	f.Network = nil
	if r, ok := RecordOf(f); ok {
		t.Fatalf("record of a flow without IP: %+v", r)
	}
}

func readLines(t *testing.T, file string) []flow.Flow {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []flow.Flow
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var f flow.Flow
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("%s: %v: %s", file, err, sc.Bytes())
		}
		out = append(out, f)
	}
	return out
}

// Rotation: the file is renamed once the next line would pass RotateBytes,
// every line is a whole flow, only Keep rotated files stay.
func TestJSONLRotation(t *testing.T) {
	dir := t.TempDir()
	clock := t0
	w := &JSONLWriter{Dir: dir, RotateBytes: 2000, Keep: 3, Now: func() time.Time { clock = clock.Add(time.Second); return clock }}
	f := testFlow("1", "n", "10.0.0.1", "10.0.0.2", flow.ProtoUDP, 5353, 53, 2, 1)
	line, _ := json.Marshal(f)
	perFile := 2000 / (len(line) + 1)
	total := 0
	for i := range 20 {
		batch := []*flow.Flow{f, f}
		if err := w.Write(batch); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		total += len(batch)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rotated, err := w.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) != 3 {
		t.Fatalf("rotated files %v, want the 3 newest", rotated)
	}
	kept := 0
	for _, name := range append(rotated, jsonlCurrent) {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 2000 {
			t.Fatalf("%s: %d bytes", name, st.Size())
		}
		lines := readLines(t, filepath.Join(dir, name))
		if name != jsonlCurrent && len(lines) != perFile {
			t.Fatalf("%s: %d lines, want %d", name, len(lines), perFile)
		}
		for _, l := range lines {
			if l.UUID != "1" || l.Metric.ABPackets != 6 || l.LastUpdateMetric.ABPackets != 2 {
				t.Fatalf("line %+v", l)
			}
		}
		kept += len(lines)
	}
	// the pruned files held the rest
	if pruned := total - kept; pruned <= 0 || pruned%perFile != 0 {
		t.Fatalf("%d lines kept of %d (%d per file)", kept, total, perFile)
	}
	// A restart appends to the current file.
	w2 := &JSONLWriter{Dir: dir, RotateBytes: 1 << 20}
	before := len(readLines(t, filepath.Join(dir, jsonlCurrent)))
	if err := w2.Write([]*flow.Flow{f}); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if after := len(readLines(t, filepath.Join(dir, jsonlCurrent))); after != before+1 {
		t.Fatalf("%d lines after a restart, want %d", after, before+1)
	}
}

// The exports' queries: G.Flows().Has(...) and G.V()...Flows() filter each
// batch; a query that does not give flows is refused.
func TestSetFiltersWithGremlin(t *testing.T) {
	g := graph.New()
	n := &graph.Node{}
	n.ID, n.Metadata = "eth0-id", graph.Metadata{"Name": "eth0", "TID": "tid-eth0", "Type": "veth"}
	if err := g.AddNode(n); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	specs := []config.FlowExport{
		{Type: config.FlowExportJSONL, Dir: filepath.Join(dir, "udp"), Gremlin: "G.Flows().Has('Application', 'UDP', 'Network', '10.0.0.1')"},
		{Type: config.FlowExportJSONL, Dir: filepath.Join(dir, "eth0"), Gremlin: "G.V().Has('Name', 'eth0').Flows()"},
		{Type: config.FlowExportJSONL, Dir: filepath.Join(dir, "all")},
	}
	set, err := New(specs, Options{Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- set.Run(ctx) }()
	set.Publish([]*flow.Flow{
		testFlow("u1", "tid-eth0", "10.0.0.1", "10.0.0.2", flow.ProtoUDP, 1, 2, 1, 1),
		testFlow("t1", "tid-other", "10.0.0.1", "10.0.0.2", flow.ProtoTCP, 1, 2, 1, 1),
	})
	set.Publish([]*flow.Flow{testFlow("u2", "tid-other", "10.0.0.9", "10.0.0.1", flow.ProtoUDP, 1, 2, 1, 1)})
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	uuids := func(sub string) string {
		var ids []string
		for _, f := range readLines(t, filepath.Join(dir, sub, jsonlCurrent)) {
			ids = append(ids, f.UUID)
		}
		return strings.Join(ids, ",")
	}
	if got := uuids("udp"); got != "u1,u2" {
		t.Errorf("UDP export: %s", got)
	}
	if got := uuids("eth0"); got != "u1" {
		t.Errorf("eth0 export: %s", got)
	}
	if got := uuids("all"); got != "u1,t1,u2" {
		t.Errorf("G.Flows() export: %s", got)
	}
	if st := set.Stats(); st[0].Sent != 2 || st[2].Sent != 3 || st[0].Errors != 0 {
		t.Errorf("stats %+v", st)
	}

	for _, q := range []string{"G.Flows().Count()", "G.V()", "G.Flows(", "G.Flows().Has('Application')).Foo()"} {
		if _, err := New([]config.FlowExport{{Type: config.FlowExportJSONL, Dir: dir, Gremlin: q}}, Options{Graph: g}); err == nil {
			t.Errorf("%s accepted", q)
		}
	}
}

// An IPFIX export sends its datagrams to the collector's address.
func TestSetSendsIPFIX(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	set, err := New([]config.FlowExport{{Type: config.FlowExportIPFIX, Address: pc.LocalAddr().String(), Gremlin: "G.Flows().Has('Application', 'UDP')"}},
		Options{Graph: graph.New(), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = set.Run(ctx) }()
	set.Publish([]*flow.Flow{
		testFlow("t1", "n", "10.0.0.1", "10.0.0.2", flow.ProtoTCP, 1, 2, 1, 1),
		testFlow("u1", "n", "10.0.0.1", "10.0.0.2", flow.ProtoUDP, 1000, 53, 4, 2),
	})
	buf := make([]byte, 65536)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeIPFIX(t, netflow.CreateTemplateSystem(), buf[:n])
	if len(got) != 1 || got[0].packets != 4 || got[0].sport != 1000 || got[0].revPackets != 2 || got[0].src.String() != "10.0.0.1" {
		t.Fatalf("records %+v", got)
	}
	if binary.BigEndian.Uint32(buf[4:]) != uint32(t0.Unix()) {
		t.Fatalf("export time %d", binary.BigEndian.Uint32(buf[4:]))
	}
}
