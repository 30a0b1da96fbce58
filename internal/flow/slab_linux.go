package flow

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mappedSlabs allocates the big slabs of entries outside the Go heap, each
// in a 2 MiB mapping advised as a transparent huge page. The Go heap gets
// no huge page where the kernel gives them only when asked (the setting
// "madvise", this machine's), and a table of a million flows (450 MB) in
// 4 KiB pages missed the TLB on nearly every packet, a page walk before
// each cache miss. Entries hold no pointer, so memory the collector does
// not know is fine for them. The mappings are released with the table
// (NewTable registers release as its cleanup): nothing outside the table
// points into an entry.
type mappedSlabs struct {
	// regions needs no lock: release runs once the table, the only
	// caller of slab, is unreachable.
	regions [][]byte
}

// slab returns hugeSlab zeroed entries.
func (m *mappedSlabs) slab() []entry {
	b, err := unix.Mmap(-1, 0, hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]entry, hugeSlab) // no mapping to be had: the heap's pages
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice: 4 KiB pages without it
	m.regions = append(m.regions, b)
	return unsafe.Slice((*entry)(unsafe.Pointer(&b[0])), hugeSlab)
}

// release unmaps the slabs; the table's entries must be unreachable.
func (m *mappedSlabs) release() {
	for _, b := range m.regions {
		_ = unix.Munmap(b)
	}
	m.regions = nil
}
