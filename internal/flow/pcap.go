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

// ErrBadPcap is returned for a pcap or pcapng file whose header or a record
// is malformed; the message says which and why.
var ErrBadPcap = errors.New("malformed pcap")

// ErrTruncated is returned for a stream that ends in the middle of a
// record: the packets before it were read. A live stream (pcapsocket)
// ends like that; a file is cut.
var ErrTruncated = errors.New("pcap truncated")

// FeedPcap reads a pcap or pcapng stream and feeds its packets to t until
// the end of the stream or ctx is done. A stream cut in the middle of a
// packet ends with ErrTruncated (the packets read so far count).
func FeedPcap(ctx context.Context, r io.Reader, t *Table) error {
	_, err := ReadPcap(ctx, r, t.FeedPacket)
	return err
}

// ReadPcap reads a pcap or pcapng stream (pcapng with several interfaces
// too) and gives feed each packet with its link type, until the end of
// the stream or ctx is done; it returns the number of packets read. A
// stream cut in the middle of a packet ends with ErrTruncated, a malformed
// header or record with ErrBadPcap, data that is no pcap with ErrNotPcap.
func ReadPcap(ctx context.Context, r io.Reader, feed func([]byte, gopacket.CaptureInfo, layers.LinkType)) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("%w: too short", ErrNotPcap)
		}
		return 0, fmt.Errorf("reading pcap header: %w", err)
	}
	var read func() ([]byte, gopacket.CaptureInfo, error)
	var linkType func(gopacket.CaptureInfo) layers.LinkType
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a: // pcapng section header block
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return 0, fmt.Errorf("%w: pcapng header: %v", ErrBadPcap, err)
		}
		read = ng.ZeroCopyReadPacketData
		linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
			if i, err := ng.Interface(ci.InterfaceIndex); err == nil {
				return i.LinkType
			}
			return ng.LinkType()
		}
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("%w: pcap header: %v", ErrBadPcap, err)
		}
		read = pr.ZeroCopyReadPacketData
		lt := pr.LinkType()
		linkType = func(gopacket.CaptureInfo) layers.LinkType { return lt }
	default:
		return 0, fmt.Errorf("%w: bad magic number %#x", ErrNotPcap, magic)
	}
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
		data, ci, err := read()
		switch {
		case errors.Is(err, io.EOF):
			return n, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return n, fmt.Errorf("%w: packet %d is cut short (%d packets read)", ErrTruncated, n+1, n)
		case err != nil:
			return n, fmt.Errorf("%w: packet %d: %v", ErrBadPcap, n+1, err)
		}
		feed(data, ci, linkType(ci))
	}
}

// FlowsFromPcap returns the flows of a pcap or pcapng stream, in the
// order they were created. No update or expiry happens while reading:
// every flow of the trace is returned. A trace cut short gives the flows
// of its whole packets with ErrTruncated.
func FlowsFromPcap(ctx context.Context, r io.Reader, opts Options) ([]*Flow, error) {
	t := NewTable(opts)
	if err := FeedPcap(ctx, r, t); err != nil && !errors.Is(err, ErrTruncated) {
		return nil, err
	} else if err != nil {
		return t.Flows(), err
	}
	return t.Flows(), nil
}
