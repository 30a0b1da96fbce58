package graph

import (
	"cmp"
	"github.com/skydive-ng/skydive/internal/idmap"
	"slices"
	"sync"
)

// orderedSet keeps elements by ID and, lazily, in creation order. Queries
// list whole sets often while membership changes seldom: the order is
// computed again only after an addition or a removal, and an update swaps
// the element in place.
//
// m holds, with each element, X: what its owner keeps beside it (a node's
// adjacency, which also holds the node's position: see posOf). A map of
// adjacencies and a map of positions beside the elements cost about 35
// bytes a node each at half a million nodes.
type orderedSet[T, X any] struct {
	key func(T) (Time, Identifier)

	// m holds the elements by a hash of their ID (see idmap: a map by ID
	// read each key's bytes again whenever it grew).
	m *idmap.Map[Identifier, slot[T, X]]

	mu     sync.Mutex // guards the cache below; readers share the graph's read lock
	sorted []T
	// xs holds each element's X, in the order of sorted (the positions of
	// the elements after one inserted are told without a look-up each).
	xs []X
	// posOf reads an element's position from its X, which placed keeps
	// (a map entry can't be written under the graph's read lock, while an
	// X's field can, under mu). Without it (edges), a position is found by
	// a binary search of the order, which is by key: a map of 800,000
	// edges' positions cost 28 MB for a lookup that only writes and
	// IncidentEdges need.
	posOf func(X) int
	// needSort: the order must be computed again (an element created
	// before the last, a creation time changed). Otherwise sorted, pos and
	// the columns are valid but for holes: the positions of the elements
	// removed since, which the next read closes up without sorting.
	needSort bool
	holes    []int

	// Columns: for keys that queries scan, the value of each element in
	// creation order, kept in step with updates so that a scan reads one
	// dense slice instead of one map per element.
	colOf func(T, string) any
	cols  map[colKey]*column[T]

	// placed, when set, is told each element's position whenever the
	// order is computed or extended (the graph keeps nodes' positions in
	// their adjacency).
	placed func(x X, i int)
}

// slot is an element with what its owner keeps beside it.
type slot[T, X any] struct {
	el T
	x  X
}

// get returns the element of id.
func (s *orderedSet[T, X]) get(id Identifier) (T, bool) {
	sl, ok := s.m.Get(id)
	return sl.el, ok
}

// at returns the slot of id (the zero slot if none).
func (s *orderedSet[T, X]) at(id Identifier) slot[T, X] {
	sl, _ := s.m.Get(id)
	return sl
}

// has tells whether the set has an element of id.
func (s *orderedSet[T, X]) has(id Identifier) bool { return s.m.Has(id) }

// len returns the number of elements.
func (s *orderedSet[T, X]) len() int { return s.m.Len() }

// posLocked returns the position of an element while the order is valid
// (mu held).
func (s *orderedSet[T, X]) posLocked(id Identifier) (int, bool) {
	sl, ok := s.m.Get(id)
	if !ok {
		return 0, false
	}
	if s.posOf != nil {
		return s.posOf(sl.x), true
	}
	// The order holds each element once (the holes too, at their
	// positions), strictly by key.
	t, _ := s.key(sl.el)
	return slices.BinarySearchFunc(s.sorted, id, func(el T, id Identifier) int {
		et, eid := s.key(el)
		if et != t {
			return cmp.Compare(et, t)
		}
		return cmp.Compare(eid, id)
	})
}

// maxColumns bounds the keys kept as columns.
const maxColumns = 32

// colKey names a column: the values of a key, or a derived form of them.
type colKey struct{ key, form string }

// column is the values of a key in creation order, or their form by
// derive (Derived.Of).
type column[T any] struct {
	vals   []any
	derive func(v any, present bool) any
}

// valueOf is the column's entry for el.
func (s *orderedSet[T, X]) valueOf(k colKey, c *column[T], el T) any {
	v := s.colOf(el, k.key)
	if c.derive == nil {
		return v
	}
	if _, absent := v.(absentKey); absent {
		return c.derive(nil, false)
	}
	return c.derive(v, true)
}

func newOrderedSet[T, X any](key func(T) (Time, Identifier)) *orderedSet[T, X] {
	return &orderedSet[T, X]{key: key, needSort: true, m: idmap.New(func(sl slot[T, X]) Identifier {
		_, id := key(sl.el)
		return id
	})}
}

// The writers below run under the graph's write lock.

func (s *orderedSet[T, X]) add(id Identifier, el T, x X) {
	s.m.Put(id, slot[T, X]{el, x})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.needSort {
		return
	}
	if !s.lastBeforeLocked(el) {
		s.needSort = !s.insertLocked(el, x)
		return
	}
	// Elements mostly arrive in creation order: append them rather than
	// sort the whole set again at the next read.
	if s.placed != nil {
		s.placed(x, len(s.sorted))
	}
	s.sorted = append(s.sorted, el)
	s.xs = append(s.xs, x)
	for k, c := range s.cols {
		c.vals = append(c.vals, s.valueOf(k, c, el))
	}
}

// maxInsertBack bounds how far before the end of the order insertLocked
// places an element.
const maxInsertBack = 1024

// insertLocked puts el, created before the last element, at its place when
// that is among the last maxInsertBack and no hole follows it; false
// otherwise (the set is then sorted again at the next read). Elements of
// one millisecond come in their sender's order, not by ID: with an agent
// or a publisher sending, most additions were out of order by a few, and
// each next read sorted half a million nodes again.
func (s *orderedSet[T, X]) insertLocked(el T, x X) bool {
	lo := max(len(s.sorted)-maxInsertBack, 0)
	i, found := slices.BinarySearchFunc(s.sorted[lo:], el, s.compare)
	i += lo
	if found || i == lo && lo > 0 {
		return false
	}
	for _, h := range s.holes {
		if h >= i {
			return false
		}
	}
	s.sorted = slices.Insert(s.sorted, i, el)
	s.xs = slices.Insert(s.xs, i, x)
	for k, c := range s.cols {
		c.vals = slices.Insert(c.vals, i, s.valueOf(k, c, el))
	}
	if s.placed != nil {
		for j := i; j < len(s.sorted); j++ {
			s.placed(s.xs[j], j)
		}
	}
	return true
}

// compare orders elements by creation time, then ID.
func (s *orderedSet[T, X]) compare(a, b T) int {
	ta, ia := s.key(a)
	tb, ib := s.key(b)
	if c := cmp.Compare(ta, tb); c != 0 {
		return c
	}
	return cmp.Compare(ia, ib)
}

// lastBeforeLocked reports whether el sorts after every element of the
// order (a removed last one included, which is as good a bound).
func (s *orderedSet[T, X]) lastBeforeLocked(el T) bool {
	if len(s.sorted) == 0 {
		return true
	}
	lt, lid := s.key(s.sorted[len(s.sorted)-1])
	t, id := s.key(el)
	return lt < t || (lt == t && lid < id)
}

// update swaps an element; moved tells that its creation time changed.
func (s *orderedSet[T, X]) update(id Identifier, el T, moved bool) {
	sl := s.at(id)
	sl.el = el
	s.m.Put(id, sl)
	s.mu.Lock()
	if moved {
		s.needSort = true
	} else if !s.needSort {
		i, _ := s.posLocked(id)
		s.sorted[i] = el
		for k, c := range s.cols {
			c.vals[i] = s.valueOf(k, c, el)
		}
	}
	s.mu.Unlock()
}

func (s *orderedSet[T, X]) remove(id Identifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.m.Delete(id)
	if s.needSort {
		return
	}
	// Sorting half a million elements again after each removal took
	// seconds: the hole is closed up at the next read instead.
	if i, ok := s.posLocked(id); ok {
		s.holes = append(s.holes, i)
	}
}

// list returns the elements in creation order (a copy).
func (s *orderedSet[T, X]) list() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return slices.Clone(s.sorted)
}

// columnLocked returns the column of k, made if need be with derive (nil:
// the values themselves); ok is false when the set keeps no more columns.
func (s *orderedSet[T, X]) columnLocked(k colKey, derive func(any, bool) any) ([]any, bool) {
	if c, ok := s.cols[k]; ok {
		return c.vals, true
	}
	if s.colOf == nil || len(s.cols) >= maxColumns {
		return nil, false
	}
	c := &column[T]{vals: make([]any, len(s.sorted)), derive: derive}
	for i, el := range s.sorted {
		c.vals[i] = s.valueOf(k, c, el)
	}
	if s.cols == nil {
		s.cols = map[colKey]*column[T]{}
	}
	s.cols[k] = c
	return c.vals, true
}

// orderedColumns is ordered with the columns of tests (nil for one the
// set keeps no column of), not copied either.
func (s *orderedSet[T, X]) orderedColumns(tests []ColumnTest) ([]T, [][]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	var cols [][]any
	if len(tests) > 0 {
		cols = make([][]any, len(tests))
	}
	for i, t := range tests {
		k := colKey{key: t.Key}
		var derive func(any, bool) any
		if t.Derived != nil {
			k.form, derive = t.Derived.Name, t.Derived.Of
		}
		cols[i], _ = s.columnLocked(k, derive)
	}
	return s.sorted, cols
}

// ordered returns the elements in creation order and a function giving an
// element's position, not copied: the caller holds the graph's read lock
// (no writer can change them meanwhile) and only reads them.
func (s *orderedSet[T, X]) ordered() ([]T, func(Identifier) (int, bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return s.sorted, s.posLocked
}

func (s *orderedSet[T, X]) refreshLocked() {
	if !s.needSort && len(s.holes) > 0 {
		s.closeHolesLocked()
	}
	if s.needSort {
		s.sorted = s.sorted[:0]
		for sl := range s.m.All() {
			s.sorted = append(s.sorted, sl.el)
		}
		slices.SortFunc(s.sorted, s.compare)
		s.xs = slices.Grow(s.xs[:0], len(s.sorted))[:len(s.sorted)]
		for i, el := range s.sorted {
			_, id := s.key(el)
			s.xs[i] = s.at(id).x
			if s.placed != nil {
				s.placed(s.xs[i], i)
			}
		}
		for k, c := range s.cols {
			c.vals = make([]any, len(s.sorted))
			for i, el := range s.sorted {
				c.vals[i] = s.valueOf(k, c, el)
			}
		}
		s.needSort, s.holes = false, s.holes[:0]
	}
}

// closeHolesLocked moves the elements after the first hole (and their
// column entries) down over the holes, keeping their order: no sort, and
// only the elements after the first hole get new positions.
func (s *orderedSet[T, X]) closeHolesLocked() {
	slices.Sort(s.holes)
	h, w := 0, s.holes[0]
	for r := s.holes[0]; r < len(s.sorted); r++ {
		if h < len(s.holes) && s.holes[h] == r {
			for h < len(s.holes) && s.holes[h] == r {
				h++
			}
			continue
		}
		s.sorted[w], s.xs[w] = s.sorted[r], s.xs[r]
		for _, c := range s.cols {
			c.vals[w] = c.vals[r]
		}
		if s.placed != nil {
			s.placed(s.xs[w], w)
		}
		w++
	}
	clear(s.sorted[w:])
	s.sorted = s.sorted[:w]
	clear(s.xs[w:])
	s.xs = s.xs[:w]
	for _, c := range s.cols {
		clear(c.vals[w:])
		c.vals = c.vals[:w]
	}
	s.holes = s.holes[:0]
}

func nodeKey(n *Node) (Time, Identifier) { return n.CreatedAt, n.ID }
func edgeKey(e *Edge) (Time, Identifier) { return e.CreatedAt, e.ID }

// absentKey stands in a column for a key the node lacks, so that a column
// tells an absent key from a null value without reading the node's map.
type absentKey struct{}

func nodeColumn(n *Node, key string) any {
	if v, ok := n.Metadata[key]; ok {
		return v
	}
	return absentKey{}
}

func newColumnSet() *orderedSet[*Node, *nodeAdj] {
	s := newOrderedSet[*Node, *nodeAdj](nodeKey)
	s.colOf = nodeColumn
	return s
}
