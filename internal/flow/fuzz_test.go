package flow

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// fuzzLinkTypes are the link types FuzzDecode feeds frames as (its lt
// argument modulo their number): append only, seeds name them by index.
var fuzzLinkTypes = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL, layers.LinkTypeNull, layers.LinkTypeIPv6,
	layers.LinkTypeIPv4, 12, 14}

// fuzzLinkIndex returns the index of lt in fuzzLinkTypes.
func fuzzLinkIndex(t testing.TB, lt layers.LinkType) uint8 {
	t.Helper()
	for i, l := range fuzzLinkTypes {
		if l == lt {
			return uint8(i)
		}
	}
	t.Fatalf("link type %d is not in fuzzLinkTypes", lt)
	return 0
}

// FuzzDecode feeds arbitrary frames to a table with every option on: the
// decoder and the table must never panic, and what they produce must be
// consistent (parents known, JSON encodable). Seeds (testdata/fuzz) are
// the packets of the traces, rewritten by go test -run TestFuzzSeeds -update.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, lt uint8) {
		tbl := NewTable(Options{IPDefrag: true, ExtraTCPMetric: true, ReassembleTCP: true, ExtraLayers: ExtraAll,
			AppPorts: &AppPorts{TCP: map[uint16]string{80: "HTTP"}}})
		linkType := fuzzLinkTypes[int(lt)%len(fuzzLinkTypes)]
		c := gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(data), Length: len(data)}
		tbl.FeedPacket(data, c, linkType)
		// a second time, as a known flow, then the same bytes reversed
		// in the L3 key mode
		c.Timestamp = c.Timestamp.Add(time.Millisecond)
		tbl.FeedPacket(data, c, linkType)
		flows := tbl.Flows()
		checkParents(t, "fuzz", flows)
		if _, err := json.Marshal(flows); err != nil {
			t.Fatal(err)
		}
		l3 := NewTable(Options{LayerKeyMode: L3})
		l3.FeedPacket(data, c, linkType)
		tbl.Flush(t0.Add(time.Hour))
	})
}

// TestFuzzSeeds rewrites the seed corpus of FuzzDecode from the traces
// when run with -update, and otherwise checks it exists.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if !*update {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("no seed corpus in %s (run go test -run TestFuzzSeeds -update): %v", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, lt uint8) {
		s := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nuint8(%d)\n", strconv.Quote(string(data)), lt)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range pcapFiles(t) {
		base := strings.TrimSuffix(filepath.Base(file), ".pcap")
		datas, _ := readPcap(t, file)
		lt := pcapLinkType(t, file)
		seen := map[string]bool{}
		for i, d := range datas {
			// one seed per distinct layer stack, to keep the corpus small:
			// gopacket's and this package's (which alone sees MPLS over
			// UDP, and raw IP under link types 12 and 14)
			p := gopacket.NewPacket(d, lt, gopacket.Lazy)
			var sig []string
			for _, l := range p.Layers() {
				sig = append(sig, l.LayerType().String())
			}
			sig = append(sig, "|")
			dec := decoder{mplsPort: DefaultMPLSUDPPort}
			for _, sp := range dec.subs[:dec.decode(d, firstLayerType(lt), len(d), t0)] {
				for _, l := range sp.layers[:sp.nLayers] {
					sig = append(sig, l.String())
				}
			}
			k := strings.Join(sig, "/")
			if seen[k] && i > 1 {
				continue
			}
			seen[k] = true
			write(fmt.Sprintf("%s-%d", base, i), d, fuzzLinkIndex(t, lt))
			if lt == layers.LinkTypeEthernet && p.NetworkLayer() != nil && len(d) > 14 {
				write(fmt.Sprintf("%s-%d-raw", base, i), d[14:], 1) // without Ethernet
			}
		}
	}
}
