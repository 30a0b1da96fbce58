// Package ondemand is the agent's side of captures: it runs the captures the
// analyzer assigns to the agent's nodes, keeps their state in the nodes'
// Captures metadata, and sends their flows to the analyzer.
package ondemand

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/capture"
	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/vishvananda/netlink"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/inject"
	ovsprobe "github.com/skydive-ng/skydive/internal/probe/ovsdb"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Options configure the manager.
type Options struct {
	Graph *graph.Graph
	// Send delivers a message to the analyzer (never blocks).
	Send func(v1.Message)
	// FlowUpdate is the period of flow updates; FlowExpire ends idle flows.
	FlowUpdate, FlowExpire time.Duration
	// StatsUpdate is the period of the packet counters in the Captures
	// metadata of nodes under capture (default 1 s).
	StatsUpdate time.Duration
	// OnFlows, when set, sees each batch of a capture's flow updates
	// (metrics).
	OnFlows func(captureID string, flows []*flow.Flow)
	// AppPorts names applications by port.
	AppPorts *flow.AppPorts
	// MPLSUDPPort is the flow tables' flow.Options.MPLSUDPPort.
	MPLSUDPPort int
	// EnableOVSSFlow points an OVS bridge's sFlow at a collector address
	// and returns how to undo it (nil: no OVS on this agent).
	EnableOVSSFlow func(ctx context.Context, bridge, target string, c v1.Capture) (disable func(context.Context) error, err error)
	// EnableOVSNetFlow points an OVS bridge's NetFlow at a collector
	// address and returns how to undo it (nil: no OVS on this agent).
	EnableOVSNetFlow func(ctx context.Context, bridge, target string, c v1.Capture) (disable func(context.Context) error, err error)
	// NetFlowAddr and NetFlowMinPort..NetFlowMaxPort are where netflow
	// and ovsnetflow captures listen (agent.flow.netflow; zero values:
	// the capture package's defaults).
	NetFlowAddr                    string
	NetFlowMinPort, NetFlowMaxPort int
	// EnableOVSMirror mirrors a bridge's port to a new host interface.
	EnableOVSMirror func(ctx context.Context, bridge, port, captureID string) (ifName string, disable func(context.Context) error, err error)
	Logger          *slog.Logger
}

// Manager runs the agent's captures.
type Manager struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context

	mu      sync.Mutex
	running map[string]*running // by capture ID + "/" + node ID
	pending chan []v1.CaptureAssignment
}

type running struct {
	assignment v1.CaptureAssignment
	capture    *capture.Capture
	table      *flow.Table
	cancel     context.CancelFunc
	cleanup    func(context.Context) error
	err        error
	stats      capture.Stats // as last written in the node's Captures
}

// New returns a manager; Run must be called for captures to start.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StatsUpdate <= 0 {
		opts.StatsUpdate = time.Second
	}
	return &Manager{opts: opts, log: opts.Logger.With("component", "captures"), running: map[string]*running{},
		pending: make(chan []v1.CaptureAssignment, 1)}
}

// Run keeps the captures until ctx ends, then stops them all.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	stats := time.NewTicker(m.opts.StatsUpdate)
	defer stats.Stop()
	for {
		select {
		case <-ctx.Done():
			m.apply(nil)
			return nil
		case list := <-m.pending:
			m.apply(list)
		case <-stats.C:
			m.updateStats()
		}
	}
}

// updateStats writes the captures' packet counters that changed since the
// last time into their nodes' Captures metadata.
func (m *Manager) updateStats() {
	m.mu.Lock()
	defer m.mu.Unlock()
	touched := map[graph.Identifier]bool{}
	for _, r := range m.running {
		if r.capture == nil {
			continue
		}
		if st := r.capture.Stats(); st != r.stats {
			r.stats = st
			touched[graph.Identifier(r.assignment.NodeID)] = true
		}
	}
	if len(touched) > 0 {
		m.refreshLocked(touched)
	}
}

// HandleMessage takes the analyzer's capture messages.
func (m *Manager) HandleMessage(msg v1.Message) {
	if msg.Namespace == v1.NamespaceOnDemandPacketInjection && msg.Type == v1.InjectMsgType {
		var o v1.InjectionOrder
		if err := json.Unmarshal(msg.Obj, &o); err != nil {
			m.log.Warn("bad packet injection from the analyzer", "err", err)
			return
		}
		go m.inject(o)
		return
	}
	if msg.Namespace != v1.NamespaceOnDemandCapture || msg.Type != v1.CaptureSetMsgType {
		return
	}
	var list []v1.CaptureAssignment
	if err := json.Unmarshal(msg.Obj, &list); err != nil {
		m.log.Warn("bad capture assignment from the analyzer", "err", err)
		return
	}
	// The newest set replaces one not applied yet; starting captures takes
	// time that the connection's reader must not wait for.
	for {
		select {
		case m.pending <- list:
			return
		default:
			select {
			case <-m.pending:
			default:
			}
		}
	}
}

func key(a v1.CaptureAssignment) string { return a.Capture.UUID + "/" + a.NodeID }

// apply makes the running captures match list.
func (m *Manager) apply(list []v1.CaptureAssignment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log.Debug("capture assignments", "count", len(list))
	want := map[string]v1.CaptureAssignment{}
	for _, a := range list {
		want[key(a)] = a
	}
	touched := map[graph.Identifier]bool{}
	for k, r := range m.running {
		a, keep := want[k]
		if keep && a.Capture == r.assignment.Capture && r.err == nil {
			continue
		}
		m.stopLocked(k, r)
		touched[graph.Identifier(r.assignment.NodeID)] = true
	}
	if m.ctx == nil || m.ctx.Err() != nil {
		m.refreshLocked(touched)
		return
	}
	for k, a := range want {
		if _, ok := m.running[k]; ok {
			continue
		}
		m.running[k] = m.startLocked(a)
		touched[graph.Identifier(a.NodeID)] = true
	}
	m.refreshLocked(touched)
}

func (m *Manager) stopLocked(k string, r *running) {
	delete(m.running, k)
	if r.cleanup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.cleanup(ctx); err != nil {
			m.log.Warn("undo capture configuration", "capture", r.assignment.Capture.UUID, "err", err)
		}
		cancel()
	}
	if r.capture != nil {
		_ = r.capture.Stop()
	}
	if r.cancel != nil {
		r.cancel() // the table flushes its flows as it stops
	}
}

// target finds the interface name and namespace of a node.
func (m *Manager) target(n *graph.Node) (capture.Target, error) {
	t := capture.Target{IfName: n.Metadata.String(graph.KeyName)}
	if idx, ok := n.Metadata[topology.KeyIfIndex].(int64); ok {
		t.IfIndex = int(idx)
	} else {
		return t, fmt.Errorf("node %s (%s) is not a network interface", n.ID, t.IfName)
	}
	for _, e := range m.opts.Graph.InEdges(n.ID) {
		if e.Metadata.String(graph.KeyRelationType) != topology.OwnershipLink {
			continue
		}
		if owner := m.opts.Graph.Node(e.Parent); owner != nil && owner.Metadata.String(graph.KeyType) == topology.TypeNetns {
			t.NsPath = owner.Metadata.String(topology.KeyPath)
		}
	}
	return t, nil
}

func (m *Manager) startLocked(a v1.CaptureAssignment) *running {
	r := &running{assignment: a}
	n := m.opts.Graph.Node(graph.Identifier(a.NodeID))
	if n == nil {
		r.err = fmt.Errorf("node %s not found on this agent", a.NodeID)
		return r
	}
	var target capture.Target
	var err error
	switch a.Capture.Type {
	case capture.TypeOVSSFlow:
		if n.Metadata.String(graph.KeyType) != "ovsbridge" {
			r.err = fmt.Errorf("an ovssflow capture runs on OVS bridges, %s is a %s", n.Metadata.String(graph.KeyName), n.Metadata.String(graph.KeyType))
			return r
		}
		if m.opts.EnableOVSSFlow == nil {
			r.err = fmt.Errorf("no OVS probe on this agent")
			return r
		}
	case capture.TypeOVSNetFlow:
		if n.Metadata.String(graph.KeyType) != "ovsbridge" {
			r.err = fmt.Errorf("an ovsnetflow capture runs on OVS bridges, %s is a %s", n.Metadata.String(graph.KeyName), n.Metadata.String(graph.KeyType))
			return r
		}
		if m.opts.EnableOVSNetFlow == nil {
			r.err = fmt.Errorf("no OVS probe on this agent")
			return r
		}
	case capture.TypeSFlow, capture.TypeNetFlow:
		// A collector: any node may stand for the sFlow agents or the
		// NetFlow/IPFIX exporters it hears.
	case capture.TypeOVSMirror:
		if m.opts.EnableOVSMirror == nil {
			r.err = fmt.Errorf("no OVS probe on this agent")
			return r
		}
		bridge, port, err := m.ovsPortOf(n)
		if err != nil {
			r.err = err
			return r
		}
		octx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		ifName, disable, err := m.opts.EnableOVSMirror(octx, bridge, port, a.Capture.UUID)
		cancel()
		if err != nil {
			r.err = fmt.Errorf("mirror %s: %w", port, err)
			return r
		}
		r.cleanup = disable
		if err := waitLinkUp(m.ctx, ifName); err != nil {
			r.err = err
			return r
		}
		target = capture.Target{IfName: ifName}
	default:
		if target, err = m.target(n); err != nil {
			r.err = err
			return r
		}
	}
	spec := capture.SpecOf(&a.Capture, n.Metadata.String(topology.KeyTID))
	spec.Logger = m.opts.Logger
	spec.NetFlowAddr, spec.NetFlowMinPort, spec.NetFlowMaxPort = m.opts.NetFlowAddr, m.opts.NetFlowMinPort, m.opts.NetFlowMaxPort
	opts := capture.TableOptions(spec)
	opts.Update, opts.Expire, opts.AppPorts, opts.Logger = m.opts.FlowUpdate, m.opts.FlowExpire, m.opts.AppPorts, m.opts.Logger
	opts.MPLSUDPPort = m.opts.MPLSUDPPort
	ctx, cancel := context.WithCancel(m.ctx)
	var c *capture.Capture
	opts.OnUpdate = func(b flow.Batch) { m.sendFlows(a, c, b) }
	table := flow.NewTable(opts)
	r.table, r.cancel = table, cancel
	c, err = capture.Start(ctx, spec, target, table)
	if err != nil {
		cancel()
		if r.cleanup != nil {
			_ = r.cleanup(context.Background())
			r.cleanup = nil
		}
		r.err = err
		m.log.Warn("capture failed", "capture", a.Capture.UUID, "node", a.NodeID, "err", err)
		return r
	}
	r.capture = c
	go func() { _ = table.Run(ctx) }()
	if a.Capture.Type == capture.TypeOVSSFlow {
		octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
		disable, err := m.opts.EnableOVSSFlow(octx, n.Metadata.String(graph.KeyName), c.Addr(), a.Capture)
		ocancel()
		if err != nil {
			_ = c.Stop()
			cancel()
			r.capture, r.err = nil, fmt.Errorf("configure sFlow on %s: %w", n.Metadata.String(graph.KeyName), err)
			return r
		}
		r.cleanup = disable
	}
	if a.Capture.Type == capture.TypeOVSNetFlow {
		octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
		disable, err := m.opts.EnableOVSNetFlow(octx, n.Metadata.String(graph.KeyName), sendable(c.Addr()), a.Capture)
		ocancel()
		if err != nil {
			_ = c.Stop()
			cancel()
			r.capture, r.err = nil, fmt.Errorf("configure NetFlow on %s: %w", n.Metadata.String(graph.KeyName), err)
			return r
		}
		r.cleanup = disable
	}
	return r
}

// sendFlows forwards a table's batch with the capture's counters.
func (m *Manager) sendFlows(a v1.CaptureAssignment, c *capture.Capture, b flow.Batch) {
	if len(b.Flows) == 0 {
		return
	}
	if m.opts.OnFlows != nil {
		m.opts.OnFlows(a.Capture.UUID, b.Flows)
	}
	var pkts map[string][]rawpacket.Packet
	if c != nil && a.Capture.RawPacketLimit > 0 {
		// Before encoding: it also sets the flows' RawPacketsCaptured.
		pkts = c.RawPackets(b.Flows)
	}
	raw, err := json.Marshal(b.Flows)
	if err != nil {
		m.log.Warn("encode flows", "err", err)
		return
	}
	st := v1.CaptureStats{CaptureID: a.Capture.UUID, NodeID: a.NodeID, FlowCount: int64(b.Stats.FlowCount),
		FlowDropped: b.Stats.FlowDropped, KernelFlowDropped: b.Stats.KernelFlowDropped,
		PacketsDropped: b.Stats.PacketsDropped, PacketsReceived: b.Stats.PacketsReceived}
	up := v1.FlowUpdate{Flows: raw, Stats: st}
	if len(pkts) > 0 {
		if up.RawPackets, err = json.Marshal(pkts); err != nil {
			m.log.Warn("encode raw packets", "err", err)
		}
	}
	obj, err := json.Marshal(up)
	if err != nil {
		return
	}
	m.opts.Send(v1.Message{Namespace: v1.NamespaceFlow, Type: v1.FlowUpdateMsgType, Status: http.StatusOK, Obj: obj})
}

// refreshLocked writes the Captures metadata of the given nodes.
func (m *Manager) refreshLocked(nodes map[graph.Identifier]bool) {
	for id := range nodes {
		var entries []any
		for _, r := range m.running {
			if graph.Identifier(r.assignment.NodeID) != id {
				continue
			}
			c := r.assignment.Capture
			e := map[string]any{"ID": c.UUID, "State": "active", "Type": c.Type,
				"PacketsReceived": r.stats.PacketsReceived, "PacketsDropped": r.stats.PacketsDropped,
				"PacketsIfDropped": r.stats.PacketsIfDropped}
			if c.BPFFilter != "" {
				e["BPFFilter"] = c.BPFFilter
			}
			if c.Name != "" {
				e["Name"] = c.Name
			}
			if c.Description != "" {
				e["Description"] = c.Description
			}
			if r.capture != nil && r.capture.Addr() != "" {
				switch c.Type {
				case capture.TypeSFlow, capture.TypeOVSSFlow:
					e["SFlowSocket"] = r.capture.Addr()
				case capture.TypeNetFlow, capture.TypeOVSNetFlow:
					e["NetFlowSocket"] = r.capture.Addr()
				default:
					e["PCAPSocket"] = r.capture.Addr()
				}
			}
			if r.err != nil {
				e["State"] = "error"
				e["Error"] = r.err.Error()
			}
			entries = append(entries, e)
		}
		sort.Slice(entries, func(i, j int) bool {
			return entries[i].(map[string]any)["ID"].(string) < entries[j].(map[string]any)["ID"].(string)
		})
		_ = m.opts.Graph.UpdateNodeMetadata(id, func(md graph.Metadata) bool {
			if len(entries) == 0 {
				delete(md, topology.KeyCaptures)
			} else {
				md[topology.KeyCaptures] = entries
			}
			return true
		})
	}
}

// SFlowEnabler is the OVS probe's side of ovssflow captures.
type SFlowEnabler interface {
	EnableSFlow(ctx context.Context, bridge string, s ovsprobe.SFlowSettings) (func(context.Context) error, error)
}

// EnableOVSSFlow lets ovssflow captures configure bridges through o.
func (m *Manager) EnableOVSSFlow(o SFlowEnabler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts.EnableOVSSFlow = func(ctx context.Context, bridge, target string, c v1.Capture) (func(context.Context) error, error) {
		header := c.HeaderSize
		if header == 0 {
			header = 128
		}
		return o.EnableSFlow(ctx, bridge, ovsprobe.SFlowSettings{Target: target, Sampling: int(c.SamplingRate),
			Polling: int(c.PollingInterval), Header: header, CaptureID: c.UUID})
	}
}

// sendable is the address local senders reach a collector listening on
// addr at: the loopback address for a wildcard one (0.0.0.0, ::).
func sendable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() == nil {
			return net.JoinHostPort("::1", port)
		}
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// NetFlowEnabler is the OVS probe's side of ovsnetflow captures.
type NetFlowEnabler interface {
	EnableNetFlow(ctx context.Context, bridge string, s ovsprobe.NetFlowSettings) (func(context.Context) error, error)
}

// EnableOVSNetFlow lets ovsnetflow captures configure bridges through o.
func (m *Manager) EnableOVSNetFlow(o NetFlowEnabler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts.EnableOVSNetFlow = func(ctx context.Context, bridge, target string, c v1.Capture) (func(context.Context) error, error) {
		return o.EnableNetFlow(ctx, bridge, ovsprobe.NetFlowSettings{Target: target, CaptureID: c.UUID})
	}
}

// ovsPortOf finds the bridge and port of an OVS port node, or of an
// interface attached to one.
func (m *Manager) ovsPortOf(n *graph.Node) (bridge, port string, err error) {
	g := m.opts.Graph
	parentOfType := func(id graph.Identifier, typ string) *graph.Node {
		for _, e := range g.InEdges(id) {
			if p := g.Node(e.Parent); p != nil && p.Metadata.String(graph.KeyType) == typ {
				return p
			}
		}
		return nil
	}
	pn := n
	if n.Metadata.String(graph.KeyType) != "ovsport" {
		if pn = parentOfType(n.ID, "ovsport"); pn == nil {
			return "", "", fmt.Errorf("%s is not an OVS port nor attached to one", n.Metadata.String(graph.KeyName))
		}
	}
	bn := parentOfType(pn.ID, "ovsbridge")
	if bn == nil {
		return "", "", fmt.Errorf("OVS port %s has no bridge", pn.Metadata.String(graph.KeyName))
	}
	return bn.Metadata.String(graph.KeyName), pn.Metadata.String(graph.KeyName), nil
}

// waitLinkUp waits for a host interface OVS creates, and sets it up.
func waitLinkUp(ctx context.Context, name string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := netlink.LinkByName(name)
		if err == nil {
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("set %s up: %w", name, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mirror interface %s did not appear: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// EnableOVSMirror lets ovsmirror captures set mirrors up through o.
func (m *Manager) EnableOVSMirror(o interface {
	EnableMirror(ctx context.Context, bridge, port, captureID string) (string, func(context.Context) error, error)
}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts.EnableOVSMirror = o.EnableMirror
}

// inject sends the packets of an injection from its source node.
func (m *Manager) inject(o v1.InjectionOrder) {
	m.mu.Lock()
	ctx := m.ctx
	m.mu.Unlock()
	if ctx == nil {
		return
	}
	n := m.opts.Graph.Node(graph.Identifier(o.NodeID))
	if n == nil {
		m.log.Warn("packet injection: node not found", "node", o.NodeID)
		return
	}
	t, err := m.target(n)
	if err != nil {
		m.log.Warn("packet injection", "err", err)
		return
	}
	sent, err := inject.Send(ctx, t.NsPath, t.IfName, &o.Injection)
	if err != nil {
		m.log.Warn("packet injection failed", "injection", o.Injection.UUID, "interface", t.IfName, "sent", sent, "err", err)
		return
	}
	m.log.Info("packets injected", "injection", o.Injection.UUID, "interface", t.IfName, "type", o.Injection.Type, "count", sent)
}
