package workflows

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/resource"
)

const (
	checkMTUID          = "85757b38-6e21-11e8-b42d-28d2442e1325"
	checkConnectivityID = "85757b38-6e21-11e8-b42d-28d2442e1329"
	checkMTUPathID      = "83568bd0-67d7-4c03-b832-a17e7108fdf5"
)

func TestValidateNamesTheField(t *testing.T) {
	ok := func() v1.Workflow {
		return v1.Workflow{Name: "w", Source: "function (a) { return a }",
			Parameters: []v1.WorkflowParameter{{Name: "a", Type: "string"}}}
	}
	for _, tc := range []struct {
		name   string
		change func(w *v1.Workflow)
		want   string
	}{
		{"no name", func(w *v1.Workflow) { w.Name = " " }, "Name: required"},
		{"no source", func(w *v1.Workflow) { w.Source = "" }, "Source: required"},
		{"source does not compile", func(w *v1.Workflow) { w.Source = "function ( {" }, "Source: "},
		{"source not a function", func(w *v1.Workflow) { w.Source = "'text'" }, "Source: must be a function"},
		{"bad param type", func(w *v1.Workflow) { w.Parameters[0].Type = "float" }, "Parameters[0].Type:"},
		{"param without name", func(w *v1.Workflow) { w.Parameters[0].Name = "" }, "Parameters[0].Name: required"},
		{"choice without values", func(w *v1.Workflow) { w.Parameters[0].Type = "choice" }, "Parameters[0].Values:"},
		{"duplicate param", func(w *v1.Workflow) { w.Parameters = append(w.Parameters, w.Parameters[0]) }, "Parameters[1].Name: duplicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := ok()
			tc.change(&w)
			err := Validate(&w)
			if resource.KindOf(err) != resource.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an invalid resource error with %q", err, tc.want)
			}
		})
	}
	w := ok()
	if err := Validate(&w); err != nil {
		t.Fatalf("valid workflow refused: %v", err)
	}
}

func TestStoreCreateDeleteAndPersist(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "workflows.json")
	s, err := NewStore(StoreOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	created, err := s.Create(&v1.Workflow{Name: "Mine", Source: "function () { return 1 }"})
	if err != nil {
		t.Fatal(err)
	}
	if created.UUID == "" || created.Parameters == nil {
		t.Fatalf("created %+v: want a UUID and non-nil Parameters", created)
	}
	if _, err := s.Create(&v1.Workflow{Name: "Mine", Source: "function () { return 2 }"}); !errors.Is(err, ErrDuplicate) || !strings.HasPrefix(err.Error(), "Duplicate workflow") {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.Create(&v1.Workflow{Name: "CheckMTU", Source: "function () {}"}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a built-in workflow's name: %v", err)
	}
	if _, err := s.Create(&v1.Workflow{UUID: "nope", Name: "Other", Source: "function () {}"}); err == nil || !strings.Contains(err.Error(), "UUID:") {
		t.Fatalf("bad UUID: %v", err)
	}
	given, err := s.Create(&v1.Workflow{UUID: "11111111-2222-3333-4444-555555555555", Name: "Given", Source: "function () {}"})
	if err != nil || given.UUID != "11111111-2222-3333-4444-555555555555" {
		t.Fatalf("given UUID: %+v, %v", given, err)
	}

	// A new store on the same file has them back, with the built-in ones.
	s2, err := NewStore(StoreOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	list := s2.List()
	for _, id := range []string{created.UUID, given.UUID, checkMTUID, checkConnectivityID} {
		if list[id] == nil {
			t.Errorf("%s missing after reload: %v", id, list)
		}
	}
	if got, err := s2.Lookup("Mine"); err != nil || got.UUID != created.UUID || got.Source != "function () { return 1 }" {
		t.Fatalf("lookup by name: %+v, %v", got, err)
	}
	if err := s2.Delete(created.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s2.Delete(created.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s2.Delete(checkMTUID); !errors.Is(err, ErrStatic) {
		t.Fatalf("deleting a built-in workflow: %v", err)
	}
	s3, err := NewStore(StoreOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Get(created.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted workflow back after reload: %v", err)
	}
	if _, err := s3.Get(checkMTUID); err != nil {
		t.Fatalf("built-in workflow: %v", err)
	}
}

func TestDecodeYAML(t *testing.T) {
	w, err := DecodeYAML([]byte(`---
UUID: "aaaaaaaa-75a5-11e8-a85c-525400b51325"
name: Hello
Description: |
  # Says hello
Parameters:
  - Name: who
    Type: string
    Default: world
  - name: times
    type: integer
Source: |
  function (who, times) {
    return "hello " + who
  }
`))
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "Hello" || w.UUID != "aaaaaaaa-75a5-11e8-a85c-525400b51325" || len(w.Parameters) != 2 ||
		w.Parameters[1].Type != "integer" || w.Parameters[0].Default != "world" || !strings.Contains(w.Source, `"hello " + who`) {
		t.Fatalf("decoded %+v", w)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown key", "Name: x\nSauce: y\n", "Sauce"},
		{"wrong type", "Name: x\nParameters: 3\n", "Parameters"},
		{"not a mapping", "- a\n- b\n", "mapping"},
		{"not YAML", "Name: [x\n", "invalid YAML"},
		{"empty", "", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeYAML([]byte(tc.doc))
			if resource.KindOf(err) != resource.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an invalid resource error with %q", err, tc.want)
			}
		})
	}
}

func TestStaticWorkflows(t *testing.T) {
	ws, err := Static()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*v1.Workflow{}
	for _, w := range ws {
		byName[w.Name] = w
	}
	for name, id := range map[string]string{"CheckMTU": checkMTUID, "CheckConnectivity": checkConnectivityID, "CheckMTUPath": checkMTUPathID} {
		w := byName[name]
		if w == nil || w.UUID != id || len(w.Parameters) != 2 || w.Parameters[0].Type != "node" || w.Parameters[1].Type != "node" {
			t.Errorf("%s: %+v", name, w)
		}
	}
}
