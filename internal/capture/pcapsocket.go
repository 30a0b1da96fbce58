package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/skydive-ng/skydive/internal/flow"
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

func (p *pcapSocket) run(ctx context.Context, in *intake) error {
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
			n, err := flow.ReadPcapBatch(ctx, conn, in.feed)
			// A sender that stops mid-packet ends its stream: not a fault.
			if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, flow.ErrTruncated) {
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
var ErrNotPcap = flow.ErrNotPcap
