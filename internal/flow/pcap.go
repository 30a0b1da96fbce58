package flow

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrNotPcap is returned for data that is neither a pcap nor a pcapng
// file.
var ErrNotPcap = errors.New("not a pcap or pcapng file")

// packetSource is what FeedPcap needs of pcapgo's readers.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// FeedPcap reads a pcap or pcapng stream and feeds its packets to t until
// the end of the stream or ctx is done. A stream truncated in the middle
// of a packet ends without error (the packets read so far count).
func FeedPcap(ctx context.Context, r io.Reader, t *Table) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: file too short", ErrNotPcap)
		}
		return fmt.Errorf("reading pcap header: %w", err)
	}

	var src packetSource
	var linkType func(gopacket.CaptureInfo) layers.LinkType
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a: // pcapng section header block
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return fmt.Errorf("reading pcapng header: %w", err)
		}
		src = ng
		linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
			if i, err := ng.Interface(ci.InterfaceIndex); err == nil {
				return i.LinkType
			}
			return ng.LinkType()
		}
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading pcap header: %w", err)
		}
		src = pr
		lt := pr.LinkType()
		linkType = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	default:
		return fmt.Errorf("%w: bad magic number %#x", ErrNotPcap, magic)
	}

	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		data, ci, err := src.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			t.log.Debug("pcap stream truncated", "packets", i)
			return nil
		case err != nil:
			return fmt.Errorf("reading packet %d: %w", i+1, err)
		}
		t.FeedPacket(data, ci, linkType(ci))
	}
}

// FlowsFromPcap returns the flows of a pcap or pcapng stream, in the
// order they were created. No update or expiry happens while reading:
// every flow of the trace is returned.
func FlowsFromPcap(ctx context.Context, r io.Reader, opts Options) ([]*Flow, error) {
	t := NewTable(opts)
	if err := FeedPcap(ctx, r, t); err != nil {
		return nil, err
	}
	return t.Flows(), nil
}
