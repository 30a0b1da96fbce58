package graph

import (
	"testing"
)

// TestShareKey: equal small scalar metadata name the same key, anything
// else a different one; other metadata is not shared.
func TestShareKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Metadata
		same bool
	}{
		{"equal", Metadata{"RelationType": "ownership"}, Metadata{"RelationType": "ownership"}, true},
		{"empty", Metadata{}, Metadata{}, true},
		{"two keys, any order", Metadata{"A": "x", "B": int64(1)}, Metadata{"B": int64(1), "A": "x"}, true},
		{"other value", Metadata{"RelationType": "ownership"}, Metadata{"RelationType": "layer2"}, false},
		{"string vs number", Metadata{"A": "1"}, Metadata{"A": int64(1)}, false},
		{"string vs bool", Metadata{"A": "true"}, Metadata{"A": true}, false},
		{"bool", Metadata{"A": true}, Metadata{"A": false}, false},
		{"boundaries", Metadata{"A": "b", "c": "d"}, Metadata{"A": "b\x00c", "": "d"}, false},
		{"key and value moved", Metadata{"ab": "c"}, Metadata{"a": "bc"}, false},
		{"numbers run together", Metadata{"A": int64(1), "B": int64(23)}, Metadata{"A": int64(12), "B": int64(3)}, false},
		{"more keys", Metadata{"A": "x"}, Metadata{"A": "x", "B": "y"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := shareKey(tc.a), shareKey(tc.b)
			if ka == "" || kb == "" {
				t.Fatalf("not shared: %q %q", ka, kb)
			}
			if (ka == kb) != tc.same {
				t.Errorf("keys %q and %q", ka, kb)
			}
		})
	}
	for _, m := range []Metadata{
		{"A": 1.5}, {"A": nil}, {"A": []any{"x"}}, {"A": map[string]any{"b": "c"}},
		{"A": "1", "B": "2", "C": "3", "D": "4", "E": "5"},
	} {
		if k := shareKey(m); k != "" {
			t.Errorf("%v shared as %q", m, k)
		}
	}
}

// TestEdgesShareMetadata: edges of equal small metadata hold one map, and
// an update of one edge leaves the others as they were.
func TestEdgesShareMetadata(t *testing.T) {
	g := New(WithClock(clock()))
	for _, id := range []Identifier{"a", "b", "c"} {
		must(t, g.AddNode(&Node{Element: Element{ID: id}}))
	}
	must(t, g.AddEdge(&Edge{Element: Element{ID: "e1", Metadata: Metadata{"RelationType": "ownership"}}, Parent: "a", Child: "b"}))
	must(t, g.AddEdge(&Edge{Element: Element{ID: "e2", Metadata: Metadata{"RelationType": "ownership"}}, Parent: "a", Child: "c"}))
	must(t, g.ReplaceEdge(&Edge{Element: Element{ID: "e3", Metadata: Metadata{"RelationType": "ownership"}}, Parent: "b", Child: "c"}))
	e1, e2, e3 := g.Edge("e1"), g.Edge("e2"), g.Edge("e3")
	if !sameMap(e1.Metadata, e2.Metadata) || !sameMap(e1.Metadata, e3.Metadata) {
		t.Fatalf("equal metadata not shared")
	}
	must(t, g.UpdateEdgeMetadata("e2", func(m Metadata) bool { m["RelationType"] = "layer2"; return true }))
	if g.Edge("e1").Metadata.String("RelationType") != "ownership" || g.Edge("e3").Metadata.String("RelationType") != "ownership" ||
		g.Edge("e2").Metadata.String("RelationType") != "layer2" {
		t.Fatalf("update of one edge reached another: %v %v %v", g.Edge("e1").Metadata, g.Edge("e2").Metadata, g.Edge("e3").Metadata)
	}
	if e2.Metadata.String("RelationType") != "ownership" {
		t.Fatalf("former revision changed")
	}
	must(t, g.UpdateEdgeMetadata("e3", func(m Metadata) bool { m["RelationType"] = "layer2"; return true }))
	if !sameMap(g.Edge("e2").Metadata, g.Edge("e3").Metadata) {
		t.Fatalf("updated edges of equal metadata not shared")
	}
}

// sameMap tells whether two metadata are the same map, not equal copies.
func sameMap(a, b Metadata) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for k := range a {
		a[k+"\x00probe"] = true
		_, ok := b[k+"\x00probe"]
		delete(a, k+"\x00probe")
		return ok
	}
	return false
}

// TestIndexOneAndMany: a value's nodes, kept alone then in a bucket, come
// back in creation order through additions, replacements and removals.
func TestIndexOneAndMany(t *testing.T) {
	x := newIndex()
	n := func(id string, at Time) *Node { return &Node{Element: Element{ID: Identifier(id), CreatedAt: at}} }
	ids := func(ns []*Node) string {
		s := ""
		for _, n := range ns {
			s += string(n.ID) + " "
		}
		return s
	}
	b1, a2, c3 := n("b", 1), n("a", 2), n("c", 3)
	x.add("k", a2)
	if got := ids(x.get("k")); got != "a " {
		t.Fatalf("one: %q", got)
	}
	a2b := n("a", 2)
	x.replace("k", a2, a2b)
	if x.get("k")[0] != a2b {
		t.Fatal("replace of the one node")
	}
	x.add("k", c3)
	x.add("k", b1)
	if got := ids(x.get("k")); got != "b a c " {
		t.Fatalf("many: %q", got)
	}
	x.remove("k", a2b)
	x.remove("k", b1)
	x.remove("k", c3)
	if got := x.get("k"); got != nil || len(x.many) != 0 || len(x.one) != 0 {
		t.Fatalf("after removals: %v %v %v", got, x.one, x.many)
	}
	x.add("", a2)
	if len(x.one) != 0 {
		t.Fatal("empty value indexed")
	}
}

// shareKey is appendShareKey's name as a string, "" for metadata not
// shared.
func shareKey(m Metadata) string {
	k, ok := appendShareKey(nil, m)
	if !ok {
		return ""
	}
	return string(k)
}
