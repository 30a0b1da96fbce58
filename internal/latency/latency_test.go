package latency

import (
	"bytes"
	"strings"
	"testing"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
)

func iface(id, host, tid string, ips ...any) *graph.Node {
	n := &graph.Node{}
	n.ID = graph.Identifier(id)
	n.Host = host
	n.Metadata = graph.Metadata{"Type": "veth", "IPV4": ips}
	if tid != "" {
		n.Metadata["TID"] = tid
	}
	return n
}

func rttFlow(uuid, tid, a, b string, rttNs int64) *flow.Flow {
	return &flow.Flow{UUID: uuid, NodeTID: tid, Network: &flow.FlowLayer{A: a, B: b}, Metric: &flow.Metric{RTT: rttNs}}
}

func TestCompute(t *testing.T) {
	nodes := []*graph.Node{
		iface("1", "h1", "t1", "10.0.0.1/24"),
		iface("2", "h2", "t2", "10.0.0.2/24"),
		iface("3", "h3", "t3", "10.0.0.3/24"),
		iface("l1", "h1", "tl1", "127.0.0.1/8"),
		iface("l2", "h2", "tl2", "127.0.0.1/8"),
		iface("4", "h1", "t4", "10.0.0.4/24"),
	}
	flows := []*flow.Flow{
		rttFlow("a", "t1", "10.0.0.1", "10.0.0.2", 2e6),
		rttFlow("b", "t2", "10.0.0.2", "10.0.0.1", 4e6),
		rttFlow("c", "t2", "10.0.0.1", "10.0.0.2", 9e6),
		rttFlow("c", "t2", "10.0.0.1", "10.0.0.2", 9e6),          // duplicate UUID: once
		rttFlow("d", "t1", "10.0.0.1", "10.0.0.2", 0),            // no RTT
		rttFlow("e", "t1", "10.0.0.1", "10.0.0.4", 1e6),          // same host: skipped
		rttFlow("f", "tl1", "127.0.0.1", "10.0.0.3", 5e6),        // 127.0.0.1 on h1 and h2: the capture's
		rttFlow("g", "", "127.0.0.1", "10.0.0.3", 5e6),           // ambiguous, no capture: skipped
		rttFlow("h", "t3", "10.0.0.3", "192.168.1.1", 7e6),       // unknown address, other end elsewhere... same host as capture: skipped
		rttFlow("i", "t1", "192.168.1.1", "10.0.0.3", 3e6),       // unknown address on the capture's host h1
		{UUID: "j", NodeTID: "t1", Metric: &flow.Metric{RTT: 1}}, // no network layer
	}
	m := Compute(nodes, flows)
	if strings.Join(m.Hosts, ",") != "h1,h2,h3" {
		t.Fatalf("hosts %v", m.Hosts)
	}
	if len(m.Pairs) != 2 {
		t.Fatalf("pairs %+v", m.Pairs)
	}
	p, ok := m.Pair("h2", "h1")
	if !ok || p.A != "h1" || p.B != "h2" || p.RTT != (Stats{Min: 2, Median: 4, Max: 9, Count: 3}) {
		t.Fatalf("h1-h2 %+v", p)
	}
	p, ok = m.Pair("h1", "h3")
	if !ok || p.RTT != (Stats{Min: 3, Median: 4, Max: 5, Count: 2}) {
		t.Fatalf("h1-h3 %+v", p)
	}
	var buf bytes.Buffer
	if err := WriteMatrix(&buf, m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"h1", "4.000", "-"} {
		if !strings.Contains(out, want) {
			t.Fatalf("matrix %q lacks %q", out, want)
		}
	}
}

func TestComputeEmpty(t *testing.T) {
	m := Compute(nil, nil)
	if m.Hosts == nil || m.Pairs == nil || len(m.Hosts)+len(m.Pairs) != 0 {
		t.Fatalf("%+v", m)
	}
}
