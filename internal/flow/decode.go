package flow

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

const (
	// maxSubPackets bounds the number of nested encapsulations followed.
	maxSubPackets = 8
	// maxLayers bounds the number of layer names kept per sub-packet.
	maxLayers = 16
	// maxMPLSLabels bounds the MPLS label stack walked.
	maxMPLSLabels = 16
)

type l4Kind uint8

const (
	l4None l4Kind = iota
	l4TCP
	l4UDP
	l4SCTP
)

type tunnelKind uint8

const (
	tunNone tunnelKind = iota
	tunVXLAN
	tunGeneve
)

const (
	tcpFIN = 1 << iota
	tcpSYN
	tcpRST
	tcpACK
)

// subPacket is what the decoder extracted from one level of encapsulation:
// a packet carrying VXLAN yields the outer sub-packet (up to the VXLAN
// header) and the inner one. It holds values only, no pointers into
// reusable layers, so the table can use it after decoding.
type subPacket struct {
	layers  [maxLayers]gopacket.LayerType
	nLayers int

	// rest is the payload left undecoded after the last decoded layer and
	// restType its layer type (application layers are only decoded when a
	// flow is created, for its LayersPath, or for extra layers).
	rest     []byte
	restType gopacket.LayerType

	length int64 // bytes accounted to the flow for this packet

	hasLink        bool
	srcMAC, dstMAC [6]byte
	vlan           int64
	nVLAN          int

	netVer       uint8 // 0 (none), 4 or 6
	srcIP, dstIP netip.Addr
	ttl          uint8
	networkID    int64 // VNI or GRE key of the encapsulation ending this sub-packet

	reassembled bool
	ipMetric    IPMetric

	l4               l4Kind
	srcPort, dstPort uint16
	tcpFlags         uint8
	tcpSeq           uint32
	tcpPayload       int

	tunnel tunnelKind
	vni    uint32

	hasICMP   bool
	icmpV6    bool
	icmpType  ICMPType
	icmpRaw   uint8 // raw ICMP type (to tell echo requests from replies)
	icmpCode  uint8
	icmpID    uint16
	icmpV6Key bool // ICMPv6 app key uses the echo identifier
}

func (sp *subPacket) reset() {
	*sp = subPacket{}
}

func (sp *subPacket) addLayer(t gopacket.LayerType) {
	if sp.nLayers < maxLayers {
		sp.layers[sp.nLayers] = t
		sp.nLayers++
	}
}

// decoder decodes packets with reusable gopacket layers (DecodingLayer
// style): decoding a packet of a known kind allocates nothing.
type decoder struct {
	eth       layers.Ethernet
	dot1q     layers.Dot1Q
	arp       layers.ARP
	ip4       layers.IPv4
	ip6       layers.IPv6
	ip6ext    layers.IPv6ExtensionSkipper
	ip6frag   layers.IPv6Fragment
	icmp4     layers.ICMPv4
	icmp6     layers.ICMPv6
	icmp6echo layers.ICMPv6Echo
	tcp       layers.TCP
	udp       layers.UDP
	sctp      layers.SCTP
	vxlan     layers.VXLAN
	gre       layers.GRE
	erspan    layers.ERSPANII
	sll       layers.LinuxSLL
	loop      layers.Loopback

	defrag *defragger

	// mplsPort is the UDP port of MPLS over UDP besides RFC 7510's (0:
	// none), see Options.MPLSUDPPort.
	mplsPort uint16
	// slowOnly turns decodeCommon off (tests compare the two ways).
	slowOnly bool

	subs [maxSubPackets]subPacket
}

// MPLSUDPPortRFC7510 is the UDP port of MPLS over UDP (RFC 7510), always
// decoded; DefaultMPLSUDPPort the Contrail vRouter's, the default of
// Options.MPLSUDPPort (the original's opencontrail.mpls_udp_port).
const (
	MPLSUDPPortRFC7510 = 6635
	DefaultMPLSUDPPort = 51234
)

// isMPLSPort tells whether p is a UDP port of MPLS over UDP.
func (d *decoder) isMPLSPort(p layers.UDPPort) bool {
	return p == MPLSUDPPortRFC7510 || p != 0 && uint16(p) == d.mplsPort
}

// udpMPLS tells whether the payload of d.udp is MPLS over UDP: sent to (or,
// when the destination port means nothing to gopacket, from) an MPLS over
// UDP port, from a port that means nothing to gopacket either (a sender
// picks its source port for entropy, never a well-known one), and a label
// stack followed by something that looks like IP or Ethernet, so that a
// client whose ephemeral port happens to be 51234 keeps its DNS, NTP...
// flows.
func (d *decoder) udpMPLS(next gopacket.LayerType) bool {
	switch {
	case d.isMPLSPort(d.udp.DstPort):
		if d.udp.SrcPort.LayerType() != gopacket.LayerTypePayload {
			return false
		}
	case d.isMPLSPort(d.udp.SrcPort):
		if next != gopacket.LayerTypePayload {
			return false
		}
	default:
		return false
	}
	_, bottom, payload := mplsStack(d.udp.Payload)
	return bottom && payload != gopacket.LayerTypeZero
}

// mplsStack walks the MPLS label stack at the start of data: it returns the
// number of labels up to the bottom-of-stack one (at most maxMPLSLabels, or
// as many whole labels as data holds), whether the bottom one was found, and
// the guessed type of what follows it, LayerTypeZero if nothing fits.
//
// MPLS does not say what it carries. Like gopacket (and so the original),
// the first nibble tells IPv4 (4) from IPv6 (6); unlike them, a header
// whose length fields disagree with the data, or any other nibble, is taken
// for an Ethernet frame (a pseudowire or the Contrail vRouter's layer 2
// networks, without control word) when bytes 12-13 are an EtherType this
// decoder follows. An IP header cut short by the capture length, or padded
// by the outer Ethernet frame, is still IP when it does not look like
// Ethernet.
func mplsStack(data []byte) (labels int, bottom bool, next gopacket.LayerType) {
	for labels < maxMPLSLabels && len(data) >= 4*(labels+1) {
		labels++
		if data[4*labels-2]&1 != 0 {
			bottom = true
			break
		}
	}
	if !bottom {
		return labels, false, gopacket.LayerTypeZero
	}
	p := data[4*labels:]
	if len(p) == 0 {
		return labels, true, gopacket.LayerTypeZero
	}
	ip := gopacket.LayerTypeZero
	switch p[0] >> 4 {
	case 4:
		hl := int(p[0]&0x0f) * 4
		if hl < 20 || len(p) < 20 {
			break
		}
		ip = layers.LayerTypeIPv4
		if l := int(binary.BigEndian.Uint16(p[2:4])); l == len(p) {
			return labels, true, ip
		}
	case 6:
		ip = layers.LayerTypeIPv6
		if len(p) >= 40 && 40+int(binary.BigEndian.Uint16(p[4:6])) == len(p) {
			return labels, true, ip
		}
	}
	if len(p) >= 14 {
		switch layers.EthernetType(binary.BigEndian.Uint16(p[12:14])) {
		case layers.EthernetTypeIPv4, layers.EthernetTypeIPv6, layers.EthernetTypeARP, layers.EthernetTypeDot1Q,
			layers.EthernetTypeQinQ, layers.EthernetTypeMPLSUnicast, layers.EthernetTypeMPLSMulticast:
			return labels, true, layers.LayerTypeEthernet
		}
	}
	return labels, true, ip
}

// firstLayerType returns the layer type of a frame of the given link type.
func firstLayerType(lt layers.LinkType) gopacket.LayerType {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet
	// Raw IP, the version nibble decides: 101 (LINKTYPE_RAW), 12 (DLT_RAW
	// on most systems, DLT_LOOP on OpenBSD), 14 (DLT_RAW on OpenBSD), 228
	// (IPv4: the original gave its tun and GRE devices this link type and
	// decoded them as raw IP, IPv6 included); 229 (IPv6) below.
	case layers.LinkTypeRaw, layers.LinkType(12), layers.LinkType(14), layers.LinkTypeIPv4:
		return layerTypeRawIP
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback
	}
	return lt.LayerType()
}

// layerTypeRawIP marks a frame that starts with an IPv4 or IPv6 header
// (the version nibble decides) or, version 0, a BSD loopback header.
const layerTypeRawIP gopacket.LayerType = -1

// decode decodes data into d.subs and returns the number of sub-packets.
// wireLen is the frame length on the wire (0 if unknown). It returns 0 when
// nothing usable was decoded or when the packet is a fragment held back
// for reassembly.
func (d *decoder) decode(data []byte, first gopacket.LayerType, wireLen int, ts time.Time) int {
	df := gopacket.NilDecodeFeedback
	n := 0
	sp := &d.subs[0]
	sp.reset()
	sp.length = -1
	if first == layers.LayerTypeEthernet && !d.slowOnly && d.decodeCommon(data, wireLen, sp) {
		return 1
	}
	consumed := 0
	typ := first

	// split closes the current sub-packet after an encapsulation header
	// and opens the next one.
	split := func() bool {
		if n+1 >= maxSubPackets {
			return false
		}
		parentLen := sp.length
		n++
		sp = &d.subs[n]
		sp.reset()
		sp.length = max(parentLen-int64(consumed), 0)
		consumed = 0
		return true
	}

loop:
	for {
		switch typ {
		case layers.LayerTypeEthernet:
			if d.eth.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if !sp.hasLink && sp.netVer == 0 {
				sp.hasLink = true
				copy(sp.srcMAC[:], d.eth.SrcMAC)
				copy(sp.dstMAC[:], d.eth.DstMAC)
			}
			if sp.length < 0 {
				switch {
				case wireLen > 0:
					sp.length = int64(wireLen)
				case d.eth.Length > 0:
					sp.length = 14 + int64(d.eth.Length)
				default:
					sp.length = 14 + int64(len(d.eth.Payload))
				}
			}
			consumed += len(d.eth.Contents)
			data = d.eth.Payload
			typ = d.eth.NextLayerType()

		case layers.LayerTypeLinuxSLL:
			// Linux SLL is not part of LayersPath and the byte count is
			// the IP length (as in the original).
			if d.sll.DecodeFromBytes(data, df) != nil {
				break loop
			}
			data = d.sll.Payload
			typ = d.sll.NextLayerType()

		case layers.LayerTypeLoopback:
			if d.loop.DecodeFromBytes(data, df) != nil {
				break loop
			}
			data = d.loop.Payload
			typ = d.loop.NextLayerType()

		case layers.LayerTypeDot1Q:
			if d.dot1q.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.netVer == 0 && sp.nVLAN < 5 {
				// outer tag in the low bits, as the original's linkID()
				sp.vlan |= int64(d.dot1q.VLANIdentifier) << (12 * sp.nVLAN)
				sp.nVLAN++
			}
			consumed += len(d.dot1q.Contents)
			data = d.dot1q.Payload
			typ = d.dot1q.NextLayerType()

		case layers.LayerTypeARP:
			if d.arp.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			break loop

		case layerTypeRawIP:
			if len(data) == 0 {
				break loop
			}
			switch data[0] >> 4 {
			case 4:
				typ = layers.LayerTypeIPv4
			case 6:
				typ = layers.LayerTypeIPv6
			case 0:
				// no IP version: a BSD loopback header (OpenBSD writes
				// its DLT_LOOP as link type 12, which is DLT_RAW
				// elsewhere)
				typ = layers.LayerTypeLoopback
			default:
				break loop
			}

		case layers.LayerTypeIPv4:
			if d.ip4.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.netVer == 0 {
				sp.netVer = 4
				sp.srcIP = netip.AddrFrom4([4]byte(d.ip4.SrcIP))
				sp.dstIP = netip.AddrFrom4([4]byte(d.ip4.DstIP))
				sp.ttl = d.ip4.TTL
			}
			if sp.length < 0 {
				sp.length = int64(d.ip4.Length)
			}
			consumed += len(d.ip4.Contents)
			data = d.ip4.Payload
			typ = d.ip4.NextLayerType()
			if typ == gopacket.LayerTypeFragment {
				if d.defrag == nil {
					sp.addLayer(gopacket.LayerTypeFragment)
					break loop
				}
				full, m, ok := d.defrag.add(&d.ip4, ts)
				if !ok {
					return 0 // held back until the datagram is complete
				}
				sp.addLayer(gopacket.LayerTypeFragment)
				sp.reassembled = true
				sp.ipMetric = m
				data = full.Payload
				typ = full.Protocol.LayerType()
				if layers.LayerClassIPv6Extension.Contains(typ) {
					typ = gopacket.LayerTypeZero
				}
			}

		case layers.LayerTypeIPv6:
			if d.ip6.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.netVer == 0 {
				sp.netVer = 6
				sp.srcIP = netip.AddrFrom16([16]byte(d.ip6.SrcIP))
				sp.dstIP = netip.AddrFrom16([16]byte(d.ip6.DstIP))
				sp.ttl = d.ip6.HopLimit
			}
			if sp.length < 0 {
				sp.length = 40 + int64(d.ip6.Length)
			}
			consumed += len(d.ip6.Contents)
			if d.ip6.HopByHop != nil {
				consumed += d.ip6.HopByHop.ActualLength
			}
			data = d.ip6.Payload
			typ = d.ip6.NextLayerType()

		case layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6HopByHop:
			if d.ip6ext.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			consumed += len(d.ip6ext.Contents)
			data = d.ip6ext.Payload
			typ = d.ip6ext.NextLayerType()

		case layers.LayerTypeIPv6Fragment:
			if d.ip6frag.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			consumed += len(d.ip6frag.Contents)
			data = d.ip6frag.Payload
			typ = d.ip6frag.NextLayerType()
			if typ == gopacket.LayerTypeFragment {
				sp.addLayer(typ)
				break loop
			}

		case layers.LayerTypeICMPv4:
			if d.icmp4.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if !sp.hasICMP {
				sp.hasICMP = true
				sp.icmpRaw = d.icmp4.TypeCode.Type()
				sp.icmpType = icmpv4Type(sp.icmpRaw)
				sp.icmpCode = d.icmp4.TypeCode.Code()
				sp.icmpID = d.icmp4.Id
			}
			sp.rest, sp.restType = d.icmp4.Payload, d.icmp4.NextLayerType()
			break loop

		case layers.LayerTypeICMPv6:
			if d.icmp6.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			firstICMP := !sp.hasICMP
			if firstICMP {
				sp.hasICMP = true
				sp.icmpV6 = true
				sp.icmpRaw = d.icmp6.TypeCode.Type()
				sp.icmpType = icmpv6Type(sp.icmpRaw)
				sp.icmpCode = d.icmp6.TypeCode.Code()
			}
			next := d.icmp6.NextLayerType()
			if next == layers.LayerTypeICMPv6Echo {
				if d.icmp6echo.DecodeFromBytes(d.icmp6.Payload, df) != nil {
					break loop
				}
				sp.addLayer(next)
				if firstICMP {
					sp.icmpV6Key = true
					sp.icmpID = d.icmp6echo.Identifier
				}
				break loop
			}
			sp.rest, sp.restType = d.icmp6.Payload, next
			break loop

		case layers.LayerTypeTCP:
			if d.tcp.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.l4 == l4None {
				sp.l4 = l4TCP
				sp.srcPort, sp.dstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
				var fl uint8
				if d.tcp.FIN {
					fl |= tcpFIN
				}
				if d.tcp.SYN {
					fl |= tcpSYN
				}
				if d.tcp.RST {
					fl |= tcpRST
				}
				if d.tcp.ACK {
					fl |= tcpACK
				}
				sp.tcpFlags = fl
				sp.tcpSeq = d.tcp.Seq
				sp.tcpPayload = len(d.tcp.Payload)
			}
			sp.rest, sp.restType = d.tcp.Payload, d.tcp.NextLayerType()
			break loop

		case layers.LayerTypeUDP:
			if d.udp.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.l4 == l4None {
				sp.l4 = l4UDP
				sp.srcPort, sp.dstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			}
			consumed += len(d.udp.Contents)
			data = d.udp.Payload
			typ = d.udp.NextLayerType()
			if d.udpMPLS(typ) {
				typ = layers.LayerTypeMPLS // split after the label stack
			}
			if typ != layers.LayerTypeVXLAN && typ != layers.LayerTypeGeneve && typ != layers.LayerTypeMPLS {
				sp.rest, sp.restType = data, typ
				break loop
			}

		case layers.LayerTypeSCTP:
			if d.sctp.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.l4 == l4None {
				sp.l4 = l4SCTP
				sp.srcPort, sp.dstPort = uint16(d.sctp.SrcPort), uint16(d.sctp.DstPort)
			}
			sp.rest, sp.restType = d.sctp.Payload, d.sctp.NextLayerType()
			break loop

		case layers.LayerTypeVXLAN:
			if d.vxlan.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			if sp.l4 == l4UDP {
				sp.tunnel, sp.vni = tunVXLAN, d.vxlan.VNI
			}
			sp.networkID = int64(d.vxlan.VNI)
			consumed += len(d.vxlan.Contents)
			data = d.vxlan.Payload
			typ = d.vxlan.NextLayerType()
			if !split() {
				break loop
			}

		case layers.LayerTypeGeneve:
			// Decoded by hand: gopacket allocates for Geneve options.
			if len(data) < 8 {
				break loop
			}
			hl := 8 + int(data[0]&0x3f)*4
			if len(data) < hl {
				break loop
			}
			sp.addLayer(typ)
			vni := binary.BigEndian.Uint32(data[4:8]) >> 8
			if sp.l4 == l4UDP {
				sp.tunnel, sp.vni = tunGeneve, vni
			}
			sp.networkID = int64(vni)
			typ = layers.EthernetType(binary.BigEndian.Uint16(data[2:4])).LayerType()
			consumed += hl
			data = data[hl:]
			if !split() {
				break loop
			}

		case layers.LayerTypeGRE:
			if d.gre.DecodeFromBytes(data, df) != nil {
				break loop
			}
			sp.addLayer(typ)
			sp.networkID = int64(d.gre.Key)
			consumed += len(d.gre.Contents)
			data = d.gre.Payload
			typ = d.gre.NextLayerType()
			if typ == layers.LayerTypeERSPANII {
				// ERSPAN is part of the encapsulation: the outer flow ends
				// at GRE and the mirrored frame is the inner flow.
				if d.erspan.DecodeFromBytes(data, df) != nil {
					break loop
				}
				consumed += len(d.erspan.Contents)
				data = d.erspan.Payload
				typ = d.erspan.NextLayerType()
			}
			if typ == layers.LayerTypeMPLS {
				continue // split after the MPLS label stack
			}
			if !split() {
				break loop
			}

		case layers.LayerTypeMPLS:
			labels, _, next := mplsStack(data)
			for range labels {
				sp.addLayer(typ)
			}
			consumed += 4 * labels
			data = data[4*labels:]
			if next == gopacket.LayerTypeZero {
				break loop
			}
			typ = next
			if !split() {
				break loop
			}

		default:
			sp.rest, sp.restType = data, typ
			break loop
		}
	}
	if sp.nLayers > 0 {
		n++
	}
	if d.subs[0].length < 0 {
		// no Ethernet nor IP header to size the frame (ARP over Linux
		// SLL...): count the frame
		d.subs[0].length = int64(max(wireLen, 0))
	}
	return n
}

// restLayerTypes appends to k (of capacity max) the layer types gopacket
// decodes from the undecoded rest of a sub-packet, up to a payload or a
// decoding failure, as the original's LayersPath does, and returns the
// length of k. It is only called when a flow is created. DNS, the common
// case, is decoded with the table's layer (gopacket's decodeDNS adds no
// layer after it); other layers with gopacket.NewPacket, which allocates.
func (t *Table) restLayerTypes(sp *subPacket, k []gopacket.LayerType, max int) int {
	n := len(k)
	switch sp.restType {
	case gopacket.LayerTypeZero, gopacket.LayerTypePayload, gopacket.LayerTypeFragment, gopacket.LayerTypeDecodeFailure:
		return n
	}
	if len(sp.rest) == 0 {
		return n
	}
	if sp.restType == layers.LayerTypeDNS {
		if n < max && t.dns.DecodeFromBytes(sp.rest, gopacket.NilDecodeFeedback) == nil {
			k = append(k, layers.LayerTypeDNS)
		}
		return len(k)
	}
	p := gopacket.NewPacket(sp.rest, sp.restType, gopacket.NoCopy)
	for _, l := range p.Layers() {
		lt := l.LayerType()
		if lt == gopacket.LayerTypePayload || lt == gopacket.LayerTypeDecodeFailure || len(k) == max {
			break
		}
		k = append(k, lt)
	}
	return len(k)
}

func icmpv4Type(t uint8) ICMPType {
	switch t {
	case layers.ICMPv4TypeEchoReply, layers.ICMPv4TypeEchoRequest:
		return ICMPEcho
	case layers.ICMPv4TypeDestinationUnreachable:
		return ICMPDestinationUnreachable
	case layers.ICMPv4TypeSourceQuench:
		return ICMPSourceQuench
	case layers.ICMPv4TypeRedirect:
		return ICMPRedirect
	case layers.ICMPv4TypeRouterAdvertisement, layers.ICMPv4TypeRouterSolicitation:
		return ICMPRouter
	case layers.ICMPv4TypeTimeExceeded:
		return ICMPTimeExceeded
	case layers.ICMPv4TypeParameterProblem:
		return ICMPParameterProblem
	case layers.ICMPv4TypeTimestampRequest, layers.ICMPv4TypeTimestampReply:
		return ICMPTimestamp
	case layers.ICMPv4TypeInfoRequest, layers.ICMPv4TypeInfoReply:
		return ICMPInfo
	case layers.ICMPv4TypeAddressMaskRequest, layers.ICMPv4TypeAddressMaskReply:
		return ICMPAddressMask
	}
	return ICMPUnknown
}

func icmpv6Type(t uint8) ICMPType {
	switch t {
	case layers.ICMPv6TypeDestinationUnreachable:
		return ICMPDestinationUnreachable
	case layers.ICMPv6TypePacketTooBig:
		return ICMPPacketTooBig
	case layers.ICMPv6TypeTimeExceeded:
		return ICMPTimeExceeded
	case layers.ICMPv6TypeParameterProblem:
		return ICMPParameterProblem
	case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
		return ICMPEcho
	case layers.ICMPv6TypeRouterSolicitation, layers.ICMPv6TypeRouterAdvertisement:
		return ICMPRouter
	case layers.ICMPv6TypeNeighborSolicitation, layers.ICMPv6TypeNeighborAdvertisement:
		return ICMPNeighbor
	case layers.ICMPv6TypeRedirect:
		return ICMPRedirect
	}
	return ICMPUnknown
}

// isEchoRequest / isEchoReply tell ICMP echo requests and replies apart.
func (sp *subPacket) isEchoRequest() bool {
	if sp.icmpV6 {
		return sp.icmpRaw == layers.ICMPv6TypeEchoRequest
	}
	return sp.icmpRaw == layers.ICMPv4TypeEchoRequest
}

func (sp *subPacket) isEchoReply() bool {
	if sp.icmpV6 {
		return sp.icmpRaw == layers.ICMPv6TypeEchoReply
	}
	return sp.icmpRaw == layers.ICMPv4TypeEchoReply
}

// decodeCommon decodes the most common frame, Ethernet, IPv4 without
// options nor fragmentation, then TCP or UDP (but a tunnel or MPLS port),
// into sp straight from the bytes, and reports whether data was such a
// frame; if not, sp is left as it was and decode takes its general way.
// What it gives is exactly what the general way gives (the layer types of
// the payload too, from gopacket's port tables): TestDecodeCommon and
// FuzzDecodeCommon compare the two on every trace and on fuzzed frames.
// Written by hand because gopacket's layer-by-layer decoding (each layer
// decoded whole, then asked for the next one's type) was most of a
// packet's cost at a few million packets a second.
func (d *decoder) decodeCommon(data []byte, wireLen int, sp *subPacket) bool {
	if len(data) < 14+20 {
		return false
	}
	// The EtherType and protocol numbers are compared as numbers: looked
	// up in gopacket's tables of 65,536 and 256 entries, they cost a cache
	// miss (the tables give these numbers these layers).
	if layers.EthernetType(binary.BigEndian.Uint16(data[12:14])) != layers.EthernetTypeIPv4 {
		return false
	}
	ip := data[14:]
	ipLen := int(binary.BigEndian.Uint16(ip[2:4]))
	flagsFrag := binary.BigEndian.Uint16(ip[6:8])
	if ip[0]&0x0f != 5 || ipLen < 20 || ipLen > len(ip) || flagsFrag&0x3fff != 0 {
		return false // options, TSO, truncated or a fragment
	}
	l4 := ip[20:ipLen]
	var (
		kind             l4Kind
		srcPort, dstPort uint16
		rest             []byte
		restType         gopacket.LayerType
		tcpFlags         uint8
		tcpSeq           uint32
	)
	switch layers.IPProtocol(ip[9]) {
	case layers.IPProtocolTCP:
		if len(l4) < 20 {
			return false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return false
		}
		kind = l4TCP
		srcPort, dstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		f := l4[13]
		tcpFlags = f&0x01*tcpFIN | f>>1&0x01*tcpSYN | f>>2&0x01*tcpRST | f>>4&0x01*tcpACK
		tcpSeq = binary.BigEndian.Uint32(l4[4:8])
		rest = l4[off:]
		restType = layers.TCPPort(dstPort).LayerType()
		if restType == gopacket.LayerTypePayload {
			restType = layers.TCPPort(srcPort).LayerType()
		}
	case layers.IPProtocolUDP:
		if len(l4) < 8 {
			return false
		}
		kind = l4UDP
		srcPort, dstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		switch n := int(binary.BigEndian.Uint16(l4[4:6])); {
		case n == 0: // a jumbogram: the rest of the datagram
			rest = l4[8:]
		case n < 8 || n > len(l4):
			return false
		default:
			rest = l4[8:n]
		}
		restType = layers.UDPPort(dstPort).LayerType()
		if restType == gopacket.LayerTypePayload {
			restType = layers.UDPPort(srcPort).LayerType()
		}
		switch {
		case restType == layers.LayerTypeVXLAN, restType == layers.LayerTypeGeneve, restType == layers.LayerTypeMPLS,
			restType == layers.LayerTypeAGUEVar0, d.isMPLSPort(layers.UDPPort(srcPort)), d.isMPLSPort(layers.UDPPort(dstPort)):
			return false // an encapsulation: the general way splits it
		}
	default:
		return false
	}
	sp.addLayer(layers.LayerTypeEthernet)
	sp.hasLink = true
	copy(sp.dstMAC[:], data[0:6])
	copy(sp.srcMAC[:], data[6:12])
	sp.length = int64(len(data))
	if wireLen > 0 {
		sp.length = int64(wireLen)
	}
	sp.addLayer(layers.LayerTypeIPv4)
	sp.netVer = 4
	sp.srcIP = netip.AddrFrom4([4]byte(ip[12:16]))
	sp.dstIP = netip.AddrFrom4([4]byte(ip[16:20]))
	sp.ttl = ip[8]
	sp.l4 = kind
	sp.srcPort, sp.dstPort = srcPort, dstPort
	if kind == l4TCP {
		sp.addLayer(layers.LayerTypeTCP)
		sp.tcpFlags, sp.tcpSeq, sp.tcpPayload = tcpFlags, tcpSeq, len(rest)
	} else {
		sp.addLayer(layers.LayerTypeUDP)
	}
	sp.rest, sp.restType = rest, restType
	return true
}
