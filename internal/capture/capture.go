package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/ebpf"
	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

// Target is the interface a capture runs on.
type Target struct {
	// NsPath is the network namespace file (/var/run/netns/x,
	// /proc/<pid>/ns/net); "" is the agent's namespace.
	NsPath string
	// IfName is the interface name inside that namespace.
	IfName string
	// IfIndex is informative (logs); the name is authoritative.
	IfIndex int
}

// Stats are a capture's counters. PacketsReceived and PacketsDropped
// come from the kernel (afpacket ring, libpcap) when the source has them,
// otherwise from the packets read.
type Stats struct {
	PacketsReceived  int64 `json:"PacketsReceived"`
	PacketsDropped   int64 `json:"PacketsDropped"`
	PacketsIfDropped int64 `json:"PacketsIfDropped,omitempty"`
}

// source is one kind of capture.
type source interface {
	// run reads packets and hands them to in until ctx is done or a read
	// fails.
	run(ctx context.Context, in *intake) error
	// stats returns the cumulative kernel counters (ok false if none).
	stats() (Stats, bool)
	close() error
}

// Capture is a running capture. Its methods are safe for concurrent use.
type Capture struct {
	spec   Spec
	target Target
	table  *flow.Table
	src    source
	raw    *rawRecorder
	log    *slog.Logger
	addr   string

	read    atomic.Int64 // packets handed to the table
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // run error, set before done is closed
	stopMu  sync.Mutex
	stopped bool
	dropMu  sync.Mutex
	dropped int64 // kernel drops already given to table.AddDropped
	last    Stats // last kernel counters read
}

// Start validates spec, opens the capture on target and starts feeding
// table in a goroutine. The caller runs the table's timer (table.Run) and
// builds the table with TableOptions(spec). The capture stops when ctx is
// done or Stop is called.
func Start(ctx context.Context, spec Spec, target Target, table *flow.Table) (*Capture, error) {
	if table == nil {
		return nil, errors.New("capture: nil flow table")
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.Normalize()
	c := &Capture{spec: spec, target: target, table: table, done: make(chan struct{})}
	c.log = spec.Logger.With("capture", spec.CaptureID, "type", spec.Type, "ns", target.NsPath, "if", target.IfName)
	var err error
	switch spec.Type {
	case TypeAFPacket, TypeOVSMirror:
		c.src, err = openAFPacket(spec, target)
	case TypePcap:
		c.src, err = openPcap(spec, target)
	case TypeSFlow, TypeOVSSFlow:
		var sf *sflowSource
		sf, err = openSFlow(spec, c.log)
		if err == nil {
			c.src, c.addr = sf, sf.addr()
		}
	case TypeNetFlow, TypeOVSNetFlow:
		var nf *netflowSource
		nf, err = openNetFlow(spec, table, c.log)
		if err == nil {
			c.src, c.addr = nf, nf.addr()
		}
	case TypeEBPF:
		var col *ebpf.Collector
		if col, err = ebpf.Open(target.NsPath, target.IfName, c.log); err == nil {
			c.src = &ebpfSource{col: col, table: table, log: c.log}
		}
	case TypePcapSocket:
		var ps *pcapSocket
		ps, err = openPcapSocket(spec, c.log)
		if err == nil {
			c.src, c.addr = ps, ps.addr()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s capture on %s: %w", spec.Type, target, err)
	}
	if spec.RawPacketLimit > 0 {
		c.raw = newRawRecorder(spec)
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go c.run(rctx)
	c.log.Info("capture started", "addr", c.addr)
	return c, nil
}

func (t Target) String() string {
	if t.NsPath == "" {
		return fmt.Sprintf("%q", t.IfName)
	}
	return fmt.Sprintf("%q in %s", t.IfName, t.NsPath)
}

func (c *Capture) feed(pkts []flow.Packet) {
	if c.raw != nil {
		for _, p := range pkts {
			c.raw.record(p.Data, p.CI, p.LinkType)
		}
	}
	c.table.FeedBatch(pkts)
	c.read.Add(int64(len(pkts)))
}

func (c *Capture) run(ctx context.Context) {
	in := newIntake(c.feed)
	err := c.src.run(ctx, in)
	in.flush()
	if ctx.Err() != nil {
		err = nil
	}
	if err != nil {
		c.log.Error("capture failed", "err", err)
	}
	c.syncDropped()
	c.err = err
	close(c.done)
}

// Stop ends the capture and releases its socket. It is idempotent.
func (c *Capture) Stop() error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	c.cancel()
	<-c.done
	err := c.src.close()
	c.log.Info("capture stopped")
	if err != nil {
		return fmt.Errorf("closing capture: %w", err)
	}
	return nil
}

// Done is closed when the capture has stopped reading (Stop, ctx done or
// a read error: see Err).
func (c *Capture) Done() <-chan struct{} { return c.done }

// Err returns the error that ended the capture (nil while running and
// after a normal stop).
func (c *Capture) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Spec returns the normalized spec of the capture.
func (c *Capture) Spec() Spec { return c.spec }

// Addr returns the listen address of a pcapsocket capture ("" otherwise),
// for the node's Captures[].PCAPSocket.
func (c *Capture) Addr() string { return c.addr }

// Table returns the table the capture feeds.
func (c *Capture) Table() *flow.Table { return c.table }

// Stats returns the capture counters and reports new kernel drops to the
// table's statistics (flow.Stats.PacketsDropped).
func (c *Capture) Stats() Stats {
	return c.syncDropped()
}

func (c *Capture) syncDropped() Stats {
	st, ok := c.src.stats()
	c.dropMu.Lock()
	defer c.dropMu.Unlock()
	if !ok {
		if c.last != (Stats{}) {
			return c.last // the source is closed: its last counters
		}
		return Stats{PacketsReceived: c.read.Load()}
	}
	c.last = st
	if d := st.PacketsDropped - c.dropped; d > 0 {
		c.table.AddDropped(d, 0)
		c.dropped = st.PacketsDropped
	}
	return st
}

// RawPackets returns the raw packets kept for the given flows of this
// capture (RawPacketLimit > 0), by flow UUID, and sets the flows'
// RawPacketsCaptured. Give flows as a whole table or batch (the parents
// of encapsulated flows identify them); the flows are modified, so give
// copies (Table.Flows and Batch.Flows are).
func (c *Capture) RawPackets(flows []*flow.Flow) map[string][]rawpacket.Packet {
	if c.raw == nil {
		return nil
	}
	return c.raw.attach(flows)
}

// ebpfPoll is how often an ebpf capture reads the kernel's counts: the
// table's tick, so that each flow update (every Options.Update, a multiple
// of it) carries counts at most one tick old.
const ebpfPoll = flow.DefaultTick

// ebpfSource runs an ebpf.Collector: no packet reaches userspace, the
// kernel's counts go to the table as records (like netflow's).
type ebpfSource struct {
	col   *ebpf.Collector
	table *flow.Table
	log   *slog.Logger
}

func (s *ebpfSource) run(ctx context.Context, _ *intake) error {
	tk := time.NewTicker(ebpfPoll)
	defer tk.Stop()
	feed := func(r flow.Record) { s.table.FeedRecord(r) }
	for {
		select {
		case <-ctx.Done():
			// The last counts, so that a stopped capture's flows are whole.
			_, err := s.col.Poll(feed)
			return err
		case <-tk.C:
			// A failed read (an iteration the LRU's evictions aborted) is
			// made up for by the next one: the kernel's counts are totals.
			if _, err := s.col.Poll(feed); err != nil {
				s.log.Warn("reading the ebpf flow map", "err", err)
			}
		}
	}
}

func (s *ebpfSource) stats() (Stats, bool) {
	packets, _, failed, err := s.col.Stats()
	if err != nil {
		return Stats{}, false
	}
	return Stats{PacketsReceived: packets, PacketsDropped: failed}, true
}

func (s *ebpfSource) close() error { return s.col.Close() }
