package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapSocket accepts pcap or pcapng streams on a TCP port; every stream's
// packets are fed to the capture's table.
type pcapSocket struct {
	ln  net.Listener
	log *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// openPcapSocket listens on spec.Port, or on the first free port of the
// configured range.
func openPcapSocket(spec Spec, log *slog.Logger) (*pcapSocket, error) {
	var ln net.Listener
	var err error
	if spec.Port != 0 {
		ln, err = net.Listen("tcp", net.JoinHostPort(spec.PcapSocketAddr, strconv.Itoa(spec.Port)))
	} else {
		for p := spec.PcapSocketMinPort; p <= spec.PcapSocketMaxPort; p++ {
			ln, err = net.Listen("tcp", net.JoinHostPort(spec.PcapSocketAddr, strconv.Itoa(p)))
			if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
		}
		if ln == nil && err == nil {
			err = fmt.Errorf("empty port range %d..%d", spec.PcapSocketMinPort, spec.PcapSocketMaxPort)
		}
		if err != nil && errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("no free port in %d..%d: %w", spec.PcapSocketMinPort, spec.PcapSocketMaxPort, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pcapsocket listen: %w", err)
	}
	return &pcapSocket{ln: ln, log: log, conns: map[net.Conn]struct{}{}}, nil
}

func (p *pcapSocket) addr() string { return p.ln.Addr().String() }

func (p *pcapSocket) run(ctx context.Context, feed func([]byte, gopacket.CaptureInfo, layers.LinkType)) error {
	stop := context.AfterFunc(ctx, func() { p.close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("pcapsocket accept: %w", err)
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			conn.Close()
			return nil
		}
		p.conns[conn] = struct{}{}
		p.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				p.mu.Lock()
				delete(p.conns, conn)
				p.mu.Unlock()
				conn.Close()
			}()
			n, err := readPcapStream(ctx, conn, feed)
			if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.log.Warn("pcapsocket stream", "remote", conn.RemoteAddr().String(), "packets", n, "err", err)
				return
			}
			p.log.Debug("pcapsocket stream ended", "remote", conn.RemoteAddr().String(), "packets", n)
		}()
	}
}

func (p *pcapSocket) stats() (Stats, bool) { return Stats{}, false }

func (p *pcapSocket) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	return p.ln.Close()
}

// ErrNotPcap is returned for a stream that is neither pcap nor pcapng.
var ErrNotPcap = errors.New("not a pcap or pcapng stream")

// readPcapStream feeds the packets of a pcap or pcapng stream until its
// end; a stream cut in the middle of a packet ends without error.
func readPcapStream(ctx context.Context, r io.Reader, feed func([]byte, gopacket.CaptureInfo, layers.LinkType)) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("%w: stream too short", ErrNotPcap)
		}
		return 0, fmt.Errorf("reading pcap header: %w", err)
	}
	var read func() ([]byte, gopacket.CaptureInfo, error)
	var linkType func(gopacket.CaptureInfo) layers.LinkType
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return 0, fmt.Errorf("reading pcapng header: %w", err)
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
			return 0, fmt.Errorf("reading pcap header: %w", err)
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
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return n, nil
		case err != nil:
			return n, fmt.Errorf("reading packet %d: %w", n+1, err)
		}
		feed(data, ci, linkType(ci))
	}
}
