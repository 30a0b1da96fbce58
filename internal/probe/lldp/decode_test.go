package lldp

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// frame is the LLDP frame lldpd 1.0.16 sent with -S "Skydive lab switch".
func frame(t testing.TB) []byte {
	f, err := os.Open("testdata/lldpd.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecode(t *testing.T) {
	n, err := Decode(frame(t))
	if err != nil {
		t.Fatal(err)
	}
	if n.TTL != 120 || n.ChassisID == "" || n.PortID == "" {
		t.Errorf("neighbor %+v", n)
	}
	for key, want := range map[string]any{
		"Type": "switch", "Probe": "lldp", "LLDP.Description": "Skydive lab switch", "LLDP.ChassisIDType": "MAC Address",
	} {
		if got, _ := n.Switch.Get(key); got != want {
			t.Errorf("switch %s = %v, want %v", key, got, want)
		}
	}
	for key, want := range map[string]any{"Type": "switchport", "LLDP.Description": "ltb", "LLDP.PortIDType": "MAC Address"} {
		if got, _ := n.Port.Get(key); got != want {
			t.Errorf("port %s = %v, want %v", key, got, want)
		}
	}
}

func TestDecodeBadFrames(t *testing.T) {
	good := frame(t)
	for name, data := range map[string][]byte{
		"empty":          nil,
		"ethernet only":  good[:14],
		"truncated TLV":  good[:20],
		"not LLDP (ARP)": append(append([]byte{}, good[:12]...), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1),
	} {
		if n, err := Decode(data); err == nil {
			t.Errorf("%s: no error, got %+v", name, n)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: empty error", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good := frame(f)
	f.Add(good)
	f.Add(good[:30])
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Decode(data)
		if err == nil && (n.ChassisID == "" || n.PortID == "") {
			t.Fatalf("decoded without IDs: %+v", n)
		}
	})
}

// A neighbour is shown until its TTL runs out, then dropped.
func TestNeighborExpires(t *testing.T) {
	n, err := Decode(frame(t))
	if err != nil {
		t.Fatal(err)
	}
	g := graph.New()
	p := New(Options{Writer: &topology.Writer{G: g, Host: "h", Origin: "agent.h"}, Host: "host"})
	key := neighborKey{"eth0", n.ChassisID, n.PortID}
	p.neighbors[key] = &seen{n: n, expires: time.Now().Add(time.Minute)}
	if d := p.desired(); len(d.Nodes) != 2 {
		t.Fatalf("live neighbour: %d nodes, want switch and port", len(d.Nodes))
	}
	p.neighbors[key].expires = time.Now().Add(-time.Second)
	if d := p.desired(); len(d.Nodes) != 0 || len(p.neighbors) != 0 {
		t.Fatalf("expired neighbour still there: %d nodes", len(d.Nodes))
	}
}
