// Package netlink is the probe of a network namespace's interfaces: links,
// addresses, state, MTU, master and veth peers, counters. It follows netlink
// events (no polling) except for interface counters, read every period.
package netlink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
	Logger        *slog.Logger
}

// Probe watches one namespace.
type Probe struct {
	opts   Options
	log    *slog.Logger
	handle *netlink.Handle
	ns     netns.NsHandle
	sock   int // AF_INET socket in the namespace, for ethtool ioctls

	mu     sync.Mutex
	links  map[int]*linkState
	ownTID string
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
}

// New opens the namespace; Run watches it until ctx ends.
func New(opts Options) (*Probe, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MetricsPeriod <= 0 {
		opts.MetricsPeriod = 30 * time.Second
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
	}, nil
}

// NsHandle returns the probe's namespace (valid until Run returns).
func (p *Probe) NsHandle() netns.NsHandle { return p.ns }

// Run follows the namespace until ctx ends, then removes what it added.
// A lost subscription (a receive buffer overrun, an interrupted dump) is
// made again, and the links that vanished meanwhile are removed.
func (p *Probe) Run(ctx context.Context) error {
	defer p.close()
	ticker := time.NewTicker(p.opts.MetricsPeriod)
	defer ticker.Stop()
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := p.follow(ctx, ticker.C)
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
func (p *Probe) follow(ctx context.Context, tick <-chan time.Time) error {
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
		case u, ok := <-addrCh:
			if !ok {
				return fmt.Errorf("address subscription in %q closed", p.opts.NsPath)
			}
			p.onAddr(u)
		case <-tick:
			p.updateMetrics()
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
	st, ok := p.links[attrs.Index]
	if !ok {
		st = &linkState{id: p.nodeID(attrs.Index), addrs4: map[string]bool{}, addrs6: map[string]bool{}, firstAt: time.Now()}
		p.links[attrs.Index] = st
	}
	if st.name != attrs.Name || !st.known {
		st.driver, st.speed = p.ethtool(attrs.Name)
	}
	st.name = attrs.Name
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
			p.opts.Peers.Set(st.id, p.vethEnd(attrs))
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

func (p *Probe) onAddr(u netlink.AddrUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.links[u.LinkIndex]
	if !ok {
		st = &linkState{id: p.nodeID(u.LinkIndex), addrs4: map[string]bool{}, addrs6: map[string]bool{}, firstAt: time.Now()}
		p.links[u.LinkIndex] = st
	}
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
		m["LinkNetNsID"] = attrs.NetNsID
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

func (p *Probe) vethEnd(attrs *netlink.LinkAttrs) VethEnd {
	peerNs := p.nsKey()
	if attrs.NetNsID >= 0 {
		if k, ok := p.opts.Peers.NamespaceOf(p.handle, attrs.NetNsID); ok {
			peerNs = k
		} else {
			peerNs = "?nsid"
		}
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
