package netlink

import (
	"cmp"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// The routes and neighbours of an interface are metadata of its node, as in
// the original:
//
//	RoutingTables [{"ID": 254, "Src": "10.0.0.1", "Routes": [{"Protocol": 4,
//	  "Prefix": "10.1.0.0/24", "NextHops": [{"Priority": 0, "IP": "10.0.0.254", "IfIndex": 3}]}]}]
//	Neighbors     [{"Flags": ["NTF_ROUTER"], "MAC": "..", "IP": "..", "State": ["NUD_REACHABLE"], "IfIndex": 3}]
//	FDB           the same for the bridge forwarding entries (with Vlan, VNI)
//
// They are built here in the graph's canonical form (maps, []any, int64):
// the probe compares them with what the node holds and writes only changes.

// tableBuild is one routing table of one interface, being built.
type tableBuild struct {
	id     int
	src    string
	routes []*routeBuild
}

type routeBuild struct {
	protocol int
	prefix   netip.Prefix
	hops     []hopBuild
}

type hopBuild struct {
	priority int
	ip       string
	ifindex  int
}

// routePrefix is the route's destination; the kernel gives none for a
// default route.
func routePrefix(r *netlink.Route) (netip.Prefix, bool) {
	if r.Dst == nil {
		switch r.Family {
		case unix.AF_INET:
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
		case unix.AF_INET6:
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
		}
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(r.Dst.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := r.Dst.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), true
}

func ipString(ip net.IP) string {
	if len(ip) == 0 {
		return ""
	}
	return ip.String()
}

func gateway(gw net.IP, via netlink.Destination) string {
	if len(gw) > 0 {
		return gw.String()
	}
	if v, ok := via.(*netlink.Via); ok && len(v.Addr) > 0 {
		return v.Addr.String()
	}
	return ""
}

// routingTables groups the routes of a namespace by the interface they
// leave by (a multipath route is on each of its interfaces, with the
// next hops by that interface): for each ifindex its RoutingTables value.
// Routes of the same table, prefix and protocol are one route with several
// next hops (different metrics), as in the original.
func routingTables(routes []netlink.Route) map[int][]any {
	type key struct {
		ifindex, table, protocol int
		prefix                   netip.Prefix
	}
	tables := map[int]map[int]*tableBuild{} // ifindex -> table id -> table
	byKey := map[key]*routeBuild{}
	add := func(r *netlink.Route, prefix netip.Prefix, ifindex int, gw string) {
		if ifindex <= 0 {
			return
		}
		ts := tables[ifindex]
		if ts == nil {
			ts = map[int]*tableBuild{}
			tables[ifindex] = ts
		}
		t := ts[r.Table]
		if t == nil {
			t = &tableBuild{id: r.Table}
			ts[r.Table] = t
		}
		if t.src == "" {
			t.src = ipString(r.Src)
		}
		k := key{ifindex, r.Table, int(r.Protocol), prefix}
		rb := byKey[k]
		if rb == nil {
			rb = &routeBuild{protocol: int(r.Protocol), prefix: prefix}
			byKey[k] = rb
			t.routes = append(t.routes, rb)
		}
		h := hopBuild{priority: r.Priority, ip: gw, ifindex: ifindex}
		if !slices.ContainsFunc(rb.hops, func(o hopBuild) bool { return o.ip == h.ip && o.ifindex == h.ifindex }) {
			rb.hops = append(rb.hops, h)
		}
	}
	for i := range routes {
		r := &routes[i]
		prefix, ok := routePrefix(r)
		if !ok {
			continue
		}
		if len(r.MultiPath) > 0 {
			for _, nh := range r.MultiPath {
				add(r, prefix, nh.LinkIndex, gateway(nh.Gw, nh.Via))
			}
			continue
		}
		add(r, prefix, r.LinkIndex, gateway(r.Gw, r.Via))
	}

	out := make(map[int][]any, len(tables))
	for ifindex, ts := range tables {
		ids := make([]int, 0, len(ts))
		for id := range ts {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		list := make([]any, 0, len(ids))
		for _, id := range ids {
			t := ts[id]
			slices.SortStableFunc(t.routes, func(a, b *routeBuild) int {
				if c := a.prefix.Addr().Compare(b.prefix.Addr()); c != 0 {
					return c
				}
				if c := cmp.Compare(a.prefix.Bits(), b.prefix.Bits()); c != 0 {
					return c
				}
				return cmp.Compare(a.protocol, b.protocol)
			})
			rs := make([]any, 0, len(t.routes))
			for _, rb := range t.routes {
				slices.SortStableFunc(rb.hops, func(a, b hopBuild) int { return cmp.Compare(a.priority, b.priority) })
				hops := make([]any, 0, len(rb.hops))
				for _, h := range rb.hops {
					hm := map[string]any{"Priority": int64(h.priority), "IfIndex": int64(h.ifindex)}
					if h.ip != "" {
						hm["IP"] = h.ip
					}
					hops = append(hops, hm)
				}
				rs = append(rs, map[string]any{
					"Protocol": int64(rb.protocol),
					"Prefix":   rb.prefix.String(),
					"NextHops": hops,
				})
			}
			list = append(list, map[string]any{"ID": int64(t.id), "Src": t.src, "Routes": rs})
		}
		out[ifindex] = list
	}
	return out
}

// The kernel's neighbour states (NUD_*) and flags (NTF_*), by bit.
var (
	neighStates = []struct {
		bit  int
		name string
	}{
		{unix.NUD_INCOMPLETE, "NUD_INCOMPLETE"}, {unix.NUD_REACHABLE, "NUD_REACHABLE"},
		{unix.NUD_STALE, "NUD_STALE"}, {unix.NUD_DELAY, "NUD_DELAY"}, {unix.NUD_PROBE, "NUD_PROBE"},
		{unix.NUD_FAILED, "NUD_FAILED"}, {unix.NUD_NOARP, "NUD_NOARP"}, {unix.NUD_PERMANENT, "NUD_PERMANENT"},
	}
	neighFlags = []struct {
		bit  int
		name string
	}{
		{unix.NTF_USE, "NTF_USE"}, {unix.NTF_SELF, "NTF_SELF"}, {unix.NTF_MASTER, "NTF_MASTER"},
		{unix.NTF_PROXY, "NTF_PROXY"}, {unix.NTF_EXT_LEARNED, "NTF_EXT_LEARNED"},
		{unix.NTF_OFFLOADED, "NTF_OFFLOADED"}, {0x40, "NTF_STICKY"}, {unix.NTF_ROUTER, "NTF_ROUTER"},
	}
)

func neighStateNames(state int) []any {
	if state == unix.NUD_NONE {
		return []any{"NUD_NONE"}
	}
	var out []any
	for _, s := range neighStates {
		if state&s.bit != 0 {
			out = append(out, s.name)
		}
	}
	return out
}

func neighFlagNames(flags int) []any {
	var out []any
	for _, f := range neighFlags {
		if flags&f.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

type neighBuild struct {
	ip  netip.Addr
	mac string
	v   map[string]any
	key [2]int // Vlan, VNI
}

// neighbors groups neighbour entries (ARP/NDP, or bridge forwarding
// entries) by interface: for each ifindex its Neighbors (or FDB) value,
// ordered by IP, MAC, VLAN and VNI.
func neighbors(list []netlink.Neigh) map[int][]any {
	by := map[int][]neighBuild{}
	for _, n := range list {
		if n.LinkIndex <= 0 {
			continue
		}
		m := map[string]any{"IfIndex": int64(n.LinkIndex)}
		b := neighBuild{v: m, key: [2]int{n.Vlan, n.VNI}}
		if mac := n.HardwareAddr.String(); mac != "" {
			m["MAC"] = mac
			b.mac = mac
		}
		if a, ok := netip.AddrFromSlice(n.IP); ok {
			b.ip = a.Unmap()
			m["IP"] = b.ip.String()
		}
		if s := neighStateNames(n.State); len(s) > 0 {
			m["State"] = s
		}
		if f := neighFlagNames(n.Flags); len(f) > 0 {
			m["Flags"] = f
		}
		if n.Vlan != 0 {
			m["Vlan"] = int64(n.Vlan)
		}
		if n.VNI != 0 {
			m["VNI"] = int64(n.VNI)
		}
		by[n.LinkIndex] = append(by[n.LinkIndex], b)
	}
	out := make(map[int][]any, len(by))
	for idx, bs := range by {
		slices.SortStableFunc(bs, func(a, b neighBuild) int {
			if c := a.ip.Compare(b.ip); c != 0 {
				return c
			}
			if c := cmp.Compare(a.mac, b.mac); c != 0 {
				return c
			}
			if c := cmp.Compare(a.key[0], b.key[0]); c != 0 {
				return c
			}
			return cmp.Compare(a.key[1], b.key[1])
		})
		vs := make([]any, len(bs))
		for i, b := range bs {
			vs[i] = b.v
		}
		out[idx] = vs
	}
	return out
}

// readRoutes dumps the routes of every table of the namespace.
func (p *Probe) readRoutes() (map[int][]any, error) {
	var routes []netlink.Route
	err := p.handle.RouteListFilteredIter(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE,
		func(r netlink.Route) bool {
			routes = append(routes, r)
			return true
		})
	if err != nil {
		return nil, err
	}
	return routingTables(routes), nil
}

// readNeighbors dumps the namespace's ARP/NDP entries and its bridge
// forwarding entries.
func (p *Probe) readNeighbors() (neigh, fdb map[int][]any, err error) {
	var ip []netlink.Neigh
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		l, err := p.handle.NeighList(0, family)
		if err != nil {
			return nil, nil, err
		}
		ip = append(ip, l...)
	}
	br, err := p.handle.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, nil, err
	}
	return neighbors(ip), neighbors(br), nil
}

// errInterrupted tells a dump that changed while read: it is read again.
func errInterrupted(err error) bool { return errors.Is(err, netlink.ErrDumpInterrupted) }

// flushRoutes reads the routes and writes the RoutingTables that changed.
func (p *Probe) flushRoutes() error {
	by, err := p.readRoutes()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applyLocked(by, topology.KeyRoutingTables, func(st *linkState) *[]any { return &st.routes })
	return nil
}

// flushNeighbors reads the neighbours and writes the Neighbors and FDB
// that changed.
func (p *Probe) flushNeighbors() error {
	neigh, fdb, err := p.readNeighbors()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applyLocked(neigh, topology.KeyNeighbors, func(st *linkState) *[]any { return &st.neigh })
	p.applyLocked(fdb, topology.KeyFDB, func(st *linkState) *[]any { return &st.fdb })
	return nil
}

// applyLocked gives every link its value of by (none: the key goes) and
// writes the nodes whose value changed. Values of links not known yet are
// kept for when they come.
func (p *Probe) applyLocked(by map[int][]any, key string, field func(*linkState) *[]any) {
	for idx, st := range p.links {
		p.setListLocked(st, field(st), key, by[idx])
	}
	for idx, v := range by {
		if _, ok := p.links[idx]; !ok {
			*field(p.stateLocked(idx)) = v
		}
	}
	// Forget the links that never came and have nothing left (read just
	// before their deletion).
	for idx, st := range p.links {
		if !st.known && st.routes == nil && st.neigh == nil && st.fdb == nil && len(st.addrs4)+len(st.addrs6) == 0 {
			delete(p.links, idx)
		}
	}
}

func (p *Probe) setListLocked(st *linkState, field *[]any, key string, v []any) {
	if reflect.DeepEqual(*field, v) {
		return
	}
	*field = v
	if !st.known {
		return
	}
	_ = p.opts.Writer.G.UpdateNodeMetadata(st.id, func(m graph.Metadata) bool {
		if v == nil {
			delete(m, key)
		} else {
			m[key] = v
		}
		return true
	})
}
