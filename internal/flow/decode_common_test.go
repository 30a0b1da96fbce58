package flow

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// decodeBothWays decodes data with decodeCommon and with the general way
// only, and fails if they differ in anything; it reports whether
// decodeCommon took the frame.
func decodeBothWays(t *testing.T, data []byte, wireLen int) bool {
	t.Helper()
	fast := decoder{mplsPort: DefaultMPLSUDPPort}
	slow := decoder{mplsPort: DefaultMPLSUDPPort, slowOnly: true}
	var probe subPacket
	took := fast.decodeCommon(data, wireLen, &probe)
	nf := fast.decode(data, layers.LayerTypeEthernet, wireLen, t0)
	ns := slow.decode(data, layers.LayerTypeEthernet, wireLen, t0)
	if nf != ns {
		t.Fatalf("%x: %d sub-packets, the general way %d", data, nf, ns)
	}
	for i := range nf {
		f, s := fast.subs[i], slow.subs[i]
		if !reflect.DeepEqual(f, s) || len(f.rest) != len(s.rest) {
			t.Fatalf("%x: sub-packet %d\n%+v\nthe general way\n%+v", data, i, f, s)
		}
	}
	return took
}

// TestDecodeCommon: on every packet of every trace, and on the common
// frames cut short or with their lengths and flags changed, decodeCommon
// gives what the general way gives.
func TestDecodeCommon(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap")
	shared, _ := filepath.Glob("../../../shared/pcaps/*.pcap")
	taken, packets := 0, 0
	for _, file := range append(files, shared...) {
		if pcapLinkType(t, file) != layers.LinkTypeEthernet {
			continue
		}
		datas, cis := readPcap(t, file)
		for i, d := range datas {
			packets++
			if decodeBothWays(t, d, cis[i].Length) {
				taken++
				for _, v := range commonVariants(d) {
					decodeBothWays(t, v, 0)
				}
			}
		}
	}
	if taken == 0 || taken == packets {
		t.Fatalf("decodeCommon took %d of %d packets: the traces must have both kinds", taken, packets)
	}
	t.Logf("decodeCommon took %d of %d packets", taken, packets)
}

// commonVariants are d (a frame decodeCommon takes) cut at every length
// and with each byte of its headers that decodeCommon reads changed.
func commonVariants(d []byte) [][]byte {
	var out [][]byte
	for n := 0; n < len(d) && n < 80; n++ {
		out = append(out, d[:n])
	}
	for i := 12; i < len(d) && i < 14+20+20; i++ {
		for _, v := range []byte{0x00, 0x01, 0x02, 0x05, 0x08, 0x11, 0x20, 0x3f, 0x40, 0x45, 0x46, 0x50, 0xff} {
			c := append([]byte(nil), d...)
			c[i] = v
			out = append(out, c)
		}
	}
	return out
}

// FuzzDecodeCommon compares decodeCommon with the general way on
// arbitrary Ethernet frames. Seeds: testdata/fuzz/FuzzDecodeCommon.
func FuzzDecodeCommon(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBothWays(t, data, len(data))
		decodeBothWays(t, data, 0)
	})
}
