package flow

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type readResult struct {
	datas [][]byte
	cis   []string
	err   string
}

// readAll reads every packet with next until an error.
func readAll(next func() ([]byte, string, error)) readResult {
	var r readResult
	for range 100000 {
		d, ci, err := next()
		if err != nil {
			r.err = err.Error()
			if errors.Is(err, io.EOF) {
				r.err = "EOF"
			}
			return r
		}
		r.datas = append(r.datas, bytes.Clone(d))
		r.cis = append(r.cis, ci)
	}
	return r
}

func checkPcapReader(t *testing.T, name string, file []byte) {
	t.Helper()
	var want readResult
	pr, err := pcapgo.NewReader(bytes.NewReader(file))
	if err != nil {
		return // ReadPcap falls back to pcapgo for a header it refuses
	}
	want = readAll(func() ([]byte, string, error) {
		d, ci, err := pr.ZeroCopyReadPacketData()
		return d, ci.Timestamp.String() + " " + string(rune(ci.CaptureLength)) + string(rune(ci.Length)), err
	})
	br := bufio.NewReaderSize(bytes.NewReader(file), 64<<10)
	hdr, err := br.Peek(pcapHeaderLen)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fr := newPcapReader(br, hdr, layers.LinkTypeEthernet)
	_, _ = br.Discard(pcapHeaderLen)
	got := readAll(func() ([]byte, string, error) {
		d, ci, err := fr.read()
		return d, ci.Timestamp.String() + " " + string(rune(ci.CaptureLength)) + string(rune(ci.Length)), err
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: pcapReader read %d packets, err %q; pcapgo %d, err %q", name, len(got.datas), got.err, len(want.datas), want.err)
	}
}

// TestPcapReaderAsPcapgo: the classic pcap reader gives pcapgo's packets,
// capture infos and errors, for every trace, every trace cut at every
// length (the first 3 kB; of two traces, every 29th of the others), both byte orders and odd records.
func TestPcapReaderAsPcapgo(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap")
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkPcapReader(t, f, b)
		step := 1 // every cut of two traces, every 29th of the others
		if i > 1 {
			step = 29
		}
		for n := 0; n < min(len(b), 3000); n += step {
			checkPcapReader(t, f, b[:n])
		}
	}
	// records: big endian and nanoseconds; a capture length over the
	// original length, over the snap length, over the bufio buffer
	rec := func(o binary.AppendByteOrder, magic uint32, snap uint32, recs ...[4]uint32) []byte {
		b := o.AppendUint32(nil, magic)
		b = o.AppendUint16(b, 2)
		b = o.AppendUint16(b, 4)
		b = append(b, make([]byte, 8)...)
		b = o.AppendUint32(b, snap)
		b = o.AppendUint32(b, 1)
		for _, r := range recs {
			for _, v := range r {
				b = o.AppendUint32(b, v)
			}
			b = append(b, bytes.Repeat([]byte{0xab}, int(min(r[2], 300000)))...)
		}
		return b
	}
	for _, o := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, magic := range []uint32{0xa1b2c3d4, 0xa1b23c4d} {
			checkPcapReader(t, "records", rec(o, magic, 65535, [4]uint32{1, 999999, 60, 60}, [4]uint32{2, 5000000, 0, 0}, [4]uint32{3, 1, 10, 5}))
			checkPcapReader(t, "snap", rec(o, magic, 100, [4]uint32{1, 1, 300000, 300000}))
			checkPcapReader(t, "big", rec(o, magic, 1<<20, [4]uint32{1, 1, 70000, 70000}, [4]uint32{1, 1, 300000, 300000}, [4]uint32{1, 1, 60, 60}))
			checkPcapReader(t, "big cut", rec(o, magic, 1<<20, [4]uint32{1, 1, 300000, 300000})[:200000])
			checkPcapReader(t, "mid cut", rec(o, magic, 1<<20, [4]uint32{1, 1, 70000, 70000})[:50000])
		}
	}
}
