package capture

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
)

var updateSeeds = flag.Bool("update", false, "rewrite testdata/fuzz/FuzzNetFlowDecode")

var nfT0 = time.Unix(1_700_000_000, 0)

// v5Record is a NetFlow v5 record.
type v5Record struct {
	src, dst      string
	sport, dport  uint16
	proto, flags  uint8
	pkts, octets  uint32
	first, last   uint32 // uptime, ms
	input, output uint16
}

// nfV5 builds a NetFlow v5 datagram exported at nfT0 by an exporter up
// for uptime ms.
func nfV5(uptime uint32, recs ...v5Record) []byte {
	b := make([]byte, v5HeaderLen, v5HeaderLen+len(recs)*v5RecordLen)
	binary.BigEndian.PutUint16(b[0:], 5)
	binary.BigEndian.PutUint16(b[2:], uint16(len(recs)))
	binary.BigEndian.PutUint32(b[4:], uptime)
	binary.BigEndian.PutUint32(b[8:], uint32(nfT0.Unix()))
	binary.BigEndian.PutUint32(b[16:], 1)
	for _, r := range recs {
		rec := make([]byte, v5RecordLen)
		copy(rec[0:], netip.MustParseAddr(r.src).AsSlice())
		copy(rec[4:], netip.MustParseAddr(r.dst).AsSlice())
		binary.BigEndian.PutUint16(rec[12:], r.input)
		binary.BigEndian.PutUint16(rec[14:], r.output)
		binary.BigEndian.PutUint32(rec[16:], r.pkts)
		binary.BigEndian.PutUint32(rec[20:], r.octets)
		binary.BigEndian.PutUint32(rec[24:], r.first)
		binary.BigEndian.PutUint32(rec[28:], r.last)
		binary.BigEndian.PutUint16(rec[32:], r.sport)
		binary.BigEndian.PutUint16(rec[34:], r.dport)
		rec[37], rec[38] = r.flags, r.proto
		b = append(b, rec...)
	}
	return b
}

// tfield is a template field; pen != 0 makes it an enterprise element.
type tfield struct {
	typ, length uint16
	pen         uint32
}

// nfTemplateSet builds a v9 (set ID 0) or IPFIX (set ID 2) template set.
func nfTemplateSet(version, id uint16, fields ...tfield) []byte {
	setID := uint16(0)
	if version == 10 {
		setID = 2
	}
	b := binary.BigEndian.AppendUint16(nil, setID)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(fields)))
	for _, f := range fields {
		typ := f.typ
		if f.pen != 0 {
			typ |= 0x8000
		}
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, f.length)
		if f.pen != 0 {
			b = binary.BigEndian.AppendUint32(b, f.pen)
		}
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// nfDataSet builds a data set of records (padded to 4 bytes).
func nfDataSet(id uint16, recs ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, 0)
	for _, r := range recs {
		b = append(b, r...)
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// nfMessage builds a v9 or IPFIX message exported at nfT0 (v9: by an
// exporter up for uptime ms).
func nfMessage(version uint16, uptime, domain uint32, count int, sets ...[]byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, version)
	if version == 9 {
		b = binary.BigEndian.AppendUint16(b, uint16(count))
		b = binary.BigEndian.AppendUint32(b, uptime)
		b = binary.BigEndian.AppendUint32(b, uint32(nfT0.Unix()))
		b = binary.BigEndian.AppendUint32(b, 7) // sequence
		b = binary.BigEndian.AppendUint32(b, domain)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint32(b, uint32(nfT0.Unix()))
		b = binary.BigEndian.AppendUint32(b, 7)
		b = binary.BigEndian.AppendUint32(b, domain)
	}
	for _, s := range sets {
		b = append(b, s...)
	}
	if version == 10 {
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	}
	return b
}

// rec concatenates big-endian field values: netip.Addr, uint8, uint16,
// uint32, uint64.
func rec(vals ...any) []byte {
	var b []byte
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			b = append(b, netip.MustParseAddr(v).AsSlice()...)
		case uint8:
			b = append(b, v)
		case uint16:
			b = binary.BigEndian.AppendUint16(b, v)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		default:
			panic(fmt.Sprintf("rec: %T", v))
		}
	}
	return b
}

var exporter = netip.MustParseAddrPort("192.0.2.1:2055")

// decodeAll decodes datagrams in order into a table (L2 key mode, as a
// capture's default) and returns the table's flows.
func decodeAll(t *testing.T, wantErrs int, dgrams ...[]byte) []*flow.Flow {
	t.Helper()
	d := newNFDecoder()
	tb := flow.NewTable(flow.Options{NodeTID: "tid", CaptureID: "cap"})
	errs := 0
	for _, g := range dgrams {
		if err := d.Decode(g, exporter, nfT0, func(r flow.Record) { tb.FeedRecord(r) }); err != nil {
			errs++
		}
	}
	if errs != wantErrs {
		t.Fatalf("%d datagrams refused, want %d", errs, wantErrs)
	}
	return tb.Flows()
}

func wantFlow(t *testing.T, f *flow.Flow, app, a, b string, ab, abBytes, ba, baBytes int64) {
	t.Helper()
	m := f.Metric
	if f.Application != app || f.Network == nil || f.Network.A != a || f.Network.B != b ||
		m.ABPackets != ab || m.ABBytes != abBytes || m.BAPackets != ba || m.BABytes != baBytes {
		t.Fatalf("flow %s %+v metric %+v, want %s %s->%s %d/%d %d/%d", f.Application, f.Network, m, app, a, b, ab, abBytes, ba, baBytes)
	}
	if f.NodeTID != "tid" || f.CaptureID != "cap" {
		t.Fatalf("flow of %q/%q", f.NodeTID, f.CaptureID)
	}
}

func TestNetFlowV5MergesDirections(t *testing.T) {
	up := uint32(100_000) // exported at nfT0, 100 s after the exporter's boot
	g := nfV5(up,
		// a ping: the request's type (8) in the destination port's high byte
		v5Record{src: "10.1.0.1", dst: "10.1.0.2", proto: 1, dport: 8 << 8, pkts: 3, octets: 252, first: 90_000, last: 92_000},
		v5Record{src: "10.1.0.2", dst: "10.1.0.1", proto: 1, pkts: 3, octets: 252, first: 90_001, last: 92_001},
		// Open vSwitch's way: the type in the source port
		v5Record{src: "10.1.0.3", dst: "10.1.0.4", proto: 1, sport: 8, pkts: 2, octets: 196, first: 95_000, last: 96_000},
		v5Record{src: "10.1.0.4", dst: "10.1.0.3", proto: 1, pkts: 2, octets: 196, first: 95_000, last: 96_000},
		// TCP, the reply direction first
		v5Record{src: "10.1.0.2", dst: "10.1.0.1", proto: 6, sport: 80, dport: 40000, pkts: 4, octets: 4000, flags: 0x12, first: 91_000, last: 93_000},
		v5Record{src: "10.1.0.1", dst: "10.1.0.2", proto: 6, sport: 40000, dport: 80, pkts: 5, octets: 300, flags: 0x13, first: 90_500, last: 93_000},
	)
	fs := decodeAll(t, 0, g)
	if len(fs) != 3 {
		t.Fatalf("%d flows, want 3", len(fs))
	}
	wantFlow(t, fs[0], "ICMPv4", "10.1.0.1", "10.1.0.2", 3, 252, 3, 252)
	if fs[0].ICMP == nil || fs[0].ICMP.Type != flow.ICMPEcho {
		t.Fatalf("ICMP %+v", fs[0].ICMP)
	}
	if want := nfT0.Add(-10 * time.Second).UnixMilli(); fs[0].Start != want || fs[0].Last != want+2001 {
		t.Fatalf("times %d..%d, want %d..%d", fs[0].Start, fs[0].Last, want, want+2001)
	}
	wantFlow(t, fs[1], "ICMPv4", "10.1.0.3", "10.1.0.4", 2, 196, 2, 196)
	wantFlow(t, fs[2], "TCP", "10.1.0.2", "10.1.0.1", 4, 4000, 5, 300)
	if fs[2].Transport.A != 80 || fs[2].Start != nfT0.Add(-9500*time.Millisecond).UnixMilli() || fs[2].FinishType != flow.TCPFin {
		t.Fatalf("tcp flow %+v start %d finish %v", fs[2].Transport, fs[2].Start, fs[2].FinishType)
	}
	// Truncated, a count above 30, not NetFlow
	decodeAll(t, 3, g[:len(g)-1], func() []byte { b := append([]byte(nil), g...); b[3] = 31; return b }(), []byte("hello, world"))
}

// v9Template: IPv4 5-tuple, counters, uptimes.
var v9Fields = []tfield{{8, 4, 0}, {12, 4, 0}, {7, 2, 0}, {11, 2, 0}, {4, 1, 0}, {2, 4, 0}, {1, 4, 0}, {22, 4, 0}, {21, 4, 0}}

func TestNetFlowV9TemplateThenData(t *testing.T) {
	up := uint32(60_000)
	data := nfMessage(9, up, 1, 2, nfDataSet(260,
		rec("10.2.0.1", "10.2.0.2", uint16(33000), uint16(53), uint8(17), uint32(1), uint32(70), uint32(50_000), uint32(50_000)),
		rec("10.2.0.2", "10.2.0.1", uint16(53), uint16(33000), uint8(17), uint32(1), uint32(120), uint32(50_010), uint32(50_010))))
	tmpl := nfMessage(9, up, 1, 1, nfTemplateSet(9, 260, v9Fields...))
	// Data before its template is refused (counted), then decoded.
	fs := decodeAll(t, 1, data, tmpl, data)
	if len(fs) != 1 {
		t.Fatalf("%d flows", len(fs))
	}
	wantFlow(t, fs[0], "UDP", "10.2.0.1", "10.2.0.2", 1, 70, 1, 120)
	if want := nfT0.Add(-10 * time.Second).UnixMilli(); fs[0].Start != want || fs[0].Last != want+10 {
		t.Fatalf("times %d..%d, want %d", fs[0].Start, fs[0].Last, want)
	}
	// Templates are per exporter and source ID: another source ID does
	// not know template 260.
	other := nfMessage(9, up, 2, 1, nfDataSet(260, rec("10.2.0.1", "10.2.0.2", uint16(1), uint16(2), uint8(17), uint32(1), uint32(1), uint32(1), uint32(1))))
	if fs := decodeAll(t, 1, tmpl, other); len(fs) != 0 {
		t.Fatalf("data of another source ID decoded: %d flows", len(fs))
	}
	// Template and data in one message.
	if fs := decodeAll(t, 0, nfMessage(9, up, 1, 3, nfTemplateSet(9, 260, v9Fields...), nfDataSet(260,
		rec("10.2.0.1", "10.2.0.2", uint16(33000), uint16(53), uint8(17), uint32(2), uint32(140), uint32(50_000), uint32(50_000))))); len(fs) != 1 || fs[0].Metric.ABPackets != 2 {
		t.Fatalf("flows %v", fs)
	}
}

func TestNetFlowIPFIX(t *testing.T) {
	startMs, endMs := uint64(nfT0.Add(-5*time.Second).UnixMilli()), uint64(nfT0.Add(-time.Second).UnixMilli())
	v4 := []tfield{{8, 4, 0}, {12, 4, 0}, {7, 2, 0}, {11, 2, 0}, {4, 1, 0}, {2, 8, 0}, {1, 8, 0}, {152, 8, 0}, {153, 8, 0}}
	v6 := []tfield{{27, 16, 0}, {28, 16, 0}, {4, 1, 0}, {139, 2, 0}, {2, 4, 0}, {1, 4, 0}, {158, 4, 0}, {159, 4, 0}}
	g := nfMessage(10, 0, 5, 0,
		nfTemplateSet(10, 300, v4...), nfTemplateSet(10, 301, v6...),
		nfDataSet(300,
			rec("10.3.0.1", "10.3.0.2", uint16(5000), uint16(6000), uint8(132), uint64(10), uint64(1000), startMs, endMs),
			rec("10.3.0.2", "10.3.0.1", uint16(6000), uint16(5000), uint8(132), uint64(9), uint64(900), startMs+1, endMs)),
		// an ICMPv6 echo both ways, dated 3 s and 2 s before the export
		nfDataSet(301,
			rec("fd00::1", "fd00::2", uint8(58), uint16(128<<8), uint32(2), uint32(208), uint32(3_000_000), uint32(2_000_000)),
			rec("fd00::2", "fd00::1", uint8(58), uint16(129<<8), uint32(2), uint32(208), uint32(3_000_000), uint32(2_000_000))))
	fs := decodeAll(t, 0, g)
	if len(fs) != 2 {
		t.Fatalf("%d flows", len(fs))
	}
	wantFlow(t, fs[0], "SCTP", "10.3.0.1", "10.3.0.2", 10, 1000, 9, 900)
	if fs[0].Start != int64(startMs) || fs[0].Last != int64(endMs) {
		t.Fatalf("times %d..%d", fs[0].Start, fs[0].Last)
	}
	wantFlow(t, fs[1], "ICMPv6Echo", "fd00::1", "fd00::2", 2, 208, 2, 208)
	if fs[1].Start != nfT0.Add(-3*time.Second).UnixMilli() || fs[1].Last != nfT0.Add(-2*time.Second).UnixMilli() {
		t.Fatalf("times %d..%d", fs[1].Start, fs[1].Last)
	}
}

// An RFC 5103 biflow record (reverse counters under PEN 29305) is both
// directions of its flow.
func TestNetFlowIPFIXBiflow(t *testing.T) {
	fields := []tfield{{8, 4, 0}, {12, 4, 0}, {4, 1, 0}, {32, 2, 0}, {2, 4, 0}, {1, 4, 0}, {2, 4, reversePEN}, {1, 4, reversePEN}, {150, 4, 0}, {151, 4, 0}}
	g := nfMessage(10, 0, 1, 0, nfTemplateSet(10, 400, fields...), nfDataSet(400,
		rec("10.4.0.1", "10.4.0.2", uint8(1), uint16(8<<8), uint32(5), uint32(420), uint32(4), uint32(336), uint32(nfT0.Unix()-4), uint32(nfT0.Unix()))))
	fs := decodeAll(t, 0, g)
	if len(fs) != 1 {
		t.Fatalf("%d flows", len(fs))
	}
	wantFlow(t, fs[0], "ICMPv4", "10.4.0.1", "10.4.0.2", 5, 420, 4, 336)
	if fs[0].ICMP.Type != flow.ICMPEcho || fs[0].Start != nfT0.Add(-4*time.Second).UnixMilli() {
		t.Fatalf("flow %+v start %d", fs[0].ICMP, fs[0].Start)
	}
}

// Templates that no data could be decoded with (no field, fields of
// length 0) are withdrawals: their data sets are refused, never looped on.
func TestNetFlowEmptyTemplates(t *testing.T) {
	for _, fields := range [][]tfield{nil, {{8, 0, 0}, {12, 0, 0}}} {
		g := nfMessage(10, 0, 1, 0, nfTemplateSet(10, 500, fields...), nfDataSet(500, rec(uint32(1), uint32(2))))
		done := make(chan struct{})
		go func() {
			defer close(done)
			decodeAll(t, 1, g)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("decoding data of the template %v hangs", fields)
		}
	}
}

// A template record announcing more fields than its set holds is refused
// before goflow2 allocates them.
func TestNetFlowTemplateFieldCountChecked(t *testing.T) {
	for _, version := range []uint16{9, 10} {
		set := nfTemplateSet(version, 256, tfield{8, 4, 0})
		binary.BigEndian.PutUint16(set[6:], 65535)
		if err := newNFDecoder().Decode(nfMessage(version, 0, 1, 1, set), exporter, nfT0, func(flow.Record) {}); err == nil {
			t.Fatalf("v%d: a template of 65535 fields in 4 bytes accepted", version)
		}
	}
	opt := []byte{0, 3, 0, 10, 1, 0, 0, 9, 0, 10} // IPFIX options template: 10 scope fields of 9
	if err := newNFDecoder().Decode(nfMessage(10, 0, 1, 1, opt), exporter, nfT0, func(flow.Record) {}); err == nil {
		t.Fatal("IPFIX options template with more scope fields than fields accepted")
	}
}

// The collector as a capture: UDP datagrams in, flows of the capture's
// node out; garbage counted as dropped.
func TestNetFlowCollector(t *testing.T) {
	spec := Spec{Type: TypeNetFlow, CaptureID: "cap", NodeTID: "tid", NetFlowMinPort: 16365, NetFlowMaxPort: 16375}
	table := flow.NewTable(TableOptions(spec))
	c, err := Start(context.Background(), spec, Target{}, table)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if !strings.HasPrefix(c.Addr(), "127.0.0.1:163") {
		t.Fatalf("listening on %s", c.Addr())
	}
	conn, err := net.Dial("udp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, g := range [][]byte{
		[]byte("garbage"),
		nfV5(1000, v5Record{src: "10.5.0.1", dst: "10.5.0.2", proto: 17, sport: 1, dport: 2, pkts: 3, octets: 90, first: 900, last: 1000}),
		nfV5(1000, v5Record{src: "10.5.0.2", dst: "10.5.0.1", proto: 17, sport: 2, dport: 1, pkts: 2, octets: 60, first: 900, last: 1000}),
	} {
		if _, err := conn.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().PacketsReceived < 5 || c.Stats().PacketsDropped < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", c.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fs := table.Flows()
	if len(fs) != 1 {
		t.Fatalf("%d flows", len(fs))
	}
	wantFlow(t, fs[0], "UDP", "10.5.0.1", "10.5.0.2", 3, 90, 2, 60)
	// A second capture takes the next port.
	c2, err := Start(context.Background(), spec, Target{}, flow.NewTable(TableOptions(spec)))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Stop()
	if c2.Addr() == c.Addr() {
		t.Fatal("same port")
	}
	// No BPF filter, no raw packets.
	if err := (Spec{Type: TypeNetFlow, BPFFilter: "icmp"}).Validate(); err == nil {
		t.Fatal("BPF filter accepted")
	}
}

// nfSeeds are the fuzz seeds: the datagrams of the tests above.
func nfSeeds() [][]byte {
	tmpl := nfTemplateSet(9, 260, v9Fields...)
	return [][]byte{
		nfV5(1000, v5Record{src: "10.1.0.1", dst: "10.1.0.2", proto: 1, dport: 8 << 8, pkts: 3, octets: 252, first: 900, last: 1000},
			v5Record{src: "10.1.0.2", dst: "10.1.0.1", proto: 6, sport: 80, dport: 4000, pkts: 3, octets: 252, flags: 0x13}),
		nfMessage(9, 6000, 1, 2, tmpl, nfDataSet(260,
			rec("10.2.0.1", "10.2.0.2", uint16(33000), uint16(53), uint8(17), uint32(1), uint32(70), uint32(5000), uint32(5000)))),
		nfMessage(10, 0, 5, 0, nfTemplateSet(10, 301, tfield{27, 16, 0}, tfield{28, 16, 0}, tfield{4, 1, 0}, tfield{139, 2, 0}, tfield{2, 4, 0}, tfield{1, 4, 0}, tfield{158, 4, 0}, tfield{159, 4, 0}),
			nfDataSet(301, rec("fd00::1", "fd00::2", uint8(58), uint16(128<<8), uint32(2), uint32(208), uint32(3_000_000), uint32(2_000_000)))),
		nfMessage(10, 0, 1, 0, nfTemplateSet(10, 400, tfield{8, 4, 0}, tfield{12, 4, 0}, tfield{4, 1, 0}, tfield{2, 4, 0}, tfield{1, 4, 0},
			tfield{2, 4, reversePEN}, tfield{1, 4, reversePEN}, tfield{152, 8, 0}, tfield{153, 0xffff, 0}),
			nfDataSet(400, append(rec("10.4.0.1", "10.4.0.2", uint8(6), uint32(5), uint32(420), uint32(4), uint32(336), uint64(1)), 8, 0, 0, 0, 0, 0, 0, 0, 2))),
	}
}

// FuzzNetFlowDecode feeds arbitrary datagrams to the collector's decoder
// (twice: a template of the first applies to the second) and their records
// to a table: nothing may panic or hang, and every record given must be
// one the table can key. Seeds: testdata/fuzz/FuzzNetFlowDecode, rewritten
// by go test -run TestNetFlowFuzzSeeds -update.
func FuzzNetFlowDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newNFDecoder()
		tb := flow.NewTable(flow.Options{})
		for range 2 {
			_ = d.Decode(data, exporter, nfT0, func(r flow.Record) {
				if !r.Src.IsValid() || !r.Dst.IsValid() || r.Packets == 0 && r.Bytes == 0 {
					t.Fatalf("record %+v", r)
				}
				tb.FeedRecord(r)
			})
		}
		if _, err := json.Marshal(tb.Flows()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNetFlowFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzNetFlowDecode")
	for i, s := range nfSeeds() {
		name := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil || string(got) != body {
			t.Fatalf("%s is not up to date: go test -run TestNetFlowFuzzSeeds -update ./internal/capture/", name)
		}
		// Each seed decodes to at least one flow.
		if fs := decodeAll(t, 0, s); len(fs) == 0 {
			t.Fatalf("seed %d: no flow", i)
		}
	}
}
