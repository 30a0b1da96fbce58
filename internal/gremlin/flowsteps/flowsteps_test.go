package flowsteps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/flowsteps"
	"github.com/skydive-ng/skydive/internal/history"
)

// TestGraphStepsUnchanged checks that the extended engine (with its own
// Context step) answers graph queries as the core engine does.
func TestGraphStepsUnchanged(t *testing.T) {
	clock := int64(1_000_000)
	g := graph.New(graph.WithClock(func() graph.Time { return graph.Time(clock) }))
	h := history.New(history.Options{Retention: time.Hour, Now: func() time.Time { return time.UnixMilli(clock) }})
	h.Attach(g)
	g.AddNode(&graph.Node{Element: graph.Element{ID: "a", Metadata: graph.Metadata{"Type": "veth", "Name": "a", "MTU": 1500}}})
	clock += 60_000
	g.AddNode(&graph.Node{Element: graph.Element{ID: "b", Metadata: graph.Metadata{"Type": "veth", "Name": "b"}}})
	g.AddEdge(&graph.Edge{Parent: "a", Child: "b", Element: graph.Element{ID: "ab", Metadata: graph.Metadata{"RelationType": "layer2"}}})
	clock += 60_000
	g.UpdateNodeMetadata("a", func(m graph.Metadata) bool { m["MTU"] = 9000; return true })
	clock += 60_000

	queries := []string{
		"G.V()",
		"G.At('-2m').V()",
		"G.At('-2m').V().Values('MTU')",
		"G.At(NOW, 300).V().Count()",
		"G.Context(1030).V().Has('Name', 'a').Out()",
		"G.At('-90s').V().Diff('-150s')",
		"G.V().Diff('-150s')",
		"G.V().Has('Name', 'a').Out().Count()",
		"G.V().Sort(DESC, 'Name').Values('Name')",
		"G.At(1).Flows()",
		"G.Flows()",
	}
	ext := flowsteps.NewEngine()
	store := flowstore.NewMemory(flowstore.MemoryOptions{})
	env := eval.Env{Graph: g, History: h, Now: func() time.Time { return time.UnixMilli(clock) }}
	for _, src := range queries {
		run := func(eng func(string) (*eval.Query, error), flows any) string {
			q, err := eng(src)
			if err != nil {
				return "compile: " + err.Error()
			}
			e := env
			e.Flows = flows
			v, err := q.Run(context.Background(), e)
			if err != nil {
				return "run: " + err.Error()
			}
			b, _ := json.Marshal(v)
			return string(b)
		}
		core := run(eval.Compile, nil)
		got := run(ext.Compile, store)
		switch src {
		case "G.At(1).Flows()", "G.Flows()":
			if got != "[]" {
				t.Errorf("%s = %s, want []", src, got)
			}
			continue
		}
		if core != got {
			t.Errorf("%s:\n core: %s\n  ext: %s", src, core, got)
		}
	}
}

func TestEmptyJSON(t *testing.T) {
	for _, v := range []eval.Value{flowsteps.Flows(nil), flowsteps.Metrics(nil), flowsteps.RawPackets{}, flowsteps.Groups(nil)} {
		if b, err := json.Marshal(v); err != nil || string(b) != "[]" {
			t.Errorf("%T: %s, %v", v, b, err)
		}
	}
}

func benchStore(b *testing.B, n int) (*flowstore.Memory, *graph.Graph) {
	now := time.Now()
	s := flowstore.NewMemory(flowstore.MemoryOptions{})
	g := graph.New()
	fs := make([]*flow.Flow, n)
	for i := range fs {
		f := flowstore.SuiteFlow(fmt.Sprintf("%016x", i), fmt.Sprintf("tid-%d", i%100), "c", now.Add(-time.Minute), now, int64(i%50))
		f.Network.A = fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)
		fs[i] = f
	}
	if err := s.Insert(context.Background(), fs); err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(fmt.Sprint("n", i)),
			Metadata: graph.Metadata{"Type": "veth", "Name": fmt.Sprint("veth", i), "TID": fmt.Sprint("tid-", i)}}})
	}
	return s, g
}

func BenchmarkFlowQueries(b *testing.B) {
	s, g := benchStore(b, 100000)
	eng := flowsteps.NewEngine()
	for _, src := range []string{
		"G.Flows().Has('Network', '10.0.1.1').Count()",
		"G.Flows().Has('Metric.ABPackets', GT(45)).Dedup().Count()",
		"G.V().Has('Name', 'veth7').Flows().Sort(DESC, 'Start').Limit(10)",
		"G.Flows('Network.A', IPV4RANGE('10.0.3.0/24')).Hops().Count()",
	} {
		q, err := eng.Compile(src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(src, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := q.Run(context.Background(), eval.Env{Graph: g, Flows: s}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
