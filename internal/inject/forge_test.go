package inject

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

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
