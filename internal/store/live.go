package store

import (
	"hash/maphash"

	"github.com/skydive-ng/skydive/internal/graph"
)

// live is what the store keeps of a live element (a *graph.Node or a
// *graph.Edge), by value in its kind's set: a map of pointers to a struct
// allocated per element cost a quarter more at 1.3 million elements.
type live[T any] struct {
	el       T
	from     graph.Time // start of the current revision
	lastTime graph.Time // Time of the element's last row
}

// liveSet holds the live elements of one kind by a 64-bit hash of their
// ID rather than by the ID: a map of a million strings reads every key's
// bytes, one cache miss each, whenever it grows, which made the store's
// maps the costliest part of a graph event on the ingest path. The element
// gives its ID back to tell two IDs of one hash apart; the rare second ID
// of a hash is kept by ID in more.
type liveSet[T interface{ *graph.Node | *graph.Edge }] struct {
	seed maphash.Seed
	m    map[uint64]live[T]
	more map[graph.Identifier]live[T]
	// testHash, in tests, replaces the hash to make IDs collide.
	testHash func(graph.Identifier) uint64
}

func newLiveSet[T interface{ *graph.Node | *graph.Edge }]() *liveSet[T] {
	return &liveSet[T]{seed: maphash.MakeSeed(), m: map[uint64]live[T]{}}
}

func idOf[T interface{ *graph.Node | *graph.Edge }](el T) graph.Identifier {
	switch el := any(el).(type) {
	case *graph.Node:
		return el.ID
	case *graph.Edge:
		return el.ID
	}
	return ""
}

func (s *liveSet[T]) hash(id graph.Identifier) uint64 {
	if s.testHash != nil {
		return s.testHash(id)
	}
	return maphash.String(s.seed, string(id))
}

func (s *liveSet[T]) get(id graph.Identifier) (live[T], bool) {
	if l, ok := s.m[s.hash(id)]; ok && idOf(l.el) == id {
		return l, true
	}
	l, ok := s.more[id]
	return l, ok
}

func (s *liveSet[T]) has(id graph.Identifier) bool {
	_, ok := s.get(id)
	return ok
}

func (s *liveSet[T]) put(id graph.Identifier, l live[T]) {
	if _, ok := s.more[id]; ok {
		s.more[id] = l
		return
	}
	h := s.hash(id)
	if old, ok := s.m[h]; ok && idOf(old.el) != id {
		if s.more == nil {
			s.more = map[graph.Identifier]live[T]{}
		}
		s.more[id] = l
		return
	}
	s.m[h] = l
}

func (s *liveSet[T]) del(id graph.Identifier) (live[T], bool) {
	h := s.hash(id)
	if l, ok := s.m[h]; ok && idOf(l.el) == id {
		delete(s.m, h)
		return l, true
	}
	l, ok := s.more[id]
	if ok {
		delete(s.more, id)
	}
	return l, ok
}

func (s *liveSet[T]) len() int { return len(s.m) + len(s.more) }

// checkpoint sets every element's last row time to at least t and calls f
// with each.
func (s *liveSet[T]) checkpoint(t graph.Time, f func(l live[T])) {
	for h, l := range s.m {
		l.lastTime = max(t, l.lastTime)
		s.m[h] = l
		f(l)
	}
	for id, l := range s.more {
		l.lastTime = max(t, l.lastTime)
		s.more[id] = l
		f(l)
	}
}
