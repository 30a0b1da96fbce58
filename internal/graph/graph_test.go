package graph

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func clock() func() Time {
	t := Time(1000)
	return func() Time { t++; return t }
}

func TestNodeLifecycleEventsAndIndexes(t *testing.T) {
	g := New(WithClock(clock()))
	var events []EventType
	g.AddListener(func(ev Event) { events = append(events, ev.Type) })

	must(t, g.AddNode(&Node{Element: Element{ID: "a", Metadata: Metadata{"Type": "veth", "Name": "v1", "MTU": 1500}}}))
	must(t, g.AddNode(&Node{Element: Element{ID: "b", Metadata: Metadata{"Type": "netns", "Name": "ns"}}}))
	must(t, g.AddEdge(&Edge{Element: Element{ID: "e", Metadata: Metadata{"RelationType": "ownership"}}, Parent: "b", Child: "a"}))
	if err := g.AddNode(&Node{Element: Element{ID: "a"}}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate node: %v", err)
	}
	if err := g.AddEdge(&Edge{Element: Element{ID: "x"}, Parent: "b", Child: "nope"}); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("edge to a missing node: %v", err)
	}

	n := g.Node("a")
	if n.Revision != 1 || n.CreatedAt == 0 || n.Metadata["MTU"] != int64(1500) {
		t.Fatalf("stored node %+v", n)
	}
	must(t, g.UpdateNodeMetadata("a", func(m Metadata) bool { m["MTU"] = 1450; m["Name"] = "v2"; return true }))
	// No change, no new revision.
	must(t, g.UpdateNodeMetadata("a", func(m Metadata) bool { m["MTU"] = int64(1450); return true }))
	n2 := g.Node("a")
	if n2.Revision != 2 || n.Metadata["MTU"] != int64(1500) {
		t.Fatalf("revision %d, old copy changed to %v", n2.Revision, n.Metadata["MTU"])
	}
	if got, _ := g.NodesByIndex("Name", "v1"); len(got) != 0 {
		t.Fatalf("old name still indexed")
	}
	if got, _ := g.NodesByIndex("Name", "v2"); len(got) != 1 {
		t.Fatalf("new name not indexed")
	}
	if got, _ := g.NodesByIndex("Type", "veth"); len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("type index %v", got)
	}
	if _, ok := g.NodesByIndex("MTU", "1"); ok {
		t.Fatalf("MTU is not indexed")
	}
	if len(g.OutEdges("b")) != 1 || len(g.InEdges("a")) != 1 {
		t.Fatalf("adjacency")
	}
	must(t, g.DeleteNode("b"))
	if g.Edge("e") != nil || len(g.InEdges("a")) != 0 {
		t.Fatalf("edge of a deleted node kept")
	}
	want := []EventType{NodeAdded, NodeAdded, EdgeAdded, NodeUpdated, EdgeDeleted, NodeDeleted}
	if len(events) != len(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %v, want %v", events, want)
		}
	}
}

func TestDeleteWhereAndSnapshot(t *testing.T) {
	g := New()
	for _, id := range []Identifier{"1", "2", "3"} {
		origin := "agent.h1"
		if id == "3" {
			origin = "agent.h2"
		}
		must(t, g.AddNode(&Node{Element: Element{ID: id, Origin: origin}}))
	}
	must(t, g.AddEdge(&Edge{Element: Element{ID: "e", Origin: "agent.h2"}, Parent: "1", Child: "3"}))
	var seen []Event
	nodes, edges, remove := g.SnapshotAndListen(func(ev Event) { seen = append(seen, ev) })
	if len(nodes) != 3 || len(edges) != 1 {
		t.Fatalf("snapshot %d %d", len(nodes), len(edges))
	}
	if n := g.DeleteWhere(func(e *Element) bool { return e.Origin == "agent.h1" }); n != 2 {
		t.Fatalf("deleted %d", n)
	}
	remove()
	must(t, g.AddNode(&Node{Element: Element{ID: "4"}}))
	if len(seen) != 3 { // edge + 2 nodes, nothing after remove
		t.Fatalf("events %d", len(seen))
	}
	if nn, ne := g.Len(); nn != 2 || ne != 0 {
		t.Fatalf("left %d nodes %d edges", nn, ne)
	}
}

func TestMetadataGetAndJSON(t *testing.T) {
	var m Metadata
	if err := json.Unmarshal([]byte(`{"MTU": 1500, "Speed": 1.5, "ExtID": {"vm-id": "x"}, "Labels": {"a.b": "c"},
		"Captures": [{"ID": "c1"}, {"ID": "c2"}], "IPV4": ["10.0.0.1/24"]}`), &m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want any
		ok   bool
	}{
		{"MTU", int64(1500), true},
		{"Speed", 1.5, true},
		{"ExtID.vm-id", "x", true},
		{"Labels.a.b", "c", true},
		{"Nope", nil, false},
		{"ExtID.nope", nil, false},
	} {
		got, ok := m.Get(tc.path)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Get(%q) = %v %v, want %v %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	caps, ok := m.Get("Captures.ID")
	if l, _ := caps.([]any); !ok || len(l) != 2 {
		t.Errorf("Captures.ID = %v", caps)
	}
	if !m.Equal(Metadata{"MTU": 1500, "Speed": 1.5, "ExtID": map[string]string{"vm-id": "x"}, "Labels": map[string]any{"a.b": "c"},
		"Captures": []map[string]any{{"ID": "c1"}, {"ID": "c2"}}, "IPV4": []string{"10.0.0.1/24"}}) {
		t.Errorf("typed and decoded metadata differ")
	}
	b, _ := json.Marshal(&Node{Element: Element{ID: "n", CreatedAt: 5}})
	want := `{"ID":"n","Metadata":null,"Host":"","Origin":"","CreatedAt":5,"UpdatedAt":null,"DeletedAt":null,"Revision":0}`
	if string(b) != want {
		t.Errorf("node JSON\n got %s\nwant %s", b, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A host leaving with many interfaces: DeleteWhere takes them and their
// edges in time linear in their number (no search of the host's list per
// edge), and leaves nothing behind.
func BenchmarkDeleteWhereHub(b *testing.B) {
	for range b.N {
		b.StopTimer()
		g := New()
		g.AddNode(&Node{Element: Element{ID: "host", Origin: "agent.h"}})
		for i := range 20000 {
			id := Identifier("n" + strconv.Itoa(i))
			g.AddNode(&Node{Element: Element{ID: id, Origin: "agent.h"}})
			g.AddEdge(&Edge{Parent: "host", Child: id, Element: Element{ID: "e" + id, Origin: "agent.h"}})
		}
		b.StartTimer()
		if n := g.DeleteWhere(func(e *Element) bool { return e.Origin == "agent.h" }); n != 20001 || len(g.Nodes()) != 0 || len(g.Edges()) != 0 {
			b.Fatalf("deleted %d, left %d nodes %d edges", n, len(g.Nodes()), len(g.Edges()))
		}
	}
}

// TestAdjacency: a node's out and in edges stay those of the graph's
// edges through additions and removals in any order, self-loops included.
func TestAdjacency(t *testing.T) {
	g := New()
	const nodes = 6
	for i := range nodes {
		must(t, g.AddNode(&Node{Element: Element{ID: Identifier(fmt.Sprint("n", i))}}))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[Identifier]*Edge{}
	for step := range 3000 {
		if len(live) > 0 && rng.IntN(3) == 0 {
			for id := range live {
				must(t, g.DeleteEdge(id))
				delete(live, id)
				break
			}
		} else {
			e := &Edge{Element: Element{ID: Identifier(fmt.Sprint("e", step))},
				Parent: Identifier(fmt.Sprint("n", rng.IntN(nodes))), Child: Identifier(fmt.Sprint("n", rng.IntN(nodes)))}
			must(t, g.AddEdge(e))
			live[e.ID] = e
		}
		if step%97 != 0 {
			continue
		}
		for i := range nodes {
			id := Identifier(fmt.Sprint("n", i))
			wantOut, wantIn := 0, 0
			for _, e := range live {
				if e.Parent == id {
					wantOut++
				}
				if e.Child == id {
					wantIn++
				}
			}
			out, in := g.OutEdges(id), g.InEdges(id)
			if len(out) != wantOut || len(in) != wantIn {
				t.Fatalf("step %d, %s: %d out %d in, want %d %d", step, id, len(out), len(in), wantOut, wantIn)
			}
			for _, e := range out {
				if e.Parent != id || live[e.ID] == nil {
					t.Fatalf("step %d, %s: out edge %s", step, id, e.ID)
				}
			}
			for _, e := range in {
				if e.Child != id || live[e.ID] == nil {
					t.Fatalf("step %d, %s: in edge %s", step, id, e.ID)
				}
			}
		}
	}
	for i := range nodes {
		must(t, g.DeleteNode(Identifier(fmt.Sprint("n", i))))
	}
	if n, e := g.Len(); n != 0 || e != 0 {
		t.Fatalf("left %d nodes, %d edges", n, e)
	}
}

// TestCreationOrderOutOfOrderAdditions: nodes added out of creation order
// (ties within a millisecond, older nodes), removed and updated, are
// listed, scanned by column and reached by edges in creation order, their
// positions right, whether they were inserted in place or sorted again.
func TestCreationOrderOutOfOrderAdditions(t *testing.T) {
	clock := Time(1_700_000_000_000)
	g := New(WithClock(func() Time { return clock }))
	must(t, g.AddNode(&Node{Element: Element{ID: "hub", CreatedAt: 1}}))
	rng := rand.New(rand.NewPCG(3, 4))
	live := map[Identifier]*Node{}
	isTap := func(v any, present bool) bool { return present && v == "tap" }
	for step := range 4000 {
		switch r := rng.IntN(20); {
		case r < 2 && len(live) > 0:
			for id := range live {
				must(t, g.DeleteNode(id))
				delete(live, id)
				break
			}
		case r < 3 && len(live) > 0:
			for id, n := range live {
				c := n.Clone()
				c.Metadata["Type"] = "veth"
				must(t, g.ReplaceNode(c))
				live[id] = g.Node(id)
				break
			}
		default:
			created := clock
			switch rng.IntN(10) {
			case 0:
				created -= Time(rng.IntN(5000)) // far back
			case 1, 2:
				clock++
				created = clock
			}
			id := Identifier(fmt.Sprintf("n%06d", rng.IntN(1_000_000)))
			if live[id] != nil || g.Node(id) != nil {
				continue
			}
			must(t, g.AddNode(&Node{Element: Element{ID: id, CreatedAt: created, Metadata: Metadata{"Type": "tap"}}}))
			must(t, g.AddEdge(&Edge{Element: Element{ID: "e" + id}, Parent: "hub", Child: id}))
			live[id] = g.Node(id)
		}
		if step%3 != 0 {
			continue // some steps without a read between them: removals leave holes
		}
		var want []*Node
		for _, n := range live {
			want = append(want, n)
		}
		slices.SortFunc(want, func(a, b *Node) int {
			if c := cmp.Compare(a.CreatedAt, b.CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		all := g.Nodes()
		if len(all) != len(want)+1 || all[0].ID != "hub" {
			t.Fatalf("step %d: %d nodes, want %d and the hub first", step, len(all), len(want)+1)
		}
		for i, n := range want {
			if all[i+1] != n {
				t.Fatalf("step %d: node %d is %s, want %s", step, i+1, all[i+1].ID, n.ID)
			}
		}
		// The positions walks use, kept in the adjacencies.
		for i, n := range all {
			if sl := g.nodes.at(n.ID); sl.x.ord != i || g.nodes.xs[i] != sl.x {
				t.Fatalf("step %d: node %s at %d has position %d", step, n.ID, i, sl.x.ord)
			}
		}
		var wantTaps []Identifier
		for _, n := range want {
			if n.Metadata["Type"] == "tap" {
				wantTaps = append(wantTaps, n.ID)
			}
		}
		var gotTaps []Identifier
		for _, n := range g.NodesWhere(Where{Columns: []ColumnTest{{Key: "Type", Match: isTap}}}) {
			gotTaps = append(gotTaps, n.ID)
		}
		if !slices.Equal(gotTaps, wantTaps) {
			t.Fatalf("step %d: column scan %v, want %v", step, gotTaps, wantTaps)
		}
		children := g.Neighbors([]*Node{g.Node("hub")}, true, false, nil, Where{})
		if len(children) != len(want) {
			t.Fatalf("step %d: %d children of the hub, want %d", step, len(children), len(want))
		}
		for i, n := range want {
			if children[i] != n {
				t.Fatalf("step %d: child %d is %s, want %s", step, i, children[i].ID, n.ID)
			}
		}
	}
}
