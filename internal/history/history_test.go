package history

import (
	"context"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
)

func ms(t int64) time.Time { return time.UnixMilli(t) }

func ids(ns []*graph.Node) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, string(n.ID)+"@"+string(rune('0'+n.Revision)))
	}
	return out
}

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRevisions(t *testing.T) {
	clock := graph.Time(100)
	g := graph.New(graph.WithClock(func() graph.Time { return clock }))
	// Elements present before attaching are recorded from their UpdatedAt.
	if err := g.AddNode(&graph.Node{Element: graph.Element{ID: "a", Metadata: graph.Metadata{"Type": "host", "Name": "a"}}}); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Retention: time.Second})
	detach := s.Attach(g)
	clock = 200
	_ = g.AddNode(&graph.Node{Element: graph.Element{ID: "b", Metadata: graph.Metadata{"Type": "veth", "Name": "b"}}})
	_ = g.AddEdge(&graph.Edge{Element: graph.Element{ID: "ab"}, Parent: "a", Child: "b"})
	clock = 300
	_ = g.SetNodeMetadata("b", graph.Metadata{"Type": "veth", "Name": "b", "MTU": 1500})
	clock = 400
	_ = g.DeleteNode("b")
	clock = 500

	tests := []struct {
		at   int64
		want []string
	}{
		{99, []string{}},
		{100, []string{"a@1"}},
		{200, []string{"a@1", "b@1"}},
		{299, []string{"a@1", "b@1"}},
		{300, []string{"a@1", "b@2"}},
		{399, []string{"a@1", "b@2"}},
		{400, []string{"a@1"}},
	}
	for _, tt := range tests {
		v := s.At(ms(tt.at))
		if got := ids(v.Nodes()); !eq(got, tt.want) {
			t.Errorf("At(%d) = %v, want %v", tt.at, got, tt.want)
		}
	}
	v := s.At(ms(250))
	if len(v.OutEdges("a")) != 1 || len(v.InEdges("b")) != 1 || v.Edge("ab") == nil || len(v.Edges()) != 1 {
		t.Error("edge missing at 250")
	}
	if ns, ok := v.NodesByIndex("Type", "veth"); !ok || len(ns) != 1 {
		t.Error("index by type")
	}
	if ns, ok := v.NodesByIndex("Name", "a"); !ok || len(ns) != 1 {
		t.Error("index by name")
	}
	if _, ok := v.NodesByIndex("MTU", "1"); ok {
		t.Error("MTU is not indexed")
	}
	if len(s.At(ms(450)).Edges()) != 0 {
		t.Error("edge deleted with its node")
	}
	// Window: every revision alive in it.
	w := s.Window(ms(250), ms(350))
	if got := ids(w.Nodes()); !eq(got, []string{"a@1", "b@1", "b@2"}) {
		t.Errorf("Window = %v", got)
	}
	if w.Node("b").Revision != 2 {
		t.Error("Node() is the last revision in the window")
	}
	if got := ids(s.Window(ms(400), ms(500)).Nodes()); !eq(got, []string{"a@1"}) {
		t.Errorf("Window after deletion = %v", got)
	}
	if len(s.NodeRevisions("b")) != 2 || len(s.EdgeRevisions("ab")) != 1 {
		t.Error("revisions")
	}

	// Retention: revisions that ended before now-retention go.
	if n := s.Prune(ms(1300)); n != 0 {
		t.Errorf("pruned %d too early", n)
	}
	if n := s.Prune(ms(1401)); n != 3 {
		t.Errorf("pruned %d, want 3 (b@1, b@2, ab)", n)
	}
	if n, e := s.Len(); n != 1 || e != 0 {
		t.Errorf("left %d nodes, %d edges", n, e)
	}
	detach()
	clock = 600
	_ = g.AddNode(&graph.Node{Element: graph.Element{ID: "c"}})
	if n, _ := s.Len(); n != 1 {
		t.Error("detached store still listens")
	}
}

func TestOutOfOrderAndSameMillisecond(t *testing.T) {
	s := New(Options{})
	n1 := &graph.Node{Element: graph.Element{ID: "x", UpdatedAt: 100, Revision: 1}}
	n2 := &graph.Node{Element: graph.Element{ID: "x", UpdatedAt: 100, Revision: 2}}
	n3 := &graph.Node{Element: graph.Element{ID: "x", UpdatedAt: 50, Revision: 3}} // clock skew
	s.Handle(graph.Event{Type: graph.NodeAdded, Node: n1})
	s.Handle(graph.Event{Type: graph.NodeUpdated, Node: n2})
	if r := s.NodeRevisions("x"); len(r) != 1 || r[0].Elem.Revision != 2 {
		t.Errorf("same-millisecond update: %+v", r)
	}
	s.Handle(graph.Event{Type: graph.NodeUpdated, Node: n3})
	if got := s.At(ms(100)).Node("x"); got == nil || got.Revision != 3 {
		t.Errorf("skewed update: %+v", got)
	}
	d := *n3
	d.DeletedAt = 40
	s.Handle(graph.Event{Type: graph.NodeDeleted, Node: &d})
	if s.At(ms(100)).Node("x") != nil {
		t.Error("deleted")
	}
	if s.Prune(ms(1000)) != 0 {
		t.Error("zero retention keeps everything")
	}
}

func TestRun(t *testing.T) {
	now := ms(0)
	s := New(Options{Retention: time.Millisecond, PruneInterval: time.Millisecond, Now: func() time.Time { return now }})
	s.Handle(graph.Event{Type: graph.NodeAdded, Node: &graph.Node{Element: graph.Element{ID: "x", UpdatedAt: 1}}})
	s.Handle(graph.Event{Type: graph.NodeDeleted, Node: &graph.Node{Element: graph.Element{ID: "x", DeletedAt: 2}}})
	now = ms(10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := s.Len(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not prune")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
