package eval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
)

// TestLiveWalksEqualSnapshot runs queries on the live graph, whose walks and
// scans are done in bulk by the graph (columns, adjacency read in place,
// Has() merged into Out()), and on a snapshot of it, which takes the
// per-node paths: the answers must be the same.
func TestLiveWalksEqualSnapshot(t *testing.T) {
	clock := graph.Time(1000)
	g := graph.New(graph.WithClock(func() graph.Time { clock++; return clock }))
	add := func(id string, md graph.Metadata) {
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: md}}); err != nil {
			t.Fatal(err)
		}
	}
	link := func(id, p, c, rel string) {
		if err := g.AddEdge(&graph.Edge{Element: graph.Element{ID: graph.Identifier(id), Metadata: graph.Metadata{"RelationType": rel}}, Parent: graph.Identifier(p), Child: graph.Identifier(c)}); err != nil {
			t.Fatal(err)
		}
	}
	for h := 0; h < 30; h++ {
		host := fmt.Sprintf("h%02d", h)
		add(host, graph.Metadata{"Type": "host", "Name": host})
		for i := 0; i < 6; i++ {
			id := fmt.Sprintf("%s-if%d", host, i)
			md := graph.Metadata{"Type": "veth", "Name": id, "IPV4": []any{fmt.Sprintf("10.%d.0.%d/24", h%3, i)}}
			switch i % 3 {
			case 0:
				md["MTU"] = int64(1500)
			case 1:
				md["MTU"] = nil // null, not absent
			}
			add(id, md)
			link(id+"-own", host, id, "ownership")
			if i > 0 {
				link(id+"-l2", fmt.Sprintf("%s-if%d", host, i-1), id, "layer2")
			}
		}
		if h > 0 {
			link(host+"-peer", host, fmt.Sprintf("h%02d-if0", h-1), "layer2")
		}
	}
	// Updated and deleted elements, so that columns and adjacency have
	// followed changes.
	if err := g.UpdateNodeMetadata("h03-if3", func(m graph.Metadata) bool { m["MTU"] = int64(9000); return true }); err != nil {
		t.Fatal(err)
	}
	if err := g.UpdateEdgeMetadata("h04-if2-l2", func(m graph.Metadata) bool { m["RelationType"] = "vlan"; return true }); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteNode("h05-if1"); err != nil {
		t.Fatal(err)
	}
	snap := graph.NewSnapshot()
	for _, n := range g.Nodes() {
		snap.AddNode(n)
	}
	for _, e := range g.Edges() {
		snap.AddEdge(e)
	}
	snap.Finish()

	for _, q := range []string{
		"G.V().Out()",
		"G.V().In()",
		"G.V().Both()",
		"G.V().Has('Type', 'host').Out()",
		"G.V().Has('Name', 'h01-if2').Both()",
		"G.V().OutE()",
		"G.V().Has('Type', 'veth').InE()",
		"G.V().Has('Name', 'h04-if2').BothE()",
		"G.V().Has('Type', 'host').OutE('RelationType', 'layer2')",
		"G.V().Has('Type', 'host').Out().Has('MTU', 1500)",
		"G.V().Has('Type', 'host').Out().Has('MTU', NE(1500)).Count()",
		"G.V().Has('Type', 'host').Out('Type', 'veth').Has('MTU').Has('Name', REGEX('.*if[0-3]'))",
		"G.V().Has('Type', 'host').Out().HasNot('MTU')",
		"G.V().Has('Type', 'host').Out().HasEither('MTU', 9000, 'Name', 'h07-if4')",
		"G.V().Has('Type', 'host').Out().As('a').Has('MTU', 1500).Select('a').Count()",
		"G.V().Has('Type', 'host').Out().Has('@ID', 'h02-if1')",
		"G.V().Has('Type', 'veth').In().Out().Out().Count()",
		"G.V().Has('MTU', NE(1500))",
		"G.V().Has('MTU', GT(1400)).Count()",
		"G.V().HasKey('MTU').Count()",
		"G.V().HasNot('MTU').Count()",
		"G.V().Has('IPV4', IPV4RANGE('10.1.0.0/16')).Count()",
		"G.V().Has('IPV4', IPV4RANGE('10.1.0.0/16'), 'Type', 'veth', 'MTU', 1500)",
		"G.V().Has('Metadata.MTU', 1500).Count()",
		"G.V().Has('Type', 'host').Descendants()",
		"G.V().Has('Name', 'h03').Descendants(0)",
		"G.V().Has('Name', 'h04-if3').Ascendants()",
		"G.V().Has('Name', 'h04-if3').Neighbors(2)",
		"G.V().Has('Name', 'h09').Neighbors('RelationType', 'layer2', 0)",
		"G.V().Has('Type', 'veth').Neighbors('RelationType', 'layer2', 3).Count()",
	} {
		t.Run(q, func(t *testing.T) {
			cq, err := eval.Compile(q)
			if err != nil {
				t.Fatal(err)
			}
			run := func(v graph.View) string {
				res, err := cq.Run(context.Background(), eval.Env{Graph: v})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(res)
				return string(b)
			}
			live, slow := run(g), run(snap)
			if live != slow {
				t.Errorf("live graph:\n%.600s\nsnapshot:\n%.600s", live, slow)
			}
			if live == "[]" || live == "0" {
				t.Errorf("the query selects nothing, it proves nothing")
			}
		})
	}
}

// TestColumnsFollowChanges: the columns (and the parsed addresses) a first
// query builds are kept in step with the updates, additions and deletions
// made after it.
func TestColumnsFollowChanges(t *testing.T) {
	clock := graph.Time(1000)
	g := graph.New(graph.WithClock(func() graph.Time { clock++; return clock }))
	for i := 0; i < 50; i++ {
		md := graph.Metadata{"Type": "veth", "MTU": int64(1500), "IPV4": []any{fmt.Sprintf("10.%d.0.1/24", i%5)}}
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("n%02d", i)), Metadata: md}}); err != nil {
			t.Fatal(err)
		}
	}
	queries := []string{
		"G.V().Has('IPV4', IPV4RANGE('10.1.0.0/16'))",
		"G.V().Has('MTU', NE(1500))",
		"G.V().HasNot('IPV4')",
	}
	run := func(v graph.View) []string {
		var out []string
		for _, q := range queries {
			cq, err := eval.Compile(q)
			if err != nil {
				t.Fatal(err)
			}
			res, err := cq.Run(context.Background(), eval.Env{Graph: v})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(res)
			out = append(out, string(b))
		}
		return out
	}
	run(g) // builds the columns
	steps := []func() error{
		func() error {
			return g.UpdateNodeMetadata("n02", func(m graph.Metadata) bool { m["IPV4"] = "10.1.9.9"; m["MTU"] = int64(9000); return true })
		},
		func() error {
			return g.UpdateNodeMetadata("n01", func(m graph.Metadata) bool { delete(m, "IPV4"); return true })
		},
		func() error { return g.DeleteNode("n06") },
		func() error {
			return g.AddNode(&graph.Node{Element: graph.Element{ID: "late", Metadata: graph.Metadata{"IPV4": []any{"x", "10.1.0.7/8"}, "MTU": int64(1450)}}})
		},
		func() error {
			// Created before the others: the order is sorted again.
			return g.AddNode(&graph.Node{Element: graph.Element{ID: "early", CreatedAt: 5, Metadata: graph.Metadata{"IPV4": "10.1.0.8"}}})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		snap := graph.NewSnapshot()
		for _, n := range g.Nodes() {
			snap.AddNode(n)
		}
		snap.Finish()
		live, slow := run(g), run(snap)
		for j := range live {
			if live[j] != slow[j] {
				t.Errorf("after change %d, %s:\nlive %.400s\nsnapshot %.400s", i, queries[j], live[j], slow[j])
			}
		}
	}
}

// TestWalkAllocationBudget: on the live graph, Out/In/Both, the edge steps
// and the level walks allocate per query, not per node (issue 14: 117k
// allocations for Out() over 80k nodes before).
func TestWalkAllocationBudget(t *testing.T) {
	g := graph.New()
	for i := 0; i < 3000; i++ {
		md := graph.Metadata{"Type": "veth", "MTU": int64(1500 + i%2)}
		if i%3 == 0 {
			md["Type"] = "netns"
		}
		if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("n%04d", i)), Metadata: md}}); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			e := &graph.Edge{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("e%04d", i)), Metadata: graph.Metadata{"RelationType": "ownership"}},
				Parent: graph.Identifier(fmt.Sprintf("n%04d", i-i%3)), Child: graph.Identifier(fmt.Sprintf("n%04d", i))}
			if err := g.AddEdge(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{
		"G.V().Has('Type', 'netns').Out().Count()",
		"G.V().Has('Type', 'netns').Out().Has('MTU', 1501).Count()",
		"G.V().Has('Type', 'veth').In().Count()",
		"G.V().Has('Type', 'veth').Both().Count()",
		"G.V().Has('Type', 'netns').OutE('RelationType', 'ownership').Count()",
		"G.V().Has('Type', 'netns').Descendants().Count()",
		"G.V().Has('MTU', NE(1500)).Count()",
	} {
		cq, err := eval.Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		env := eval.Env{Graph: g}
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := cq.Run(context.Background(), env); err != nil {
				t.Fatal(err)
			}
		})
		// 1,000 to 2,000 nodes each: a per-node allocation would show.
		if allocs > 60 {
			t.Errorf("%s: %.0f allocations", q, allocs)
		}
	}
}
