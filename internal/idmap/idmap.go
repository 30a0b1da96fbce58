// Package idmap holds values by an ID (of any string type) in a map keyed
// by a 64-bit hash of the ID, the value giving its ID back to tell two IDs
// of one hash apart.
//
// Why not a map by ID: a Go map of a million strings reads every key's
// bytes again, a cache miss each, whenever it grows, and compares a key by
// reading its bytes, another miss; at half a million nodes and 800,000
// edges, growing the graph's and the store's maps by ID was a fifth of an
// ingest's time. A map by hash grows on its slots alone, and the value,
// which the caller reads next anyway, settles the rare collision (the
// second ID of a hash is kept by ID, in a map of its own).
package idmap

import (
	"hash/maphash"
	"iter"
)

// Map is a set of values by ID. id gives a value's ID; it is called on
// the values found by hash, to confirm them. The zero Map is not usable:
// see New.
type Map[K ~string, V any] struct {
	seed maphash.Seed
	id   func(V) K
	m    map[uint64]V
	more map[K]V // values whose hash another's took first
	// testHash, in tests, replaces the hash to make IDs collide.
	testHash func(K) uint64
}

// New returns an empty Map whose values give their ID with id.
func New[K ~string, V any](id func(V) K) *Map[K, V] {
	return &Map[K, V]{seed: maphash.MakeSeed(), id: id, m: map[uint64]V{}}
}

func (s *Map[K, V]) hash(id K) uint64 {
	if s.testHash != nil {
		return s.testHash(id)
	}
	return maphash.String(s.seed, string(id))
}

// Get returns the value of id.
func (s *Map[K, V]) Get(id K) (V, bool) {
	if v, ok := s.m[s.hash(id)]; ok && s.id(v) == id {
		return v, true
	}
	v, ok := s.more[id]
	return v, ok
}

// Has tells whether id has a value.
func (s *Map[K, V]) Has(id K) bool {
	_, ok := s.Get(id)
	return ok
}

// Put sets the value of id (v's ID must be id).
func (s *Map[K, V]) Put(id K, v V) {
	if _, ok := s.more[id]; ok {
		s.more[id] = v
		return
	}
	h := s.hash(id)
	if old, ok := s.m[h]; ok && s.id(old) != id {
		if s.more == nil {
			s.more = map[K]V{}
		}
		s.more[id] = v
		return
	}
	s.m[h] = v
}

// Delete removes the value of id and returns it.
func (s *Map[K, V]) Delete(id K) (V, bool) {
	h := s.hash(id)
	if v, ok := s.m[h]; ok && s.id(v) == id {
		delete(s.m, h)
		return v, true
	}
	v, ok := s.more[id]
	if ok {
		delete(s.more, id)
	}
	return v, ok
}

// Len returns the number of values.
func (s *Map[K, V]) Len() int { return len(s.m) + len(s.more) }

// All yields every value, in no order. The Map must not change meanwhile.
func (s *Map[K, V]) All() iter.Seq[V] {
	return func(yield func(V) bool) {
		for _, v := range s.m {
			if !yield(v) {
				return
			}
		}
		for _, v := range s.more {
			if !yield(v) {
				return
			}
		}
	}
}

// Update replaces every value by f's result (of the same ID).
func (s *Map[K, V]) Update(f func(V) V) {
	for h, v := range s.m {
		s.m[h] = f(v)
	}
	for id, v := range s.more {
		s.more[id] = f(v)
	}
}
