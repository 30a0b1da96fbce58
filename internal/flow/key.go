package flow

import (
	"encoding/binary"
	"net/netip"
)

// key identifies a flow in a table. It is a packed comparable struct (no
// strings, no pointers to packet data) holding exactly what the original
// Skydive hashes into its flow key, in canonical (direction independent)
// order, so that key equality matches hash equality of the original (but
// for the tunnel pair, see transportTunnel).
type key struct {
	// The fields are laid out with no padding and no pointer (addresses as
	// 16 bytes, not netip.Addr whose zone is a pointer): the map hashes
	// and compares the key as one block of memory.
	parent  uint64   // serial of the parent (encapsulating) flow, 0 if none
	netA    [16]byte // IPv4 addresses as IPv4-mapped IPv6, netVer tells
	netB    [16]byte
	tA, tB  uint32
	app     uint64
	linkA   [6]byte
	linkB   [6]byte
	netVer  uint8
	hasLink bool
	l4      uint8 // transport kind, see transport* below
	hasApp  bool
}

// The key's transport is the decoder's l4 number (0 none, 1 TCP, 2 UDP,
// 3 SCTP), or:
const (
	// transportTunnel is the outer UDP of VXLAN and Geneve: the VNI and the
	// destination port, in that order whatever the packet's direction, so
	// that both directions of a tunnel (whatever their source ports) are
	// one flow.
	transportTunnel = 4
)

// gopacket endpoint type numbers, hashed as in the original.
const (
	endpointIPv4     = 1
	endpointIPv6     = 2
	endpointMAC      = 3
	endpointTCPPort  = 4
	endpointUDPPort  = 5
	endpointSCTPPort = 6
)

func macGreater(a, b *[6]byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] > b[i] {
				return 1
			}
			return -1
		}
	}
	return 0
}

// swapped tells whether the packet's source is on the B side of the
// canonical order (the original's swap decision, inventory §14.2).
func (sp *subPacket) swapped(mode LayerKeyMode) bool {
	if sp.hasLink && (mode == L2 || sp.netVer == 0) {
		if c := macGreater(&sp.srcMAC, &sp.dstMAC); c != 0 || sp.netVer == 0 {
			return c > 0
		}
	}
	if sp.netVer != 0 {
		if c := compareAddr(sp.srcIP, sp.dstIP); c != 0 {
			return c > 0
		}
		if sp.l4 != l4None {
			return sp.srcPort > sp.dstPort
		}
	}
	return false
}

// compareAddr is netip.Addr.Compare for two addresses of one IP header
// (one family, no zone: TestCompareAddr), on their 16 bytes: a third of
// its time, on every packet.
func compareAddr(a, b netip.Addr) int {
	a16, b16 := a.As16(), b.As16()
	ah, bh := binary.BigEndian.Uint64(a16[:8]), binary.BigEndian.Uint64(b16[:8])
	if ah != bh {
		if ah < bh {
			return -1
		}
		return 1
	}
	al, bl := binary.BigEndian.Uint64(a16[8:]), binary.BigEndian.Uint64(b16[8:])
	if al != bl {
		if al < bl {
			return -1
		}
		return 1
	}
	return 0
}

func (sp *subPacket) useLink(mode LayerKeyMode) bool {
	return sp.hasLink && (mode == L2 || sp.netVer == 0)
}

func (sp *subPacket) appValue() uint32 {
	switch {
	case !sp.icmpV6:
		return uint32(sp.icmpType)<<24 | uint32(sp.icmpCode)<<16 | uint32(sp.icmpID)
	case sp.icmpV6Key:
		return uint32(ICMPEcho)<<24 | uint32(sp.icmpID)
	default:
		return uint32(sp.icmpType)<<24 | uint32(sp.icmpCode)<<16
	}
}

// keyOf computes the table key of a sub-packet. It allocates nothing.
func (sp *subPacket) keyOf(mode LayerKeyMode, parent uint64) key {
	var k key
	sp.setKey(&k, mode, parent)
	return k
}

// setKey is keyOf into *k, which a caller keeps (no 72-byte copy).
func (sp *subPacket) setKey(k *key, mode LayerKeyMode, parent uint64) {
	swap := sp.swapped(mode)
	*k = key{parent: parent}
	if sp.netVer != 0 {
		k.netVer = sp.netVer
		k.netA, k.netB = sp.srcIP.As16(), sp.dstIP.As16()
		if swap {
			k.netA, k.netB = k.netB, k.netA
		}
	}
	switch {
	case sp.tunnel != tunNone && sp.l4 == l4UDP:
		k.l4 = transportTunnel
		k.tA, k.tB = sp.vni, uint32(sp.dstPort)
	case sp.l4 != l4None:
		k.l4 = uint8(sp.l4)
		k.tA, k.tB = uint32(sp.srcPort), uint32(sp.dstPort)
		if swap {
			k.tA, k.tB = k.tB, k.tA
		}
	}
	if sp.hasICMP {
		k.hasApp, k.app = true, uint64(sp.appValue())
	}
	if sp.useLink(mode) {
		k.hasLink = true
		k.linkA, k.linkB = sp.srcMAC, sp.dstMAC
		if swap {
			k.linkA, k.linkB = k.linkB, k.linkA
		}
	}
}

// ids computes the original's hashes (inventory §14.2): the L3 and L2
// keys (L3TrackingID and TrackingID) and the full key including the
// parent UUID, used as seed of the flow UUID.
func (sp *subPacket) ids(mode LayerKeyMode, parentUUID []byte) (l3, l2, full uint64) {
	var arr [192]byte
	b := sp.l3Key(arr[:0], sp.swapped(mode))
	// The L3 key follows a flow across routers, which rewrite the MACs: its
	// endpoints are ordered by address, never by MAC.
	if l3Swap := sp.swapped(L3); l3Swap == sp.swapped(mode) {
		l3 = xxh64(b, 0)
	} else {
		var arr3 [192]byte
		l3 = xxh64(sp.l3Key(arr3[:0], l3Swap), 0)
	}
	l2 = l3
	if sp.useLink(mode) {
		b = appendPair(b, sp.swapped(mode), sp.srcMAC[:], sp.dstMAC[:], endpointMAC)
		l2 = xxh64(b, 0)
	} else {
		l2 = xxh64(b, 0)
	}
	b = append(b, parentUUID...)
	full = xxh64(b, 0)
	return l3, l2, full
}

func appendPair(b []byte, swap bool, src, dst []byte, typ uint64) []byte {
	if swap {
		src, dst = dst, src
	}
	b = append(b, src...)
	b = append(b, dst...)
	return binary.BigEndian.AppendUint64(b, typ)
}

// l3Key appends the network, transport and ICMP part of the key.
func (sp *subPacket) l3Key(b []byte, swap bool) []byte {
	pair := func(src, dst []byte, typ uint64) { b = appendPair(b, swap, src, dst, typ) }
	if sp.netVer == 4 {
		s, d := sp.srcIP.As4(), sp.dstIP.As4()
		pair(s[:], d[:], endpointIPv4)
	} else if sp.netVer == 6 {
		s, d := sp.srcIP.As16(), sp.dstIP.As16()
		pair(s[:], d[:], endpointIPv6)
	}
	var sport, dport [2]byte
	binary.BigEndian.PutUint16(sport[:], sp.srcPort)
	binary.BigEndian.PutUint16(dport[:], sp.dstPort)
	switch {
	case sp.tunnel != tunNone && sp.l4 == l4UDP:
		// never swapped (see transportTunnel): the original swapped the
		// pair with the endpoints, which made the reply direction of a
		// tunnel another flow
		var vni [4]byte
		binary.BigEndian.PutUint32(vni[:], sp.vni)
		b = appendPair(b, false, vni[:], dport[:], 0)
	case sp.l4 == l4TCP:
		pair(sport[:], dport[:], endpointTCPPort)
	case sp.l4 == l4UDP:
		pair(sport[:], dport[:], endpointUDPPort)
	case sp.l4 == l4SCTP:
		pair(sport[:], dport[:], endpointSCTPPort)
	}
	if sp.hasICMP {
		b = binary.BigEndian.AppendUint32(b, sp.appValue())
		b = binary.BigEndian.AppendUint64(b, 0)
	}
	return b
}

// flowUUID is the original's UUID: XXH64 seeded with the full key over
// the start time (ms, big endian) and the node TID.
func flowUUID(full uint64, startMs int64, nodeTID string) uint64 {
	var arr [64]byte // on the stack for TIDs of up to 56 bytes
	b := binary.BigEndian.AppendUint64(arr[:0], uint64(startMs))
	b = append(b, nodeTID...)
	return xxh64(b, full)
}
