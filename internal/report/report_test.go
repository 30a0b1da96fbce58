package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
)

func node(tid string, m graph.Metadata) *graph.Node {
	if tid != "" {
		m["TID"] = tid
	}
	return &graph.Node{Element: graph.Element{ID: graph.Identifier(tid + "id"), Metadata: m}}
}

func fl(uuid, track, tid, app, a, b string, start time.Time, pk, by int64) *flow.Flow {
	ms := start.UnixMilli()
	return &flow.Flow{UUID: uuid, TrackingID: track, NodeTID: tid, Application: app,
		Network:          &flow.FlowLayer{Protocol: flow.Protocol(0), A: a, B: b},
		Metric:           &flow.Metric{ABPackets: pk, ABBytes: by, BAPackets: pk, BABytes: by, Start: ms, Last: ms + 1000},
		LastUpdateMetric: &flow.Metric{ABPackets: pk, ABBytes: by, BAPackets: pk, BABytes: by, Start: ms, Last: ms + 1000},
		Start:            ms, Last: ms + 1000}
}

func TestBuild(t *testing.T) {
	now := time.Now()
	nodes := []*graph.Node{
		node("tid-a", graph.Metadata{"Neutron": map[string]any{"TenantID": "proj-a"}}),
		node("tid-x", graph.Metadata{"IPV4": []any{"10.0.0.9/24"}}),
		node("tid-b", graph.Metadata{"IPV4": []any{"10.1.0.2/24"}, "Neutron": map[string]any{"TenantID": "proj-b"}}),
	}
	st := flowstore.NewMemory(flowstore.MemoryOptions{})
	t0 := now.Add(-10 * time.Minute)
	if err := st.Insert(context.Background(), []*flow.Flow{
		fl("f1", "t1", "tid-a", "TCP", "10.0.0.1", "10.0.0.2", t0, 10, 1000),
		fl("f1bis", "t1", "tid-x", "TCP", "10.0.0.1", "10.0.0.2", t0, 10, 1000), // same flow, another capture
		fl("f2", "t2", "tid-a", "ICMPv4", "10.0.0.1", "10.0.0.2", t0, 1, 98),
		fl("f3", "t3", "tid-x", "TCP", "10.1.0.1", "10.1.0.2", t0, 5, 500), // by address
		fl("f4", "t4", "tid-x", "UDP", "10.9.0.1", "10.9.0.2", t0, 2, 200), // no tenant
		fl("old", "t5", "tid-a", "TCP", "10.0.0.1", "10.0.0.2", now.Add(-3*time.Hour), 7, 700),
	}); err != nil {
		t.Fatal(err)
	}
	w, err := ParseWindow("1h", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Build(context.Background(), st, nodes, w)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Tenant: "", Application: "UDP", Packets: 4, Bytes: 400, Flows: 1},
		{Tenant: "proj-a", Application: "ICMPv4", Packets: 2, Bytes: 196, Flows: 1},
		{Tenant: "proj-a", Application: "TCP", Packets: 20, Bytes: 2000, Flows: 1},
		{Tenant: "proj-b", Application: "TCP", Packets: 10, Bytes: 1000, Flows: 1},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || recs[0][0] != "Tenant" || recs[1][0] != "(none)" || recs[3][3] != "2000" {
		t.Errorf("csv %q", recs)
	}
}

func TestParseWindow(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	w, err := ParseWindow("", "2026-01-02T01:00:00Z", "2026-01-02T02:00:00Z", now)
	if err != nil || w.From.Hour() != 1 || w.To.Hour() != 2 {
		t.Fatalf("%v %v", w, err)
	}
	if w, err = ParseWindow("", "", "", now); err != nil || now.Sub(w.From) != time.Hour {
		t.Fatalf("default %v %v", w, err)
	}
	for _, bad := range [][3]string{{"x", "", ""}, {"-1h", "", ""}, {"1h", "2026-01-02T01:00:00Z", ""},
		{"", "", "2026-01-02T01:00:00Z"}, {"", "2026-01-02T02:00:00Z", "2026-01-02T01:00:00Z"}} {
		if _, err := ParseWindow(bad[0], bad[1], bad[2], now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
