package rules

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/resource"
	"github.com/skydive-ng/skydive/internal/testutil"
	"github.com/skydive-ng/skydive/internal/topology"
)

func newManager(t *testing.T, g *graph.Graph, file string) *Manager {
	t.Helper()
	m, err := New(Options{Graph: g, Host: "an1", Origin: "analyzer.an1", File: file, Debounce: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return")
		}
	})
}

func addNode(t *testing.T, g *graph.Graph, id string, m graph.Metadata) {
	t.Helper()
	if err := g.AddNode(&graph.Node{Element: graph.Element{ID: graph.Identifier(id), Metadata: m, Host: "h1", Origin: "agent.h1"}}); err != nil {
		t.Fatal(err)
	}
}

func TestNodeRuleCreateAndDelete(t *testing.T) {
	g := graph.New()
	m := newManager(t, g, "")
	r, err := m.CreateNodeRule(context.Background(), &v1.NodeRule{Name: "tor", Metadata: map[string]any{"Name": "tor1", "Type": "switch", "Vendor": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != v1.NodeRuleCreate || r.UUID == "" {
		t.Fatalf("created %+v: want a UUID and the create action", r)
	}
	id := topology.GenID("switch", "tor1")
	n := g.Node(id)
	if n == nil {
		t.Fatal("rule's node not in the graph when the rule is created")
	}
	if n.Host != "an1" || n.Origin != "analyzer.an1" || n.Metadata.String("Vendor") != "x" {
		t.Errorf("node %+v: want the analyzer's, with the rule's metadata", n.Element)
	}
	if _, err := m.CreateNodeRule(context.Background(), &v1.NodeRule{Metadata: map[string]any{"Name": "tor1", "Type": "switch"}}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("same node twice: %v", err)
	}
	if err := m.DeleteNodeRule(context.Background(), r.UUID); err != nil {
		t.Fatal(err)
	}
	if g.Node(id) != nil {
		t.Error("node kept after its rule was deleted")
	}
	if err := m.DeleteNodeRule(context.Background(), r.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestNodeRuleUpdateLateNodeAndDelete(t *testing.T) {
	g := graph.New()
	addNode(t, g, "ns1", graph.Metadata{"Name": "ns-a", "Type": "netns"})
	addNode(t, g, "eth", graph.Metadata{"Name": "eth0", "Type": "device"})
	m := newManager(t, g, "")
	run(t, m)
	r, err := m.CreateNodeRule(context.Background(), &v1.NodeRule{Action: "update", Query: "G.V().Has('Type','netns')",
		Metadata: map[string]any{"Tenant": "blue", "Level": 3}})
	if err != nil {
		t.Fatal(err)
	}
	has := func(id string) bool {
		n := g.Node(graph.Identifier(id))
		return n != nil && n.Metadata.String("Tenant") == "blue" && n.Metadata["Level"] == int64(3)
	}
	testutil.EventuallyTrue(t, 5*time.Second, "existing netns updated", func() bool { return has("ns1") })
	addNode(t, g, "ns2", graph.Metadata{"Name": "ns-b", "Type": "netns"})
	testutil.EventuallyTrue(t, 5*time.Second, "late netns updated", func() bool { return has("ns2") })
	// An agent's update drops the metadata: the rule puts it back.
	if err := g.SetNodeMetadata("ns2", graph.Metadata{"Name": "ns-b", "Type": "netns", "Extra": 1}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 5*time.Second, "metadata re-applied after an update", func() bool { return has("ns2") })
	if _, ok := g.Node("eth").Metadata["Tenant"]; ok {
		t.Error("node outside the query updated")
	}
	// No loop: once applied, the revisions stay.
	rev := g.Node("ns1").Revision
	m.Apply(context.Background())
	if g.Node("ns1").Revision != rev {
		t.Errorf("applying again wrote the node: revision %d -> %d", rev, g.Node("ns1").Revision)
	}
	if err := m.DeleteNodeRule(context.Background(), r.UUID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []graph.Identifier{"ns1", "ns2"} {
		md := g.Node(id).Metadata
		if _, ok := md["Tenant"]; ok || md["Level"] != nil || md.String("Name") == "" {
			t.Errorf("node %s after the rule's deletion: %v", id, md)
		}
	}
}

func TestEdgeRuleLateNodesAndDelete(t *testing.T) {
	g := graph.New()
	m := newManager(t, g, "")
	run(t, m)
	ctx := context.Background()
	src, err := m.CreateNodeRule(ctx, &v1.NodeRule{Metadata: map[string]any{"Name": "br-srcnode", "Type": "bridge"}})
	if err != nil {
		t.Fatal(err)
	}
	er, err := m.CreateEdgeRule(&v1.EdgeRule{Name: "l2", Src: "G.V().Has('Name','br-srcnode')", Dst: "G.V().Has('Name','br-dstnode')",
		Metadata: map[string]any{"RelationType": "layer2", "Speed": "10G"}})
	if err != nil {
		t.Fatal(err)
	}
	srcID, dstID := topology.GenID("bridge", "br-srcnode"), topology.GenID("bridge", "br-dstnode")
	edgeID := topology.EdgeID(srcID, dstID, "layer2")
	m.Apply(ctx)
	if g.Edge(edgeID) != nil {
		t.Fatal("edge made without its destination")
	}
	if _, err := m.CreateNodeRule(ctx, &v1.NodeRule{Metadata: map[string]any{"Name": "br-dstnode", "Type": "bridge"}}); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyTrue(t, 5*time.Second, "edge once the destination appears", func() bool { return g.Edge(edgeID) != nil })
	e := g.Edge(edgeID)
	if e.Parent != srcID || e.Child != dstID || e.Metadata.String("RelationType") != "layer2" || e.Metadata.String("Speed") != "10G" || e.Origin != "analyzer.an1" {
		t.Fatalf("edge %+v", e)
	}
	// The source goes and comes back: so does the edge.
	if err := m.DeleteNodeRule(ctx, src.UUID); err != nil {
		t.Fatal(err)
	}
	if g.Edge(edgeID) != nil {
		t.Fatal("edge kept without its source")
	}
	addNode(t, g, "agent-br", graph.Metadata{"Name": "br-srcnode", "Type": "bridge"})
	late := topology.EdgeID("agent-br", dstID, "layer2")
	testutil.EventuallyTrue(t, 5*time.Second, "edge from a late agent node", func() bool { return g.Edge(late) != nil })
	if err := m.DeleteEdgeRule(er.UUID); err != nil {
		t.Fatal(err)
	}
	if g.Edge(late) != nil {
		t.Fatal("edge kept after its rule was deleted")
	}
	if err := m.DeleteEdgeRule(er.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestValidation(t *testing.T) {
	m := newManager(t, graph.New(), "")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		r    v1.NodeRule
		want string
	}{
		{"no metadata", v1.NodeRule{}, "Metadata: required"},
		{"create without type", v1.NodeRule{Metadata: map[string]any{"Name": "x"}}, "Name and Type fields are required"},
		{"create without name", v1.NodeRule{Metadata: map[string]any{"Type": "x"}}, "Name and Type fields are required"},
		{"update of Name", v1.NodeRule{Action: "update", Query: "G.V()", Metadata: map[string]any{"Name": "x"}}, "Name and Type fields can not be changed"},
		{"update without query", v1.NodeRule{Action: "update", Metadata: map[string]any{"A": "x"}}, "Query: required"},
		{"update bad query", v1.NodeRule{Action: "update", Query: "G.V(", Metadata: map[string]any{"A": "x"}}, "Query: 1:"},
		{"update of edges", v1.NodeRule{Action: "update", Query: "G.E()", Metadata: map[string]any{"A": "x"}}, "Query: must select nodes"},
		{"bad action", v1.NodeRule{Action: "merge", Metadata: map[string]any{"A": "x"}}, "Action:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.CreateNodeRule(ctx, &tc.r)
			if resource.KindOf(err) != resource.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an invalid resource error with %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		r    v1.EdgeRule
		want string
	}{
		{"no src", v1.EdgeRule{Dst: "G.V()", Metadata: map[string]any{"RelationType": "layer2"}}, "Src: required"},
		{"bad dst", v1.EdgeRule{Src: "G.V()", Dst: "G.V().Has(", Metadata: map[string]any{"RelationType": "layer2"}}, "Dst: 1:"},
		{"no relation", v1.EdgeRule{Src: "G.V()", Dst: "G.V()", Metadata: map[string]any{"A": "b"}}, "Metadata: RelationType is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.CreateEdgeRule(&tc.r)
			if resource.KindOf(err) != resource.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an invalid resource error with %q", err, tc.want)
			}
		})
	}
	if len(m.NodeRules())+len(m.EdgeRules()) != 0 {
		t.Fatal("invalid rules stored")
	}
}

func TestPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.json")
	m := newManager(t, graph.New(), file)
	ctx := context.Background()
	nr, err := m.CreateNodeRule(ctx, &v1.NodeRule{Name: "n", Metadata: map[string]any{"Name": "tor1", "Type": "switch"}})
	if err != nil {
		t.Fatal(err)
	}
	er, err := m.CreateEdgeRule(&v1.EdgeRule{Src: "G.V().Has('Name','a')", Dst: "G.V().Has('Name','b')", Metadata: map[string]any{"RelationType": "layer2"}})
	if err != nil {
		t.Fatal(err)
	}
	// After a restart, on an empty graph, the rules are back and applied.
	g := graph.New()
	again := newManager(t, g, file)
	if got := again.NodeRules(); len(got) != 1 || !reflect.DeepEqual(*got[nr.UUID], *nr) {
		t.Fatalf("node rules %+v, want %+v", got, nr)
	}
	if got, err := again.EdgeRule(er.UUID); err != nil || !reflect.DeepEqual(*got, *er) {
		t.Fatalf("edge rule %+v (%v), want %+v", got, err, er)
	}
	again.Apply(ctx)
	if g.Node(topology.GenID("switch", "tor1")) == nil {
		t.Fatal("reloaded create rule not applied")
	}
}

// watcherFirst is a store whose delete event reaches the manager before
// Delete returns, as a quick watcher's may.
type watcherFirst struct {
	cluster.Store
	m *Manager
}

func (s *watcherFirst) Delete(ctx context.Context, kind cluster.Kind, id string) error {
	if err := s.Store.Delete(ctx, kind, id); err != nil {
		return err
	}
	s.m.storeChanged(ctx, cluster.Event{Type: cluster.EventDelete, Kind: kind, ID: id})
	return nil
}

// TestDeleteRuleUndoneByTheStoreFirst: deleting a rule that the store's
// delete event already undid succeeds, and the rule's node and edge are
// gone.
func TestDeleteRuleUndoneByTheStoreFirst(t *testing.T) {
	g := graph.New()
	files, err := cluster.NewFileStore(FileRefs(""))
	if err != nil {
		t.Fatal(err)
	}
	st := &watcherFirst{Store: files}
	m, err := New(Options{Graph: g, Host: "an1", Origin: "analyzer.an1", Store: st, Debounce: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st.m = m
	r, err := m.CreateNodeRule(context.Background(), &v1.NodeRule{Metadata: map[string]any{"Name": "tor1", "Type": "switch"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteNodeRule(context.Background(), r.UUID); err != nil {
		t.Fatalf("node rule delete: %v", err)
	}
	if g.Node(topology.GenID("switch", "tor1")) != nil {
		t.Error("the rule's node kept")
	}
	if err := m.DeleteNodeRule(context.Background(), r.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
