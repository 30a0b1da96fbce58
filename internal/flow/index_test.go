package flow

import (
	"math/rand/v2"
	"testing"
)

// TestIndex checks the index against a Go map through random additions
// and removals (which shift back probed slots).
func TestIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := newIndex()
	ref := map[key]*entry{}
	var keys []key
	for round := range 20000 {
		if len(keys) > 0 && r.IntN(3) == 0 {
			i := r.IntN(len(keys))
			k := keys[i]
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			e := ref[k]
			delete(ref, k)
			x.remove(e, e.h)
		} else {
			k := key{parent: uint64(r.IntN(50)), tA: uint32(r.IntN(1000)), l4: uint8(round % 3)}
			k.netA[15] = byte(r.IntN(4))
			if _, ok := ref[k]; ok {
				continue
			}
			e := &entry{k: k}
			e.h = x.hash(&k)
			x.put(e, e.h)
			ref[k] = e
			keys = append(keys, k)
		}
		if round%500 == 0 || round > 19900 {
			if x.n != len(ref) {
				t.Fatalf("round %d: %d entries, want %d", round, x.n, len(ref))
			}
			for k, e := range ref {
				if got := x.get(&k, x.hash(&k)); got != e {
					t.Fatalf("round %d: key %v: got %p, want %p", round, k, got, e)
				}
			}
			seen := 0
			x.each(func(*entry) { seen++ })
			if seen != len(ref) {
				t.Fatalf("round %d: each saw %d", round, seen)
			}
		}
	}
	missing := key{parent: 1 << 40}
	if x.get(&missing, x.hash(&missing)) != nil {
		t.Fatal("found a key never added")
	}
}
