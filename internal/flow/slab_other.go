//go:build !linux

package flow

// mappedSlabs allocates the big slabs of entries: in the Go heap here (see
// slab_linux.go).
type mappedSlabs struct{}

func (m *mappedSlabs) slab() []entry { return make([]entry, hugeSlab) }

func (m *mappedSlabs) release() {}
