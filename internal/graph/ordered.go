package graph

import (
	"slices"
	"sync"
)

// orderedSet keeps elements by ID and, lazily, in creation order. Queries
// list whole sets often while membership changes seldom: the order is
// computed again only after an addition or a removal, and an update swaps
// the element in place.
type orderedSet[T any] struct {
	key func(T) (Time, Identifier)

	m map[Identifier]T

	mu     sync.Mutex // guards the cache below; readers share the graph's read lock
	sorted []T
	pos    map[Identifier]int
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
	placed func(el T, i int)
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
func (s *orderedSet[T]) valueOf(k colKey, c *column[T], el T) any {
	v := s.colOf(el, k.key)
	if c.derive == nil {
		return v
	}
	if _, absent := v.(absentKey); absent {
		return c.derive(nil, false)
	}
	return c.derive(v, true)
}

func newOrderedSet[T any](key func(T) (Time, Identifier)) *orderedSet[T] {
	return &orderedSet[T]{key: key, m: map[Identifier]T{}, needSort: true}
}

// The writers below run under the graph's write lock.

func (s *orderedSet[T]) add(id Identifier, el T) {
	s.m[id] = el
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.needSort || !s.lastBeforeLocked(el) {
		s.needSort = true
		return
	}
	// Elements mostly arrive in creation order: append them rather than
	// sort the whole set again at the next read.
	s.pos[id] = len(s.sorted)
	if s.placed != nil {
		s.placed(el, len(s.sorted))
	}
	s.sorted = append(s.sorted, el)
	for k, c := range s.cols {
		c.vals = append(c.vals, s.valueOf(k, c, el))
	}
}

// lastBeforeLocked reports whether el sorts after every element of the
// order (a removed last one included, which is as good a bound).
func (s *orderedSet[T]) lastBeforeLocked(el T) bool {
	if len(s.sorted) == 0 {
		return true
	}
	lt, lid := s.key(s.sorted[len(s.sorted)-1])
	t, id := s.key(el)
	return lt < t || (lt == t && lid < id)
}

// update swaps an element; moved tells that its creation time changed.
func (s *orderedSet[T]) update(id Identifier, el T, moved bool) {
	s.m[id] = el
	s.mu.Lock()
	if moved {
		s.needSort = true
	} else if !s.needSort {
		i := s.pos[id]
		s.sorted[i] = el
		for k, c := range s.cols {
			c.vals[i] = s.valueOf(k, c, el)
		}
	}
	s.mu.Unlock()
}

func (s *orderedSet[T]) remove(id Identifier) {
	delete(s.m, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.needSort {
		return
	}
	// Sorting half a million elements again after each removal took
	// seconds: the hole is closed up at the next read instead.
	if i, ok := s.pos[id]; ok {
		s.holes = append(s.holes, i)
		delete(s.pos, id)
	}
}

// list returns the elements in creation order (a copy).
func (s *orderedSet[T]) list() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return slices.Clone(s.sorted)
}

// columnLocked returns the column of k, made if need be with derive (nil:
// the values themselves); ok is false when the set keeps no more columns.
func (s *orderedSet[T]) columnLocked(k colKey, derive func(any, bool) any) ([]any, bool) {
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
func (s *orderedSet[T]) orderedColumns(tests []ColumnTest) ([]T, map[Identifier]int, [][]any) {
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
	return s.sorted, s.pos, cols
}

// ordered returns the elements in creation order and their positions, not
// copied: the caller holds the graph's read lock (no writer can change them
// meanwhile) and only reads them.
func (s *orderedSet[T]) ordered() ([]T, map[Identifier]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return s.sorted, s.pos
}

func (s *orderedSet[T]) refreshLocked() {
	if !s.needSort && len(s.holes) > 0 {
		s.closeHolesLocked()
	}
	if s.needSort {
		s.sorted = s.sorted[:0]
		for _, el := range s.m {
			s.sorted = append(s.sorted, el)
		}
		slices.SortFunc(s.sorted, func(a, b T) int {
			ta, ia := s.key(a)
			tb, ib := s.key(b)
			switch {
			case ta < tb:
				return -1
			case ta > tb:
				return 1
			case ia < ib:
				return -1
			case ia > ib:
				return 1
			}
			return 0
		})
		if s.pos == nil {
			s.pos = make(map[Identifier]int, len(s.sorted))
		} else {
			clear(s.pos)
		}
		for i, el := range s.sorted {
			_, id := s.key(el)
			s.pos[id] = i
			if s.placed != nil {
				s.placed(el, i)
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
func (s *orderedSet[T]) closeHolesLocked() {
	slices.Sort(s.holes)
	h, w := 0, s.holes[0]
	for r := s.holes[0]; r < len(s.sorted); r++ {
		if h < len(s.holes) && s.holes[h] == r {
			for h < len(s.holes) && s.holes[h] == r {
				h++
			}
			continue
		}
		el := s.sorted[r]
		s.sorted[w] = el
		for _, c := range s.cols {
			c.vals[w] = c.vals[r]
		}
		_, id := s.key(el)
		s.pos[id] = w
		if s.placed != nil {
			s.placed(el, w)
		}
		w++
	}
	clear(s.sorted[w:])
	s.sorted = s.sorted[:w]
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

func newColumnSet() *orderedSet[*Node] {
	s := newOrderedSet(nodeKey)
	s.colOf = nodeColumn
	return s
}
