package graph

import (
	"testing"
	"unsafe"
)

func strData(s string) *byte { return unsafe.StringData(s) }

// TestInternedMetadata: stored metadata share their keys and the values of
// keys with few values, edges share their ends' IDs, and the stored copy
// is the graph's own.
func TestInternedMetadata(t *testing.T) {
	g := New()
	for _, id := range []Identifier{"a", "b"} {
		m := Metadata{"Type": "veth", "Name": string(id) + "-name", "MTU": 1500, "IPV4": []any{"10.0.0.1/24"}, "Nested": map[string]any{"State": "UP"}}
		if err := g.AddNode(&Node{Element: Element{ID: id, Metadata: m}}); err != nil {
			t.Fatal(err)
		}
		m["Type"] = "changed"
		m["IPV4"].([]any)[0] = "changed"
	}
	a, b := g.Node("a"), g.Node("b")
	if a.Metadata["Type"] != "veth" || a.Metadata["IPV4"].([]any)[0] != "10.0.0.1/24" || a.Metadata["MTU"] != int64(1500) {
		t.Fatalf("stored metadata changed with the caller's: %v", a.Metadata)
	}
	if strData(a.Metadata.String("Type")) != strData(b.Metadata.String("Type")) {
		t.Error("Type values not shared")
	}
	ia, ib := any(a.Metadata["MTU"]), any(b.Metadata["MTU"])
	if (*[2]unsafe.Pointer)(unsafe.Pointer(&ia))[1] != (*[2]unsafe.Pointer)(unsafe.Pointer(&ib))[1] {
		t.Error("MTU boxes not shared")
	}
	for ka := range a.Metadata {
		for kb := range b.Metadata {
			if ka == kb && strData(ka) != strData(kb) {
				t.Errorf("key %s not shared", ka)
			}
		}
	}
	parent, child := Identifier(string([]byte("a"))), Identifier(string([]byte("b")))
	if err := g.AddEdge(&Edge{Element: Element{ID: "e"}, Parent: parent, Child: child}); err != nil {
		t.Fatal(err)
	}
	e := g.Edge("e")
	if strData(string(e.Parent)) != strData(string(a.ID)) || strData(string(e.Child)) != strData(string(b.ID)) {
		t.Error("edge ends do not share the nodes' IDs")
	}
	// Owned: the node given is stored, its metadata interned in place.
	keyC := string([]byte("Type"))
	valC := string([]byte("veth"))
	c := &Node{Element: Element{ID: "c", Metadata: Metadata{keyC: valC, "L": []any{int64(1500), map[string]any{string([]byte("State")): string([]byte("UP"))}}}}}
	if err := g.ReplaceNodeOwned(c); err != nil {
		t.Fatal(err)
	}
	if g.Node("c") != c {
		t.Error("owned node copied")
	}
	for k, v := range c.Metadata {
		if k == "Type" && (strData(k) == strData(keyC) || strData(v.(string)) != strData(a.Metadata.String("Type"))) {
			t.Error("owned metadata not interned")
		}
	}
	for k := range c.Metadata["L"].([]any)[1].(map[string]any) {
		if strData(k) != strData(func() string {
			for ka := range a.Metadata["Nested"].(map[string]any) {
				return ka
			}
			return ""
		}()) {
			t.Error("owned nested key not interned")
		}
	}
	if !a.Metadata.Equal(Metadata{"Type": "veth", "Name": "a-name", "MTU": 1500, "IPV4": []string{"10.0.0.1/24"}, "Nested": map[string]any{"State": "UP"}}) {
		t.Errorf("metadata %v", a.Metadata)
	}
}
