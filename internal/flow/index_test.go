package flow

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestIndex checks the index against a Go map through random additions
// and removals (which shift back probed slots).
func TestIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := newIndex()
	ref := map[key]*entry{}
	var keys []key
	for round := range 20000 {
		if len(keys) > 0 && r.IntN(3) == 0 {
			i := r.IntN(len(keys))
			k := keys[i]
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			e := ref[k]
			delete(ref, k)
			x.remove(e)
		} else {
			k := key{parent: uint64(r.IntN(50)), tA: uint32(r.IntN(1000)), l4: uint8(round % 3)}
			k.netA[15] = byte(r.IntN(4))
			if _, ok := ref[k]; ok {
				continue
			}
			e := x.add(x.hash(&k))
			e.k = k
			ref[k] = e
			keys = append(keys, k)
		}
		if round%500 == 0 || round > 19900 {
			if x.n != len(ref) {
				t.Fatalf("round %d: %d entries, want %d", round, x.n, len(ref))
			}
			for k, e := range ref {
				if got := x.get(&k, x.hash(&k)); got != e {
					t.Fatalf("round %d: key %v: got %p, want %p", round, k, got, e)
				}
			}
			seen := 0
			x.each(func(*entry) { seen++ })
			if seen != len(ref) {
				t.Fatalf("round %d: each saw %d", round, seen)
			}
		}
	}
	missing := key{parent: 1 << 40}
	if x.get(&missing, x.hash(&missing)) != nil {
		t.Fatal("found a key never added")
	}
}

// TestLayersPathNotInterned: past maxPaths, a flow keeps its own
// LayersPath, the same.
func TestLayersPathNotInterned(t *testing.T) {
	d := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}, 1000, 2000, 10)
	c := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(d), Length: len(d)}
	want := NewTable(Options{})
	want.FeedPacket(d, c, layers.LinkTypeEthernet)
	full := NewTable(Options{})
	for range maxPaths {
		full.pathList = append(full.pathList, "x")
	}
	full.FeedPacket(d, c, layers.LinkTypeEthernet)
	w, g := want.Flows()[0], full.Flows()[0]
	if g.LayersPath != w.LayersPath || g.Application != w.Application || w.LayersPath == "" {
		t.Fatalf("LayersPath %q, Application %q; want %q, %q", g.LayersPath, g.Application, w.LayersPath, w.Application)
	}
}

// TestNewFlowAllocs: a flow's first packet allocates no object of its own
// (entries come by slabs of 128 and more, the index grows by doubling).
func TestNewFlowAllocs(t *testing.T) {
	d := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{192, 168, 0, 1}, 1, 53, 32)
	c := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(d), Length: len(d)}
	tbl := NewTable(Options{})
	i := 0
	allocs := testing.AllocsPerRun(20000, func() {
		i++
		d[29], d[34], d[35] = byte(i>>16), byte(i>>8), byte(i) // a new source address and port
		tbl.FeedPacket(d, c, layers.LinkTypeEthernet)
	})
	if tbl.Len() < 20000 {
		t.Fatalf("%d flows", tbl.Len())
	}
	if allocs > 0.05 {
		t.Errorf("%.3f allocations per new flow, want at most 0.05", allocs)
	}
}

// TestLocate: entry numbers map one to one onto the slabs, filling each
// slab in order, the slabs growing from firstSlab to maxSlab entries, then
// of hugeSlab.
func TestLocate(t *testing.T) {
	slab, off := uint32(0), uint32(0)
	for n := uint32(0); n < growEntries+3*uint32(hugeSlab); n++ {
		s, o := locate(n)
		if s != slab || o != off {
			t.Fatalf("entry %d at slab %d offset %d, want slab %d offset %d", n, s, o, slab, off)
		}
		if off++; int(off) == slabLen(int(slab)) {
			slab, off = slab+1, 0
		}
	}
	if slabLen(0) != firstSlab || slabLen(maxSlabLog) != maxSlab || slabLen(maxSlabLog+7) != hugeSlab {
		t.Errorf("slab lengths %d, %d, %d", slabLen(0), slabLen(maxSlabLog), slabLen(maxSlabLog+7))
	}
}

// TestMappedSlabs: a big table's entries live in mapped slabs, are
// written and read like the others, and are released with the table.
func TestMappedSlabs(t *testing.T) {
	d := udpFrame(t, net.IP{10, 0, 0, 1}, net.IP{192, 168, 0, 1}, 1, 53, 32)
	c := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(d), Length: len(d)}
	tbl := NewTable(Options{})
	const flows = growEntries + 2*hugeSlab + 10 // into a third mapped slab
	for i := range flows {
		d[29], d[34], d[35] = byte(i>>16), byte(i>>8), byte(i)
		tbl.FeedPacket(d, c, layers.LinkTypeEthernet)
		tbl.FeedPacket(d, c, layers.LinkTypeEthernet)
	}
	if tbl.Len() != flows || len(tbl.flows.slabs) != maxSlabLog+1+3 {
		t.Fatalf("%d flows in %d slabs", tbl.Len(), len(tbl.flows.slabs))
	}
	for _, f := range tbl.Flows() {
		if f.Metric.ABPackets != 2 {
			t.Fatalf("flow %s: %d packets, want 2", f.UUID, f.Metric.ABPackets)
		}
	}
	m := tbl.flows.mapped
	m.release()
	m.release() // twice: no harm
}
