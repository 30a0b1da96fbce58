package flow

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// index is the table's flows by key: an open addressing hash table
// (linear probing, at most 3/4 full) of slots holding a key's hash and its
// entry, the key itself being in the entry. A lookup touches a slot (four
// to a cache line) and the entry's first cache line, which the packet's
// update needs anyway; a Go map would also touch its control word and the
// 72-byte key stored in its slot (a cache miss more per packet of a table
// bigger than the cache).
type index struct {
	slots []slot
	n     int
	seed  uint64 // random per table: a crafted trace cannot aim at one chain
}

type slot struct {
	h uint64 // hash of the key, never 0 in a used slot
	e *entry // nil: empty
}

func newIndex() index {
	return index{slots: make([]slot, 64), seed: rand.Uint64()}
}

// hash mixes the key's 72 bytes (a pointerless, padless struct, see key)
// word by word.
func (x *index) hash(k *key) uint64 {
	const m1, m2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	mix := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a^m1, b^m2)
		return hi ^ lo
	}
	le := binary.LittleEndian
	h := mix(x.seed^k.parent, le.Uint64(k.netA[:8]))
	h = mix(h^le.Uint64(k.netA[8:]), le.Uint64(k.netB[:8]))
	h = mix(h^le.Uint64(k.netB[8:]), uint64(k.tA)<<32|uint64(k.tB))
	h = mix(h^k.app, uint64(le.Uint32(k.linkA[:4]))<<32|uint64(le.Uint16(k.linkA[4:]))<<16|uint64(le.Uint16(k.linkB[:2])))
	var flags uint64
	if k.hasLink {
		flags |= 1 << 8
	}
	if k.hasApp {
		flags |= 1 << 16
	}
	h = mix(h^uint64(le.Uint32(k.linkB[2:])), flags|uint64(k.netVer)<<24|uint64(k.l4)<<32)
	return h | 1
}

// get returns the entry of k (h its hash), nil if none.
func (x *index) get(k *key, h uint64) *entry {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.e == nil {
			return nil
		}
		if s.h == h && s.e.k == *k {
			return s.e
		}
	}
}

// put adds e, whose key is not in the index, with its hash h.
func (x *index) put(e *entry, h uint64) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.place(slot{h, e})
	x.n++
}

func (x *index) place(s slot) {
	mask := uint64(len(x.slots) - 1)
	i := s.h & mask
	for x.slots[i].e != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]slot, 2*len(old))
	for _, s := range old {
		if s.e != nil {
			x.place(s)
		}
	}
}

// remove takes e (hash h) out of the index, shifting back the slots after
// it that probed past its slot (no tombstones: lookups stay short).
func (x *index) remove(e *entry, h uint64) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].e != e {
		if x.slots[i].e == nil {
			return // not there
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].e != nil; j = (j + 1) & mask {
		// j stays when its home slot is cyclically in (i, j]
		home := x.slots[j].h & mask
		if (j-home)&mask < (j-i)&mask {
			continue
		}
		x.slots[i] = x.slots[j]
		i = j
	}
	x.slots[i] = slot{}
	x.n--
}

// each calls fn for every entry; fn must not change the index.
func (x *index) each(fn func(*entry)) {
	for _, s := range x.slots {
		if s.e != nil {
			fn(s.e)
		}
	}
}
