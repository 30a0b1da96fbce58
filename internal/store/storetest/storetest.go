// Package storetest holds the test suites every store backend runs: the
// flow suite (flowstore.TestSuite through a store.Store) and the topology
// suite (compared with history.Store, the in-memory reference), plus the
// shared benchmarks.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/history"
	"github.com/skydive-ng/skydive/internal/store"
)

// NewStore returns an empty store over a fresh backend with the given
// options.
type NewStore func(t testing.TB, opts store.Options) *store.Store

// FlowSuite runs flowstore.TestSuite and the condition tests on stores made
// by newStore.
func FlowSuite(t *testing.T, newStore NewStore) {
	t.Run("flowstore", func(t *testing.T) {
		flowstore.TestSuite(t, func() flowstore.Store { return newStore(t, store.Options{}) })
	})
	t.Run("Conds", func(t *testing.T) { suiteConds(t, newStore(t, store.Options{})) })
	t.Run("QueueFull", func(t *testing.T) { suiteQueueFull(t, newStore(t, store.Options{QueueFlows: 100})) })
}

func suiteQueueFull(t *testing.T, s *store.Store) {
	defer s.Close()
	now := time.Now()
	var fs []*flow.Flow
	for i := range 1000 {
		fs = append(fs, flowstore.SuiteFlow(fmt.Sprintf("q%04d", i), "n", "c", now, now, 1))
	}
	err := s.Insert(context.Background(), fs)
	if !errors.Is(err, store.ErrQueueFull) {
		t.Fatalf("Insert of 1000 flows in a queue of 100: %v, want ErrQueueFull", err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if st.DroppedFlows != 900 || st.WrittenFlows != 100 {
		t.Errorf("status %+v, want 900 dropped and 100 written", st)
	}
	if got := s.Stats().Flows; got != 100 {
		t.Errorf("%d flows stored, want 100", got)
	}
}

func suiteConds(t *testing.T, s *store.Store) {
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	var batch []*flow.Flow
	for i := range 30 {
		f := flowstore.SuiteFlow(fmt.Sprintf("u%02d", i), fmt.Sprintf("n%d", i%3), "c", now.Add(-time.Minute), now, int64(i))
		f.Network.A = fmt.Sprintf("10.0.0.%d", i%5)
		f.Metric.ABPackets = int64(i)
		batch = append(batch, f)
	}
	if err := s.Insert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	w := &flowstore.Window{From: now.Add(-time.Hour), To: now}
	tests := []struct {
		name  string
		conds []store.Cond
		want  int
	}{
		{"eq indexed", []store.Cond{{Field: "Network.A", Op: store.Eq, Values: []any{"10.0.0.1"}}}, 6},
		{"in indexed", []store.Cond{{Field: "Network.A", Op: store.In, Values: []any{"10.0.0.1", "10.0.0.2"}}}, 12},
		{"eq and range", []store.Cond{{Field: "Network.A", Op: store.Eq, Values: []any{"10.0.0.1"}}, {Field: "Metric.ABPackets", Op: store.Ge, Values: []any{10}}}, 4},
		{"range only", []store.Cond{{Field: "Metric.ABPackets", Op: store.Lt, Values: []any{int64(5)}}}, 5},
		{"ne", []store.Cond{{Field: "NodeTID", Op: store.Ne, Values: []any{"n0"}}}, 20},
		{"protocol", []store.Cond{{Field: "Network.Protocol", Op: store.Eq, Values: []any{"IPV4"}}, {Field: "ICMP.Type", Op: store.Eq, Values: []any{"ECHO"}}}, 30},
		{"no transport", []store.Cond{{Field: "Transport.A", Op: store.Ge, Values: []any{0}}}, 0},
	}
	for _, tc := range tests {
		got, err := s.FlowsWhere(ctx, store.FlowQuery{Query: flowstore.Query{Window: w}, Conds: tc.conds})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d flows, want %d", tc.name, len(got), tc.want)
		}
	}
	if _, err := s.FlowsWhere(ctx, store.FlowQuery{Conds: []store.Cond{{Field: "DNS.Questions", Op: store.Eq, Values: []any{"x"}}}}); err == nil {
		t.Errorf("a condition on a field that cannot be pushed down must fail")
	}
}

// TopologySuite checks a store's topology history against history.Store
// fed with the same graph.
func TopologySuite(t *testing.T, newStore NewStore) {
	t.Run("MatchesHistory", func(t *testing.T) { topoMatches(t, newStore, 0) })
	t.Run("MatchesHistoryWithCheckpoints", func(t *testing.T) { topoMatches(t, newStore, 20*time.Second) })
	t.Run("Prune", func(t *testing.T) { topoPrune(t, newStore) })
	t.Run("NeverBlocks", func(t *testing.T) { topoNeverBlocks(t, newStore) })
	t.Run("BulkRowsKept", func(t *testing.T) { topoBulkRowsKept(t, newStore) })
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// randomGraph applies steps random changes to g, advancing clk by a second
// each, calling tick after each step.
func randomGraph(g *graph.Graph, clk *clock, steps int, seed uint64, tick func()) {
	r := rand.New(rand.NewPCG(seed, seed))
	var nodes, edges []graph.Identifier
	for i := range steps {
		clk.add(time.Second)
		switch op := r.IntN(10); {
		case op < 3 || len(nodes) < 2:
			id := graph.Identifier(fmt.Sprintf("n%d", i))
			g.AddNode(&graph.Node{Element: graph.Element{ID: id, Host: "h", Metadata: graph.Metadata{"Name": string(id), "Type": []string{"netns", "veth", "bridge"}[i%3], "MTU": 1500}}})
			nodes = append(nodes, id)
		case op < 6:
			id := nodes[r.IntN(len(nodes))]
			g.UpdateNodeMetadata(id, func(m graph.Metadata) bool { m["MTU"] = int64(1000 + i); return true })
		case op < 8:
			a, b := nodes[r.IntN(len(nodes))], nodes[r.IntN(len(nodes))]
			id := graph.Identifier(fmt.Sprintf("e%d", i))
			if g.AddEdge(&graph.Edge{Element: graph.Element{ID: id, Metadata: graph.Metadata{"RelationType": "ownership"}}, Parent: a, Child: b}) == nil {
				edges = append(edges, id)
			}
		case op < 9 && len(edges) > 0:
			j := r.IntN(len(edges))
			g.DeleteEdge(edges[j])
			edges = slices.Delete(edges, j, j+1)
		default:
			j := r.IntN(len(nodes))
			g.DeleteNode(nodes[j])
			nodes = slices.Delete(nodes, j, j+1)
		}
		if tick != nil {
			tick()
		}
	}
}

func describe(v graph.View) string {
	var b strings.Builder
	for _, n := range v.Nodes() {
		fmt.Fprintf(&b, "N %s r%d %v\n", n.ID, n.Revision, n.Metadata["MTU"])
	}
	for _, e := range v.Edges() {
		fmt.Fprintf(&b, "E %s r%d %s->%s\n", e.ID, e.Revision, e.Parent, e.Child)
	}
	for _, n := range v.Nodes() {
		if x := v.Node(n.ID); x != nil {
			fmt.Fprintf(&b, "last %s r%d out=%d in=%d\n", x.ID, x.Revision, len(v.OutEdges(n.ID)), len(v.InEdges(n.ID)))
		}
	}
	if ns, ok := v.NodesByIndex(graph.KeyType, "veth"); ok {
		fmt.Fprintf(&b, "veth %d\n", len(ns))
	}
	return b.String()
}

func topoMatches(t *testing.T, newStore NewStore, ckpt time.Duration) {
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	opts := store.Options{Now: clk.now}
	if ckpt > 0 {
		opts.CheckpointInterval = ckpt
	}
	s := newStore(t, opts)
	defer s.Close()
	g := graph.New(graph.WithClock(func() graph.Time { return graph.TimeOf(clk.now()) }))
	h := history.New(history.Options{})
	defer h.Attach(g)()
	defer s.Attach(g)()
	t0 := clk.now()
	lastCkpt := clk.now()
	randomGraph(g, clk, 300, 1, func() {
		if ckpt > 0 && clk.now().Sub(lastCkpt) >= ckpt/2 {
			s.Checkpoint(clk.now())
			lastCkpt = clk.now()
		}
	})
	end := clk.now()
	if n := len(h.At(end).Nodes()); n < 10 {
		t.Fatalf("the random graph has only %d nodes", n)
	}
	for at := t0; !at.After(end.Add(2 * time.Second)); at = at.Add(7 * time.Second) {
		if got, want := describe(s.At(at)), describe(h.At(at)); got != want {
			t.Fatalf("At(%v):\ngot:\n%s\nwant:\n%s", at.Sub(t0), got, want)
		}
	}
	for _, w := range [][2]time.Duration{{0, 10 * time.Second}, {30 * time.Second, 95 * time.Second}, {100 * time.Second, 101 * time.Second}, {250 * time.Second, 400 * time.Second}, {0, 400 * time.Second}} {
		from, to := t0.Add(w[0]), t0.Add(w[1])
		if got, want := describe(s.Window(from, to)), describe(h.Window(from, to)); got != want {
			t.Fatalf("Window(%v, %v):\ngot:\n%s\nwant:\n%s", w[0], w[1], got, want)
		}
	}
}

func topoPrune(t *testing.T, newStore NewStore) {
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	s := newStore(t, store.Options{Now: clk.now, TopologyRetention: time.Hour, CheckpointInterval: 10 * time.Minute})
	defer s.Close()
	g := graph.New(graph.WithClock(func() graph.Time { return graph.TimeOf(clk.now()) }))
	defer s.Attach(g)()
	g.AddNode(&graph.Node{Element: graph.Element{ID: "old", Metadata: graph.Metadata{"Type": "host"}}})
	g.AddNode(&graph.Node{Element: graph.Element{ID: "keep", Metadata: graph.Metadata{"Type": "host"}}})
	t0 := clk.now()
	clk.add(time.Minute)
	g.DeleteNode("old")
	// Three hours of checkpoints.
	for range 36 {
		clk.add(5 * time.Minute)
		s.Checkpoint(clk.now())
	}
	if n := len(s.At(t0.Add(30 * time.Second)).Nodes()); n != 2 {
		t.Fatalf("before prune: %d nodes at t0, want 2", n)
	}
	if err := s.Prune(context.Background(), clk.now()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.At(t0.Add(30 * time.Second)).Nodes()); n != 0 {
		t.Errorf("after prune: %d nodes at t0 (3 h ago, retention 1 h), want 0", n)
	}
	v := s.At(clk.now().Add(-30 * time.Minute))
	if len(v.Nodes()) != 1 || v.Node("keep") == nil {
		t.Errorf("after prune, 30 min ago: %v, want node keep", describe(v))
	}
}

func topoNeverBlocks(t *testing.T, newStore NewStore) {
	s := newStore(t, store.Options{QueueRevisions: 10})
	defer s.Close()
	n := &graph.Node{Element: graph.Element{ID: "x", CreatedAt: 1, UpdatedAt: 1, Revision: 1}}
	start := time.Now()
	for range 100000 {
		s.Handle(graph.Event{Type: graph.NodeUpdated, Node: n})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("100000 Handle calls took %v", d)
	}
	st := s.Status()
	if st.DroppedRevisions == 0 || st.WrittenRevisions+st.DroppedRevisions+uint64(st.QueuedRevisions) != 100000 {
		t.Errorf("status %+v: want drops counted, written+dropped+queued = 100000", st)
	}
}

// topoBulkRowsKept: the rows of Attach and of a checkpoint, many times
// the queue's size, are all written: they wait for room where graph
// events would be dropped.
func topoBulkRowsKept(t *testing.T, newStore NewStore) {
	const queue, nodes = 40, 1000
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	s := newStore(t, store.Options{Now: clk.now, QueueRevisions: queue})
	defer s.Close()
	g := graph.New(graph.WithClock(func() graph.Time { return graph.TimeOf(clk.now()) }))
	for i := range nodes {
		g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(fmt.Sprintf("n%d", i)), Metadata: graph.Metadata{"Type": "host"}}})
	}
	defer s.Attach(g)()
	clk.add(time.Minute)
	s.Checkpoint(clk.now())
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if st.DroppedRevisions != 0 || st.WrittenRevisions != 2*nodes {
		t.Errorf("status %+v: want %d rows written (attach and checkpoint), none dropped", st, 2*nodes)
	}
	if n := len(s.At(clk.now()).Nodes()); n != nodes {
		t.Errorf("At(now): %d nodes, want %d", n, nodes)
	}
}
