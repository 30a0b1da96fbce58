package jsonfile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.json")
	got := map[string]int{"kept": 1}
	if err := Load(path, &got); err != nil || !reflect.DeepEqual(got, map[string]int{"kept": 1}) {
		t.Fatalf("missing file: %v, %v", err, got)
	}
	want := map[string]int{"a": 1, "b": 2}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := Load(path, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, %v; want %v", got, err, want)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Load(path, &got); err == nil {
		t.Fatal("corrupt file loaded without error")
	}
}
