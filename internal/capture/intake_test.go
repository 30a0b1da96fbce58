package capture

import (
	"bytes"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/skydive-ng/skydive/internal/flow"
)

// TestIntake: what a source hands in reaches the table in order, copied,
// in batches cut when full, when old, when the arena is full, and at
// flush.
func TestIntake(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	type pkt struct {
		size int
		at   time.Duration
	}
	for _, c := range []struct {
		name    string
		pkts    []pkt
		batches []int // sizes of the batches fed, the last by flush
	}{
		{"full batches", repeat(pkt{100, 0}, 2*flow.BatchSize+3), []int{flow.BatchSize, flow.BatchSize, 3}},
		{"old first packet", []pkt{{60, 0}, {60, time.Millisecond}, {60, maxBatchAge + time.Millisecond}}, []int{2, 1}},
		{"arena full", repeat(pkt{intakeArena / 3, 0}, 4), []int{3, 1}},
		{"bigger than the arena", []pkt{{60, 0}, {intakeArena + 1, 0}, {60, 0}}, []int{1, 1, 1}},
		{"nothing", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sizes []int
			var got [][]byte
			in := newIntake(func(pkts []flow.Packet) {
				sizes = append(sizes, len(pkts))
				for _, p := range pkts {
					got = append(got, append([]byte(nil), p.Data...))
				}
			})
			buf := make([]byte, intakeArena+1)
			var want [][]byte
			for i, p := range c.pkts {
				d := buf[:p.size]
				for j := range d {
					d[j] = byte(i)
				}
				want = append(want, append([]byte(nil), d...))
				in.packet(d, gopacket.CaptureInfo{Timestamp: t0.Add(p.at), CaptureLength: p.size, Length: p.size}, layers.LinkTypeEthernet)
				clear(d) // the ring's slot is reused: the intake kept a copy
			}
			in.flush()
			if len(sizes) != len(c.batches) {
				t.Fatalf("batches of %v, want %v", sizes, c.batches)
			}
			for i := range sizes {
				if sizes[i] != c.batches[i] {
					t.Fatalf("batches of %v, want %v", sizes, c.batches)
				}
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("packet %d changed on its way", i)
				}
			}
		})
	}
}

func repeat[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}
