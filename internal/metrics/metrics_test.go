package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
)

func mustAdd(t *testing.T, g *graph.Graph, els ...any) {
	t.Helper()
	for _, el := range els {
		var err error
		switch e := el.(type) {
		case *graph.Node:
			err = g.AddNode(e)
		case *graph.Edge:
			err = g.AddEdge(e)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func node(id string, m graph.Metadata) *graph.Node {
	return &graph.Node{Element: graph.Element{ID: graph.Identifier(id), Host: "h1", Metadata: m}}
}

func owns(id, parent, child string) *graph.Edge {
	return &graph.Edge{Element: graph.Element{ID: graph.Identifier(id), Metadata: graph.Metadata{"RelationType": "ownership"}},
		Parent: graph.Identifier(parent), Child: graph.Identifier(child)}
}

func TestAgentInterfaces(t *testing.T) {
	g := graph.New()
	mustAdd(t, g,
		node("h", graph.Metadata{"Type": "host", "Name": "h1"}),
		node("ns", graph.Metadata{"Type": "netns", "Name": "qrouter-1", "Path": "/var/run/netns/qrouter-1"}),
		node("eth0", graph.Metadata{"Type": "device", "Name": "eth0", "Metric": map[string]any{"RxBytes": int64(1000), "TxBytes": int64(2000), "RxPackets": int64(10)}}),
		node("tap", graph.Metadata{"Type": "tap", "Name": "tap1", "Neutron": map[string]any{"NetworkName": "private", "TenantID": "t1"},
			"Metric": map[string]any{"RxBytes": int64(5), "RxDropped": int64(2)}}),
		node("nometric", graph.Metadata{"Type": "veth", "Name": "v0"}),
		owns("e1", "h", "ns"), owns("e2", "h", "eth0"), owns("e3", "ns", "tap"))
	reg, _ := Agent(g)
	want := `
# HELP skydive_interface_receive_bytes_total Bytes received by the interface.
# TYPE skydive_interface_receive_bytes_total counter
skydive_interface_receive_bytes_total{host="h1",interface="eth0",namespace="",network="",tenant=""} 1000
skydive_interface_receive_bytes_total{host="h1",interface="tap1",namespace="qrouter-1",network="private",tenant="t1"} 5
# HELP skydive_interface_receive_drops_total Received packets dropped by the interface.
# TYPE skydive_interface_receive_drops_total counter
skydive_interface_receive_drops_total{host="h1",interface="eth0",namespace="",network="",tenant=""} 0
skydive_interface_receive_drops_total{host="h1",interface="tap1",namespace="qrouter-1",network="private",tenant="t1"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "skydive_interface_receive_bytes_total", "skydive_interface_receive_drops_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "skydive_interface_transmit_bytes_total"); err != nil || n != 2 {
		t.Fatalf("transmit series: %d %v", n, err)
	}
	// Lint as promtool check metrics does.
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

func TestFlowCounters(t *testing.T) {
	reg, f := Agent(graph.New())
	newFlow := &flow.Flow{Application: "ICMPv4", Metric: &flow.Metric{ABPackets: 2, BAPackets: 2, ABBytes: 196, BABytes: 196, Start: 10, RTT: 300000},
		LastUpdateMetric: &flow.Metric{ABPackets: 2, BAPackets: 2, ABBytes: 196, BABytes: 196, Start: 10}}
	later := &flow.Flow{Application: "ICMPv4", Metric: &flow.Metric{ABPackets: 3, BAPackets: 3, Start: 10, RTT: 300000},
		LastUpdateMetric: &flow.Metric{ABPackets: 1, BAPackets: 1, ABBytes: 98, BABytes: 98, Start: 20}}
	f.Observe("c1", []*flow.Flow{newFlow})
	f.Observe("c1", []*flow.Flow{later})
	if v := testutil.ToFloat64(f.flows.WithLabelValues("c1", "ICMPv4")); v != 1 {
		t.Errorf("flows %v, want 1", v)
	}
	if v := testutil.ToFloat64(f.packets.WithLabelValues("c1", "ICMPv4")); v != 6 {
		t.Errorf("packets %v, want 6", v)
	}
	if v := testutil.ToFloat64(f.bytes.WithLabelValues("c1", "ICMPv4")); v != 588 {
		t.Errorf("bytes %v, want 588", v)
	}
	if n, err := testutil.GatherAndCount(reg, "skydive_capture_flow_rtt_seconds"); err != nil || n != 1 {
		t.Errorf("rtt series %d %v", n, err)
	}
}

func TestAnalyzerHealth(t *testing.T) {
	g := graph.New()
	reg, a, stop := NewAnalyzer(AnalyzerSources{Graph: g, Agents: func() int { return 3 },
		Store: func() (int, int, uint64, uint64) { return 5, 100, 1, 2 }})
	defer stop()
	mustAdd(t, g, node("h", graph.Metadata{"Type": "host", "Name": "h1"}))
	a.FlowUpdates(4)
	a.Query(0, nil)
	want := `
# HELP skydive_agents_connected Agents connected to this analyzer.
# TYPE skydive_agents_connected gauge
skydive_agents_connected 3
# HELP skydive_graph_events_total Changes of the merged graph, by kind (NodeAdded, EdgeUpdated ...).
# TYPE skydive_graph_events_total counter
skydive_graph_events_total{type="NodeAdded"} 1
# HELP skydive_graph_nodes Nodes of the merged graph.
# TYPE skydive_graph_nodes gauge
skydive_graph_nodes 1
# HELP skydive_flow_updates_total Flow updates received from the agents.
# TYPE skydive_flow_updates_total counter
skydive_flow_updates_total 4
# HELP skydive_store_queue_depth Flows and topology revisions waiting to be written.
# TYPE skydive_store_queue_depth gauge
skydive_store_queue_depth 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "skydive_agents_connected", "skydive_graph_events_total",
		"skydive_graph_nodes", "skydive_flow_updates_total", "skydive_store_queue_depth"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
