package store

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/skydive-ng/skydive/internal/graph"
)

// TestLiveSet runs random puts, deletes and checkpoints on a liveSet and on
// a map by ID side by side, with the real hash and with hashes that make
// most IDs collide, and checks that both hold the same elements.
func TestLiveSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(graph.Identifier) uint64
	}{
		{"maphash", nil},
		{"three hashes", func(id graph.Identifier) uint64 { return uint64(len(id) % 3) }},
		{"one hash", func(graph.Identifier) uint64 { return 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := newLiveSet[*graph.Node]()
			set.testHash = tc.hash
			want := map[graph.Identifier]live[*graph.Node]{}
			rng := rand.New(rand.NewPCG(1, 2))
			for step := range 20000 {
				id := graph.Identifier(fmt.Sprintf("n%d", rng.IntN(300)))
				switch op := rng.IntN(10); {
				case op < 5:
					l := live[*graph.Node]{el: &graph.Node{Element: graph.Element{ID: id}}, from: graph.Time(step), lastTime: graph.Time(step)}
					set.put(id, l)
					want[id] = l
				case op < 9:
					got, ok := set.del(id)
					w, wok := want[id]
					if ok != wok || got != w {
						t.Fatalf("step %d: del %s = %v %v, want %v %v", step, id, got, ok, w, wok)
					}
					delete(want, id)
				default:
					n := 0
					set.checkpoint(graph.Time(step), func(l live[*graph.Node]) {
						n++
						if w := want[l.el.ID]; l.el != w.el || l.lastTime != max(graph.Time(step), w.lastTime) {
							t.Fatalf("step %d: checkpoint gave %v, want %v", step, l, w)
						}
					})
					if n != len(want) {
						t.Fatalf("step %d: checkpoint gave %d elements, want %d", step, n, len(want))
					}
					for id, l := range want {
						l.lastTime = max(graph.Time(step), l.lastTime)
						want[id] = l
					}
				}
				if set.len() != len(want) {
					t.Fatalf("step %d: %d elements, want %d", step, set.len(), len(want))
				}
			}
			for i := range 300 {
				id := graph.Identifier(fmt.Sprintf("n%d", i))
				got, ok := set.get(id)
				if w, wok := want[id]; ok != wok || got != w {
					t.Fatalf("get %s = %v %v, want %v %v", id, got, ok, w, wok)
				}
			}
		})
	}
}
