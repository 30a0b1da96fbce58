// Package ovsdb is the Open vSwitch probe: it monitors the Open_vSwitch
// database (libovsdb, no polling) and keeps the switch, its bridges, ports
// and interfaces in the graph. Interfaces that the kernel also has (internal
// ports, veths added to a bridge) are the netlink probe's nodes, enriched;
// the others (patch, tunnels) are nodes of their own.
package ovsdb

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Node types of the probe.
const (
	TypeSwitch = "openvswitch"
	TypeBridge = "ovsbridge"
	TypePort   = "ovsport"
)

// Options configure the probe.
type Options struct {
	Writer *topology.Writer
	// Host is the host node, owner of the kernel's interfaces.
	Host graph.Identifier
	// Address is the ovs.ovsdb key: unix:///path, unix:/path, tcp:host:port.
	Address string
	// Overlays carry the OVS metadata of kernel interfaces to the netlink probe.
	Overlays *topology.Overlays
	// EnableStats puts interface statistics in Ovs.Metric.
	EnableStats bool
	Logger      *slog.Logger
	// Retry is the delay between connection attempts.
	Retry time.Duration
}

// Probe follows one OVSDB.
type Probe struct {
	opts    Options
	log     *slog.Logger
	hostTID string

	mu     sync.Mutex
	client client.Client // the live connection, nil while away

	// What the probe wrote, to undo what is no longer true.
	nodes    map[graph.Identifier]bool
	edges    map[edgeKey]bool
	overlays map[string]graph.Metadata
}

type edgeKey struct {
	parent, child graph.Identifier
	relation      string
}

// New returns the probe.
func New(opts Options) *Probe {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	return &Probe{opts: opts, log: opts.Logger.With("probe", "ovsdb"),
		nodes: map[graph.Identifier]bool{}, edges: map[edgeKey]bool{}, overlays: map[string]graph.Metadata{}}
}

// Endpoint turns the ovs.ovsdb forms into libovsdb's.
func Endpoint(addr string) (string, error) {
	switch {
	case strings.HasPrefix(addr, "unix://"):
		return "unix:" + strings.TrimPrefix(addr, "unix://"), nil
	case strings.HasPrefix(addr, "tcp://"):
		return "tcp:" + strings.TrimPrefix(addr, "tcp://"), nil
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "tcp:"), strings.HasPrefix(addr, "ssl:"):
		return addr, nil
	case strings.HasPrefix(addr, "/"):
		return "unix:" + addr, nil
	}
	return "", fmt.Errorf("ovs.ovsdb: %q is not unix:///path or tcp:host:port", addr)
}

// Run follows OVSDB until ctx ends; it waits quietly while OVSDB is away
// and removes the OVS nodes when it stops.
func (p *Probe) Run(ctx context.Context) error {
	ep, err := Endpoint(p.opts.Address)
	if err != nil {
		return err
	}
	if h := p.opts.Writer.G.Node(p.opts.Host); h != nil {
		p.hostTID = h.Metadata.String(topology.KeyTID)
	}
	defer p.apply(&desired{nodes: map[graph.Identifier]graph.Metadata{}, edges: map[edgeKey]graph.Metadata{}, overlays: map[string]graph.Metadata{}})
	quiet := false
	for ctx.Err() == nil {
		err := p.session(ctx, ep)
		if ctx.Err() != nil {
			return nil
		}
		if err == errLost {
			quiet = false // said by session
		} else if !quiet {
			p.log.Info("OVSDB not reachable, waiting for it", "address", p.opts.Address, "err", err)
			quiet = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(p.opts.Retry):
		}
	}
	return nil
}

var errLost = fmt.Errorf("connection lost")

func (p *Probe) session(ctx context.Context, ep string) error {
	dbm, err := dbModel()
	if err != nil {
		return err
	}
	dirty := make(chan struct{}, 1)
	mark := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	c, err := Dial(ctx, dbm, ep, monitoredTables(), mark)
	if err != nil {
		return err
	}
	defer c.Close()
	p.mu.Lock()
	p.client = c
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.client = nil
		p.mu.Unlock()
	}()
	p.log.Info("connected to OVSDB", "address", p.opts.Address)
	mark()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.DisconnectNotify():
			p.log.Warn("OVSDB connection lost, reconnecting", "address", p.opts.Address)
			return errLost
		case <-dirty:
			// Let a transaction's burst of row events settle.
			time.Sleep(10 * time.Millisecond)
			pending = p.reconcile(ctx, c)
		case <-tick.C:
			if err := Alive(ctx, c); err != nil && ctx.Err() == nil {
				p.log.Warn("OVSDB does not answer, reconnecting", "address", p.opts.Address, "err", err)
				return errLost
			}
			if pending {
				pending = p.reconcile(ctx, c)
			}
		}
	}
}

type desired struct {
	nodes    map[graph.Identifier]graph.Metadata
	edges    map[edgeKey]graph.Metadata
	overlays map[string]graph.Metadata
}

// reconcile makes the graph match the database; it reports whether some
// link waits for a netlink node that is not there yet.
func (p *Probe) reconcile(ctx context.Context, c client.Client) bool {
	var switches []openvSwitch
	var bridges []bridge
	var ports []port
	var ifaces []iface
	for _, l := range []any{&switches, &bridges, &ports, &ifaces} {
		if err := c.List(ctx, l); err != nil {
			p.log.Warn("read OVSDB cache", "err", err)
			return true
		}
	}
	p.log.Debug("reconcile", "switches", len(switches), "bridges", fmt.Sprint(bridges), "ports", len(ports), "interfaces", len(ifaces))
	d := p.desired(switches, bridges, ports, ifaces)
	pending := p.apply(d)
	p.log.Debug("applied", "nodes", len(d.nodes), "edges", len(d.edges), "overlays", len(d.overlays), "pending", pending)
	return pending
}

func (p *Probe) id(uuid, kind string) graph.Identifier { return topology.GenID(p.hostTID, uuid, kind) }

func (p *Probe) desired(switches []openvSwitch, bridges []bridge, ports []port, ifaces []iface) *desired {
	d := &desired{nodes: map[graph.Identifier]graph.Metadata{}, edges: map[edgeKey]graph.Metadata{}, overlays: map[string]graph.Metadata{}}
	host := p.opts.Host
	for _, s := range switches {
		id := p.id(s.UUID, TypeSwitch)
		ovs := graph.Metadata{}
		putStr(ovs, "Version", s.OVSVersion)
		putStr(ovs, "DBVersion", s.DbVersion)
		putStr(ovs, "SystemType", s.SystemType)
		putStr(ovs, "SystemVersion", s.SystemVersion)
		putMap(ovs, "OtherConfig", s.OtherConfig)
		m := graph.Metadata{graph.KeyName: "openvswitch", graph.KeyType: TypeSwitch, "UUID": s.UUID, topology.KeyTID: string(id), "Ovs": ovs}
		putMap(m, "ExtID", s.ExternalIDs)
		d.nodes[id] = m
		d.edges[edgeKey{host, id, topology.OwnershipLink}] = nil
	}
	portByUUID := map[string]*port{}
	for i := range ports {
		portByUUID[ports[i].UUID] = &ports[i]
	}
	ifaceByUUID := map[string]*iface{}
	patchByName := map[string]graph.Identifier{}
	for i := range ifaces {
		ifaceByUUID[ifaces[i].UUID] = &ifaces[i]
	}
	type patchEnd struct {
		id   graph.Identifier
		peer string
	}
	var patches []patchEnd
	for _, b := range bridges {
		bid := p.id(b.UUID, TypeBridge)
		ovs := graph.Metadata{"DatapathType": b.DatapathType}
		putMap(ovs, "OtherConfig", b.OtherConfig)
		if len(b.Protocols) > 0 {
			ovs["Protocols"] = b.Protocols
		}
		putStr(ovs, "DatapathID", b.DatapathID)
		bm := graph.Metadata{graph.KeyName: b.Name, graph.KeyType: TypeBridge, "UUID": b.UUID, topology.KeyTID: string(bid), "Ovs": ovs}
		putMap(bm, "ExtID", b.ExternalIDs)
		d.nodes[bid] = bm
		d.edges[edgeKey{host, bid, topology.OwnershipLink}] = nil
		for _, pu := range b.Ports {
			pt := portByUUID[pu]
			if pt == nil {
				continue
			}
			pid := p.id(pt.UUID, TypePort)
			pm := graph.Metadata{graph.KeyName: pt.Name, graph.KeyType: TypePort, "UUID": pt.UUID, topology.KeyTID: string(pid)}
			putMap(pm, "ExtID", pt.ExternalIDs)
			var vlans []int
			if pt.Tag != nil {
				vlans = append(vlans, *pt.Tag)
			}
			vlans = append(vlans, pt.Trunks...)
			if len(vlans) > 0 {
				pm["Vlans"] = vlans
			}
			putStr(pm, "BondMode", pt.BondMode)
			d.nodes[pid] = pm
			d.edges[edgeKey{bid, pid, topology.OwnershipLink}] = nil
			d.edges[edgeKey{bid, pid, topology.Layer2Link}] = nil
			for _, iu := range pt.Interfaces {
				in := ifaceByUUID[iu]
				if in == nil {
					continue
				}
				om := p.ifaceMetadata(in)
				if kernelBacked(in) {
					// The netlink probe's node, enriched; linked once it exists.
					d.overlays[in.Name] = om
					if n := p.hostIface(in.Name); n != nil {
						d.edges[edgeKey{pid, n.ID, topology.Layer2Link}] = nil
					} else {
						d.edges[edgeKey{pid, "", topology.Layer2Link}] = nil // pending
					}
					continue
				}
				iid := p.id(in.UUID, "ovsinterface")
				om[graph.KeyName] = in.Name
				om[topology.KeyTID] = string(iid)
				d.nodes[iid] = om
				d.edges[edgeKey{bid, iid, topology.OwnershipLink}] = nil
				d.edges[edgeKey{pid, iid, topology.Layer2Link}] = nil
				if in.Type == "patch" {
					patchByName[in.Name] = iid
					patches = append(patches, patchEnd{iid, in.Options["peer"]})
				}
			}
		}
	}
	for _, pe := range patches {
		if peer, ok := patchByName[pe.peer]; ok && pe.id < peer {
			d.edges[edgeKey{pe.id, peer, topology.Layer2Link}] = graph.Metadata{"Type": "patch"}
		}
	}
	return d
}

// kernelBacked tells whether the interface is also a kernel netdev that
// the netlink probe sees in the host's namespace.
func kernelBacked(in *iface) bool {
	switch in.Type {
	case "", "system", "internal", "tap":
		return in.Ifindex != nil && *in.Ifindex > 0
	}
	return false
}

func (p *Probe) ifaceMetadata(in *iface) graph.Metadata {
	m := graph.Metadata{"UUID": in.UUID}
	typ := in.Type
	if typ == "" {
		typ = "system"
	}
	ovs := graph.Metadata{}
	putMap(ovs, "Options", in.Options)
	putMap(ovs, "OtherConfig", in.OtherConfig)
	putStr(ovs, "Error", in.Error)
	if p.opts.EnableStats && len(in.Statistics) > 0 {
		ovs["Metric"] = ovsMetric(in.Statistics)
	}
	if len(ovs) > 0 {
		m["Ovs"] = ovs
	}
	putMap(m, "ExtID", in.ExternalIDs)
	if in.Ofport != nil {
		m["OfPort"] = *in.Ofport
	}
	if !kernelBacked(in) {
		m[graph.KeyType] = typ
		m["Driver"] = "openvswitch"
		if in.MAC != nil {
			m[topology.KeyMAC] = *in.MAC
		}
		if in.MTU != nil {
			m[topology.KeyMTU] = *in.MTU
		}
		state := "DOWN"
		if in.LinkState != nil && *in.LinkState == "up" {
			state = "UP"
		}
		m[topology.KeyState] = state
		if ip := in.Options["remote_ip"]; ip != "" {
			m["RemoteIP"] = ip
		}
		if ip := in.Options["local_ip"]; ip != "" {
			m["LocalIP"] = ip
		}
	} else if in.Type == "internal" {
		m[graph.KeyType] = "internal"
		m["Driver"] = "openvswitch"
	}
	return m
}

func ovsMetric(stats map[string]int) map[string]any {
	names := map[string]string{
		"rx_packets": "RxPackets", "tx_packets": "TxPackets", "rx_bytes": "RxBytes", "tx_bytes": "TxBytes",
		"rx_errors": "RxErrors", "tx_errors": "TxErrors", "rx_dropped": "RxDropped", "tx_dropped": "TxDropped",
		"collisions": "Collisions",
	}
	out := map[string]any{}
	for k, v := range stats {
		if n, ok := names[k]; ok && v != 0 {
			out[n] = v
		}
	}
	out["Last"] = time.Now().UnixMilli()
	return out
}

// hostIface finds the netlink node of an interface of the host's namespace.
func (p *Probe) hostIface(name string) *graph.Node {
	g := p.opts.Writer.G
	nodes, _ := g.NodesByIndex(graph.KeyName, name)
	for _, n := range nodes {
		if _, kernel := n.Metadata["IfIndex"]; !kernel || p.nodes[n.ID] {
			continue // a bridge and its internal interface share a name
		}
		for _, e := range g.InEdges(n.ID) {
			if e.Parent == p.opts.Host && e.Metadata.String(graph.KeyRelationType) == topology.OwnershipLink {
				return n
			}
		}
	}
	return nil
}

func (p *Probe) apply(d *desired) (pending bool) {
	w := p.opts.Writer
	// Nodes first (parents before children), then edges, then removals.
	ids := make([]graph.Identifier, 0, len(d.nodes))
	for id := range d.nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := w.AddNode(id, d.nodes[id]); err != nil {
			p.log.Warn("add OVS node", "id", id, "err", err)
			continue
		}
		p.nodes[id] = true
	}
	newEdges := map[edgeKey]bool{}
	for k, extra := range d.edges {
		if k.child == "" {
			pending = true
			continue
		}
		if w.G.Node(k.parent) == nil || w.G.Node(k.child) == nil {
			pending = true
			continue
		}
		if _, err := w.Link(k.parent, k.child, k.relation, extra); err != nil {
			p.log.Warn("link OVS nodes", "err", err)
			pending = true
			continue
		}
		newEdges[k] = true
	}
	for k := range p.edges {
		if !newEdges[k] {
			w.Unlink(k.parent, k.child, k.relation)
		}
	}
	p.edges = newEdges
	for id := range p.nodes {
		if _, ok := d.nodes[id]; !ok {
			_ = w.G.DeleteNode(id)
			delete(p.nodes, id)
		}
	}
	// Enrichment of the kernel's interfaces.
	for name, old := range p.overlays {
		if _, ok := d.overlays[name]; !ok {
			p.opts.Overlays.Set("ovsdb", p.opts.Host, name, nil)
			p.patchIface(name, old, nil)
		}
	}
	for name, m := range d.overlays {
		old := p.opts.Overlays.Set("ovsdb", p.opts.Host, name, m)
		if !p.patchIface(name, old, m) {
			pending = true
		}
	}
	p.overlays = d.overlays
	return pending
}

// patchIface replaces the old overlay keys of a netlink node by the new ones.
func (p *Probe) patchIface(name string, old, m graph.Metadata) bool {
	n := p.hostIface(name)
	if n == nil {
		return false
	}
	_ = p.opts.Writer.G.UpdateNodeMetadata(n.ID, func(cur graph.Metadata) bool {
		for k := range old {
			if _, keep := m[k]; !keep {
				delete(cur, k)
			}
		}
		if _, hadType := old[graph.KeyType]; hadType && m[graph.KeyType] == nil {
			// The netlink probe restores its own Type at its next update;
			// until then a tap stays a tap rather than keeping "internal".
			cur[graph.KeyType] = "tap"
		}
		for k, v := range m {
			cur[k] = v
		}
		return true
	})
	return true
}

func putStr(m graph.Metadata, key string, v *string) {
	if v != nil && *v != "" {
		m[key] = *v
	}
}

func putMap(m graph.Metadata, key string, v map[string]string) {
	if len(v) > 0 {
		mm := make(map[string]any, len(v))
		for k, s := range v {
			mm[k] = s
		}
		m[key] = mm
	}
}

// SFlowSettings is what an ovssflow capture asks of a bridge.
type SFlowSettings struct {
	Target   string // host:port of the collector
	Sampling int    // 1 packet in Sampling
	Polling  int    // seconds between counter samples
	Header   int    // bytes of each sampled packet
	Agent    string // interface whose address is the agent's (default lo)
	// CaptureID names the row (external_ids:skydive-capture-id).
	CaptureID string
}

// EnableSFlow points the sFlow of bridge at a collector, through OVSDB; the
// returned function removes it. It fails while OVSDB is unreachable.
func (p *Probe) EnableSFlow(ctx context.Context, bridgeName string, s SFlowSettings) (disable func(context.Context) error, err error) {
	agent := s.Agent
	if agent == "" {
		agent = "lo"
	}
	row := &sflow{UUID: "skydivesflow", Agent: &agent, Header: &s.Header, Polling: &s.Polling, Sampling: &s.Sampling,
		Targets: []string{s.Target}, ExternalIDs: map[string]string{"skydive-capture-id": s.CaptureID}}
	return p.attach(ctx, bridgeName, "sFlow", row, row.UUID, func(b *bridge) **string { return &b.Sflow })
}

// attach creates row (named rowUUID) and points the bridge's column at it,
// in one transaction; the returned function clears the column (OVSDB
// garbage-collects the row). A bridge whose column is set already is
// refused: one configuration of that kind per bridge.
func (p *Probe) attach(ctx context.Context, bridgeName, kind string, row model.Model, rowUUID string, column func(*bridge) **string) (func(context.Context) error, error) {
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("OVSDB %s is not connected", p.opts.Address)
	}
	var bridges []bridge
	if err := c.List(ctx, &bridges); err != nil {
		return nil, fmt.Errorf("list bridges: %w", err)
	}
	var br *bridge
	for i := range bridges {
		if bridges[i].Name == bridgeName {
			br = &bridges[i]
		}
	}
	if br == nil {
		return nil, fmt.Errorf("no OVS bridge named %q", bridgeName)
	}
	if cur := *column(br); cur != nil {
		return nil, fmt.Errorf("bridge %s already sends %s (row %s): one %s configuration per bridge", bridgeName, kind, *cur, kind)
	}
	create, err := c.Create(row)
	if err != nil {
		return nil, fmt.Errorf("%s row: %w", kind, err)
	}
	named := rowUUID
	target := &bridge{UUID: br.UUID}
	*column(target) = &named
	update, err := c.Where(target).Update(target, column(target))
	if err != nil {
		return nil, fmt.Errorf("bridge update: %w", err)
	}
	if err := p.transact(ctx, c, append(create, update...)); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		p.mu.Lock()
		c := p.client
		p.mu.Unlock()
		if c == nil {
			return fmt.Errorf("OVSDB %s is not connected: the %s of %s stays", p.opts.Address, kind, bridgeName)
		}
		clear := &bridge{UUID: br.UUID}
		ops, err := c.Where(clear).Update(clear, column(clear))
		if err != nil {
			return err
		}
		return p.transact(ctx, c, ops)
	}, nil
}

func (p *Probe) transact(ctx context.Context, c client.Client, ops []ovsdb.Operation) error {
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("OVSDB transaction: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("OVSDB transaction: %w", err)
	}
	return nil
}

// EnableMirror mirrors the traffic of a port of bridge to a new internal
// port, through OVSDB, and returns that port's name (a kernel interface of
// the host to capture on) and how to remove it all.
func (p *Probe) EnableMirror(ctx context.Context, bridgeName, portName, captureID string) (ifName string, disable func(context.Context) error, err error) {
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c == nil {
		return "", nil, fmt.Errorf("OVSDB %s is not connected", p.opts.Address)
	}
	var bridges []bridge
	var ports []port
	if err := c.List(ctx, &bridges); err != nil {
		return "", nil, err
	}
	if err := c.List(ctx, &ports); err != nil {
		return "", nil, err
	}
	var br *bridge
	for i := range bridges {
		if bridges[i].Name == bridgeName {
			br = &bridges[i]
		}
	}
	if br == nil {
		return "", nil, fmt.Errorf("no OVS bridge named %q", bridgeName)
	}
	var src *port
	for i := range ports {
		if ports[i].Name == portName && slices.Contains(br.Ports, ports[i].UUID) {
			src = &ports[i]
		}
	}
	if src == nil {
		return "", nil, fmt.Errorf("no port %q on bridge %s", portName, bridgeName)
	}
	short := strings.ReplaceAll(captureID, "-", "")
	if len(short) > 8 {
		short = short[:8]
	}
	name := "skm" + short // interface names have at most 15 bytes
	ids := map[string]string{"skydive-capture-id": captureID}
	in := &iface{UUID: "skyiface", Name: name, Type: "internal", ExternalIDs: ids}
	pt := &port{UUID: "skyport", Name: name, Interfaces: []string{in.UUID}, ExternalIDs: ids}
	outPort := pt.UUID
	mi := &mirror{UUID: "skymirror", Name: name, SelectSrcPort: []string{src.UUID}, SelectDstPort: []string{src.UUID},
		OutputPort: &outPort, ExternalIDs: ids}
	ops, err := c.Create(in, pt, mi)
	if err != nil {
		return "", nil, err
	}
	b := &bridge{UUID: br.UUID}
	mut, err := c.Where(b).Mutate(b,
		model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{pt.UUID}},
		model.Mutation{Field: &b.Mirrors, Mutator: ovsdb.MutateOperationInsert, Value: []string{mi.UUID}})
	if err != nil {
		return "", nil, err
	}
	ops = append(ops, mut...)
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		return "", nil, fmt.Errorf("OVSDB transaction: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return "", nil, fmt.Errorf("OVSDB transaction: %w", err)
	}
	portUUID, mirrorUUID := res[1].UUID.GoUUID, res[2].UUID.GoUUID
	return name, func(ctx context.Context) error {
		p.mu.Lock()
		c := p.client
		p.mu.Unlock()
		if c == nil {
			return fmt.Errorf("OVSDB %s is not connected: mirror %s stays", p.opts.Address, name)
		}
		b := &bridge{UUID: br.UUID}
		ops, err := c.Where(b).Mutate(b,
			model.Mutation{Field: &b.Mirrors, Mutator: ovsdb.MutateOperationDelete, Value: []string{mirrorUUID}},
			model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{portUUID}})
		if err != nil {
			return err
		}
		return p.transact(ctx, c, ops)
	}, nil
}
