package graph

import (
	"reflect"
	"testing"
)

var metadataSeeds = []string{
	`{}`, `null`, ` { "Name" : "eth0" , "MTU": 1500 } `,
	`{"Name":"tap1","Type":"veth","MTU":1450,"IPV4":["10.0.0.1/24"],"State":"UP","Speed":10000}`,
	`{"a":1.5,"b":-0,"c":1e3,"d":12345678901234567890,"e":-9223372036854775808,"f":1E-2,"g":0.0}`,
	`{"n":{"x":[1,[2,{"y":null}],true,false]},"e":[],"o":{}}`,
	`{"dup":1,"dup":"two"}`, `{"u":"héllo ✓"}`, `{"esc":"a\"b"}`, `{"bad":"\xff"}`,
	`{"ctl":"a` + "\x01" + `b"}`, `{"x":01}`, `{"x":1.}`, `{"x":-}`, `{"x":tru}`, `[1]`, `{"x":1} trailing`,
	`{"x":1,}`, `{,}`, `{"big":1e400}`, `{"Captures":[{"ID":"c","PacketsDropped":3}]}`,
}

// The fast decoder, when it takes a document, gives exactly what
// encoding/json and Normalize give.
func TestFastMetadata(t *testing.T) {
	for _, s := range metadataSeeds {
		checkFastMetadata(t, []byte(s))
	}
	if m, ok := fastMetadata([]byte(`{"MTU":1500,"IPV4":["10.0.0.1/24"],"On":true}`)); !ok || m["MTU"] != int64(1500) || !reflect.DeepEqual(m["IPV4"], []any{"10.0.0.1/24"}) || m["On"] != true {
		t.Errorf("fast path %v %v", m, ok)
	}
}

func FuzzFastMetadata(f *testing.F) {
	for _, s := range metadataSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFastMetadata)
}

func checkFastMetadata(t *testing.T, b []byte) {
	fast, ok := fastMetadata(b)
	slow, err := slowMetadata(b)
	if !ok {
		return // the caller decodes the slow way
	}
	if err != nil {
		t.Fatalf("%q: fast decoded %v, encoding/json refuses: %v", b, fast, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q: fast %#v, encoding/json %#v", b, fast, slow)
	}
}

func BenchmarkMetadataDecode(b *testing.B) {
	doc := []byte(`{"Name":"tap12-3-4","Type":"veth","MTU":1500,"MAC":"fa:16:3e:00:12:34","IPV4":["10.12.3.5/24"],"State":"UP","IfIndex":42,"Neutron":{"PortID":"5c0ffee1-2a3b-4c5d-8e9f-001122334455","NetworkName":"net1"}}`)
	for _, c := range []struct {
		name string
		f    func([]byte) (Metadata, error)
	}{
		{"fast", func(b []byte) (Metadata, error) { m, _ := fastMetadata(b); return m, nil }},
		{"encoding-json", slowMetadata},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := c.f(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
