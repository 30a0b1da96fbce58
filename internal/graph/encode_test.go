package graph

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// plainNode and plainEdge are encoded by encoding/json's reflection (no
// MarshalJSON): what AppendJSON must write.
type plainNode Node

type plainEdge struct {
	Element
	Parent Identifier `json:"Parent"`
	Child  Identifier `json:"Child"`
}

var encodeSeeds = []struct {
	id   string
	meta string
}{
	{"n1", `{"Name":"tap1","Type":"veth","MTU":1500,"IPV4":["10.0.0.1/24"],"State":"UP"}`},
	{"<&>", `{"html":"<a href=\"x\">&</a>","ctl":"a\u0001\b\f\n\r\t\\\"z","ls":"\u2028\u2029","u":"héllo ✓"}`},
	{"f", `{"a":1.5,"b":-0.0,"c":1e21,"d":1e-7,"e":123456789.125,"f":0.000001,"g":-1e-300,"h":1.7976931348623157e308}`},
	{"n", `{"z":{"y":{"x":[1,[true,false,null],{}]}},"a":[],"e":{}}`},
	{"", `{}`}, {"null", `null`},
}

func TestAppendJSON(t *testing.T) {
	for _, c := range encodeSeeds {
		checkAppendJSON(t, c.id, []byte(c.meta), "h\xffost", 1700000000000, 0, 3)
	}
	// invalid UTF-8 and other types of values
	n := &Node{Element: Element{ID: "bad\xff\xfe", Metadata: Metadata{"s": []string{"a", "b"}, "i": 7, "m": Metadata{"k": int64(1)}, "nilmap": map[string]any(nil), "nillist": []any(nil)}}}
	got, err := n.AppendJSON(nil)
	want, werr := json.Marshal((*plainNode)(n))
	if err != nil || werr != nil || !bytes.Equal(got, want) {
		t.Errorf("got %s (%v)\nwant %s (%v)", got, err, want, werr)
	}
	// NaN is refused, as encoding/json refuses it
	n = &Node{Element: Element{ID: "x", Metadata: Metadata{"f": math.NaN()}}}
	if _, err := n.AppendJSON(nil); err == nil {
		t.Error("NaN encoded")
	}
	if _, err := json.Marshal([]*Node{n}); err == nil {
		t.Error("NaN encoded through MarshalJSON")
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, c := range encodeSeeds {
		f.Add(c.id, []byte(c.meta), "host", int64(1700000000000), int64(0), int64(3))
	}
	f.Fuzz(func(t *testing.T, id string, meta []byte, host string, created, deleted, rev int64) {
		checkAppendJSON(t, id, meta, host, created, deleted, rev)
	})
}

func checkAppendJSON(t *testing.T, id string, meta []byte, host string, created, deleted, rev int64) {
	m, err := slowMetadata(meta)
	if err != nil {
		return
	}
	el := Element{ID: Identifier(id), Metadata: m, Host: host, Origin: "agent." + host,
		CreatedAt: Time(created), UpdatedAt: Time(created), DeletedAt: Time(deleted), Revision: rev}
	n := &Node{Element: el}
	got, err := n.AppendJSON([]byte("prefix"))
	want, werr := json.Marshal((*plainNode)(n))
	if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("node:\ngot  %s (%v)\nwant %s (%v)", got, err, want, werr)
	}
	e := &Edge{Element: el, Parent: Identifier(host), Child: Identifier(id)}
	got, err = e.AppendJSON(nil)
	want, werr = json.Marshal(&plainEdge{Element: el, Parent: e.Parent, Child: e.Child})
	if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) {
		t.Fatalf("edge:\ngot  %s (%v)\nwant %s (%v)", got, err, want, werr)
	}
	// through encoding/json (MarshalJSON, then its compaction)
	if err == nil {
		viaJSON, err := json.Marshal([]*Edge{e})
		if err != nil || !bytes.Equal(viaJSON, append(append([]byte("["), want...), ']')) {
			t.Fatalf("edge via encoding/json: %s (%v)", viaJSON, err)
		}
	}
}
