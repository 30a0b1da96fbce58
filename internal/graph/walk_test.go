package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// walkGraph is a random graph whose nodes are created out of order (so the
// creation order is sorted again), some updated, some deleted, with values
// absent, null, numbers and lists.
func walkGraph(t *testing.T, nodes, edges int) *Graph {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	g := New(WithClock(clock()))
	for i := 0; i < nodes; i++ {
		md := Metadata{"Type": []string{"veth", "netns", "host"}[i%3]}
		switch i % 4 {
		case 0:
			md["MTU"] = int64(1500)
		case 1:
			md["MTU"] = nil
		case 2:
			md["MTU"] = []any{int64(1450), "x"}
		}
		n := &Node{Element: Element{ID: Identifier(fmt.Sprintf("n%03d", i)), Metadata: md}}
		if i%5 == 0 {
			n.CreatedAt = Time(rnd.IntN(2000)) + 1 // out of order
		}
		must(t, g.AddNode(n))
	}
	for i := 0; i < edges; i++ {
		p, c := rnd.IntN(nodes), rnd.IntN(nodes)
		must(t, g.AddEdge(&Edge{Element: Element{ID: Identifier(fmt.Sprintf("e%03d", i)), Metadata: Metadata{"RelationType": []string{"ownership", "layer2"}[i%2]}},
			Parent: Identifier(fmt.Sprintf("n%03d", p)), Child: Identifier(fmt.Sprintf("n%03d", c))}))
	}
	for i := 0; i < nodes; i += 7 {
		must(t, g.UpdateNodeMetadata(Identifier(fmt.Sprintf("n%03d", i)), func(m Metadata) bool { m["MTU"] = int64(9000); return true }))
	}
	for i := 0; i < edges; i += 11 {
		must(t, g.UpdateEdgeMetadata(Identifier(fmt.Sprintf("e%03d", i)), func(m Metadata) bool { m["RelationType"] = "updated"; return true }))
	}
	for i := 3; i < nodes; i += 13 {
		must(t, g.DeleteNode(Identifier(fmt.Sprintf("n%03d", i))))
	}
	return g
}

// TestNeighborsEqualsEdgeLists checks the bulk walks against the per-node
// edge lists, on few starting nodes (sorted positions) and many (bitmap).
func TestNeighborsEqualsEdgeLists(t *testing.T) {
	g := walkGraph(t, 3000, 6000)
	// A self-loop, and a node with many edges deleted.
	must(t, g.AddEdge(&Edge{Element: Element{ID: "loop"}, Parent: "n010", Child: "n010"}))
	for i := 0; i < 300; i++ {
		if g.Node(Identifier(fmt.Sprintf("n%03d", 100+i))) == nil {
			continue
		}
		must(t, g.AddEdge(&Edge{Element: Element{ID: Identifier(fmt.Sprintf("hub%d", i))}, Parent: "n011", Child: Identifier(fmt.Sprintf("n%03d", 100+i))}))
	}
	must(t, g.DeleteNode("n011"))
	for i := 0; i < 300; i += 2 {
		if g.Edge(Identifier(fmt.Sprintf("e%03d", i))) != nil {
			must(t, g.DeleteEdge(Identifier(fmt.Sprintf("e%03d", i))))
		}
	}
	all, allEdges := g.Nodes(), g.Edges()
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	// A former revision of a node still has its edges.
	old := g.Node(all[100].ID)
	must(t, g.UpdateNodeMetadata(old.ID, func(m Metadata) bool { m["New"] = true; return true }))
	withStale := slices.Clone(all[:200])
	withStale = slices.Insert(withStale, 50, all[50], old)
	edgeOK := func(e *Edge) bool { return e.Metadata.String("RelationType") != "layer2" }
	nodeOK := func(n *Node) bool { return n.Metadata.String("Type") != "netns" }
	for _, tc := range []struct {
		name    string
		from    []*Node
		out, in bool
		edgeOK  func(*Edge) bool
		nodeOK  func(*Node) bool
	}{
		{"one out", all[:1], true, false, nil, nil},
		{"one in", all[10:11], false, true, nil, nil},
		{"few both filtered", all[20:23], true, true, edgeOK, nodeOK},
		{"many out", all, true, false, nil, nil},
		{"many both", all[:1500], true, true, nil, nil},
		{"many in filtered", all, false, true, edgeOK, nodeOK},
		{"none", nil, true, true, nil, nil},
		{"many unsorted", reversed, true, false, nil, nil},
		{"many, duplicates and a former revision", withStale, true, true, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wantN []*Node
			var wantE []*Edge
			seenN, seenE := map[Identifier]bool{}, map[Identifier]bool{}
			for _, n := range tc.from {
				type step struct {
					e   *Edge
					end Identifier
				}
				var steps []step
				// From the list of every edge, not the adjacency the
				// walks read.
				if tc.out {
					for _, e := range allEdges {
						if e.Parent == n.ID {
							steps = append(steps, step{e, e.Child})
						}
					}
				}
				if tc.in {
					for _, e := range allEdges {
						if e.Child == n.ID {
							steps = append(steps, step{e, e.Parent})
						}
					}
				}
				for _, st := range steps {
					e, end := st.e, st.end
					if tc.edgeOK != nil && !tc.edgeOK(e) {
						continue
					}
					if !seenE[e.ID] {
						seenE[e.ID] = true
						wantE = append(wantE, e)
					}
					if seenN[end] {
						continue
					}
					seenN[end] = true
					if m := g.Node(end); m != nil && (tc.nodeOK == nil || tc.nodeOK(m)) {
						wantN = append(wantN, m)
					}
				}
			}
			SortNodes(wantN)
			SortEdges(wantE)
			gotN := g.Neighbors(tc.from, tc.out, tc.in, tc.edgeOK, Where{Node: tc.nodeOK})
			if !slices.Equal(gotN, wantN) {
				t.Errorf("Neighbors: %d nodes, want %d", len(gotN), len(wantN))
			}
			gotE := g.IncidentEdges(tc.from, tc.out, tc.in, tc.edgeOK)
			if !slices.Equal(gotE, wantE) {
				t.Errorf("IncidentEdges: %d edges, want %d", len(gotE), len(wantE))
			}
		})
	}
}

// TestNodesWhereEqualsMaps checks column tests (absent keys, null values,
// lists, updated nodes) against the nodes' maps.
func TestNodesWhereEqualsMaps(t *testing.T) {
	g := walkGraph(t, 1000, 0)
	tests := []struct {
		name  string
		key   string
		match func(v any, present bool) bool
	}{
		{"absent", "MTU", func(v any, present bool) bool { return !present }},
		{"null", "MTU", func(v any, present bool) bool { return present && v == nil }},
		{"number", "MTU", func(v any, present bool) bool { return v == int64(9000) }},
		{"list", "MTU", func(v any, present bool) bool { _, ok := v.([]any); return ok }},
		{"never set key", "Nope", func(v any, present bool) bool { return !present }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []*Node
			for _, n := range g.Nodes() {
				v, ok := n.Metadata[tc.key]
				if tc.match(v, ok) {
					want = append(want, n)
				}
			}
			if len(want) == 0 && tc.name != "none" {
				t.Fatalf("the graph has no case %s", tc.name)
			}
			got := g.NodesWhere(Where{Columns: []ColumnTest{{Key: tc.key, Match: tc.match}}})
			if !slices.Equal(got, want) {
				t.Errorf("got %d nodes, want %d", len(got), len(want))
			}
		})
	}
	// Columns answer updates and additions made after they were built.
	must(t, g.UpdateNodeMetadata("n001", func(m Metadata) bool { delete(m, "MTU"); return true }))
	must(t, g.AddNode(&Node{Element: Element{ID: "late", Metadata: Metadata{"MTU": int64(9000)}}}))
	got := g.NodesWhere(Where{Columns: []ColumnTest{{Key: "MTU", Match: func(v any, present bool) bool { return !present }}}})
	if !slices.ContainsFunc(got, func(n *Node) bool { return n.ID == "n001" }) {
		t.Errorf("updated node not seen without MTU")
	}
	got = g.NodesWhere(Where{Columns: []ColumnTest{{Key: "MTU", Match: func(v any, present bool) bool { return v == int64(9000) }}}})
	if got[len(got)-1].ID != "late" {
		t.Errorf("added node not last: %v", got[len(got)-1].ID)
	}
}

// TestOrdinals: listed, switched to the bitmap on the way, or bitmap from
// the start, positions come back ascending and each once.
func TestOrdinals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, from int
		adds    []int
	}{
		{"listed", 10000, 1, []int{42, 7, 42, 9999, 0}},
		{"switched", 4096, 1, []int{4000, 3, 3, 17, 2048, 1}},
		{"bitmap", 5000, 100, []int{64, 63, 65, 4999, 0, 64}},
		{"small graph", 10, 0, []int{9, 1, 1}},
		{"none", 10000, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrdinals(tc.n, tc.from)
			for _, i := range tc.adds {
				o.add(i)
			}
			var got []int
			o.each(func(i int) { got = append(got, i) })
			want := slices.Compact(slices.Sorted(slices.Values(tc.adds)))
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestOrderFollowsChanges interleaves additions (in and out of creation
// order), updates, removals and re-additions of the same IDs with reads:
// the order, the columns and the positions the walks use must always be
// those of the current nodes.
func TestOrderFollowsChanges(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	g := New(WithClock(clock()))
	id := func(i int) Identifier { return Identifier(fmt.Sprintf("n%02d", i)) }
	isTen := func(v any, present bool) bool { return present && v == int64(10) }
	for step := 0; step < 3000; step++ {
		i := rnd.IntN(60)
		switch op := rnd.IntN(10); {
		case op < 4:
			n := &Node{Element: Element{ID: id(i), Metadata: Metadata{"V": int64(rnd.IntN(20)), "Type": fmt.Sprint("t", rnd.IntN(3))}}}
			if rnd.IntN(5) == 0 {
				n.CreatedAt = Time(rnd.IntN(5000)) + 1
			}
			if g.AddNode(n) == nil && i > 0 && g.Node(id(i-1)) != nil {
				must(t, g.AddEdge(&Edge{Element: Element{ID: Identifier(fmt.Sprintf("e%d", step))}, Parent: id(i - 1), Child: id(i)}))
			}
		case op < 6:
			_ = g.UpdateNodeMetadata(id(i), func(m Metadata) bool {
				m["V"] = int64(rnd.IntN(20))
				if rnd.IntN(3) == 0 {
					m["Type"] = fmt.Sprint("t", rnd.IntN(3))
				}
				return true
			})
		case op < 7:
			// A replication's revision, its creation time changed at times.
			if n := g.Node(id(i)); n != nil {
				c := n.Clone()
				if rnd.IntN(2) == 0 {
					c.CreatedAt = Time(rnd.IntN(5000)) + 1
				}
				c.Metadata["Type"] = fmt.Sprint("t", rnd.IntN(3))
				must(t, g.ReplaceNode(c))
			}
		default:
			_ = g.DeleteNode(id(i))
		}
		if rnd.IntN(4) != 0 {
			continue // several changes between reads
		}
		all := g.Nodes()
		if !slices.IsSortedFunc(all, func(a, b *Node) int {
			if a.CreatedAt != b.CreatedAt {
				return int(a.CreatedAt - b.CreatedAt)
			}
			return strings.Compare(string(a.ID), string(b.ID))
		}) {
			t.Fatalf("step %d: nodes out of order", step)
		}
		n, _ := g.Len()
		if len(all) != n {
			t.Fatalf("step %d: %d nodes listed, %d stored", step, len(all), n)
		}
		var want []*Node
		for _, n := range all {
			if g.Node(n.ID) != n {
				t.Fatalf("step %d: %s listed in a former revision", step, n.ID)
			}
			if v, ok := n.Metadata["V"]; isTen(v, ok) {
				want = append(want, n)
			}
		}
		for _, typ := range []string{"t0", "t1", "t2"} {
			var want []*Node
			for _, n := range all {
				if n.Metadata["Type"] == typ {
					want = append(want, n)
				}
			}
			if got, _ := g.NodesByIndex("Type", typ); !slices.Equal(got, want) {
				t.Fatalf("step %d: index of %s: %d nodes, want %d", step, typ, len(got), len(want))
			}
		}
		if got := g.NodesWhere(Where{Columns: []ColumnTest{{Key: "V", Match: isTen}}}); !slices.Equal(got, want) {
			t.Fatalf("step %d: column scan %d nodes, want %d", step, len(got), len(want))
		}
		var wantOut []*Node
		for _, e := range g.Edges() {
			wantOut = append(wantOut, g.Node(e.Child))
		}
		SortNodes(wantOut)
		wantOut = slices.Compact(wantOut)
		if got := g.Neighbors(all, true, false, nil, Where{}); !slices.Equal(got, wantOut) {
			t.Fatalf("step %d: Out() %d nodes, want %d", step, len(got), len(wantOut))
		}
	}
}

// TestWalksWhileWriting runs walks and scans while nodes come and go (for
// the race detector: positions and columns are rebuilt by readers, under
// the graph's read lock and the order's own mutex).
func TestWalksWhileWriting(t *testing.T) {
	g := walkGraph(t, 500, 1000)
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			where := Where{Columns: []ColumnTest{{Key: "MTU", Match: func(v any, present bool) bool { return present }}}}
			for {
				select {
				case <-done:
					return
				default:
				}
				all := g.Nodes()
				g.Neighbors(all, true, true, nil, where)
				g.IncidentEdges(all[:len(all)/2], true, false, nil)
				g.Reach(all[:3], true, true, nil, 0)
				g.NodesWhere(where)
			}
		}()
	}
	for i := 0; i < 400; i++ {
		id := Identifier(fmt.Sprintf("w%d", i))
		must(t, g.AddNode(&Node{Element: Element{ID: id, Metadata: Metadata{"MTU": int64(i)}}}))
		must(t, g.AddEdge(&Edge{Element: Element{ID: Identifier(fmt.Sprintf("we%d", i))}, Parent: "n000", Child: id}))
		if i%3 == 0 {
			must(t, g.DeleteNode(Identifier(fmt.Sprintf("w%d", i/2))))
		}
	}
	close(done)
	readers.Wait()
}

// TestColumnsBeyondTheBound: once the graph keeps maxColumns columns, a
// test on another key reads the nodes' maps, with the same answers.
func TestColumnsBeyondTheBound(t *testing.T) {
	g := walkGraph(t, 300, 600)
	isSet := func(v any, present bool) bool { return present }
	for i := 0; i < maxColumns; i++ {
		g.NodesWhere(Where{Columns: []ColumnTest{{Key: fmt.Sprint("K", i), Match: isSet}}})
	}
	absent := func(v any, present bool) bool { return !present }
	null := func(v any, present bool) bool { return present && v == nil }
	for _, match := range []func(any, bool) bool{absent, null} {
		var want []*Node
		for _, n := range g.Nodes() {
			if v, ok := n.Metadata["MTU"]; match(v, ok) {
				want = append(want, n)
			}
		}
		got := g.NodesWhere(Where{Columns: []ColumnTest{{Key: "MTU", Match: match}}})
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("got %d nodes, want %d", len(got), len(want))
		}
		got = g.Neighbors(g.Nodes(), true, true, nil, Where{Columns: []ColumnTest{{Key: "MTU", Match: match}}})
		wantN := g.Neighbors(g.Nodes(), true, true, nil, Where{Node: func(n *Node) bool { v, ok := n.Metadata["MTU"]; return match(v, ok) }})
		if len(wantN) == 0 || !slices.Equal(got, wantN) {
			t.Errorf("neighbours: %d nodes, want %d", len(got), len(wantN))
		}
	}
}
