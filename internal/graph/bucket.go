package graph

import (
	"cmp"
	"slices"
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
