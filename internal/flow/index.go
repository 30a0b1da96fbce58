package flow

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"unsafe"
)

// index is the table's flows: their entries, in slabs, and an open
// addressing hash table (linear probing, at most 3/4 full) of slots
// holding the low half of a key's hash and its entry's number, the key
// itself being in the entry. A lookup touches a slot (eight to a cache
// line) and the entry's first cache lines, which the packet's update needs
// anyway; a Go map would also touch its control word and the 72-byte key
// stored in its slot (a cache miss more per packet of a table bigger than
// the cache). Entries and slots hold no pointer: the collector does not
// scan them (a million flows are 450 MB); what points elsewhere (TCP
// metrics, rare parts) is in sides, by the same number.
type index struct {
	slots []slot
	n     int
	seed  uint64    // random per table: a crafted trace cannot aim at one chain
	slabs [][]entry // slab k: slabLen(k) entries, see locate
	sides [][]side  // the same shape
	free  []uint32  // numbers of removed entries, to reuse
	next  uint32    // entries handed out so far
	// mapped holds the slabs allocated outside the Go heap, released
	// when the table is collected (NewTable).
	mapped *mappedSlabs
}

// Entries are allocated in slabs, a new flow costing a fraction of an
// allocation: the first of firstSlab entries, each next one twice the
// size of the one before up to maxSlab entries (1.8 MB), then slabs of
// hugeSlab entries, each a 2 MiB huge page of its own (mappedSlabs). A
// small table stays small, and a big one has few slabs: the slab list of
// a million flows (215 slabs) stays in the L1 cache, where slabs of 128
// (7,800) missed it on most packets, a memory load more before the
// entry's; and its entries are reached through few TLB entries.
const (
	firstSlab   = 128
	maxSlabLog  = 5 // maxSlab = firstSlab << maxSlabLog
	maxSlab     = firstSlab << maxSlabLog
	growEntries = firstSlab * (1<<(maxSlabLog+1) - 1) // entries in the growing slabs
	hugePage    = 2 << 20
	hugeSlab    = int(hugePage / unsafe.Sizeof(entry{}))
)

// locate returns the slab and the offset in it of entry number n (id-1).
func locate(n uint32) (slab, off uint32) {
	if n < growEntries {
		k := uint32(bits.Len32(n/firstSlab+1)) - 1
		return k, n - firstSlab*(1<<k-1)
	}
	n -= growEntries
	return maxSlabLog + 1 + n/uint32(hugeSlab), n % uint32(hugeSlab)
}

// slabLen is the number of entries of slab k.
func slabLen(k int) int {
	if k > maxSlabLog {
		return hugeSlab
	}
	return firstSlab << k
}

type slot struct {
	lo uint32 // low half of the key's hash
	id uint32 // 1 + the entry's number, 0: empty
}

// side holds an entry's pointers.
type side struct {
	tcpm *TCPMetric // Flow.TCPMetric
	tcp  *tcpTracker
	x    *entryExtra
}

func newIndex() index {
	return index{slots: make([]slot, 64), seed: rand.Uint64(), mapped: &mappedSlabs{}}
}

func (x *index) entry(id uint32) *entry {
	s, o := locate(id - 1)
	return &x.slabs[s][o]
}

func (x *index) side(e *entry) *side {
	s, o := locate(e.id - 1)
	return &x.sides[s][o]
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
	lo := uint32(h)
	mask := uint32(len(x.slots) - 1)
	for i := lo & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s.id == 0 {
			return nil
		}
		if s.lo == lo {
			if e := x.entry(s.id); e.k == *k {
				return e
			}
		}
	}
}

// add returns a new zeroed entry for a key, not in the index, of hash h
// (e.h and e.id set).
func (x *index) add(h uint64) *entry {
	var id uint32
	if n := len(x.free); n > 0 {
		id = x.free[n-1]
		x.free = x.free[:n-1]
	} else {
		if s, _ := locate(x.next); int(s) == len(x.slabs) {
			k := len(x.slabs)
			if k > maxSlabLog {
				x.slabs = append(x.slabs, x.mapped.slab())
			} else {
				x.slabs = append(x.slabs, make([]entry, slabLen(k)))
			}
			x.sides = append(x.sides, make([]side, slabLen(len(x.sides))))
		}
		x.next++
		id = x.next
	}
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.place(slot{uint32(h), id})
	x.n++
	e := x.entry(id)
	e.h, e.id = h, id
	return e
}

func (x *index) place(s slot) {
	mask := uint32(len(x.slots) - 1)
	i := s.lo & mask
	for x.slots[i].id != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]slot, 2*len(old))
	for _, s := range old {
		if s.id != 0 {
			x.place(s)
		}
	}
}

// remove takes e out of the index, shifting back the slots after it that
// probed past its slot (no tombstones: lookups stay short), and zeroes it
// for reuse. Nothing outside the table points into an entry (flows leave
// it as copies).
func (x *index) remove(e *entry) {
	mask := uint32(len(x.slots) - 1)
	i := uint32(e.h) & mask
	for x.slots[i].id != e.id {
		if x.slots[i].id == 0 {
			return // not there
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].id != 0; j = (j + 1) & mask {
		// j stays when its home slot is cyclically in (i, j]
		home := x.slots[j].lo & mask
		if (j-home)&mask < (j-i)&mask {
			continue
		}
		x.slots[i] = x.slots[j]
		i = j
	}
	x.slots[i] = slot{}
	x.n--
	id := e.id
	*x.side(e) = side{}
	*e = entry{}
	x.free = append(x.free, id)
}

// each calls fn for every entry; fn must not change the index.
func (x *index) each(fn func(*entry)) {
	for _, s := range x.slots {
		if s.id != 0 {
			fn(x.entry(s.id))
		}
	}
}
