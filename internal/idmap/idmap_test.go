package idmap

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

type val struct {
	id string
	n  int
}

// TestMap runs random puts, deletes and updates on a Map and on a map by
// ID side by side, with the real hash and with hashes that make most IDs
// collide, and checks that both hold the same values.
func TestMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(string) uint64
	}{
		{"maphash", nil},
		{"three hashes", func(id string) uint64 { return uint64(len(id) % 3) }},
		{"one hash", func(string) uint64 { return 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(func(v val) string { return v.id })
			m.testHash = tc.hash
			want := map[string]val{}
			rng := rand.New(rand.NewPCG(1, 2))
			for step := range 20000 {
				id := fmt.Sprintf("n%d", rng.IntN(300))
				switch op := rng.IntN(10); {
				case op < 5:
					m.Put(id, val{id, step})
					want[id] = val{id, step}
				case op < 9:
					got, ok := m.Delete(id)
					w, wok := want[id]
					if ok != wok || got != w {
						t.Fatalf("step %d: Delete(%s) = %v %v, want %v %v", step, id, got, ok, w, wok)
					}
					delete(want, id)
				default:
					m.Update(func(v val) val { v.n++; return v })
					for id, v := range want {
						v.n++
						want[id] = v
					}
					n := 0
					for v := range m.All() {
						n++
						if want[v.id] != v {
							t.Fatalf("step %d: All gave %v, want %v", step, v, want[v.id])
						}
					}
					if n != len(want) {
						t.Fatalf("step %d: All gave %d values, want %d", step, n, len(want))
					}
				}
				if m.Len() != len(want) {
					t.Fatalf("step %d: %d values, want %d", step, m.Len(), len(want))
				}
			}
			for i := range 300 {
				id := fmt.Sprintf("n%d", i)
				got, ok := m.Get(id)
				if w, wok := want[id]; ok != wok || got != w || m.Has(id) != wok {
					t.Fatalf("Get(%s) = %v %v, want %v %v", id, got, ok, w, wok)
				}
			}
		})
	}
}
