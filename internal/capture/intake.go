package capture

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/skydive-ng/skydive/internal/flow"
)

// intake hands a source's packets to the capture's flow table in batches
// (flow.Table.FeedBatch: a table bigger than the CPU caches waits for
// memory about once a batch instead of twice a packet).
//
// A ring's packet is valid only until the next read: packet copies it and
// sends the batch on when it is full, when its first packet is older than
// maxBatchAge in capture time, or at flush, which a source calls when a
// read found nothing (a poll timeout) and after a datagram. A packet thus
// waits for the table at most a poll timeout or the next packet.
// packet and flush are for the source's one reading goroutine; feed, for
// batches whose data stays valid while it runs (flow.ReadPcapBatch), for
// any.
type intake struct {
	feed  func([]flow.Packet)
	pkts  []flow.Packet
	arena []byte
}

const (
	intakeArena = 64 << 10
	maxBatchAge = 10 * time.Millisecond
)

func newIntake(feed func([]flow.Packet)) *intake {
	return &intake{feed: feed, pkts: make([]flow.Packet, 0, flow.BatchSize), arena: make([]byte, 0, intakeArena)}
}

func (in *intake) packet(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
	if len(in.pkts) > 0 && ci.Timestamp.Sub(in.pkts[0].CI.Timestamp) > maxBatchAge {
		in.flush()
	}
	if len(in.arena)+len(data) > cap(in.arena) {
		in.flush()
		if len(data) > cap(in.arena) {
			in.feed([]flow.Packet{{Data: data, CI: ci, LinkType: lt}})
			return
		}
	}
	off := len(in.arena)
	in.arena = append(in.arena, data...)
	in.pkts = append(in.pkts, flow.Packet{Data: in.arena[off:len(in.arena):len(in.arena)], CI: ci, LinkType: lt})
	if len(in.pkts) == cap(in.pkts) {
		in.flush()
	}
}

func (in *intake) flush() {
	if len(in.pkts) > 0 {
		in.feed(in.pkts)
		clear(in.pkts) // no ancillary data kept alive
		in.pkts = in.pkts[:0]
	}
	in.arena = in.arena[:0]
}
