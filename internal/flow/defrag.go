package flow

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
)

// defragger reassembles IPv4 fragments (Options.IPDefrag) with gopacket's
// ip4defrag and counts fragments per datagram, like the original's
// IPDefragger.
type defragger struct {
	d       *ip4defrag.IPv4Defragmenter
	pending map[fragKey]*pendingFrag
}

type fragKey struct {
	src, dst netip.Addr
	id       uint16
}

type pendingFrag struct {
	m    IPMetric
	last time.Time
}

func newDefragger() *defragger {
	return &defragger{d: ip4defrag.NewIPv4Defragmenter(), pending: make(map[fragKey]*pendingFrag)}
}

// add feeds a fragment. It returns the reassembled datagram and the
// fragment metric of the datagram when complete; ok is false while
// fragments are missing or when the fragment was rejected.
func (f *defragger) add(ip *layers.IPv4, ts time.Time) (full *layers.IPv4, m IPMetric, ok bool) {
	k := fragKey{netip.AddrFrom4([4]byte(ip.SrcIP)), netip.AddrFrom4([4]byte(ip.DstIP)), ip.Id}
	p := f.pending[k]
	if p == nil {
		p = &pendingFrag{}
		f.pending[k] = p
	}
	p.last = ts

	// ip4defrag keeps the fragments it is given: hand it a copy that does
	// not alias the capture buffer nor the decoder's reusable layer.
	cp := *ip
	cp.Contents = append([]byte(nil), ip.Contents...)
	cp.Payload = append([]byte(nil), ip.Payload...)
	cp.SrcIP = append([]byte(nil), ip.SrcIP...)
	cp.DstIP = append([]byte(nil), ip.DstIP...)
	cp.Options = append([]layers.IPv4Option(nil), ip.Options...)

	out, err := f.d.DefragIPv4WithTimestamp(&cp, ts)
	switch {
	case err != nil:
		p.m.FragmentErrors++
		return nil, IPMetric{}, false
	case out == nil:
		p.m.Fragments++
		return nil, IPMetric{}, false
	}
	delete(f.pending, k)
	return out, p.m, true
}

// flushOlderThan drops fragments not completed since t.
func (f *defragger) flushOlderThan(t time.Time) {
	f.d.DiscardOlderThan(t)
	for k, p := range f.pending {
		if p.last.Before(t) {
			delete(f.pending, k)
		}
	}
}
