package flow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

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
	_, err := ReadPcapBatch(ctx, r, t.FeedBatch)
	return err
}

// ReadPcap reads a pcap or pcapng stream (pcapng with several interfaces
// too) and gives feed each packet with its link type, until the end of
// the stream or ctx is done; it returns the number of packets read. A
// stream cut in the middle of a packet ends with ErrTruncated, a malformed
// header or record with ErrBadPcap, data that is no pcap with ErrNotPcap.
func ReadPcap(ctx context.Context, r io.Reader, feed func([]byte, gopacket.CaptureInfo, layers.LinkType)) (int, error) {
	return ReadPcapBatch(ctx, r, func(pkts []Packet) {
		for i := range pkts {
			feed(pkts[i].Data, pkts[i].CI, pkts[i].LinkType)
		}
	})
}

// ReadPcapBatch is ReadPcap giving feed the packets in batches (for
// Table.FeedBatch) of up to BatchSize: the packets of a classic pcap
// stream already read into its buffer, read in place, or one packet. A
// batch's data is valid until feed returns. Every packet read before an
// error is fed before ReadPcapBatch returns.
func ReadPcapBatch(ctx context.Context, r io.Reader, feed func([]Packet)) (int, error) {
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
	// fr, for a classic pcap, gives the next packet when it is whole in
	// the stream's buffer, without a read that would move the packets
	// before it
	var fr *pcapReader
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
		if hdr, err := br.Peek(pcapHeaderLen); err == nil {
			// pcapgo checks the file header; the packets are read in
			// place from br (pcapgo's reader copies each through a bufio
			// of its own: a tenth of `pcap flows`' time)
			pr, err := pcapgo.NewReader(bytes.NewReader(hdr))
			if err != nil {
				return 0, fmt.Errorf("%w: pcap header: %v", ErrBadPcap, err)
			}
			fr = newPcapReader(br, hdr, pr.LinkType())
			_, _ = br.Discard(pcapHeaderLen)
			read = fr.read
			lt := pr.LinkType()
			linkType = func(gopacket.CaptureInfo) layers.LinkType { return lt }
			break
		}
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
	batch := make([]Packet, 0, BatchSize)
	flush := func() {
		if len(batch) > 0 {
			feed(batch)
			batch = batch[:0]
		}
	}
	defer flush()
	nextCheck := 0
	for n := 0; ; n++ {
		if n >= nextCheck {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			nextCheck = n + 1024
		}
		if len(batch) > 0 && fr != nil {
			k := fr.take(batch[len(batch):cap(batch)])
			batch = batch[:len(batch)+k]
			n += k
			if len(batch) == cap(batch) {
				flush()
				n--
				continue
			}
		}
		flush() // the next read may reuse the buffer the batch is in
		data, ci, err := read()
		switch {
		case errors.Is(err, io.EOF):
			return n, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return n, fmt.Errorf("%w: packet %d is cut short (%d packets read)", ErrTruncated, n+1, n)
		case err != nil:
			return n, fmt.Errorf("%w: packet %d: %v", ErrBadPcap, n+1, err)
		}
		batch = append(batch, Packet{Data: data, CI: ci, LinkType: linkType(ci)})
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

const (
	pcapHeaderLen       = 24
	pcapRecordHeaderLen = 16
	// pcapEagerMax is pcapgo's eagerReadMax: the largest capture length
	// accepted whatever the file's snap length, and read in one piece.
	pcapEagerMax = 262144
)

// pcapReader reads the packets of a classic pcap file as pcapgo.Reader's
// ZeroCopyReadPacketData does (same data, times, errors:
// TestPcapReaderAsPcapgo), the data in place in the bufio.Reader's buffer
// when it fits: valid until the next read.
type pcapReader struct {
	br       *bufio.Reader
	big      bool   // the file's byte order is big-endian
	factor   uint32 // to nanoseconds
	snaplen  uint32
	buf      []byte // packets larger than br's buffer
	linkType layers.LinkType
}

// newPcapReader reads after hdr, a file header pcapgo accepted.
func newPcapReader(br *bufio.Reader, hdr []byte, lt layers.LinkType) *pcapReader {
	r := &pcapReader{br: br, factor: 1000, linkType: lt}
	switch binary.LittleEndian.Uint32(hdr) {
	case 0xd4c3b2a1:
		r.big = true
	case 0xa1b23c4d:
		r.factor = 1
	case 0x4d3cb2a1:
		r.big, r.factor = true, 1
	}
	r.snaplen = r.u32(hdr[16:20])
	return r
}

// readFullErr is io.ReadFull's error for got of want bytes read before err.
func readFullErr(got, want int, err error) error {
	if err == io.EOF && got > 0 && got < want {
		return io.ErrUnexpectedEOF
	}
	return err
}

// u32 reads a header field in the file's byte order (through
// binary.ByteOrder, an interface, each of a packet's four reads was a
// call).
func (r *pcapReader) u32(b []byte) uint32 {
	if r.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// captureInfo reads a record header.
func (r *pcapReader) captureInfo(h []byte) (ci gopacket.CaptureInfo) {
	// the uint32 product wraps as pcapgo's does
	ci.Timestamp = time.Unix(int64(r.u32(h[0:4])), int64(r.u32(h[4:8])*r.factor)).UTC()
	ci.CaptureLength = int(r.u32(h[8:12]))
	ci.Length = int(r.u32(h[12:16]))
	return ci
}

// take reads the next packets into dst, in place, as long as their
// records are whole in br's buffer and their lengths plain (0 < capture
// length <= length and the snap length), and returns how many; read takes
// the rest. The packets' data stays valid until a Peek past the buffered
// bytes. The buffered bytes are walked in one slice: a packet costs no
// call into br. dst's packets are written in place: a hundred bytes each.
func (r *pcapReader) take(dst []Packet) int {
	buf, _ := r.br.Peek(r.br.Buffered()) // buffered: no read
	limit := max(int(r.snaplen), pcapEagerMax)
	off, k := 0, 0
	for k < len(dst) && len(buf)-off >= pcapRecordHeaderLen {
		h := buf[off : off+pcapRecordHeaderLen]
		n, length := int(r.u32(h[8:12])), int(r.u32(h[12:16]))
		end := off + pcapRecordHeaderLen + n
		if n == 0 || n > length || n > limit || end > len(buf) {
			break
		}
		p := &dst[k]
		p.CI = r.captureInfo(h)
		p.Data, p.LinkType = buf[off+pcapRecordHeaderLen:end], r.linkType
		off, k = end, k+1
	}
	_, _ = r.br.Discard(off)
	return k
}

func (r *pcapReader) read() ([]byte, gopacket.CaptureInfo, error) {
	h, err := r.br.Peek(pcapRecordHeaderLen)
	if err != nil {
		return nil, gopacket.CaptureInfo{}, readFullErr(len(h), pcapRecordHeaderLen, err)
	}
	ci := r.captureInfo(h)
	_, _ = r.br.Discard(pcapRecordHeaderLen)
	n := ci.CaptureLength
	if n > max(int(r.snaplen), pcapEagerMax) {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", n, r.snaplen)
	}
	if n > ci.Length {
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", n, ci.Length)
	}
	if n == 0 {
		return []byte{}, ci, nil
	}
	if n <= r.br.Size() {
		d, err := r.br.Peek(n)
		if err != nil {
			return d, ci, readFullErr(len(d), n, err)
		}
		_, _ = r.br.Discard(n) // d stays valid until the next Peek
		return d, ci, nil
	}
	if n <= pcapEagerMax {
		if cap(r.buf) < n {
			r.buf = make([]byte, n)
		}
		d := r.buf[:n]
		_, err := io.ReadFull(r.br, d)
		return d, ci, err
	}
	// a length beyond pcapEagerMax under a larger snap length: grown as
	// read, as pcapgo does (a short file cannot make it allocate 4 GiB)
	var b bytes.Buffer
	b.Grow(pcapEagerMax)
	m, err := io.CopyN(&b, r.br, int64(n))
	if err == io.EOF && m > 0 {
		err = io.ErrUnexpectedEOF
	}
	return b.Bytes(), ci, err
}
