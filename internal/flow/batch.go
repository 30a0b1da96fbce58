package flow

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Packet is one frame given to FeedBatch.
type Packet struct {
	Data     []byte
	CI       gopacket.CaptureInfo
	LinkType layers.LinkType
}

// BatchSize is how many packets FeedBatch decodes before it updates their
// flows: enough memory loads in flight to hide most of a cache miss (an
// entry of a table bigger than the caches costs 250 ns to reach on a
// virtual machine), few enough that the batch's decoders stay in the L2
// cache. Batches of any size are taken.
const BatchSize = 16

// batch is FeedBatch's working state: a decoder per packet, since a
// packet's sub-packets point into its decoder's layers until its flows are
// updated.
type batch struct {
	dec  [BatchSize]decoder
	n    [BatchSize]int
	keys [BatchSize]key
	hash [BatchSize]uint64 // 0: no key (nothing to key a flow on)
	sink uint64            // what the prefetching loads read, kept so they are not removed
}

// FeedBatch is FeedPacket for several frames, updating the flows in the
// frames' order with the same result. It decodes up to 16 frames, then
// loads their flows' index slots, then their entries, all independent
// loads that the CPU runs together, before it updates each flow: a table
// bigger than the CPU caches waits for memory about twice a batch rather
// than twice a packet. The frames' data must stay unchanged until it
// returns; the table keeps no reference to them.
func (t *Table) FeedBatch(pkts []Packet) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.batch == nil {
		t.batch = new(batch)
		for i := range t.batch.dec {
			t.batch.dec[i].defrag = t.dec.defrag
			t.batch.dec[i].mplsPort = t.dec.mplsPort
		}
	}
	for len(pkts) > 0 {
		n := min(len(pkts), BatchSize)
		t.feedBatch(pkts[:n])
		pkts = pkts[n:]
	}
}

func (t *Table) feedBatch(pkts []Packet) {
	b := t.batch
	mode := t.opts.LayerKeyMode
	var sink uint64
	mask := uint64(len(t.flows.slots) - 1)
	for i := range pkts {
		p := &pkts[i]
		d := &b.dec[i]
		b.n[i] = d.decode(p.Data, firstLayerType(p.LinkType), p.CI.Length, p.CI.Timestamp)
		b.hash[i] = 0
		if b.n[i] == 0 || !d.subs[0].hasLink && d.subs[0].netVer == 0 {
			continue
		}
		d.subs[0].setKey(&b.keys[i], mode, 0)
		b.hash[i] = t.flows.hash(&b.keys[i])
	}
	// A loop of loads alone: the CPU issues them all before the first
	// comes back (between decodes, its reorder buffer would fill first).
	for _, h := range b.hash[:len(pkts)] {
		sink += uint64(t.flows.slots[h&mask].id)
	}
	// The slots are in the caches now: load the first three cache lines
	// of the entries they name (key, A side, metric), which update uses.
	for i := range pkts {
		h := b.hash[i]
		if h == 0 {
			continue
		}
		if s := t.flows.slots[h&mask]; s.id != 0 && s.lo == uint32(h) {
			e := t.flows.entry(s.id)
			sink += e.k.parent + e.h + uint64(e.m.Last)
		}
	}
	b.sink += sink
	for i := range pkts {
		t.stats.PacketsReceived++
		if h := b.hash[i]; h != 0 {
			t.feedDecoded(&b.dec[i], b.n[i], pkts[i].CI, &b.keys[i], h)
		} else {
			t.feedDecoded(&b.dec[i], b.n[i], pkts[i].CI, nil, 0)
		}
	}
}
