package openapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
)

// TestDocumentValidates loads the served JSON with kin-openapi's loader
// and validates it as OpenAPI 3.
func TestDocumentValidates(t *testing.T) {
	w := httptest.NewRecorder()
	Handler("test").ServeHTTP(w, httptest.NewRequest("GET", Path, nil))
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Paths.Map()); n < 25 {
		t.Fatalf("%d paths", n)
	}
}

// jsonKeys are the keys of v's JSON.
func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestEveryFieldIsDescribed: each type's JSON keys (omitempty ones filled)
// are properties of its schema.
func TestEveryFieldIsDescribed(t *testing.T) {
	doc, err := Document("test")
	if err != nil {
		t.Fatal(err)
	}
	deleted := int64(3)
	node := &graph.Node{Element: graph.Element{ID: "n", Metadata: graph.Metadata{"Name": "x"}, Host: "h", Origin: "o", CreatedAt: 1, UpdatedAt: 2, DeletedAt: graph.Time(deleted), Revision: 1}}
	edge := &graph.Edge{Element: node.Element, Parent: "a", Child: "b"}
	for name, v := range map[string]any{
		"Capture":         filled(v1.Capture{}),
		"PacketInjection": filled(v1.PacketInjection{}),
		"Alert":           filled(v1.Alert{}),
		"Workflow":        filled(v1.Workflow{}),
		"NodeRule":        filled(v1.NodeRule{}),
		"EdgeRule":        filled(v1.EdgeRule{}),
		"AnalyzerStatus":  filled(v1.AnalyzerStatus{}),
		"APIInfo":         filled(v1.APIInfo{}),
		"Node":            node,
		"Edge":            edge,
	} {
		s := doc.Components.Schemas[name]
		if s == nil {
			t.Errorf("no schema %s (have %v)", name, keysOf(doc.Components.Schemas))
			continue
		}
		for _, k := range jsonKeys(t, v) {
			if _, ok := s.Value.Properties[k]; !ok {
				t.Errorf("%s: field %s not described", name, k)
			}
		}
	}
}

func keysOf(m openapi3.Schemas) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// filled returns v with every exported field set to a non-zero value, so
// that omitempty fields show in its JSON.
func filled(v any) any {
	p := reflect.New(reflect.TypeOf(v))
	fill(p.Elem(), 0)
	return p.Interface()
}

func fill(v reflect.Value, depth int) {
	if depth > 4 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage{}) {
			v.SetBytes([]byte("1"))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf("x"))
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), depth+1)
		}
	}
}
