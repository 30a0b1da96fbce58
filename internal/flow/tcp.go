package flow

// tcpTracker follows TCP sequence numbers in both directions to count
// out of order and skipped segments (Options.ReassembleTCP) without
// buffering data: it only remembers up to maxPending out of order ranges.
type tcpTracker struct {
	ab, ba tcpDir
}

const maxPending = 8

type seqRange struct{ start, end uint32 }

type tcpDir struct {
	init     bool
	next     uint32
	npending int
	pending  [maxPending]seqRange
}

type tcpDirMetric struct {
	outOfOrder, skipped, skippedBytes, packets, bytes *int64
	sawStart, sawEnd                                  *bool
}

func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

func (d *tcpDir) segment(sp *subPacket, m *tcpDirMetric) {
	fl := sp.tcpFlags
	if fl&(tcpFIN|tcpRST) != 0 {
		*m.sawEnd = true
	}
	seq := sp.tcpSeq
	if fl&tcpSYN != 0 {
		*m.sawStart = true
		if !d.init {
			d.init, d.next = true, seq+1
		}
		return
	}
	segLen := uint32(sp.tcpPayload)
	if fl&tcpFIN != 0 {
		segLen++
	}
	if !d.init {
		d.init, d.next = true, seq+segLen
		if sp.tcpPayload > 0 {
			*m.packets++
			*m.bytes += int64(sp.tcpPayload)
		}
		return
	}
	if segLen == 0 {
		return
	}
	end := seq + segLen
	switch {
	case seq == d.next:
		d.next = end
	case seqLess(d.next, seq):
		*m.outOfOrder++
		if d.npending == maxPending {
			// give up waiting for the oldest gap
			first := d.pending[0]
			for _, r := range d.pending[1:d.npending] {
				if seqLess(r.start, first.start) {
					first = r
				}
			}
			*m.skipped++
			*m.skippedBytes += int64(first.start - d.next)
			d.next = first.start
			d.drain()
		}
		if d.npending < maxPending {
			d.pending[d.npending] = seqRange{seq, end}
			d.npending++
		}
	default:
		if seqLess(d.next, end) {
			d.next = end // partly new data
		}
	}
	if sp.tcpPayload > 0 {
		*m.packets++
		*m.bytes += int64(sp.tcpPayload)
	}
	d.drain()
}

// drain moves next over the pending ranges it reaches.
func (d *tcpDir) drain() {
	for moved := true; moved; {
		moved = false
		for i := 0; i < d.npending; i++ {
			r := d.pending[i]
			if !seqLess(d.next, r.start) {
				if seqLess(d.next, r.end) {
					d.next = r.end
				}
				d.npending--
				d.pending[i] = d.pending[d.npending]
				moved = true
				i--
			}
		}
	}
}
