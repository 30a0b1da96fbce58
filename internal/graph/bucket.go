package graph

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
)

// bucket is an index entry (a Type, a Name): its nodes in creation order,
// kept sorted as they come and go. Most buckets hold one node (a Name) or
// grow at their end (a Type): a sorted slice costs a slice, where an
// orderedSet per Name cost about 400 bytes a node (a map, positions, a
// lock) for half a million names.
type bucket struct{ nodes []*Node }

// find returns where a node of that creation time and ID is or would be.
func (b *bucket) find(t Time, id Identifier) (int, bool) {
	return slices.BinarySearchFunc(b.nodes, id, func(n *Node, id Identifier) int {
		return cmp.Or(cmp.Compare(n.CreatedAt, t), cmp.Compare(n.ID, id))
	})
}

func (b *bucket) add(n *Node) {
	// Nodes mostly come in creation order: a comparison with the last
	// instead of a binary search whose every step reads another node (a
	// cache miss each, in a bucket of all the veths).
	if k := len(b.nodes); k == 0 || cmp.Or(cmp.Compare(b.nodes[k-1].CreatedAt, n.CreatedAt), cmp.Compare(b.nodes[k-1].ID, n.ID)) < 0 {
		b.nodes = append(b.nodes, n)
		return
	}
	i, found := b.find(n.CreatedAt, n.ID)
	if found {
		b.nodes[i] = n
		return
	}
	b.nodes = slices.Insert(b.nodes, i, n)
}

// remove takes out the node stored as old (its creation time finds it).
func (b *bucket) remove(old *Node) {
	if i, found := b.find(old.CreatedAt, old.ID); found {
		b.nodes = slices.Delete(b.nodes, i, i+1)
	}
}

// replace swaps the stored revision old for n, moving it if its creation
// time changed.
func (b *bucket) replace(old, n *Node) {
	if old.CreatedAt == n.CreatedAt {
		if i, found := b.find(n.CreatedAt, n.ID); found {
			b.nodes[i] = n
			return
		}
	}
	b.remove(old)
	b.add(n)
}

// index is the nodes of each value of an indexed key (Type, Name), in
// creation order. A value of one node (most Names) is kept in one, without
// a bucket: a bucket and its slice cost 32 bytes more a node, 16 MB at
// 500,000 names. A value of more nodes has a bucket in many (and keeps it
// until it has none).
type index struct {
	one  map[string]*Node
	many map[string]*bucket
}

func newIndex() *index {
	return &index{one: map[string]*Node{}, many: map[string]*bucket{}}
}

func sameNode(a, b *Node) bool { return a.CreatedAt == b.CreatedAt && a.ID == b.ID }

func (x *index) add(key string, n *Node) {
	if key == "" {
		return
	}
	if b := x.many[key]; b != nil {
		b.add(n)
		return
	}
	o, ok := x.one[key]
	if !ok || sameNode(o, n) {
		x.one[key] = n
		return
	}
	delete(x.one, key)
	b := &bucket{nodes: make([]*Node, 1, 2)}
	b.nodes[0] = o
	b.add(n)
	x.many[key] = b
}

// remove takes out the node stored as old from the nodes of key.
func (x *index) remove(key string, old *Node) {
	if o, ok := x.one[key]; ok {
		if sameNode(o, old) {
			delete(x.one, key)
		}
		return
	}
	if b := x.many[key]; b != nil {
		b.remove(old)
		if len(b.nodes) == 0 {
			delete(x.many, key)
		}
	}
}

// replace swaps the stored revision old of a node of key for n.
func (x *index) replace(key string, old, n *Node) {
	if o, ok := x.one[key]; ok {
		if sameNode(o, old) {
			x.one[key] = n
		} else {
			x.add(key, n)
		}
		return
	}
	if b := x.many[key]; b != nil {
		b.replace(old, n)
	}
}

// get returns the nodes of key (a copy), nil if none.
func (x *index) get(key string) []*Node {
	if o, ok := x.one[key]; ok {
		return []*Node{o}
	}
	if b := x.many[key]; b != nil {
		return slices.Clone(b.nodes)
	}
	return nil
}

// maxSharedMetadata bounds the distinct metadata edges share.
const maxSharedMetadata = 4096

// shareEdgeMetadata returns the graph's copy of m when m is small and of
// scalar values, as the metadata of most edges is ({"RelationType":
// "ownership"}): stored elements are never changed (an update stores a
// copy), so edges may share one map. At 800,000 edges, their maps took a
// quarter of the graph's memory. m, if not shared yet, becomes the copy.
func (g *Graph) shareEdgeMetadata(m Metadata) Metadata {
	var buf [128]byte
	k, ok := appendShareKey(buf[:0], m)
	if !ok {
		return m
	}
	shared := *g.edgeMeta.Load()
	if s, ok := shared[string(k)]; ok {
		return s
	}
	if len(shared) < maxSharedMetadata {
		// Copied on write (under the graph's lock): a new metadata to
		// share is rare, a look-up is per edge.
		next := maps.Clone(shared)
		next[string(k)] = m
		g.edgeMeta.Store(&next)
	}
	return m
}

// sharedEdgeMetadata returns the graph's copy of metadata equal to m, if
// it has one. m may be as given (not canonical yet): the metadata shared
// has only strings, bools and int64s, which are canonical already. It
// needs no lock.
func (g *Graph) sharedEdgeMetadata(m Metadata) (Metadata, bool) {
	var buf [128]byte
	k, ok := appendShareKey(buf[:0], m)
	if !ok {
		return nil, false
	}
	s, ok := (*g.edgeMeta.Load())[string(k)]
	return s, ok
}

// appendShareKey appends to b a name of metadata of at most four scalar
// (string, bool, int64) values, unambiguous (lengths before texts); false
// for other metadata, which is not shared.
func appendShareKey(b []byte, m Metadata) ([]byte, bool) {
	if len(m) > 4 {
		return nil, false
	}
	var keys [4]string
	n := 0
	for k := range m {
		keys[n] = k
		n++
	}
	slices.Sort(keys[:n])
	b = append(b, 'm')
	for _, k := range keys[:n] {
		b = strconv.AppendInt(b, int64(len(k)), 10)
		b = append(b, ':')
		b = append(b, k...)
		switch v := m[k].(type) {
		case string:
			b = append(b, 's')
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		case bool:
			b = strconv.AppendBool(append(b, 'b'), v)
		case int64:
			b = strconv.AppendInt(append(b, 'i'), v, 10)
			b = append(b, ';')
		default:
			return nil, false
		}
	}
	return b, true
}
