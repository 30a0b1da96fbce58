// Package inject forges packets (ICMP echo, TCP SYN, UDP over IPv4 or IPv6)
// and sends them from an interface of a network namespace, for the packet
// generator (/api/injectpacket).
package inject

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/nsexec"
)

// Types of packets.
var Types = []string{"icmp4", "icmp6", "tcp4", "tcp6", "udp4", "udp6"}

// Validate checks what forging needs: addresses already resolved. An
// injection of a pcap needs only a readable file; its Count defaults to the
// number of its packets.
func Validate(p *v1.PacketInjection) error {
	if len(p.Pcap) > 0 {
		pkts, err := PcapPackets(p.Pcap)
		if err != nil {
			return fieldError("Pcap", "%v", err)
		}
		if p.Count == 0 {
			p.Count = uint64(len(pkts))
		}
		return nil
	}
	if !contains(Types, p.Type) {
		return fieldError("Type", "%q is not one of %s", p.Type, strings.Join(Types, ", "))
	}
	src, err := parseIP("SrcIP", p.SrcIP)
	if err != nil {
		return err
	}
	dst, err := parseIP("DstIP", p.DstIP)
	if err != nil {
		return err
	}
	want6 := strings.HasSuffix(p.Type, "6")
	if src.Is6() != want6 || dst.Is6() != want6 {
		return fieldError("SrcIP and DstIP", "%s packets need IPv%s addresses", p.Type, map[bool]string{true: "6", false: "4"}[want6])
	}
	for field, mac := range map[string]string{"SrcMAC": p.SrcMAC, "DstMAC": p.DstMAC} {
		if _, err := net.ParseMAC(mac); err != nil {
			return fieldError(field, "%q is not a MAC address", mac)
		}
	}
	switch p.Mode {
	case "", "unique", "random":
	default:
		return fieldError("Mode", "%q is not unique or random", p.Mode)
	}
	if p.Count == 0 {
		return fieldError("Count", "must be at least 1")
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// parseIP accepts an address or a CIDR (as the nodes' IPV4 lists hold).
func parseIP(field, s string) (netip.Addr, error) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fieldError(field, "%q is not an IP address", s)
	}
	return a, nil
}

// Forge builds the i-th packet of an injection.
func Forge(p *v1.PacketInjection, i int, rnd *rand.Rand) ([]byte, error) {
	src, _ := parseIP("SrcIP", p.SrcIP)
	dst, _ := parseIP("DstIP", p.DstIP)
	smac, _ := net.ParseMAC(p.SrcMAC)
	dmac, _ := net.ParseMAC(p.DstMAC)
	ttl := p.TTL
	if ttl == 0 {
		ttl = 64
	}
	payload := []byte(p.Payload)
	if len(payload) == 0 {
		payload = []byte(strings.Repeat("skydive-", 7)) // 56 bytes, as ping's default
	}
	if p.IncrementPayload > 0 {
		payload = append(payload, make([]byte, int64(i)*p.IncrementPayload)...)
	}
	id, sport := p.ICMPID, p.SrcPort
	if p.Mode == "random" {
		id, sport = uint16(rnd.IntN(65535)+1), uint16(rnd.IntN(64511)+1024)
	}
	eth := &layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4}
	var netLayer gopacket.NetworkLayer
	var ls []gopacket.SerializableLayer
	if src.Is6() {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: ttl, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		netLayer, ls = ip, []gopacket.SerializableLayer{eth, ip}
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: uint16(i + 1), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		netLayer, ls = ip, []gopacket.SerializableLayer{eth, ip}
	}
	setProto := func(proto layers.IPProtocol) {
		switch ip := netLayer.(type) {
		case *layers.IPv4:
			ip.Protocol = proto
		case *layers.IPv6:
			ip.NextHeader = proto
		}
	}
	switch p.Type {
	case "icmp4":
		setProto(layers.IPProtocolICMPv4)
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: uint16(i + 1)}, gopacket.Payload(payload))
	case "icmp6":
		setProto(layers.IPProtocolICMPv6)
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		_ = icmp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, icmp, &layers.ICMPv6Echo{Identifier: id, SeqNumber: uint16(i + 1)}, gopacket.Payload(payload))
	case "tcp4", "tcp6":
		setProto(layers.IPProtocolTCP)
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(p.DstPort), Seq: rnd.Uint32(), SYN: true, Window: 64240}
		_ = tcp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tcp)
	case "udp4", "udp6":
		setProto(layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(p.DstPort)}
		_ = udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp, gopacket.Payload(payload))
	default:
		return nil, fieldError("Type", "%q is not one of %s", p.Type, strings.Join(Types, ", "))
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, fmt.Errorf("forge %s: %w", p.Type, err)
	}
	return buf.Bytes(), nil
}

// Send forges and sends the packets of p from interface ifName of the
// namespace nsPath ("" for the current one), Interval ms apart; it returns
// how many were sent.
func Send(ctx context.Context, nsPath, ifName string, p *v1.PacketInjection) (int, error) {
	fd, ifindex, err := rawSocket(nsPath, ifName)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	var replay [][]byte
	if len(p.Pcap) > 0 {
		if replay, err = PcapPackets(p.Pcap); err != nil {
			return 0, fieldError("Pcap", "%v", err)
		}
	}
	sent := 0
	for i := 0; i < int(p.Count); i++ {
		if i > 0 && p.Interval > 0 {
			select {
			case <-ctx.Done():
				return sent, ctx.Err()
			case <-time.After(time.Duration(p.Interval) * time.Millisecond):
			}
		}
		var pkt []byte
		if replay != nil {
			pkt = replay[i%len(replay)]
		} else if pkt, err = Forge(p, i, rnd); err != nil {
			return sent, err
		}
		if err := unix.Sendto(fd, pkt, 0, sa); err != nil {
			return sent, fmt.Errorf("send on %s: %w", ifName, err)
		}
		sent++
	}
	return sent, nil
}

// PcapPackets reads the packets of a pcap file, as the original replayed
// them: pcap (not pcapng) with Ethernet frames.
func PcapPackets(b []byte) ([][]byte, error) {
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not a pcap file: %w", err)
	}
	if lt := r.LinkType(); lt != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("link type %s, only Ethernet frames can be sent", lt)
	}
	var pkts [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", len(pkts)+1, err)
		}
		pkts = append(pkts, data)
	}
	if len(pkts) == 0 {
		return nil, errors.New("the pcap file has no packet")
	}
	return pkts, nil
}

// rawSocket opens an AF_PACKET socket inside the namespace, bound to ifName.
func rawSocket(nsPath, ifName string) (fd, ifindex int, err error) {
	err = nsexec.Do(nsPath, func() error {
		iface, err := net.InterfaceByName(ifName)
		if err != nil {
			return fmt.Errorf("interface %s: %w", ifName, err)
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: iface.Index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind to %s: %w", ifName, err)
		}
		ifindex = iface.Index
		return nil
	})
	if err != nil {
		return -1, 0, err
	}
	return fd, ifindex, nil
}

// FieldError is an injection refused for one field.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldError(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
