package eval_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/history"
)

// benchGraph is built lazily, once per test binary: 1,000 hosts, each with
// 9 namespaces of 10 interfaces (99 nodes + the host = 100,000 nodes);
// 99,000 ownership edges, 45,000 veth-pair layer2 links inside hosts and
// 6,000 layer2 links between hosts (150,000 edges).
var (
	benchGraph   *graph.Graph
	benchHistory *history.Store
)

// benchNow is the clock of queries: two minutes after the graph was built
// (its clock counts milliseconds from 1), so G.At('-1m') sees all of it.
var benchNow = time.UnixMilli(1 + 120_000)

func getBenchGraph(b *testing.B) *graph.Graph {
	if benchGraph != nil {
		return benchGraph
	}
	clock := graph.Time(1)
	g := graph.New(graph.WithClock(func() graph.Time { clock++; return clock }))
	benchHistory = history.New(history.Options{})
	benchHistory.Attach(g)
	node := func(id, typ string, md graph.Metadata) {
		md["Type"], md["Name"] = typ, id
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: md}}); err != nil {
			b.Fatal(err)
		}
	}
	eid := 0
	edge := func(p, c, rel string) {
		eid++
		if err := g.AddEdge(&graph.Edge{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("e%d", eid)), Metadata: graph.Metadata{"RelationType": rel}}, Parent: graph.Identifier(p), Child: graph.Identifier(c)}); err != nil {
			b.Fatal(err)
		}
	}
	const hosts = 1000
	for h := 0; h < hosts; h++ {
		host := fmt.Sprintf("h%d", h)
		node(host, "host", graph.Metadata{})
		var ifs []string
		for n := 0; n < 9; n++ {
			ns := fmt.Sprintf("%s-ns%d", host, n)
			node(ns, "netns", graph.Metadata{})
			edge(host, ns, "ownership")
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("%s-if%d", ns, i)
				typ, mtu := "veth", int64(1500)
				if i == 0 {
					typ = "device"
				}
				if i%7 == 3 {
					mtu = 9000
				}
				node(id, typ, graph.Metadata{"MTU": mtu, "IPV4": []any{fmt.Sprintf("10.%d.%d.%d/24", h%256, n, i)}, "State": "UP"})
				edge(ns, id, "ownership")
				ifs = append(ifs, id)
			}
		}
		for i := 0; i+1 < len(ifs); i += 2 {
			edge(ifs[i], ifs[i+1], "layer2")
		}
	}
	for h := 0; h < hosts; h++ {
		for k := 0; k < 6; k++ {
			edge(fmt.Sprintf("h%d-ns%d-if0", h, k), fmt.Sprintf("h%d-ns%d-if9", (h+1+k)%hosts, k), "layer2")
		}
	}
	benchGraph = g
	return g
}

func BenchmarkQueries(b *testing.B) {
	g := getBenchGraph(b)
	if n, e := g.Len(); n != 100000 || e != 150000 {
		b.Fatalf("graph has %d nodes, %d edges", n, e)
	}
	queries := []struct{ name, src string }{
		{"CountVeth", "G.V().Has('Type','veth').Count()"},
		{"VethOutCount", "G.V().Has('Type','veth').Out().Count()"},
		{"AtCount", "G.At('-1m').V().Count()"},
		{"ByName", "G.V().Has('Name','h500-ns5-if5')"},
		{"NEValues", "G.V().Has('MTU', NE(1500)).Values('IPV4')"},
		{"NECount", "G.V().Has('MTU', NE(1500)).Count()"},
		{"GTCount", "G.V().Has('MTU', GT(1400)).Count()"},
		{"Out3", "G.V().Has('Type','host').Out().Out().Out().Count()"},
		{"ShortestPathL2", "G.V().Has('Name','h1-ns0-if1').ShortestPathTo(Metadata('Name','h2-ns0-if8'), Metadata('RelationType','layer2'))"},
		{"ShortestPath", "G.V().Has('Name','h1-ns0-if1').ShortestPathTo(Metadata('Name','h3-ns2-if9'))"},
	}
	for _, q := range queries {
		cq, err := eval.Compile(q.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			var res eval.Value
			for b.Loop() {
				res, err = cq.Run(ctx, eval.Env{Graph: g, History: benchHistory, Now: func() time.Time { return benchNow }})
				if err != nil {
					b.Fatal(err)
				}
			}
			if p, ok := res.(eval.Paths); ok && len(p) != 1 {
				b.Fatalf("no path: %v", res)
			}
			// Scans visit every node: report the rate.
			b.ReportMetric(100000/(b.Elapsed().Seconds()/float64(b.N)), "nodes/s")
		})
	}
}
