// Package netlink is the probe of a network namespace's interfaces: links,
// addresses, state, MTU, master and veth peers, counters, routes,
// neighbours, bridge forwarding entries and ethtool features.
//
// It follows netlink events, except for what the kernel tells no event of:
// interface counters (read every MetricsPeriod), ethtool features and the
// namespace of a veth's peer when that peer moves (re-read every
// RefreshPeriod). Route and neighbour events only mark the routes or the
// neighbours as changed: they are read again, at most once per EventDelay,
// so that a neighbour flood costs one read per delay, not one per entry.
//
// Interface metadata, as the original's (see package topology for the keys):
//
//	Name, Type, IfIndex, MTU, MAC, State, EncapType, LinkFlags, TID, Driver,
//	Speed, MasterIndex, ParentIndex, PeerIfIndex, IPV4, IPV6,
//	VNI/RemoteIP/LocalIP/VtepDevIndex (vxlan), MacvlanMode, Metric, LastUpdateMetric,
//	LinkNetNsID       the kernel's ID of the namespace of the link's peer
//	LinkNetNsName     that namespace's name, as its netns node is named
//	                  (absent when the peer is in the agent's own namespace)
//	Features          {"highdma": true, "tx-checksum-ip-generic": false, ...}
//	                  (ethtool -k: the active state of each feature)
//	RoutingTables     [{"ID": 254, "Src": "", "Routes": [{"Protocol": 4,
//	                  "Prefix": "10.1.0.0/24", "NextHops": [{"Priority": 0,
//	                  "IP": "10.0.0.254", "IfIndex": 3}]}]}]: the routes of
//	                  every table (main 254, local 255 ...) leaving by the
//	                  interface; a default route's Prefix is 0.0.0.0/0 or ::/0,
//	                  a connected route's next hop has no IP
//	Neighbors         [{"MAC", "IP", "State": ["NUD_REACHABLE"], "Flags":
//	                  ["NTF_ROUTER"], "Vlan", "VNI", "IfIndex"}] (ARP, NDP)
//	FDB               the same shape, the bridge forwarding entries (bridge fdb)
package netlink

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Options configure one namespace's probe.
type Options struct {
	Writer *topology.Writer
	// Owner is the host or netns node that owns the interfaces.
	Owner graph.Identifier
	// NsPath is the namespace file ("" for the agent's own namespace).
	NsPath string
	// Peers links veth ends across namespaces; shared by every probe of an agent.
	Peers *VethLinker
	// Overlays hold other probes' metadata of these interfaces (OVS).
	Overlays *topology.Overlays
	// MetricsPeriod is the period of counter updates.
	MetricsPeriod time.Duration
	// EventDelay coalesces route and neighbour events: the routes (or the
	// neighbours) are read at most once per delay (default 200 ms).
	EventDelay time.Duration
	// RefreshPeriod is the period of the re-read of the features and of
	// the peer namespaces (default 5 s, the original's).
	RefreshPeriod time.Duration
	Logger        *slog.Logger
}

// Probe watches one namespace.
type Probe struct {
	opts   Options
	log    *slog.Logger
	handle *netlink.Handle
	ns     netns.NsHandle
	sock   int // AF_INET socket in the namespace, for ethtool ioctls

	mu        sync.Mutex
	links     map[int]*linkState
	ownTID    string
	featNames []string      // the kernel's feature names, read once
	poke      chan struct{} // a namespace appeared: resolve peer namespaces
}

type linkState struct {
	id       graph.Identifier
	name     string
	master   int
	addrs4   map[string]bool
	addrs6   map[string]bool
	prev     *netlink.LinkStatistics
	prevAt   time.Time
	firstAt  time.Time
	known    bool
	driver   string
	speed    int64
	lastKind string

	routes, neigh, fdb []any // RoutingTables, Neighbors, FDB (canonical form)
	features           map[string]bool
	nsid, parent       int    // the link's last NetNsID and ParentIndex
	peerResolved       bool   // the namespace of NetNsID is known
	peerNsName         string // and named so
}

// New opens the namespace; Run watches it until ctx ends.
func New(opts Options) (*Probe, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MetricsPeriod <= 0 {
		opts.MetricsPeriod = 30 * time.Second
	}
	if opts.EventDelay <= 0 {
		opts.EventDelay = 200 * time.Millisecond
	}
	if opts.RefreshPeriod <= 0 {
		opts.RefreshPeriod = 5 * time.Second
	}
	var ns netns.NsHandle
	var err error
	if opts.NsPath == "" {
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(opts.NsPath)
	}
	if err != nil {
		return nil, fmt.Errorf("open namespace %q: %w", opts.NsPath, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink handle in %q: %w", opts.NsPath, err)
	}
	sock, err := socketIn(ns)
	if err != nil {
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("socket in %q: %w", opts.NsPath, err)
	}
	owner := opts.Writer.G.Node(opts.Owner)
	ownTID := ""
	if owner != nil {
		ownTID = owner.Metadata.String(topology.KeyTID)
	}
	return &Probe{
		opts: opts, log: opts.Logger.With("probe", "netlink", "netns", opts.NsPath),
		handle: h, ns: ns, sock: sock, links: map[int]*linkState{}, ownTID: ownTID,
		poke: make(chan struct{}, 1),
	}, nil
}

// NsHandle returns the probe's namespace (valid until Run returns).
func (p *Probe) NsHandle() netns.NsHandle { return p.ns }

// Run follows the namespace until ctx ends, then removes what it added.
// A lost subscription (a receive buffer overrun, an interrupted dump) is
// made again, and the links that vanished meanwhile are removed.
func (p *Probe) Run(ctx context.Context) error {
	defer p.close()
	if p.opts.Peers != nil {
		stop := p.opts.Peers.Watch(p.poke)
		defer stop()
	}
	ticker := time.NewTicker(p.opts.MetricsPeriod)
	defer ticker.Stop()
	refresh := time.NewTicker(p.opts.RefreshPeriod)
	defer refresh.Stop()
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := p.follow(ctx, ticker.C, refresh.C)
		if ctx.Err() != nil {
			return nil
		}
		p.log.Warn("netlink subscription lost, subscribing again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		p.dropVanished()
	}
}

// follow runs one subscription until it fails or ctx ends.
func (p *Probe) follow(ctx context.Context, tick, refresh <-chan time.Time) error {
	done := make(chan struct{})
	defer close(done)
	errs := make(chan error, 2)
	onErr := func(err error) {
		// The library reports, and skips, messages of other senders.
		if strings.HasPrefix(err.Error(), "Wrong sender portid") {
			p.log.Debug("netlink message skipped", "err", err)
			return
		}
		select {
		case errs <- err:
		default:
		}
	}
	linkCh := make(chan netlink.LinkUpdate, 64)
	addrCh := make(chan netlink.AddrUpdate, 64)
	routeCh := make(chan netlink.RouteUpdate, 256)
	neighCh := make(chan netlink.NeighUpdate, 256)
	ns := p.ns
	if err := netlink.LinkSubscribeWithOptions(linkCh, done, netlink.LinkSubscribeOptions{
		Namespace: &ns, ListExisting: true, ErrorCallback: onErr, ReceiveBufferSize: 1 << 20,
	}); err != nil {
		return fmt.Errorf("subscribe to links: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrCh, done, netlink.AddrSubscribeOptions{
		Namespace: &ns, ListExisting: true, ErrorCallback: onErr, ReceiveBufferSize: 1 << 20,
	}); err != nil {
		return fmt.Errorf("subscribe to addresses: %w", err)
	}
	// Route and neighbour events only say what to read again: no listing.
	if err := netlink.RouteSubscribeWithOptions(routeCh, done, netlink.RouteSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: 1 << 20,
	}); err != nil {
		return fmt.Errorf("subscribe to routes: %w", err)
	}
	if err := netlink.NeighSubscribeWithOptions(neighCh, done, netlink.NeighSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: 1 << 20,
	}); err != nil {
		return fmt.Errorf("subscribe to neighbours: %w", err)
	}

	// The first read is at once; then events mark what changed and the
	// timer reads it EventDelay after the first of them.
	routesDirty, neighDirty := true, true
	flush := time.NewTimer(0)
	defer flush.Stop()
	pending := true
	mark := func(routes, neigh bool) {
		routesDirty = routesDirty || routes
		neighDirty = neighDirty || neigh
		if !pending {
			pending = true
			flush.Reset(p.opts.EventDelay)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return fmt.Errorf("netlink subscription in %q: %w", p.opts.NsPath, err)
		case u, ok := <-linkCh:
			if !ok {
				return fmt.Errorf("link subscription in %q closed", p.opts.NsPath)
			}
			p.onLink(u)
			// A link going down loses its IPv4 routes without route events.
			mark(true, true)
		case u, ok := <-addrCh:
			if !ok {
				return fmt.Errorf("address subscription in %q closed", p.opts.NsPath)
			}
			p.onAddr(u)
			mark(true, false)
		case _, ok := <-routeCh:
			if !ok {
				return fmt.Errorf("route subscription in %q closed", p.opts.NsPath)
			}
			mark(true, false)
		case _, ok := <-neighCh:
			if !ok {
				return fmt.Errorf("neighbour subscription in %q closed", p.opts.NsPath)
			}
			mark(false, true)
		case <-flush.C:
			pending = false
			if routesDirty {
				routesDirty = false
				if err := p.flushRoutes(); err != nil {
					if !errInterrupted(err) {
						p.log.Debug("read routes", "err", err)
					}
					mark(true, false)
				}
			}
			if neighDirty {
				neighDirty = false
				if err := p.flushNeighbors(); err != nil {
					if !errInterrupted(err) {
						p.log.Debug("read neighbours", "err", err)
					}
					mark(false, true)
				}
			}
		case <-tick:
			p.updateMetrics()
		case <-refresh:
			p.refresh(false)
		case <-p.poke:
			p.refresh(true)
		}
	}
}

// refresh reads again, for every link, what changes without a link event:
// its features, and its peer's namespace (a veth whose peer moved to
// another namespace, or a namespace the linker did not know). With
// unresolved, only the links whose peer namespace is unknown are looked at
// (none: nothing is read).
func (p *Probe) refresh(unresolved bool) {
	if unresolved {
		p.mu.Lock()
		waiting := false
		for _, st := range p.links {
			if st.known && st.nsid >= 0 && !st.peerResolved {
				waiting = true
				break
			}
		}
		p.mu.Unlock()
		if !waiting {
			return
		}
	}
	links, err := p.handle.LinkList()
	if err != nil {
		p.log.Debug("list links for refresh", "err", err)
		return
	}
	for _, l := range links {
		a := l.Attrs()
		p.mu.Lock()
		st, ok := p.links[a.Index]
		stale := false
		if ok && st.known {
			stale = a.NetNsID != st.nsid || a.ParentIndex != st.parent || (a.NetNsID >= 0 && !st.peerResolved && p.opts.Peers != nil)
			if !stale && !unresolved {
				f, _ := p.features(a.Name)
				stale = !maps.Equal(f, st.features)
			}
		}
		p.mu.Unlock()
		if stale {
			p.onLink(netlink.LinkUpdate{Header: unix.NlMsghdr{Type: unix.RTM_NEWLINK}, Link: l})
		}
	}
}

// dropVanished removes the links the kernel no longer has (their deletion
// may have been lost with the subscription).
func (p *Probe) dropVanished() {
	links, err := p.handle.LinkList()
	if err != nil {
		return
	}
	alive := map[int]bool{}
	for _, l := range links {
		alive[l.Attrs().Index] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for idx, st := range p.links {
		if !alive[idx] {
			p.removeLocked(idx, st)
		}
	}
}

func (p *Probe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for idx, st := range p.links {
		p.removeLocked(idx, st)
	}
	unix.Close(p.sock)
	p.handle.Close()
	p.ns.Close()
}

func (p *Probe) nodeID(ifindex int) graph.Identifier {
	return topology.GenID(string(p.opts.Owner), "ifindex", strconv.Itoa(ifindex))
}

func (p *Probe) onLink(u netlink.LinkUpdate) {
	attrs := u.Link.Attrs()
	p.mu.Lock()
	defer p.mu.Unlock()
	if u.Header.Type == unix.RTM_DELLINK {
		if st, ok := p.links[attrs.Index]; ok {
			p.removeLocked(attrs.Index, st)
		}
		return
	}
	st := p.stateLocked(attrs.Index)
	if st.name != attrs.Name || !st.known {
		st.driver, st.speed = p.ethtool(attrs.Name)
	}
	st.name = attrs.Name
	if f, err := p.features(attrs.Name); err == nil {
		st.features = f
	} else {
		st.features = nil
		p.log.Debug("ethtool features", "name", attrs.Name, "err", err)
	}
	st.nsid, st.parent = attrs.NetNsID, attrs.ParentIndex
	peerNs, resolved := p.peerNamespace(attrs)
	st.peerResolved, st.peerNsName = resolved, ""
	if resolved && attrs.NetNsID >= 0 {
		st.peerNsName = p.netnsName(peerNs)
	}
	m := p.linkMetadata(u.Link, st)
	for k, v := range p.opts.Overlays.Get(p.opts.Owner, attrs.Name) {
		m[k] = v
	}
	if !st.known {
		if err := p.opts.Writer.AddNode(st.id, m); err != nil {
			p.log.Warn("add interface", "name", attrs.Name, "err", err)
			return
		}
		if _, err := p.opts.Writer.Link(p.opts.Owner, st.id, topology.OwnershipLink, nil); err != nil {
			p.log.Warn("link interface", "name", attrs.Name, "err", err)
		}
		st.known = true
	} else {
		_ = p.opts.Writer.G.UpdateNodeMetadata(st.id, func(cur graph.Metadata) bool {
			// Counters are the periodic update's, captures the capture
			// manager's: keep them.
			for _, k := range []string{topology.KeyMetric, topology.KeyLastMetric, topology.KeyCaptures} {
				if v, ok := cur[k]; ok {
					m[k] = v
				}
			}
			for k := range cur {
				delete(cur, k)
			}
			for k, v := range m {
				cur[k] = v
			}
			return true
		})
	}
	p.setMasterLocked(st, attrs.MasterIndex)
	// Links whose master appeared after them.
	for _, other := range p.links {
		if other.master != 0 {
			p.setMasterLocked(other, other.master)
		}
	}
	if p.opts.Peers != nil {
		if kind := st.lastKind; kind == topology.TypeVeth && attrs.ParentIndex > 0 {
			p.opts.Peers.Set(st.id, p.vethEnd(attrs, peerNs, resolved))
		} else {
			p.opts.Peers.Remove(st.id)
		}
	}
}

// setMasterLocked keeps the layer2 edge master -> port in line with the link.
func (p *Probe) setMasterLocked(st *linkState, master int) {
	w := p.opts.Writer
	if st.master != 0 && st.master != master {
		if old, ok := p.links[st.master]; ok {
			w.Unlink(old.id, st.id, topology.Layer2Link)
		}
	}
	st.master = master
	if master == 0 {
		return
	}
	if m, ok := p.links[master]; ok && m.known {
		if _, err := w.Link(m.id, st.id, topology.Layer2Link, nil); err != nil {
			p.log.Warn("link port to master", "port", st.name, "err", err)
		}
	}
}

func (p *Probe) removeLocked(idx int, st *linkState) {
	delete(p.links, idx)
	if p.opts.Peers != nil {
		p.opts.Peers.Remove(st.id)
	}
	if st.known {
		_ = p.opts.Writer.G.DeleteNode(st.id)
	}
}

// stateLocked returns the state of the link of index idx, made if new (the
// link's addresses, routes ... may come before the link).
func (p *Probe) stateLocked(idx int) *linkState {
	st, ok := p.links[idx]
	if !ok {
		st = &linkState{id: p.nodeID(idx), addrs4: map[string]bool{}, addrs6: map[string]bool{}, firstAt: time.Now(), nsid: -1}
		p.links[idx] = st
	}
	return st
}

func (p *Probe) onAddr(u netlink.AddrUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stateLocked(u.LinkIndex)
	cidr := u.LinkAddress.String()
	set := st.addrs6
	if u.LinkAddress.IP.To4() != nil {
		set = st.addrs4
	}
	if u.NewAddr {
		set[cidr] = true
	} else {
		delete(set, cidr)
	}
	if !st.known {
		return // applied when the link arrives
	}
	v4, v6 := sortedKeys(st.addrs4), sortedKeys(st.addrs6)
	_ = p.opts.Writer.G.UpdateNodeMetadata(st.id, func(cur graph.Metadata) bool {
		setOrDelete(cur, topology.KeyIPV4, v4)
		setOrDelete(cur, topology.KeyIPV6, v6)
		return true
	})
}

func setOrDelete(m graph.Metadata, key string, list []string) {
	if len(list) == 0 {
		delete(m, key)
		return
	}
	m[key] = list
}

func sortedKeys(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *Probe) linkMetadata(link netlink.Link, st *linkState) graph.Metadata {
	attrs := link.Attrs()
	kind := linkType(link, st.driver)
	st.lastKind = kind
	m := graph.Metadata{
		graph.KeyName:       attrs.Name,
		graph.KeyType:       kind,
		topology.KeyIfIndex: attrs.Index,
		topology.KeyMTU:     attrs.MTU,
		topology.KeyState:   state(attrs),
		"EncapType":         attrs.EncapType,
		"LinkFlags":         linkFlags(attrs.Flags),
		topology.KeyTID:     string(topology.GenID(p.ownTID, attrs.Name, kind)),
	}
	if mac := attrs.HardwareAddr.String(); mac != "" {
		m[topology.KeyMAC] = mac
	}
	if st.driver != "" {
		m["Driver"] = st.driver
	}
	if st.speed > 0 {
		m["Speed"] = st.speed
	}
	if attrs.MasterIndex > 0 {
		m[topology.KeyMaster] = attrs.MasterIndex
	}
	if attrs.ParentIndex > 0 {
		if kind == topology.TypeVeth {
			m[topology.KeyPeerIndex] = attrs.ParentIndex
		} else {
			m["ParentIndex"] = attrs.ParentIndex
		}
	}
	if attrs.NetNsID >= 0 {
		m[topology.KeyLinkNetNsID] = attrs.NetNsID
		if st.peerNsName != "" {
			m[topology.KeyLinkNetNsName] = st.peerNsName
		}
	}
	if len(st.features) > 0 {
		m[topology.KeyFeatures] = st.features
	}
	if st.routes != nil {
		m[topology.KeyRoutingTables] = st.routes
	}
	if st.neigh != nil {
		m[topology.KeyNeighbors] = st.neigh
	}
	if st.fdb != nil {
		m[topology.KeyFDB] = st.fdb
	}
	if v := sortedKeys(st.addrs4); len(v) > 0 {
		m[topology.KeyIPV4] = v
	}
	if v := sortedKeys(st.addrs6); len(v) > 0 {
		m[topology.KeyIPV6] = v
	}
	switch l := link.(type) {
	case *netlink.Vxlan:
		m["VNI"] = l.VxlanId
		if l.Group != nil {
			m["RemoteIP"] = l.Group.String()
		}
		if l.SrcAddr != nil {
			m["LocalIP"] = l.SrcAddr.String()
		}
		// The device its outer packets leave by (dev): the MTU audit's underlay.
		if l.VtepDevIndex > 0 {
			m["VtepDevIndex"] = int64(l.VtepDevIndex)
		}
	case *netlink.Macvlan:
		m["MacvlanMode"] = macvlanMode(l.Mode)
	}
	return m
}

func macvlanMode(mode netlink.MacvlanMode) string {
	switch mode {
	case netlink.MACVLAN_MODE_PRIVATE:
		return "private"
	case netlink.MACVLAN_MODE_VEPA:
		return "vepa"
	case netlink.MACVLAN_MODE_BRIDGE:
		return "bridge"
	case netlink.MACVLAN_MODE_PASSTHRU:
		return "passthru"
	case netlink.MACVLAN_MODE_SOURCE:
		return "source"
	}
	return "default"
}

// linkType is the original's node Type: the kernel's link kind, "device"
// when there is none, "veth" for any veth, tun/tap for tuntap.
func linkType(link netlink.Link, driver string) string {
	if driver == "veth" {
		return topology.TypeVeth
	}
	switch l := link.(type) {
	case *netlink.Tuntap:
		if l.Mode == netlink.TUNTAP_MODE_TAP {
			return "tap"
		}
		return "tun"
	}
	t := link.Type()
	if t == "" {
		return "device"
	}
	return t
}

func state(a *netlink.LinkAttrs) string {
	switch a.OperState {
	case netlink.OperUp:
		return "UP"
	case netlink.OperUnknown:
		// Loopback and tun devices report no operational state.
		if a.Flags&net.FlagUp != 0 {
			return "UP"
		}
	}
	return "DOWN"
}

func linkFlags(f net.Flags) []string {
	var out []string
	for _, x := range []struct {
		f    net.Flags
		name string
	}{{net.FlagUp, "UP"}, {net.FlagBroadcast, "BROADCAST"}, {net.FlagLoopback, "LOOPBACK"}, {net.FlagPointToPoint, "POINTTOPOINT"}, {net.FlagMulticast, "MULTICAST"}, {net.FlagRunning, "RUNNING"}} {
		if f&x.f != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// peerNamespace resolves the namespace of the link's peer (NetNsID) to the
// path the linker knows it by ("" for the agent's own namespace).
func (p *Probe) peerNamespace(attrs *netlink.LinkAttrs) (path string, ok bool) {
	if attrs.NetNsID < 0 {
		return p.nsKey(), true
	}
	if p.opts.Peers == nil {
		return "", false
	}
	return p.opts.Peers.NamespaceOf(p.handle, attrs.NetNsID)
}

// netnsName is the name of the namespace at path as its netns node has it
// (the original's LinkNetNsName); "" for the agent's own namespace.
func (p *Probe) netnsName(path string) string {
	if path == "" {
		return ""
	}
	nodes, _ := p.opts.Writer.G.NodesByIndex(graph.KeyType, topology.TypeNetns)
	for _, n := range nodes {
		if n.Metadata.String(topology.KeyPath) == path {
			if name := n.Metadata.String(graph.KeyName); name != "" {
				return name
			}
		}
	}
	return filepath.Base(path)
}

func (p *Probe) vethEnd(attrs *netlink.LinkAttrs, peerPath string, resolved bool) VethEnd {
	peerNs := peerPath
	if !resolved {
		peerNs = "?nsid"
	}
	return VethEnd{Ns: p.nsKey(), IfIndex: attrs.Index, PeerNs: peerNs, PeerIfIndex: attrs.ParentIndex, Writer: p.opts.Writer}
}

func (p *Probe) nsKey() string { return p.opts.NsPath }

// updateMetrics reads every link's counters: Metric holds the totals,
// LastUpdateMetric the difference since the previous read.
func (p *Probe) updateMetrics() {
	links, err := p.handle.LinkList()
	if err != nil {
		p.log.Debug("list links for counters", "err", err)
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range links {
		a := l.Attrs()
		st, ok := p.links[a.Index]
		if !ok || !st.known || a.Statistics == nil {
			continue
		}
		cur := *a.Statistics
		metric := counters(&cur, nil)
		metric["Start"] = st.firstAt.UnixMilli()
		metric["Last"] = now.UnixMilli()
		var last map[string]any
		if st.prev != nil {
			last = counters(&cur, st.prev)
			last["Start"] = st.prevAt.UnixMilli()
			last["Last"] = now.UnixMilli()
		}
		st.prev, st.prevAt = &cur, now
		_ = p.opts.Writer.G.UpdateNodeMetadata(st.id, func(m graph.Metadata) bool {
			m[topology.KeyMetric] = metric
			if last != nil {
				m[topology.KeyLastMetric] = last
			}
			return true
		})
	}
}

func counters(s, prev *netlink.LinkStatistics) map[string]any {
	d := func(cur, old uint64) int64 { return int64(cur - old) }
	var z netlink.LinkStatistics
	if prev == nil {
		prev = &z
	}
	out := map[string]any{}
	for k, v := range map[string]int64{
		"RxPackets": d(s.RxPackets, prev.RxPackets), "TxPackets": d(s.TxPackets, prev.TxPackets),
		"RxBytes": d(s.RxBytes, prev.RxBytes), "TxBytes": d(s.TxBytes, prev.TxBytes),
		"RxErrors": d(s.RxErrors, prev.RxErrors), "TxErrors": d(s.TxErrors, prev.TxErrors),
		"RxDropped": d(s.RxDropped, prev.RxDropped), "TxDropped": d(s.TxDropped, prev.TxDropped),
		"Multicast": d(s.Multicast, prev.Multicast), "Collisions": d(s.Collisions, prev.Collisions),
	} {
		if v != 0 { // the original omits zero counters
			out[k] = v
		}
	}
	return out
}
