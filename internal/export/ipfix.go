package export

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
)

// The IPFIX encoder (RFC 7011) is hand-written: no maintained Go library
// exporting IPFIX is available from the module proxy (goflow2, which the
// agents' collectors use, only decodes), and the subset needed here, one
// template per address family and fixed-size data records, is small.
//
// A flow update is one RFC 5103 biflow record: the forward counters are the
// A to B direction's (A sent the flow's first packet), the reverse ones,
// reversePacketDeltaCount and reverseOctetDeltaCount (enterprise 29305),
// B to A's, and biflowDirection says the source is the initiator. nfdump
// (1.7) reads them as the flow's out packets and bytes; a collector that
// ignores enterprise elements sees the A to B direction.

// IPFIX information elements of the templates (IANA numbers).
const (
	ieOctetDeltaCount          = 1
	iePacketDeltaCount         = 2
	ieProtocolIdentifier       = 4
	ieSourceTransportPort      = 7
	ieSourceIPv4Address        = 8
	ieDestinationTransportPort = 11
	ieDestinationIPv4Address   = 12
	ieSourceIPv6Address        = 27
	ieDestinationIPv6Address   = 28
	ieFlowStartMilliseconds    = 152
	ieFlowEndMilliseconds      = 153
	ieBiflowDirection          = 239
	// ReversePEN is RFC 5103's enterprise number of reverse elements.
	ReversePEN = 29305
	// biflowInitiator: the source address is the initiator's.
	biflowInitiator = 1
)

// Template IDs (data set IDs are >= 256).
const (
	TemplateIPv4 = 256
	TemplateIPv6 = 257
)

const (
	ipfixVersion     = 10
	ipfixHeaderLen   = 16
	setHeaderLen     = 4
	templateSetID    = 2
	defaultMaxPacket = 1400 // below a 1500-byte MTU with IP and UDP headers
)

type ie struct {
	id, length uint16
	pen        uint32
}

// templates: the address family's addresses, then the same fields.
func templateFields(v6 bool) []ie {
	src, dst, alen := uint16(ieSourceIPv4Address), uint16(ieDestinationIPv4Address), uint16(4)
	if v6 {
		src, dst, alen = ieSourceIPv6Address, ieDestinationIPv6Address, 16
	}
	return []ie{{src, alen, 0}, {dst, alen, 0}, {ieSourceTransportPort, 2, 0}, {ieDestinationTransportPort, 2, 0},
		{ieProtocolIdentifier, 1, 0}, {iePacketDeltaCount, 8, 0}, {ieOctetDeltaCount, 8, 0},
		{iePacketDeltaCount, 8, ReversePEN}, {ieOctetDeltaCount, 8, ReversePEN},
		{ieFlowStartMilliseconds, 8, 0}, {ieFlowEndMilliseconds, 8, 0}, {ieBiflowDirection, 1, 0}}
}

func recordLen(v6 bool) int {
	n := 0
	for _, f := range templateFields(v6) {
		n += int(f.length)
	}
	return n
}

// templateSet is the template set announcing both templates; it is sent in
// every message (over UDP a collector may start, restart or lose a
// datagram at any time: RFC 7011 §10.3.6 has templates resent
// periodically, every message is the simplest period).
var templateSet = func() []byte {
	b := binary.BigEndian.AppendUint16(nil, templateSetID)
	b = binary.BigEndian.AppendUint16(b, 0)
	for i, id := range []uint16{TemplateIPv4, TemplateIPv6} {
		fs := templateFields(i == 1)
		b = binary.BigEndian.AppendUint16(b, id)
		b = binary.BigEndian.AppendUint16(b, uint16(len(fs)))
		for _, f := range fs {
			if f.pen != 0 {
				b = binary.BigEndian.AppendUint16(b, f.id|0x8000)
				b = binary.BigEndian.AppendUint16(b, f.length)
				b = binary.BigEndian.AppendUint32(b, f.pen)
				continue
			}
			b = binary.BigEndian.AppendUint16(b, f.id)
			b = binary.BigEndian.AppendUint16(b, f.length)
		}
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}()

// Record is a flow's update as an IPFIX biflow data record: Src is the
// initiator (the flow's A), Packets and Octets count Src to Dst, and
// RevPackets and RevOctets Dst to Src.
type Record struct {
	Src, Dst              netip.Addr
	SrcPort, DstPort      uint16
	Proto                 uint8
	Packets, Octets       uint64
	RevPackets, RevOctets uint64
	StartMs, EndMs        int64
}

// Encoder builds IPFIX messages. It keeps the sequence number of its
// observation domain (the count of data records sent before each
// message). Not safe for concurrent use.
type Encoder struct {
	// Domain is the observation domain ID.
	Domain uint32
	// MaxSize bounds a message's size (0: 1400 bytes).
	MaxSize int
	seq     uint32
}

// Encode returns the messages carrying recs (in order, each message with
// the templates), exported at now.
func (e *Encoder) Encode(now time.Time, recs []Record) [][]byte {
	maxSize := e.MaxSize
	if maxSize <= 0 {
		maxSize = defaultMaxPacket
	}
	if min4 := ipfixHeaderLen + len(templateSet) + setHeaderLen + recordLen(true); maxSize < min4 {
		maxSize = min4
	}
	var out [][]byte
	for len(recs) > 0 {
		msg := make([]byte, ipfixHeaderLen, maxSize)
		msg = append(msg, templateSet...)
		n := 0 // records in msg
		setStart, setV6 := -1, false
		closeSet := func() {
			if setStart >= 0 {
				binary.BigEndian.PutUint16(msg[setStart+2:], uint16(len(msg)-setStart))
			}
			setStart = -1
		}
		for len(recs) > 0 {
			r := recs[0]
			v6 := r.Src.Is6()
			need := recordLen(v6)
			if setStart < 0 || v6 != setV6 {
				need += setHeaderLen
			}
			if len(msg)+need > maxSize {
				break
			}
			if setStart < 0 || v6 != setV6 {
				closeSet()
				setStart, setV6 = len(msg), v6
				id := uint16(TemplateIPv4)
				if v6 {
					id = TemplateIPv6
				}
				msg = binary.BigEndian.AppendUint16(msg, id)
				msg = binary.BigEndian.AppendUint16(msg, 0)
			}
			msg = appendRecord(msg, r)
			recs = recs[1:]
			n++
		}
		closeSet()
		binary.BigEndian.PutUint16(msg[0:], ipfixVersion)
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		binary.BigEndian.PutUint32(msg[4:], uint32(now.Unix()))
		binary.BigEndian.PutUint32(msg[8:], e.seq)
		binary.BigEndian.PutUint32(msg[12:], e.Domain)
		e.seq += uint32(n)
		out = append(out, msg)
	}
	return out
}

func appendRecord(b []byte, r Record) []byte {
	b = append(b, r.Src.AsSlice()...)
	b = append(b, r.Dst.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, r.SrcPort)
	b = binary.BigEndian.AppendUint16(b, r.DstPort)
	b = append(b, r.Proto)
	b = binary.BigEndian.AppendUint64(b, r.Packets)
	b = binary.BigEndian.AppendUint64(b, r.Octets)
	b = binary.BigEndian.AppendUint64(b, r.RevPackets)
	b = binary.BigEndian.AppendUint64(b, r.RevOctets)
	b = binary.BigEndian.AppendUint64(b, uint64(max(r.StartMs, 0)))
	b = binary.BigEndian.AppendUint64(b, uint64(max(r.EndMs, 0)))
	return append(b, biflowInitiator)
}

// protoNumber is the IP protocol number of a flow (0 when unknown).
func protoNumber(f *flow.Flow) uint8 {
	if f.Transport != nil {
		switch f.Transport.Protocol {
		case flow.ProtoTCP:
			return flow.ProtoNumTCP
		case flow.ProtoUDP:
			return flow.ProtoNumUDP
		case flow.ProtoSCTP:
			return flow.ProtoNumSCTP
		}
	}
	if f.ICMP != nil {
		if f.Network.Protocol == flow.ProtoIPv6 {
			return flow.ProtoNumICMPv6
		}
		return flow.ProtoNumICMP
	}
	return 0
}

// RecordOf returns the IPFIX biflow record of a flow's update, with the
// update's deltas (LastUpdateMetric; the totals for a flow without one);
// ok is false for a flow without IP addresses (ARP, other link-layer
// flows) or without packets in the update.
func RecordOf(f *flow.Flow) (r Record, ok bool) {
	if f.Network == nil {
		return r, false
	}
	a, errA := netip.ParseAddr(f.Network.A)
	b, errB := netip.ParseAddr(f.Network.B)
	if errA != nil || errB != nil || a.Is4() != b.Is4() {
		return r, false
	}
	d := f.LastUpdateMetric
	if d == nil {
		d = f.Metric
	}
	if d == nil || d.ABPackets <= 0 && d.BAPackets <= 0 {
		return r, false
	}
	start, end := f.Start, f.Last
	if d.Start > start && f.LastUpdateMetric != nil {
		start = d.Start // the update's window began after the flow
	}
	if end < start {
		end = start
	}
	r = Record{Src: a, Dst: b, Proto: protoNumber(f), StartMs: start, EndMs: end,
		Packets: uint64(max(d.ABPackets, 0)), Octets: uint64(max(d.ABBytes, 0)),
		RevPackets: uint64(max(d.BAPackets, 0)), RevOctets: uint64(max(d.BABytes, 0))}
	if f.Transport != nil {
		r.SrcPort, r.DstPort = uint16(f.Transport.A), uint16(f.Transport.B)
	} else if f.ICMP != nil && f.ICMP.Type == flow.ICMPEcho {
		// NetFlow's ICMP type*256+code in the destination port: A sent
		// the first packet, the request.
		if r.Proto == flow.ProtoNumICMPv6 {
			r.DstPort = 128 << 8
		} else {
			r.DstPort = 8 << 8
		}
	}
	return r, true
}
