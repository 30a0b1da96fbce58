package embedded

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/skydive-ng/skydive/internal/flow"
)

// codecFlows are flows whose every part is set in turn, with values that
// stress the encoding: negative and huge numbers, strings too long for the
// dictionary, times before the flow's Start.
func codecFlows() map[string]*flow.Flow {
	full := &flow.Flow{
		UUID: "9e3779b97f4a7c15", LayersPath: "Ethernet/IPv4/TCP", Application: "TCP",
		Link:      &flow.FlowLayer{Protocol: flow.ProtoEthernet, A: "02:00:00:00:00:01", B: "02:00:00:00:00:02", ID: 7},
		Network:   &flow.FlowLayer{Protocol: flow.ProtoIPv4, A: "10.0.0.1", B: "10.0.0.2", ID: -1},
		Transport: &flow.TransportLayer{Protocol: flow.ProtoTCP, A: 43210, B: 80, ID: 3},
		ICMP:      &flow.ICMPLayer{Type: flow.ICMPEcho, Code: 4294967295, ID: 12},
		DHCPv4:    &flow.DHCPv4{File: "pxe", Flags: 65535, HardwareLen: 6, HardwareOpts: 255, ServerName: "srv", Secs: 9},
		DNS: &flow.DNS{ID: 1, QR: true, OpCode: "Query", QDCount: 1, Questions: []flow.DNSQuestion{{Name: "a.example", Type: "A", Class: "IN"}},
			Answers: []flow.DNSResourceRecord{{Name: "a.example", Type: "A", Class: "IN", TTL: 60, IP: "192.0.2.1", SOA: &flow.DNSSOA{MName: "m"}}}, Timestamp: 1750000000000},
		VRRPv2:           &flow.VRRPv2{AdverInt: 1, Priority: 100, Version: 2, VirtualRtrID: 255},
		Metric:           &flow.Metric{ABPackets: 10, ABBytes: 1 << 40, BAPackets: 0, BABytes: -5, Start: 1750000000000, Last: 1750000060000, RTT: 123456},
		LastUpdateMetric: &flow.Metric{ABPackets: 1, ABBytes: 2, BAPackets: 3, BABytes: 4, Start: 1750000059000, Last: 1750000060000},
		TCPMetric: &flow.TCPMetric{ABSynStart: 1750000000000, BASynStart: 1750000000001, ABSynTTL: 64, BASynTTL: 63, ABFinStart: 0,
			ABRstStart: 1749999999999, ABSegmentOutOfOrder: 1, ABPackets: 9, ABSawStart: true, BASawEnd: true, BABytes: 1 << 50},
		IPMetric:           &flow.IPMetric{Fragments: 3, FragmentErrors: 1},
		Start:              1750000000000,
		Last:               1750000060000,
		TrackingID:         "5bd2c1a8e3f01234",
		L3TrackingID:       "deadbeef",
		ParentUUID:         "parent",
		NodeTID:            "node-1",
		CaptureID:          "cap-1",
		RawPacketsCaptured: 42,
		FinishType:         flow.TCPFin,
	}
	return map[string]*flow.Flow{
		"empty":   {UUID: "x"},
		"full":    full,
		"extreme": {UUID: "0", Start: -1 << 63, Last: 1<<63 - 1, Metric: &flow.Metric{Start: 1<<63 - 1, Last: -1 << 63, ABPackets: -1 << 63}},
		"long strings": {UUID: "u", LayersPath: strings.Repeat("L", maxDictLen+1), NodeTID: strings.Repeat("n", 1000),
			Network: &flow.FlowLayer{A: strings.Repeat("a", 300), B: "\x00"}},
		"zero parts": {UUID: "z", Link: &flow.FlowLayer{}, Metric: &flow.Metric{}, LastUpdateMetric: &flow.Metric{}, TCPMetric: &flow.TCPMetric{}, IPMetric: &flow.IPMetric{}},
	}
}

func TestFlowRecordRoundTrip(t *testing.T) {
	for name, f := range codecFlows() {
		t.Run(name, func(t *testing.T) {
			b, e := roundTrip(t, f)
			// Every truncation is refused, never a panic.
			for i := range b {
				if _, err := decodeFlow(f.UUID, b[:i], e.d); err == nil {
					t.Fatalf("record cut at %d of %d decoded", i, len(b))
				}
			}
		})
	}
}

func TestUIDRoundTrip(t *testing.T) {
	tests := []struct {
		uuid string
		size int // of the encoded form
	}{
		{"9e3779b97f4a7c15", 9},
		{"0000000000000001", 9},
		{"1", 9},
		{"0", 9},
		{"01", 4},                // not a canonical form: kept as text
		{"9E3779B97F4A7C15", 18}, // upper case: kept as text
		{"9e3779b97f4a7c1500", 20},
		{"f0001", 9},
		{"flow-uuid-with-dashes", 23},
	}
	for _, tc := range tests {
		b := appendUID(nil, tc.uuid)
		if len(b) != tc.size {
			t.Errorf("appendUID(%q) is %d bytes, want %d", tc.uuid, len(b), tc.size)
		}
		got, rest, ok := readUID(append(b, 0xAA))
		if !ok || got != tc.uuid || len(rest) != 1 {
			t.Errorf("readUID(appendUID(%q)) = %q, %x, %v", tc.uuid, got, rest, ok)
		}
	}
}

func TestMetricRow(t *testing.T) {
	tests := []flow.Metric{
		{},
		{ABPackets: 1, ABBytes: 2, BAPackets: 3, BABytes: 4, Start: 5, Last: 6, RTT: 7},
		{ABPackets: -1 << 63, BABytes: 1<<63 - 1, Start: -1, Last: 1 << 62},
	}
	for _, m := range tests {
		k := metricKey(nil, "abc", m.Start, m.Last)
		p := metricPrefix(nil, "abc")
		got, ok := decodeMetric(k[len(p):], encodeMetric(nil, &m))
		if !ok || got != m {
			t.Errorf("metric row of %+v decoded as %+v, %v", m, got, ok)
		}
	}
}

func TestOpenRefusesOtherFormats(t *testing.T) {
	tests := []struct {
		name string
		keys map[string]string
	}{
		{"format 1", map[string]string{"f0123": `{"UUID":"0123"}`, "cflows": "\x00\x00\x00\x00\x00\x00\x00\x01"}},
		{"format 3", map[string]string{"V": "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := pebble.Open(dir, &pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.keys {
				if err := db.Set([]byte(k), []byte(v), pebble.Sync); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			d, err := Open(Options{Dir: dir})
			if !errors.Is(err, ErrFormat) {
				if d != nil {
					d.Close()
				}
				t.Fatalf("Open: %v, want ErrFormat", err)
			}
			if !strings.Contains(err.Error(), "move the directory away") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
	// An empty directory is created in the current format and opens again.
	dir := t.TempDir()
	for range 2 {
		d, err := Open(Options{Dir: dir, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeFlow feeds records read from disk to the decoder: it must
// refuse what it cannot read (never panic), and what it reads must encode
// and decode to the same flow.
func FuzzDecodeFlow(f *testing.F) {
	d := newDict()
	for _, s := range []string{"Ethernet/IPv4/TCP", "TCP", "node-1", "cap-1", "10.0.0.1"} {
		d.add(s)
	}
	for _, fl := range codecFlows() {
		e := &encoder{d: d}
		b, err := e.appendFlow(nil, fl)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := decodeFlow("u", b, d)
		if err != nil {
			return
		}
		// The DNS part goes through JSON, which may normalise it once
		// (an empty list becomes none): compare the second and third
		// generations.
		again := func(fl *flow.Flow) *flow.Flow {
			e := &encoder{d: newDict()}
			b, err := e.appendFlow(nil, fl)
			if err != nil {
				t.Fatalf("decoded flow does not encode: %v", err)
			}
			fl2, err := decodeFlow("u", b, e.d)
			if err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			return fl2
		}
		fl2 := again(fl)
		if fl3 := again(fl2); !reflect.DeepEqual(fl2, fl3) {
			t.Fatalf("round trip changed the flow:\n%+v\n%+v", fl2, fl3)
		}
	})
}

// fill sets every field reachable from v to a distinct non-zero value
// (pointers allocated, slices of one element).
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n)
	default:
		panic("fill: unexpected kind " + v.Kind().String())
	}
}

// TestFlowRecordKeepsEveryField fills every field of a Flow, the nested
// parts included: a field added to flow.Flow and forgotten by the record
// fails here.
func TestFlowRecordKeepsEveryField(t *testing.T) {
	f := &flow.Flow{}
	n := 0
	fill(reflect.ValueOf(f).Elem(), &n)
	roundTrip(t, f)
}

// roundTrip encodes f, decodes it and checks it comes back whole; it
// returns the record and its encoder.
func roundTrip(t *testing.T, f *flow.Flow) ([]byte, *encoder) {
	t.Helper()
	e := &encoder{d: newDict()}
	b, err := e.appendFlow(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeFlow(f.UUID, b, e.d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, f)
	}
	return b, e
}
