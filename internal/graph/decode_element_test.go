package graph

import (
	"encoding/json"
	"reflect"
	"testing"
)

var elementSeeds = []string{
	`{"ID":"n1","Metadata":{"Name":"tap1","Type":"veth","MTU":1500,"IPV4":["10.0.0.1/24"]},"Host":"h","Origin":"agent.h","CreatedAt":1700000000000,"UpdatedAt":1700000000001,"Revision":3}`,
	`{"ID":"e1","Parent":"a","Child":"b","Metadata":{"RelationType":"ownership"}}`,
	` { "ID" : "x" , "Metadata" : { } } `,
	`{"ID":"x","Metadata":null}`, `{"ID":null,"Host":null,"CreatedAt":null,"Revision":null}`,
	`{"ID":"x","CreatedAt":5,"CreatedAt":null}`, `{"ID":"x","Revision":5,"Revision":null}`,
	`{"id":"lower case key"}`, `{"ID":"x","Extra":1}`, `{"ID":"a\"b"}`, `{"ID":1}`,
	`{"ID":"x","CreatedAt":1.5}`, `{"ID":"x","CreatedAt":-7}`, `{"ID":"x","Revision":1e3}`,
	`{"ID":"x","Revision":123456789012345678901}`, `{"ID":"x","Revision":9223372036854775807}`,
	`{"ID":"x","Revision":-9223372036854775808}`, `{"ID":"x"} trailing`, `{"ID":"x",}`, `[]`, `null`, ``,
	`{"ID":"x","Parent":"p"}`, `{"ID":"x","Metadata":{"a":1},"Metadata":{"b":2}}`, `{"ID":"\xff"}`,
}

// TestDecodeElement: DecodeNode and DecodeEdge give what json.Unmarshal
// gives, fast or not, and take the usual shapes the fast way.
func TestDecodeElement(t *testing.T) {
	for _, s := range elementSeeds {
		checkDecodeElement(t, []byte(s))
	}
	for _, s := range elementSeeds[:3] {
		var n Node
		var e Edge
		if !fastElement([]byte(s), &n.Element, nil, nil, nil) && !fastElement([]byte(s), &e.Element, &e.Parent, &e.Child, nil) {
			t.Errorf("%s: not taken the fast way", s)
		}
	}
}

func FuzzDecodeElement(f *testing.F) {
	for _, s := range elementSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodeElement)
}

func checkDecodeElement(t *testing.T, b []byte) {
	var n, wantN Node
	err := DecodeNode(b, &n)
	wantErr := json.Unmarshal(b, &wantN)
	if (err == nil) != (wantErr == nil) || err == nil && !reflect.DeepEqual(n, wantN) {
		t.Fatalf("node %q: got %+v (%v), encoding/json %+v (%v)", b, n, err, wantN, wantErr)
	}
	var e, wantE Edge
	err = DecodeEdge(b, &e)
	wantErr = json.Unmarshal(b, &wantE)
	if (err == nil) != (wantErr == nil) || err == nil && !reflect.DeepEqual(e, wantE) {
		t.Fatalf("edge %q: got %+v (%v), encoding/json %+v (%v)", b, e, err, wantE, wantErr)
	}
	// An EdgeDecoder of a graph that shares the edge's metadata: the
	// first decoding finds the graph's map, the second its own memory.
	g := New()
	for _, id := range []Identifier{"p", "c"} {
		must(t, g.AddNode(&Node{Element: Element{ID: id}}))
	}
	if wantErr == nil {
		_ = g.AddEdge(&Edge{Element: Element{ID: "shared", Metadata: NormalizeMetadata(wantE.Metadata)}, Parent: "p", Child: "c"})
	}
	d := g.NewEdgeDecoder()
	for i := range 2 {
		var got Edge
		err := d.Decode(b, &got)
		if (err == nil) != (wantErr == nil) || err == nil && !reflect.DeepEqual(got, wantE) {
			t.Fatalf("edge %q, EdgeDecoder %d: got %+v (%v), encoding/json %+v (%v)", b, i, got, err, wantE, wantErr)
		}
	}
}

// TestEdgeDecoderSharesTheGraphsMap: edges of metadata the graph shares
// get the graph's map, from the second on without decoding it.
func TestEdgeDecoderSharesTheGraphsMap(t *testing.T) {
	g := New()
	for _, id := range []Identifier{"a", "b"} {
		must(t, g.AddNode(&Node{Element: Element{ID: id}}))
	}
	must(t, g.AddEdge(&Edge{Element: Element{ID: "e0", Metadata: Metadata{"RelationType": "ownership"}}, Parent: "a", Child: "b"}))
	shared := g.Edge("e0").Metadata
	d := g.NewEdgeDecoder()
	for i := range 3 {
		var e Edge
		must(t, d.Decode([]byte(`{"ID":"e1","Parent":"a","Child":"b","Metadata":{"RelationType":"ownership"}}`), &e))
		if !sameMap(e.Metadata, shared) {
			t.Fatalf("decoding %d: the edge's own map", i)
		}
	}
	if len(d.byRaw) != 1 {
		t.Fatalf("%d metadata known by their bytes, want 1", len(d.byRaw))
	}
	var e Edge
	must(t, d.Decode([]byte(`{"ID":"e2","Parent":"a","Child":"b","Metadata":{"RelationType":"layer2"}}`), &e))
	if sameMap(e.Metadata, shared) || e.Metadata["RelationType"] != "layer2" {
		t.Fatalf("other metadata: %v", e.Metadata)
	}
}
