package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/skydive-ng/skydive/internal/flow"
)

// Default NetFlow collector address and port range (the original's
// agent.flow.netflow settings).
const (
	DefaultNetFlowAddr    = "127.0.0.1"
	DefaultNetFlowMinPort = 6365
	DefaultNetFlowMaxPort = 6375
)

// netflowSource is a UDP collector of NetFlow v5, v9 and IPFIX (type
// netflow: from any exporter; type ovsnetflow: the NetFlow an OVS bridge is
// told to send here). Its records are not packets: they go to the table
// with flow.Table.FeedRecord, the two directions of a conversation merged
// into one flow.
type netflowSource struct {
	conn     *net.UDPConn
	table    *flow.Table
	dec      *nfDecoder
	log      *slog.Logger
	received atomic.Int64 // packets counted by the records fed
	bad      atomic.Int64 // datagrams that could not be decoded
}

func openNetFlow(spec Spec, table *flow.Table, log *slog.Logger) (*netflowSource, error) {
	addr := spec.NetFlowAddr
	if addr == "" {
		addr = DefaultNetFlowAddr
	}
	lo, hi := spec.NetFlowMinPort, spec.NetFlowMaxPort
	if lo == 0 {
		lo, hi = DefaultNetFlowMinPort, DefaultNetFlowMaxPort
	}
	c, err := listenUDPRange("netflow", addr, lo, hi, spec.Port)
	if err != nil {
		return nil, err
	}
	return &netflowSource{conn: c, table: table, dec: newNFDecoder(), log: log}, nil
}

func (s *netflowSource) addr() string { return s.conn.LocalAddr().String() }

func (s *netflowSource) run(ctx context.Context, _ *intake) error {
	buf := make([]byte, 65536)
	// A UDP read does not watch ctx: closing the socket ends it.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.Close() })
	defer stop()
	feed := func(r flow.Record) {
		if s.table.FeedRecord(r) {
			s.received.Add(int64(min(r.Packets, 1<<62)))
		}
	}
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("netflow read: %w", err)
		}
		if err := s.dec.Decode(buf[:n], from, time.Now(), feed); err != nil {
			// A truncated or foreign datagram, or data before its
			// template, is counted, never fatal.
			s.bad.Add(1)
			s.log.Debug("netflow datagram", "from", from, "err", err)
		}
	}
}

func (s *netflowSource) stats() (Stats, bool) {
	return Stats{PacketsReceived: s.received.Load(), PacketsDropped: s.bad.Load()}, true
}

func (s *netflowSource) close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
