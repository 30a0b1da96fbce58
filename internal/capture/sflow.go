package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Default sFlow collector address and port range (the original's
// agent.flow.sflow settings).
const (
	DefaultSFlowAddr    = "127.0.0.1"
	DefaultSFlowMinPort = 6345
	DefaultSFlowMaxPort = 6355
)

// sflowSource is a UDP sFlow v5 collector: the packet headers of every flow
// sample are fed to the table, for any sender (type sflow) or for the sFlow
// an OVS bridge was told to send here (type ovssflow).
type sflowSource struct {
	conn     *net.UDPConn
	log      *slog.Logger
	received atomic.Int64
	bad      atomic.Int64
}

func openSFlow(spec Spec, log *slog.Logger) (*sflowSource, error) {
	addr := spec.SFlowAddr
	if addr == "" {
		addr = DefaultSFlowAddr
	}
	lo, hi := spec.SFlowMinPort, spec.SFlowMaxPort
	if lo == 0 {
		lo, hi = DefaultSFlowMinPort, DefaultSFlowMaxPort
	}
	c, err := listenUDPRange("sflow", addr, lo, hi, spec.Port)
	if err != nil {
		return nil, err
	}
	return &sflowSource{conn: c, log: log}, nil
}

// listenUDPRange listens on the first free UDP port of [lo, hi] (port
// alone when not 0), with a large receive buffer for collectors.
func listenUDPRange(what, addr string, lo, hi, port int) (*net.UDPConn, error) {
	if hi < lo {
		hi = lo
	}
	if port != 0 {
		lo, hi = port, port
	}
	var err error
	for p := lo; p <= hi; p++ {
		var ua *net.UDPAddr
		ua, err = net.ResolveUDPAddr("udp", net.JoinHostPort(addr, strconv.Itoa(p)))
		if err != nil {
			return nil, err
		}
		var c *net.UDPConn
		c, err = net.ListenUDP("udp", ua)
		if err == nil {
			_ = c.SetReadBuffer(4 << 20)
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("%s listen on %s ports %d..%d: %w", what, addr, lo, hi, err)
}

func (s *sflowSource) addr() string { return s.conn.LocalAddr().String() }

func (s *sflowSource) run(ctx context.Context, in *intake) error {
	buf := make([]byte, 65536)
	var dgram layers.SFlowDatagram
	// A UDP read does not watch ctx: closing the socket ends it.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.Close() })
	defer stop()
	for {
		n, _, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("sflow read: %w", err)
		}
		if err := dgram.DecodeFromBytes(buf[:n], gopacket.NilDecodeFeedback); err != nil {
			// A truncated or foreign datagram is counted, never fatal.
			s.bad.Add(1)
			continue
		}
		now := time.Now()
		for _, sample := range dgram.FlowSamples {
			for _, rec := range sample.Records {
				raw, ok := rec.(layers.SFlowRawPacketFlowRecord)
				if !ok || raw.Header == nil {
					continue
				}
				data := raw.Header.Data()
				s.received.Add(1)
				in.packet(data, gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(data), Length: int(raw.FrameLength)}, layers.LinkTypeEthernet)
			}
		}
		in.flush()
	}
}

func (s *sflowSource) stats() (Stats, bool) {
	return Stats{PacketsReceived: s.received.Load(), PacketsDropped: s.bad.Load()}, true
}

func (s *sflowSource) close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
