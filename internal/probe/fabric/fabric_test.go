package fabric

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line, err string
		own       bool
		child     nodeRef
	}{
		{line: "TOR1[Name=tor1] -> TOR1_PORT1[Name=port1, MTU=1500]", own: true, child: nodeRef{key: "TOR1_PORT1", filter: graph.Metadata{"Name": "port1", "MTU": int64(1500)}}},
		{line: "TOR1_PORT1 -> *[Type=host]/eth0", own: true, child: nodeRef{filter: graph.Metadata{"Type": "host"}, iface: "eth0"}},
		{line: "TOR1_PORT2 --> *[Type=host, Name=compute1]/eth1", child: nodeRef{filter: graph.Metadata{"Type": "host", "Name": "compute1"}, iface: "eth1"}},
		{line: "P -> *[Type=host, Labels.rack=r1]/eth0", own: true, child: nodeRef{filter: graph.Metadata{"Type": "host", "Labels": map[string]any{"rack": "r1"}}, iface: "eth0"}},
		{line: "A -[Speed=10]-> B", own: true, child: nodeRef{key: "B"}},
		{line: "A ->[Speed=10] B", own: true, child: nodeRef{key: "B"}},
		{line: "TOR1", err: "no link"},
		{line: "* -> B", err: "left of ->"},
		{line: "A -> *", err: "wildcard needs a filter"},
		{line: "A -> B/eth0", err: "only a wildcard"},
		{line: "A -> B[Name=x", err: "unclosed"},
		{line: "A -> B[Name]", err: "expected key=value"},
		{line: "A b -> C", err: "node name"},
	} {
		got, err := parseLine(tc.line)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if got.ownership != tc.own || got.child.key != tc.child.key || got.child.iface != tc.child.iface ||
			!got.child.filter.Equal(tc.child.filter) && len(tc.child.filter)+len(got.child.filter) > 0 {
			t.Errorf("%q: got %+v, want child %+v own %v", tc.line, got, tc.child, tc.own)
		}
	}
}

func TestMatchesNestedFilters(t *testing.T) {
	host := graph.Metadata{"Type": "host", "MTU": int64(1500), "Labels": map[string]any{"rack": "r1"}}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{"Type=host", true}, {"Type=host, MTU=1500", true}, {"Labels.rack=r1", true},
		{"Labels.rack=r2", false}, {"Type.x=host", false}, {"Missing=1", false},
	} {
		f, err := parseMetadata(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := matches(host, f); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestFabricLinksHostInterfaces(t *testing.T) {
	g := graph.New()
	agent := &topology.Writer{G: g, Host: "c1", Origin: "agent.c1"}
	host := topology.GenID("c1")
	if err := agent.AddNode(host, graph.Metadata{"Name": "c1", "Type": "host"}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Writer: &topology.Writer{G: g, Host: "an", Origin: "analyzer.an"}, Definitions: []string{
		"TOR1[Name=tor1] -> TOR1_PORT1[Name=port1, MTU=1500]",
		"TOR1_PORT1 -> *[Type=host]/eth0",
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	port := NodeID("TOR1_PORT1")
	testutil.EventuallyTrue(t, 3*time.Second, "fabric nodes", func() bool {
		n := g.Node(port)
		return n != nil && n.Metadata["MTU"] == int64(1500) && n.Metadata["Name"] == "port1" && n.Metadata["Probe"] == "fabric" &&
			g.Edge(topology.EdgeID(NodeID("TOR1"), port, topology.OwnershipLink)) != nil
	})
	// The host's eth0 comes later: the port links to it.
	eth0 := topology.GenID("c1", "eth0")
	if err := agent.AddNode(eth0, graph.Metadata{"Name": "eth0", "Type": "veth", "IfIndex": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Link(host, eth0, topology.OwnershipLink, nil); err != nil {
		t.Fatal(err)
	}
	edge := topology.EdgeID(port, eth0, topology.Layer2Link)
	testutil.EventuallyTrue(t, 3*time.Second, "layer2 to eth0", func() bool {
		e := g.Edge(edge)
		return e != nil && e.Metadata["Type"] == "fabric"
	})
	if g.Edge(topology.EdgeID(port, eth0, topology.OwnershipLink)) != nil {
		t.Error("the fabric port owns an agent's interface")
	}
	cancel()
	<-done
	if g.Node(port) != nil {
		t.Error("fabric node left after Run ended")
	}
}

// The definitions come from a configuration file: whatever a line holds,
// parsing answers an error or a usable link, never a panic.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"TOR1[Name=tor1] -> TOR1_PORT1[Name=port1, MTU=1500]",
		"TOR1_PORT1 -> *[Type=host]/eth0",
		"TOR1_PORT2 --> *[Type=host, Name=compute1]/eth1",
		"A -[Speed=10]-> B", "A ->[Speed=10] B", "A -> B[Name=x", "* -> *[]/", "-[->[]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l, err := parseLine(line)
		if err != nil {
			return
		}
		if l.parent.key == "" {
			t.Fatalf("%q: a link without a declared parent", line)
		}
		if l.child.key == "" && len(l.child.filter) == 0 {
			t.Fatalf("%q: a child that is neither a node nor a filter", line)
		}
	})
}
