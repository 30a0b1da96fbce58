package inject

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

func TestForgeEveryType(t *testing.T) {
	for _, tc := range []struct {
		typ, src, dst string
		want          gopacket.LayerType
	}{
		{"icmp4", "10.0.0.1/24", "10.0.0.2", layers.LayerTypeICMPv4},
		{"icmp6", "fd00::1", "fd00::2/64", layers.LayerTypeICMPv6Echo},
		{"tcp4", "10.0.0.1", "10.0.0.2", layers.LayerTypeTCP},
		{"tcp6", "fd00::1", "fd00::2", layers.LayerTypeTCP},
		{"udp4", "10.0.0.1", "10.0.0.2", layers.LayerTypeUDP},
		{"udp6", "fd00::1", "fd00::2", layers.LayerTypeUDP},
	} {
		p := &v1.PacketInjection{Type: tc.typ, SrcIP: tc.src, DstIP: tc.dst, SrcMAC: "02:00:00:00:00:01",
			DstMAC: "02:00:00:00:00:02", DstPort: 80, SrcPort: 1234, ICMPID: 7, Count: 1}
		if err := Validate(p); err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		b, err := Forge(p, 0, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		if pkt.ErrorLayer() != nil {
			t.Fatalf("%s: decode: %v", tc.typ, pkt.ErrorLayer().Error())
		}
		if pkt.Layer(tc.want) == nil {
			t.Fatalf("%s: no %s layer in %v", tc.typ, tc.want, pkt)
		}
		if ip, ok := pkt.NetworkLayer().(*layers.IPv4); ok {
			if ip.TTL != 64 || ip.SrcIP.String() != "10.0.0.1" {
				t.Fatalf("%s: IPv4 %+v", tc.typ, ip)
			}
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	ok := v1.PacketInjection{Type: "icmp4", SrcIP: "10.0.0.1", DstIP: "10.0.0.2", SrcMAC: "02:00:00:00:00:01", DstMAC: "02:00:00:00:00:02", Count: 1}
	for field, mutate := range map[string]func(*v1.PacketInjection){
		"Type":   func(p *v1.PacketInjection) { p.Type = "sctp9" },
		"SrcIP":  func(p *v1.PacketInjection) { p.SrcIP = "nope" },
		"DstIP":  func(p *v1.PacketInjection) { p.DstIP = "fd00::1" },
		"DstMAC": func(p *v1.PacketInjection) { p.DstMAC = "zz" },
		"Mode":   func(p *v1.PacketInjection) { p.Mode = "burst" },
		"Count":  func(p *v1.PacketInjection) { p.Count = 0 },
	} {
		p := ok
		mutate(&p)
		if err := Validate(&p); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

// The original's fields: IncrementPayload grows the payload packet by packet,
// Mode random draws the ICMP ID per packet, TTL sets the IP TTL.
func TestForgeOriginalFields(t *testing.T) {
	p := &v1.PacketInjection{Type: "icmp4", SrcIP: "10.0.0.1", DstIP: "10.0.0.2", SrcMAC: "02:00:00:00:00:01",
		DstMAC: "02:00:00:00:00:02", Payload: "hello", ICMPID: 7, Count: 3, IncrementPayload: 10, TTL: 9, Mode: "unique"}
	rnd := rand.New(rand.NewPCG(1, 2))
	icmpOf := func(i int) (*layers.IPv4, *layers.ICMPv4) {
		b, err := Forge(p, i, rnd)
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
		return pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4), pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	}
	for i := 0; i < 3; i++ {
		ip, icmp := icmpOf(i)
		if len(icmp.Payload) != 5+10*i || ip.TTL != 9 || icmp.Id != 7 || icmp.Seq != uint16(i+1) {
			t.Fatalf("packet %d: payload %d bytes, TTL %d, id %d, seq %d", i, len(icmp.Payload), ip.TTL, icmp.Id, icmp.Seq)
		}
	}
	p.Mode, p.IncrementPayload = "random", 0
	ids := map[uint16]bool{}
	for i := 0; i < 5; i++ {
		_, icmp := icmpOf(i)
		ids[icmp.Id] = true
	}
	if len(ids) < 2 {
		t.Fatalf("random mode gave ICMP ids %v", ids)
	}
}

func TestPcapReplayValidation(t *testing.T) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{bytes.Repeat([]byte{1}, 60), bytes.Repeat([]byte{2}, 70)}
	for _, f := range frames {
		if err := w.WritePacket(gopacket.CaptureInfo{CaptureLength: len(f), Length: len(f)}, f); err != nil {
			t.Fatal(err)
		}
	}
	good := buf.Bytes()
	pkts, err := PcapPackets(good)
	if err != nil || len(pkts) != 2 || !bytes.Equal(pkts[1], frames[1]) {
		t.Fatalf("PcapPackets: %d packets, %v", len(pkts), err)
	}
	p := &v1.PacketInjection{Pcap: good}
	if err := Validate(p); err != nil || p.Count != 2 {
		t.Fatalf("Validate: count %d, %v", p.Count, err)
	}
	var raw bytes.Buffer
	rw := pcapgo.NewWriter(&raw)
	_ = rw.WriteFileHeader(65535, layers.LinkTypeRaw)
	for name, bad := range map[string][]byte{
		"not a pcap":       []byte("hello, world, this is not a pcap"),
		"truncated record": good[:len(good)-10],
		"no packet":        good[:24],
		"raw IP link type": raw.Bytes(),
	} {
		err := Validate(&v1.PacketInjection{Pcap: bad})
		if err == nil || !strings.HasPrefix(err.Error(), "Pcap: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
