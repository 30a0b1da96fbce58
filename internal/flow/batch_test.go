package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestFeedBatchAsFeedPacket feeds every trace, packet by packet and in
// batches of several sizes, under several options: the flows must be the
// same, field for field.
func TestFeedBatchAsFeedPacket(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap")
	shared, _ := filepath.Glob("../../../shared/pcaps/*.pcap")
	files = append(files, shared...)
	if len(files) < 20 {
		t.Fatalf("%d traces", len(files))
	}
	options := []struct {
		name string
		o    Options
	}{
		{"default", Options{}},
		{"everything", Options{ExtraTCPMetric: true, ReassembleTCP: true, IPDefrag: true, ExtraLayers: ExtraDNS | ExtraDHCPv4 | ExtraVRRP}},
		{"l3-key", Options{LayerKeyMode: L3}},
	}
	now := func() time.Time { return time.Unix(1700000000, 0) }
	for _, file := range files {
		pkts := readPackets(t, file)
		for _, opt := range options {
			opt.o.Now = now
			want := NewTable(opt.o)
			for _, p := range pkts {
				want.FeedPacket(p.Data, p.CI, p.LinkType)
			}
			wantJSON := flowsJSON(t, want)
			for _, size := range []int{1, 3, BatchSize, 50} {
				got := NewTable(opt.o)
				for rest := pkts; len(rest) > 0; {
					n := min(size, len(rest))
					got.FeedBatch(rest[:n])
					rest = rest[n:]
				}
				if g := flowsJSON(t, got); !bytes.Equal(g, wantJSON) {
					t.Errorf("%s, %s, batches of %d: flows differ from packet by packet\ngot  %s\nwant %s", filepath.Base(file), opt.name, size, g, wantJSON)
				}
				if got.Stats().PacketsReceived != int64(len(pkts)) {
					t.Errorf("%s: %d packets received, want %d", filepath.Base(file), got.Stats().PacketsReceived, len(pkts))
				}
			}
		}
	}
}

// TestReadPcapBatch: the batches of a pcap stream hold its packets in
// order, whatever the stream's buffer holds, and a stream cut short gives
// every whole packet before ErrTruncated.
func TestReadPcapBatch(t *testing.T) {
	const file = "testdata/eth-ip4-arp-dns-req-http-google.pcap"
	want := readPackets(t, file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var got []Packet
	batches := 0
	n, err := ReadPcapBatch(context.Background(), bytes.NewReader(raw), func(pkts []Packet) {
		batches++
		if len(pkts) == 0 || len(pkts) > BatchSize {
			t.Fatalf("batch of %d", len(pkts))
		}
		for _, p := range pkts {
			p.Data = append([]byte(nil), p.Data...)
			got = append(got, p)
		}
	})
	if err != nil || n != len(want) || len(got) != len(want) {
		t.Fatalf("%d packets read, %d fed, want %d (%v)", n, len(got), len(want), err)
	}
	if batches >= len(want) {
		t.Errorf("%d batches for %d packets: none gathered several", batches, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i].Data) || !got[i].CI.Timestamp.Equal(want[i].CI.Timestamp) || got[i].CI.Length != want[i].CI.Length {
			t.Fatalf("packet %d differs", i)
		}
	}

	// one byte at a time: a buffer that never holds a second packet
	got = got[:0]
	n, err = ReadPcapBatch(context.Background(), &oneByteReader{raw[:len(raw)-5]}, func(pkts []Packet) {
		got = append(got, pkts...)
	})
	if n != len(want)-1 || len(got) != len(want)-1 || err == nil {
		t.Fatalf("cut stream: %d read, %d fed, want %d (%v)", n, len(got), len(want)-1, err)
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, os.ErrClosed
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// readPackets reads a trace into copies.
func readPackets(t *testing.T, file string) []Packet {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkts []Packet
	if _, err := ReadPcap(context.Background(), f, func(d []byte, ci gopacket.CaptureInfo, lt layers.LinkType) {
		pkts = append(pkts, Packet{Data: append([]byte(nil), d...), CI: ci, LinkType: lt})
	}); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return pkts
}

func flowsJSON(t *testing.T, tbl *Table) []byte {
	t.Helper()
	b, err := json.Marshal(tbl.Flows())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
