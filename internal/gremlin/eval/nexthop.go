package eval

import (
	"cmp"
	"encoding/json"
	"net/netip"
	"slices"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// KindNextHops is the kind of NextHop()'s result.
const KindNextHops Kind = "nexthops"

// NextHop is how a node reaches an IP: the next hop's IP (the destination
// itself when it is on a connected network), its MAC when the node's
// neighbours know it, the interface index and the route's priority
// (metric). JSON as the original's topology.NextHop.
type NextHop struct {
	Priority int64  `json:"Priority"`
	IP       string `json:"IP,omitempty"`
	MAC      string `json:"MAC,omitempty"`
	IfIndex  int64  `json:"IfIndex"`
}

// NextHops are NextHop()'s answers by node ID; JSON, as the original's
// map-shaped results, [{"<node ID>": {"Priority", "IP", "MAC", "IfIndex"}}],
// [] when no node has a route to the IP.
type NextHops map[string]NextHop

// Kind implements Value.
func (NextHops) Kind() Kind { return KindNextHops }

// MarshalJSON writes the one-element array of the original, [] when empty.
func (n NextHops) MarshalJSON() ([]byte, error) {
	if len(n) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]map[string]NextHop{n})
}

// Metadata keys NextHop() reads (the netlink probe's).
const (
	keyRoutingTables = "RoutingTables"
	keyNeighbors     = "Neighbors"
)

// mainTable is the kernel's main routing table, looked up first.
const mainTable = 254

// compileNextHop compiles NextHop('ip') on nodes.
func compileNextHop(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	lit, ok := s.Args[0].(*syntax.StringLit)
	if !ok {
		return nil, "", c.Errorf(s.Args[0].Pos(), "NextHop(): the argument must be an IP address")
	}
	ip, err := netip.ParseAddr(lit.Value)
	if err != nil {
		return nil, "", c.Errorf(lit.Pos(), "NextHop(): %q is not a valid IP address", lit.Value)
	}
	ip = ip.Unmap().WithZone("")
	return func(r *Run, v Value) (Value, error) {
		out := NextHops{}
		for _, n := range v.(Nodes) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			if nh, ok := LookupNextHop(n.Metadata, ip); ok {
				out[string(n.ID)] = nh
			}
		}
		return out, nil
	}, KindNextHops, nil
}

// LookupNextHop answers how the node of metadata m reaches ip, from its
// RoutingTables (the routes leaving by that interface) and its Neighbors:
//
//   - the main table (254) is looked up first, then the others by ID; the
//     first table with a route to ip answers (there are no policy rules in
//     the metadata);
//   - in a table, the longest prefix containing ip wins, then the lowest
//     Priority (metric); a route's next hops are taken by lowest Priority;
//   - the next hop's IP is its gateway, or ip itself for a connected route;
//   - MAC is the one of that IP in the node's Neighbors, when known.
//
// ok is false when no route leads to ip.
func LookupNextHop(m graph.Metadata, ip netip.Addr) (nh NextHop, ok bool) {
	ip = ip.Unmap()
	tables, _ := m[keyRoutingTables].([]any)
	type table struct {
		id     int64
		routes []any
	}
	var ordered []table
	for _, t := range tables {
		tm, _ := t.(map[string]any)
		if tm == nil {
			continue
		}
		id, _ := asInt(tm["ID"])
		routes, _ := tm["Routes"].([]any)
		ordered = append(ordered, table{id, routes})
	}
	slices.SortStableFunc(ordered, func(a, b table) int {
		if (a.id == mainTable) != (b.id == mainTable) {
			if a.id == mainTable {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, t := range ordered {
		best, bestBits, found := map[string]any(nil), -1, false
		var bestPrio int64
		for _, rt := range t.routes {
			rm, _ := rt.(map[string]any)
			if rm == nil {
				continue
			}
			bits, ok := routeMatches(rm, ip)
			if !ok {
				continue
			}
			hop, prio, ok := bestHop(rm)
			if !ok {
				continue
			}
			if !found || bits > bestBits || (bits == bestBits && prio < bestPrio) {
				best, bestBits, bestPrio, found = hop, bits, prio, true
			}
		}
		if !found {
			continue
		}
		nh.Priority = bestPrio
		nh.IfIndex, _ = asInt(best["IfIndex"])
		target := ip
		if gw, err := netip.ParseAddr(stringOf(best["IP"])); err == nil && !gw.IsUnspecified() {
			target = gw.Unmap()
		}
		nh.IP = target.String()
		nh.MAC = neighborMAC(m, target)
		return nh, true
	}
	return NextHop{}, false
}

// routeMatches tells whether the route's Prefix contains ip, and its
// length. An empty Prefix is a default route (older probes omitted it).
func routeMatches(rm map[string]any, ip netip.Addr) (int, bool) {
	s := stringOf(rm["Prefix"])
	if s == "" {
		return 0, true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return 0, false
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if !p.Contains(ip) {
		return 0, false
	}
	return p.Bits(), true
}

// bestHop returns the route's next hop of lowest Priority.
func bestHop(rm map[string]any) (map[string]any, int64, bool) {
	hops, _ := rm["NextHops"].([]any)
	var best map[string]any
	var bestPrio int64
	for _, h := range hops {
		hm, _ := h.(map[string]any)
		if hm == nil {
			continue
		}
		prio, _ := asInt(hm["Priority"])
		if best == nil || prio < bestPrio {
			best, bestPrio = hm, prio
		}
	}
	return best, bestPrio, best != nil
}

// neighborMAC is the MAC of ip in the node's Neighbors, "" if unknown.
func neighborMAC(m graph.Metadata, ip netip.Addr) string {
	neighbors, _ := m[keyNeighbors].([]any)
	for _, n := range neighbors {
		nm, _ := n.(map[string]any)
		if nm == nil {
			continue
		}
		a, err := netip.ParseAddr(stringOf(nm["IP"]))
		if err != nil || a.Unmap() != ip {
			continue
		}
		if mac := stringOf(nm["MAC"]); mac != "" {
			return mac
		}
	}
	return ""
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func asInt(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case float64:
		return int64(t), true
	case int:
		return int64(t), true
	}
	return 0, false
}
