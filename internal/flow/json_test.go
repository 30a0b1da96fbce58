package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// encodingJSON is what `skydive pcap flows` printed before WriteFlowsJSON.
func encodingJSON(t testing.TB, flows []*Flow) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(flows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func checkSameJSON(t *testing.T, name string, flows []*Flow) {
	t.Helper()
	want := encodingJSON(t, flows)
	var got bytes.Buffer
	if err := WriteFlowsJSON(&got, flows); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		g, w := got.Bytes(), want
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Fatalf("%s: WriteFlowsJSON differs from encoding/json at byte %d:\ngot  %q\nwant %q", name, i,
			g[max(i-80, 0):min(i+80, len(g))], w[max(i-80, 0):min(i+80, len(w))])
	}
}

// TestFlowsJSONGolden: WriteFlowsJSON writes exactly encoding/json's bytes
// for the flows of every trace (the shared ones and testdata's), in every
// mode and with every option that adds fields.
func TestFlowsJSONGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap")
	shared, _ := filepath.Glob("../../../shared/pcaps/*.pcap")
	files = append(files, shared...)
	if len(files) == 0 {
		t.Fatal("no traces")
	}
	optss := []Options{
		{},
		{LayerKeyMode: L3, NodeTID: "node<&>", CaptureID: "capture"},
		{IPDefrag: true, ExtraTCPMetric: true, ReassembleTCP: true, ExtraLayers: ExtraAll,
			AppPorts: &AppPorts{TCP: map[uint16]string{80: "web\u2028é"}, UDP: map[uint16]string{53: "dns\"\\"}}},
	}
	for _, file := range files {
		for i, o := range optss {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			flows, err := FlowsFromPcap(context.Background(), f, o)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			checkSameJSON(t, file, flows)
			// the same flows after an update and an expiry: LastUpdateMetric
			// and FinishType
			var batches []*Flow
			o.OnUpdate = func(b Batch) { batches = append(batches, b.Flows...) }
			tbl := NewTable(o)
			f, _ = os.Open(file)
			_ = FeedPcap(context.Background(), f, tbl)
			f.Close()
			tbl.Flush(time.Unix(2e9, 0))
			checkSameJSON(t, file+" flushed "+string(rune('0'+i)), batches)
		}
	}
	checkSameJSON(t, "empty", nil)
	checkSameJSON(t, "empty", []*Flow{})
	checkSameJSON(t, "nil flow", []*Flow{nil, {}})
}

// fill sets every field reachable from v to a random value, zero half of
// the time (so that omitempty is exercised both ways).
func fill(r *rand.Rand, v reflect.Value, depth int) {
	strs := []string{"", "a", "UDP", "<b>&", "\"q\"\\", "é", "\u2028", "\x01\x7f", "\xff", "10.0.0.1", "fe80::1"}
	if r.Intn(2) == 0 && v.Kind() != reflect.Struct {
		v.SetZero()
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(strs[r.Intn(len(strs))])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := r.Int63n(1 << uint(r.Intn(62)+1))
		if r.Intn(4) == 0 {
			n = -n
		}
		if v.OverflowInt(n) {
			n = int64(r.Intn(14)) // within the protocol and ICMP type names, or one past
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n := r.Uint64()
		for v.OverflowUint(n) {
			n >>= 8
		}
		v.SetUint(n)
	case reflect.Pointer:
		if depth > 3 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if depth > 3 {
			return
		}
		s := reflect.MakeSlice(v.Type(), r.Intn(3), 3)
		for i := range s.Len() {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i), depth)
		}
	}
}

// TestFlowsJSONRandom: flows with random values in every field (new
// fields too) encode as encoding/json encodes them.
func TestFlowsJSONRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 200 {
		flows := make([]*Flow, r.Intn(4))
		for i := range flows {
			flows[i] = new(Flow)
			fill(r, reflect.ValueOf(flows[i]).Elem(), 0)
		}
		checkSameJSON(t, "random", flows)
	}
}
