package utilisation

import (
	"context"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
)

func TestCompute(t *testing.T) {
	for _, c := range []struct {
		m      graph.Metadata
		rx, tx float64
		ok     bool
	}{
		// 10 Mb/s for 2s carry 2.5 MB: 2 MB sent is 80%, 0.5 MB 20%.
		{graph.Metadata{"Speed": int64(10), "LastUpdateMetric": map[string]any{"Start": int64(1000), "Last": int64(3000), "TxBytes": int64(2000000), "RxBytes": int64(500000)}}, 20, 80, true},
		// A rule's Speed as a string; no Rx counter (zero, omitted).
		{graph.Metadata{"Speed": "10", "LastUpdateMetric": map[string]any{"Start": int64(0), "Last": int64(1000), "TxBytes": int64(125000)}}, 0, 10, true},
		{graph.Metadata{"Speed": int64(10)}, 0, 0, false},
		{graph.Metadata{"LastUpdateMetric": map[string]any{"Start": int64(0), "Last": int64(1000)}}, 0, 0, false},
		{graph.Metadata{"Speed": int64(0), "LastUpdateMetric": map[string]any{"Start": int64(0), "Last": int64(1000)}}, 0, 0, false},
		{graph.Metadata{"Speed": int64(10), "LastUpdateMetric": map[string]any{"Start": int64(1000), "Last": int64(1000)}}, 0, 0, false},
	} {
		u, ok := Compute(graph.NormalizeMetadata(c.m))
		if ok != c.ok || (ok && (u["Rx"] != c.rx || u["Tx"] != c.tx)) {
			t.Errorf("%v: %v %v, want Rx %v Tx %v %v", c.m, u, ok, c.rx, c.tx, c.ok)
		}
	}
}

// TestProbe: the Utilisation follows the counters and the Speed, comes
// back after a replacement of the node (an agent's update), and the
// probe's own writes do not make it loop.
func TestProbe(t *testing.T) {
	g := graph.New()
	meta := func(speed any, tx int64) graph.Metadata {
		return graph.Metadata{"Name": "veth0", "Type": "veth", "Speed": speed,
			"LastUpdateMetric": map[string]any{"Start": int64(0), "Last": int64(1000), "TxBytes": tx}}
	}
	if err := g.AddNode(&graph.Node{Element: graph.Element{ID: "n", Metadata: meta(int64(10000), 125000)}}); err != nil {
		t.Fatal(err)
	}
	p := New(g)
	p.Delay = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	wait := func(what string, tx float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := g.Node("n")
			u, _ := n.Metadata[KeyUtilisation].(map[string]any)
			if u != nil && u["Tx"] == tx {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: Utilisation %v, want Tx %v", what, n.Metadata[KeyUtilisation], tx)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("at start", 0.01)
	// A rule's Speed.
	if err := g.UpdateNodeMetadata("n", func(m graph.Metadata) bool { m["Speed"] = int64(10); return true }); err != nil {
		t.Fatal(err)
	}
	wait("Speed 10", 10)
	// The agent's update replaces the node: new counters, its own Speed.
	if err := g.ReplaceNode(&graph.Node{Element: graph.Element{ID: "n", Metadata: meta(int64(10000), 1000000)}}); err != nil {
		t.Fatal(err)
	}
	wait("replaced", 0.08)
	if err := g.UpdateNodeMetadata("n", func(m graph.Metadata) bool { m["Speed"] = int64(10); return true }); err != nil {
		t.Fatal(err)
	}
	wait("Speed 10 again", 80)
	rev := g.Node("n").Revision
	time.Sleep(200 * time.Millisecond)
	if r := g.Node("n").Revision; r != rev {
		t.Fatalf("revision %d then %d without a change: the probe loops", rev, r)
	}
	// No Speed: no Utilisation.
	if err := g.UpdateNodeMetadata("n", func(m graph.Metadata) bool { delete(m, "Speed"); return true }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.Node("n").Metadata[KeyUtilisation] != nil {
		if time.Now().After(deadline) {
			t.Fatal("Utilisation kept without a Speed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
