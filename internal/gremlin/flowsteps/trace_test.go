package flowsteps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
)

// traceLab is two hosts whose instances talk through a VXLAN tunnel over
// eth0 - switch - eth0; flows of one ping are captured at the two taps and
// the two underlay interfaces.
//
// Unpeered, an instance's eth0 is joined to its tap by nothing but the
// ownership of the instance's namespace by the host (the analyzer's
// peering link missing): the order must hold all the same.
func traceLab(t *testing.T, unpeered bool) *graph.Graph {
	t.Helper()
	g := graph.New()
	node := func(id, host string, md graph.Metadata) {
		md["TID"] = "tid-" + id
		g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Host: host, Metadata: md}})
	}
	edge := func(parent, child, rel string) {
		g.AddEdge(&graph.Edge{Parent: graph.Identifier(parent), Child: graph.Identifier(child),
			Element: graph.Element{ID: graph.Identifier(parent + "-" + child), Metadata: graph.Metadata{"RelationType": rel}}})
	}
	for _, h := range []string{"c1", "c2"} {
		node(h, h, graph.Metadata{"Name": h, "Type": "host"})
		node(h+"-eth0", h, graph.Metadata{"Name": "eth0", "Type": "veth", "IfIndex": int64(2)})
		node(h+"-tap", h, graph.Metadata{"Name": "tap-" + h, "Type": "veth"})
		node(h+"-br", h, graph.Metadata{"Name": "br-int", "Type": "ovsbridge"})
		// No edge to its underlay: the trace knows it by VtepDevIndex.
		node(h+"-vx", h, graph.Metadata{"Name": "vxlan-7", "Type": "vxlan", "IfIndex": int64(6), "VtepDevIndex": int64(2)})
		node(h+"-vm", h, graph.Metadata{"Name": "eth0", "Type": "veth", "IPV4": []any{map[string]string{"c1": "192.168.0.1/24", "c2": "192.168.0.2/24"}[h]}})
		edge(h, h+"-eth0", "ownership")
		edge(h, h+"-tap", "ownership")
		edge(h, h+"-vx", "ownership")
		edge(h+"-br", h+"-tap", "layer2")
		edge(h+"-br", h+"-vx", "layer2")
		if unpeered {
			node(h+"-ns", h, graph.Metadata{"Name": "instance-" + h, "Type": "netns"})
			edge(h, h+"-ns", "ownership")
			edge(h+"-ns", h+"-vm", "ownership")
		} else {
			edge(h+"-tap", h+"-vm", "layer2")
		}
	}
	// OVN's logical model: a short cut between the taps that packets do
	// not take (mapping edges).
	node("ls", "", graph.Metadata{"Name": "lswitch", "Type": "logical_switch"})
	for _, h := range []string{"c1", "c2"} {
		node("lp-"+h, "", graph.Metadata{"Name": "lport-" + h, "Type": "logical_port"})
		edge("ls", "lp-"+h, "layer2")
		edge("lp-"+h, h+"-tap", "mapping")
	}
	node("sw", "", graph.Metadata{"Name": "tor", "Type": "switch"})
	edge("sw", "c1-eth0", "layer2")
	edge("sw", "c2-eth0", "layer2")
	return g
}

type gapsStub []string

func (g gapsStub) Gaps(from, to time.Time, hosts []string) []string {
	var out []string
	for _, h := range hosts {
		for _, down := range g {
			if h == down {
				out = append(out, "agent "+h+" disconnected")
			}
		}
	}
	return out
}

func TestTrace(t *testing.T) {
	now := time.Now()
	mk := func(uuid, node, a, b string, ab, ba int64, start int64) *flow.Flow {
		return &flow.Flow{UUID: uuid, NodeTID: "tid-" + node, TrackingID: "track", LayersPath: "Ethernet/IPv4/ICMPv4",
			Network: &flow.FlowLayer{Protocol: flow.ProtoIPv4, A: a, B: b},
			Metric:  &flow.Metric{ABPackets: ab, ABBytes: ab * 98, BAPackets: ba, BABytes: ba * 98},
			Start:   now.Add(-time.Minute).UnixMilli() + start, Last: now.UnixMilli()}
	}
	outer := &flow.Flow{UUID: "outer1", NodeTID: "tid-c1-eth0", LayersPath: "Ethernet/IPv4/UDP/VXLAN", L3TrackingID: "l3",
		Network: &flow.FlowLayer{Protocol: flow.ProtoIPv4, A: "10.0.0.1", B: "10.0.0.2", ID: 7},
		Metric:  &flow.Metric{ABPackets: 10, BAPackets: 7}, Start: now.Add(-time.Minute).UnixMilli(), Last: now.UnixMilli()}
	cases := []struct {
		name        string
		unpeered    bool
		flows       []*flow.Flow
		gaps        flowsteps.GapFinder
		wantHops    []string
		wantLoss    []string
		wantIncompl []string
	}{{
		name: "loss on the underlay, AB",
		flows: []*flow.Flow{
			// Stored out of path order, as captures report.
			mk("f4", "c2-tap", "192.168.0.1", "192.168.0.2", 7, 7, 3),
			withParent(mk("f2", "c1-eth0", "192.168.0.1", "192.168.0.2", 10, 7, 1), "outer1"),
			mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 10, 7, 0),
			// This capture took the reply for A: its sides are swapped.
			mk("f3", "c2-eth0", "192.168.0.2", "192.168.0.1", 7, 7, 2),
			outer,
		},
		wantHops: []string{"tap-c1@c1 10/7", "eth0@c1 10/7 tunnel 10.0.0.1>10.0.0.2 #7", "eth0@c2 7/7", "tap-c2@c2 7/7"},
		wantLoss: []string{"AB eth0@c1 -> eth0@c2 lost 3 of 10 via [tor]"},
	}, {
		name:     "instances joined to their taps by ownership only",
		unpeered: true,
		flows: []*flow.Flow{
			mk("f5", "c2-vm", "192.168.0.1", "192.168.0.2", 7, 7, 3),
			mk("f3", "c2-eth0", "192.168.0.1", "192.168.0.2", 7, 7, 2),
			mk("f2", "c1-eth0", "192.168.0.1", "192.168.0.2", 10, 7, 0),
			mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 10, 7, 0),
			mk("f0", "c1-vm", "192.168.0.1", "192.168.0.2", 10, 7, 0),
			mk("f4", "c2-tap", "192.168.0.1", "192.168.0.2", 7, 7, 2),
		},
		wantHops: []string{"eth0@c1 10/7", "tap-c1@c1 10/7", "eth0@c1 10/7", "eth0@c2 7/7", "tap-c2@c2 7/7", "eth0@c2 7/7"},
		wantLoss: []string{"AB eth0@c1 -> eth0@c2 lost 3 of 10 via [tor]"},
	}, {
		name: "loss inside a host, BA",
		flows: []*flow.Flow{
			mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 5, 3, 0),
			mk("f2", "c1-eth0", "192.168.0.1", "192.168.0.2", 5, 5, 1),
		},
		wantHops: []string{"tap-c1@c1 5/3", "eth0@c1 5/5"},
		wantLoss: []string{"BA eth0@c1 -> tap-c1@c1 lost 2 of 5 via [vxlan-7 br-int]"},
	}, {
		name: "downstream ahead: counts of different times",
		flows: []*flow.Flow{
			mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 4, 4, 0),
			mk("f4", "c2-tap", "192.168.0.1", "192.168.0.2", 5, 4, 3),
		},
		wantHops:    []string{"tap-c1@c1 4/4", "tap-c2@c2 5/4"},
		wantIncompl: []string{"tap-c2 on c2 counted 1 AB packets more"},
	}, {
		name: "an agent away: its short counts are no loss",
		flows: []*flow.Flow{
			mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 9, 2, 0),
			mk("f4", "c2-tap", "192.168.0.1", "192.168.0.2", 2, 2, 3),
		},
		gaps:        gapsStub{"c2"},
		wantHops:    []string{"tap-c1@c1 9/2", "tap-c2@c2 2/2"},
		wantIncompl: []string{"no AB loss is measured between tap-c1 on c1 and tap-c2 on c2", "agent c2 disconnected"},
	}, {
		name: "an agent away before it reported: named by the flow's end",
		flows: []*flow.Flow{
			mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 9, 2, 0),
			mk("f2", "c1-eth0", "192.168.0.1", "192.168.0.2", 9, 2, 1),
		},
		gaps:        gapsStub{"c2"},
		wantHops:    []string{"tap-c1@c1 9/2", "eth0@c1 9/2"},
		wantIncompl: []string{"agent c2 disconnected"},
	}, {
		name:        "one capture only",
		flows:       []*flow.Flow{mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 4, 4, 0)},
		wantHops:    []string{"tap-c1@c1 4/4"},
		wantIncompl: []string{"captured at one place only"},
	}, {
		name:        "a node gone from the topology",
		flows:       []*flow.Flow{mk("f1", "c1-tap", "192.168.0.1", "192.168.0.2", 4, 4, 0), mk("f9", "gone", "192.168.0.1", "192.168.0.2", 4, 4, 5)},
		wantHops:    []string{"tap-c1@c1 4/4", "tid-gone@ 4/4"},
		wantIncompl: []string{"the node tid-gone that captured flow f9 is not in the topology", "hops are in the order of their first packet"},
	}}
	eng := flowsteps.NewEngine()
	q, err := eng.Compile("G.Flows().Has('TrackingID', 'track').Trace()")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		g := traceLab(t, tc.unpeered)
		t.Run(tc.name, func(t *testing.T) {
			store := flowstore.NewMemory(flowstore.MemoryOptions{})
			if err := store.Insert(context.Background(), tc.flows); err != nil {
				t.Fatal(err)
			}
			v, err := q.Run(context.Background(), eval.Env{Graph: g, Flows: &flowsteps.Source{Live: store, Gaps: tc.gaps}})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(v)
			var traces []flowsteps.Trace
			if err := json.Unmarshal(raw, &traces); err != nil || len(traces) != 1 {
				t.Fatalf("%s: %v", raw, err)
			}
			tr := traces[0]
			var hops, loss []string
			for _, h := range tr.Hops {
				s := fmt.Sprintf("%s@%s %d/%d", h.Name, h.Host, h.AB.Packets, h.BA.Packets)
				if h.Tunnel != nil {
					s += fmt.Sprintf(" tunnel %s>%s #%d", h.Tunnel.A, h.Tunnel.B, h.Tunnel.ID)
				}
				hops = append(hops, s)
			}
			for _, l := range tr.Loss {
				loss = append(loss, fmt.Sprintf("%s %s@%s -> %s@%s lost %d of %d via %v", l.Direction, l.From, l.FromHost, l.To, l.ToHost, l.Lost, l.Of, l.Via))
			}
			if !slices.Equal(hops, tc.wantHops) {
				t.Errorf("hops %q, want %q", hops, tc.wantHops)
			}
			if !slices.Equal(loss, tc.wantLoss) {
				t.Errorf("loss %q, want %q", loss, tc.wantLoss)
			}
			if len(tr.Incomplete) != len(tc.wantIncompl) {
				t.Errorf("incomplete %q, want %q", tr.Incomplete, tc.wantIncompl)
			}
			for _, w := range tc.wantIncompl {
				if !slices.ContainsFunc(tr.Incomplete, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("incomplete %q lacks %q", tr.Incomplete, w)
				}
			}
			for _, k := range []string{`"Loss":[`, `"Incomplete":[`, `"Hops":[`} {
				if !strings.Contains(string(raw), k) {
					t.Errorf("%s lacks %s", raw, k)
				}
			}
		})
	}
}

func withParent(f *flow.Flow, parent string) *flow.Flow {
	f.ParentUUID = parent
	return f
}

func TestTraceErrors(t *testing.T) {
	eng := flowsteps.NewEngine()
	for src, want := range map[string]string{
		"G.V().Trace()":             "Trace() cannot follow V()",
		"G.Flows().Trace('x')":      "Trace",
		"G.Flows().Count().Trace()": "Trace",
	} {
		if _, err := eng.Compile(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

func TestIncompleteFlows(t *testing.T) {
	g := traceLab(t, false)
	g.UpdateNodeMetadata("c1-tap", func(m graph.Metadata) bool {
		m["Captures"] = []any{map[string]any{"ID": "cap1", "Type": "afpacket", "State": "active", "PacketsDropped": int64(4)}}
		return true
	})
	g.UpdateNodeMetadata("c2-tap", func(m graph.Metadata) bool {
		m["Captures"] = []any{map[string]any{"ID": "cap2", "Type": "sflow", "State": "active"}}
		return true
	})
	now := time.Now().UnixMilli()
	fs := flowsteps.Flows{
		{UUID: "a", NodeTID: "tid-c1-tap", CaptureID: "cap1", Start: now - 1000, Last: now},
		{UUID: "b", NodeTID: "tid-c1-tap", CaptureID: "cap1", Start: now - 1000, Last: now},
		{UUID: "c", NodeTID: "tid-c2-tap", CaptureID: "cap2", Start: now - 1000, Last: now},
	}
	env := eval.Env{Graph: g, Flows: &flowsteps.Source{Gaps: gapsStub{"c2"}}}
	got := flowsteps.Incomplete(env, fs)
	want := []string{"the capture on tap-c1 of c1 dropped 4 packets", "the sflow capture on tap-c2 of c2 samples packets: its counts are not every packet", "agent c2 disconnected"}
	if !slices.Equal(got, want) {
		t.Errorf("Incomplete = %q, want %q", got, want)
	}
	if got := flowsteps.Incomplete(env, eval.Values{int64(3)}); got != nil {
		t.Errorf("for a count: %q", got)
	}
}
