package flow

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Record is one direction of a conversation as a flow exporter reports it
// (a router's or a switch's NetFlow v5/v9 or IPFIX record): no packet, but
// the addresses, ports and protocol of the packets it counted, their number
// and bytes, and when the first and the last were seen.
type Record struct {
	Src, Dst netip.Addr
	// Proto is the IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6 ...).
	Proto uint8
	// SrcPort and DstPort are the TCP, UDP or SCTP ports. For ICMP, NetFlow
	// puts type*256+code in DstPort: when ICMPType and ICMPCode are both 0
	// they are taken from there (see ICMPTypeCode).
	SrcPort, DstPort   uint16
	ICMPType, ICMPCode uint8
	// TCPFlags is the OR of the TCP flags of the packets (FIN 0x01, SYN
	// 0x02, RST 0x04): a FIN or an RST ends the flow as a packet's would.
	TCPFlags uint8
	// Packets and Bytes counted (bytes of the IP packets).
	Packets, Bytes uint64
	// Start and End are the times of the first and the last packet; a
	// zero Start is End, a zero End the time the record is fed.
	Start, End time.Time
	// Link tells that SrcMAC and DstMAC are the Ethernet addresses of the
	// packets (a capture that saw the frames, such as ebpf, unlike a
	// NetFlow exporter): the record is then keyed with its link layer as
	// its frames would be, and its flow has a Link.
	Link           bool
	SrcMAC, DstMAC [6]byte
	// ICMPID is the ICMP echo identifier when known (NetFlow has none: 0).
	ICMPID uint16
}

// Protocol numbers of Record.Proto.
const (
	ProtoNumICMP   = 1
	ProtoNumTCP    = 6
	ProtoNumUDP    = 17
	ProtoNumICMPv6 = 58
	ProtoNumSCTP   = 132
)

// ICMPTypeCode returns the ICMP type and code of an ICMP record: its
// ICMPType and ICMPCode, or, both being 0, the destination port's high and
// low bytes as NetFlow encodes them (RFC 3954 and Cisco's v5 practice).
func (r *Record) ICMPTypeCode() (typ, code uint8) {
	if r.ICMPType != 0 || r.ICMPCode != 0 {
		return r.ICMPType, r.ICMPCode
	}
	return uint8(r.DstPort >> 8), uint8(r.DstPort)
}

// recordHeaderMax is the largest header FeedRecord builds: Ethernet, IPv6
// and a TCP header.
const recordHeaderMax = 14 + 40 + 20

// header writes the minimal IP and transport header of a packet of the
// record into buf and returns its length and first layer type. The table
// decodes it as any packet, so that a record is keyed exactly as the
// packets it counts would be.
func (r *Record) header(buf []byte, src, dst netip.Addr) (int, gopacket.LayerType) {
	if r.Link {
		copy(buf[0:6], r.DstMAC[:])
		copy(buf[6:12], r.SrcMAC[:])
		etype := uint16(layers.EthernetTypeIPv4)
		if src.Is6() {
			etype = uint16(layers.EthernetTypeIPv6)
		}
		binary.BigEndian.PutUint16(buf[12:], etype)
		n, _ := r.ipHeader(buf[14:], src, dst)
		return 14 + n, layers.LayerTypeEthernet
	}
	return r.ipHeader(buf, src, dst)
}

func (r *Record) ipHeader(buf []byte, src, dst netip.Addr) (int, gopacket.LayerType) {
	var l4 []byte
	var l4Len int
	off := 20
	if src.Is6() {
		off = 40
	}
	l4 = buf[off:]
	switch r.Proto {
	case ProtoNumTCP:
		l4Len = 20
		binary.BigEndian.PutUint16(l4[0:], r.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], r.DstPort)
		l4[12] = 5 << 4 // data offset: 5 words, no flag (FeedRecord handles FIN/RST)
	case ProtoNumUDP:
		l4Len = 8
		binary.BigEndian.PutUint16(l4[0:], r.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], r.DstPort)
		binary.BigEndian.PutUint16(l4[4:], 8)
	case ProtoNumSCTP:
		l4Len = 12
		binary.BigEndian.PutUint16(l4[0:], r.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], r.DstPort)
	case ProtoNumICMP, ProtoNumICMPv6:
		// The identifier is where ICMPv4 and ICMPv6 echoes have it.
		l4Len = 8
		l4[0], l4[1] = r.ICMPTypeCode()
		binary.BigEndian.PutUint16(l4[4:], r.ICMPID)
	}
	n := off + l4Len
	if src.Is4() {
		buf[0] = 0x45
		binary.BigEndian.PutUint16(buf[2:], uint16(n))
		buf[8] = 64
		buf[9] = r.Proto
		s, d := src.As4(), dst.As4()
		copy(buf[12:16], s[:])
		copy(buf[16:20], d[:])
		return n, layers.LayerTypeIPv4
	}
	buf[0] = 0x60
	binary.BigEndian.PutUint16(buf[4:], uint16(l4Len))
	buf[6] = r.Proto
	buf[7] = 64
	s, d := src.As16(), dst.As16()
	copy(buf[8:24], s[:])
	copy(buf[24:40], d[:])
	return n, layers.LayerTypeIPv6
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// FeedRecord adds a flow exporter's record to the table: the record is
// keyed as its packets would be (the table decodes a minimal IP and
// transport header built from its addresses, ports and protocol), so the
// records of both directions of a conversation are one flow, its packets
// and bytes added to the flow's AB or BA side; the flow starts at the
// earliest Start and lasts until the latest End. It reports whether the
// record made or updated a flow (not for a record without packets, with
// invalid or mixed IPv4/IPv6 addresses, or when the table is full).
//
// Exporters' records carry no link layer: their flows have no Link (in L2
// key mode too) and, ICMP echo identifiers being unknown, their ICMP flows
// have ID 0. A record with Link and ICMPID (an ebpf capture's) makes the
// flow its frames would.
func (t *Table) FeedRecord(r Record) bool {
	src, dst := r.Src.Unmap(), r.Dst.Unmap()
	if r.Packets == 0 || !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return false
	}
	if src.Is4() && r.Proto == ProtoNumICMPv6 || src.Is6() && r.Proto == ProtoNumICMP {
		r.Proto = 0 // cannot be decoded: an IP flow
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec = [recordHeaderMax]byte{}
	n, first := r.header(t.rec[:], src, dst)
	end := r.End
	if end.IsZero() {
		end = t.opts.Now()
	}
	start := r.Start
	if start.IsZero() || start.After(end) {
		start = end
	}
	startMs, endMs := start.UnixMilli(), end.UnixMilli()
	t.stats.PacketsReceived += clampInt64(r.Packets)
	if t.dec.decode(t.rec[:n], first, n, start) == 0 {
		return false
	}
	sp := &t.dec.subs[0]
	if sp.netVer == 0 {
		return false
	}
	k := sp.keyOf(t.opts.LayerKeyMode, 0)
	h := t.flows.hash(&k)
	e := t.flows.get(&k, h)
	if e == nil {
		if e = t.create(&k, h, sp, nil, start.UnixNano(), startMs); e == nil {
			return false
		}
		e.rtt = rttNone // no packet times to measure it
	}
	m := &e.m
	pk, by := clampInt64(r.Packets), clampInt64(r.Bytes)
	if e.isAB(sp, t.opts.LayerKeyMode) {
		m.ABPackets += pk
		m.ABBytes += by
	} else {
		m.BAPackets += pk
		m.BABytes += by
	}
	if startMs < m.Start {
		m.Start, e.start = startMs, startMs
	}
	if endMs > m.Last {
		m.Last = endMs
	}
	if e.tcpFlow && e.finish == NotFinished {
		switch {
		case r.TCPFlags&0x04 != 0:
			e.finish = TCPRst
		case r.TCPFlags&0x01 != 0:
			e.finish = TCPFin
		}
	}
	e.updated = true
	return true
}
