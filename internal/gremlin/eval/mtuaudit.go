package eval

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// KindMTUAudits is the kind of MTUAudit()'s result.
const KindMTUAudits Kind = "mtuaudits"

// MTUInterface is an interface of an audited path.
type MTUInterface struct {
	ID   string `json:"ID"`
	Name string `json:"Name"`
	Type string `json:"Type"`
	MTU  int64  `json:"MTU"`
}

// MTUTunnel is a tunnel interface of an audited path: its encapsulation
// overhead (bytes added to an IP packet of the overlay, inner Ethernet
// header included for the layer 2 tunnels) and the interface that carries
// its outer packets, "" when it is not known.
type MTUTunnel struct {
	Name        string `json:"Name"`
	Overhead    int64  `json:"Overhead"`
	Underlay    string `json:"Underlay"`
	UnderlayMTU int64  `json:"UnderlayMTU"`
}

// MTUAuditResult is the audit of one path: its interfaces in order, its
// tunnels, the largest IP packet that passes from end to end, the
// interface that limits it and a verdict in plain words.
type MTUAuditResult struct {
	Path       []MTUInterface `json:"Path"`
	Tunnels    []MTUTunnel    `json:"Tunnels"`
	MaxPacket  int64          `json:"MaxPacket"`
	Bottleneck string         `json:"Bottleneck"`
	Verdict    string         `json:"Verdict"`
}

// MTUAudits are MTUAudit()'s answers, one per path; JSON array.
type MTUAudits []MTUAuditResult

// Kind implements Value.
func (MTUAudits) Kind() Kind { return KindMTUAudits }

// MarshalJSON writes [] when empty.
func (a MTUAudits) MarshalJSON() ([]byte, error) {
	if len(a) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]MTUAuditResult(a))
}

// tunnelKind describes a tunnel interface Type: its display name and its
// overhead over an IPv4 and an IPv6 underlay.
type tunnelKind struct {
	name       string
	over4      int64
	over6      int64
	alwaysIPv6 bool
}

// tunnelKinds by interface Type (the netlink probe's link kinds and OVS
// interface types). VXLAN and Geneve: outer IP + UDP (8) + header (8) +
// inner Ethernet (14); Geneve options come on top. GRE: outer IP + GRE (4),
// gretap adds the inner Ethernet.
var tunnelKinds = map[string]tunnelKind{
	"vxlan":     {"VXLAN", 50, 70, false},
	"geneve":    {"Geneve", 50, 70, false},
	"gre":       {"GRE", 24, 44, false},
	"ipgre":     {"GRE", 24, 44, false},
	"ip6gre":    {"GRE", 24, 44, true},
	"gretap":    {"GRE", 38, 58, false},
	"ip6gretap": {"GRE", 38, 58, true},
	"ipip":      {"IPIP", 20, 40, false},
	"sit":       {"SIT", 20, 40, false},
	"ip6tnl":    {"IP6TNL", 40, 40, true},
}

// compileMTUAudit compiles MTUAudit() on paths.
func compileMTUAudit(c *Compiler, s *syntax.Step, in Kind) (StepFunc, Kind, error) {
	return func(r *Run, v Value) (Value, error) {
		out := MTUAudits{}
		for _, p := range v.(Paths) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			out = append(out, AuditMTU(r.View, p))
		}
		return out, nil
	}, KindMTUAudits, nil
}

// AuditMTU audits the MTU of a path of the graph v:
//
//   - Path lists the nodes of the path that have an MTU (the interfaces);
//   - each tunnel interface (vxlan, geneve, gre ...) adds a Tunnel with its
//     overhead (VXLAN and Geneve 50 over IPv4, 70 over IPv6; GRE 24/44,
//     gretap 38/58) and its underlay: the interface of index VtepDevIndex,
//     ParentIndex or Link in its namespace, else the one owning its LocalIP
//     (its namespace first, then its host), else the one routing its
//     RemoteIP; the family is LocalIP's or RemoteIP's (IPv4 by default);
//   - MaxPacket is the smallest of the MTUs of the path's interfaces (an
//     underlay on the path counts only through its tunnels) and of the
//     tunnels' UnderlayMTU - Overhead; Bottleneck is the interface that
//     gives it (a tunnel's underlay for a tunnel);
//   - Verdict compares it with the MTU of the first interface.
func AuditMTU(v graph.View, path []*graph.Node) MTUAuditResult {
	res := MTUAuditResult{Path: []MTUInterface{}, Tunnels: []MTUTunnel{}}
	type limit struct {
		size   int64
		name   string
		tunnel int // index in Tunnels, -1 for an interface
	}
	var limits []limit
	underlays := map[graph.Identifier]bool{}
	type tun struct {
		kind  string
		under *graph.Node
	}
	var tuns []tun
	for _, n := range path {
		mtu, ok := intOf(n.Metadata["MTU"])
		if !ok {
			continue
		}
		typ := stringOf(n.Metadata["Type"])
		res.Path = append(res.Path, MTUInterface{ID: string(n.ID), Name: stringOf(n.Metadata["Name"]), Type: typ, MTU: mtu})
		tk, isTunnel := tunnelKinds[strings.ToLower(typ)]
		if !isTunnel {
			continue
		}
		under := tunnelUnderlay(v, n)
		ipv6 := tk.alwaysIPv6 || tunnelIPv6(n, under)
		t := MTUTunnel{Name: stringOf(n.Metadata["Name"]), Overhead: tk.over4}
		kind := tk.name
		if ipv6 {
			t.Overhead = tk.over6
			kind += " over IPv6"
		}
		if under != nil {
			underlays[under.ID] = true
			t.Underlay = stringOf(under.Metadata["Name"])
			t.UnderlayMTU, _ = intOf(under.Metadata["MTU"])
		}
		res.Tunnels = append(res.Tunnels, t)
		tuns = append(tuns, tun{kind, under})
	}
	ti := 0
	for _, n := range path {
		mtu, ok := intOf(n.Metadata["MTU"])
		if !ok {
			continue
		}
		if !underlays[n.ID] {
			limits = append(limits, limit{mtu, stringOf(n.Metadata["Name"]), -1})
		}
		if _, isTunnel := tunnelKinds[strings.ToLower(stringOf(n.Metadata["Type"]))]; isTunnel {
			if t := res.Tunnels[ti]; t.Underlay != "" && t.UnderlayMTU > 0 {
				limits = append(limits, limit{t.UnderlayMTU - t.Overhead, t.Underlay, ti})
			}
			ti++
		}
	}
	if len(limits) == 0 {
		res.Verdict = "unknown: no interface with an MTU on the path"
		return res
	}
	best := limits[0]
	for _, l := range limits[1:] {
		if l.size < best.size {
			best = l
		}
	}
	res.MaxPacket, res.Bottleneck = best.size, best.name
	first := res.Path[0].MTU
	var unknown []string
	for _, t := range res.Tunnels {
		if t.Underlay == "" || t.UnderlayMTU <= 0 {
			unknown = append(unknown, t.Name)
		}
	}
	switch {
	case best.size >= first:
		res.Verdict = fmt.Sprintf("ok: %d passes", first)
	case best.tunnel >= 0:
		t := res.Tunnels[best.tunnel]
		res.Verdict = fmt.Sprintf("instance MTU %d over %s on a %d underlay (%s): %d needed, or an underlay MTU of %d",
			first, tuns[best.tunnel].kind, t.UnderlayMTU, t.Underlay, best.size, first+t.Overhead)
	default:
		res.Verdict = fmt.Sprintf("instance MTU %d but MTU %d on %s: %d needed", first, best.size, best.name, best.size)
	}
	if len(unknown) > 0 {
		res.Verdict += "; underlay unknown for " + strings.Join(unknown, ", ")
	}
	return res
}

// owner is the ownership parent of n (its namespace or host), nil if none.
func owner(v graph.View, n *graph.Node) *graph.Node {
	for _, e := range v.InEdges(n.ID) {
		if stringOf(e.Metadata["RelationType"]) == "ownership" {
			return v.Node(e.Parent)
		}
	}
	return nil
}

// siblings are the other interfaces owned by n's owner.
func siblings(v graph.View, n *graph.Node) []*graph.Node {
	o := owner(v, n)
	if o == nil {
		return nil
	}
	var out []*graph.Node
	for _, e := range v.OutEdges(o.ID) {
		if stringOf(e.Metadata["RelationType"]) != "ownership" || e.Child == n.ID {
			continue
		}
		if c := v.Node(e.Child); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// tunnelUnderlay finds the interface that carries the outer packets of the
// tunnel interface n, nil if none is found.
func tunnelUnderlay(v graph.View, n *graph.Node) *graph.Node {
	sibs := siblings(v, n)
	for _, k := range []string{"VtepDevIndex", "ParentIndex", "Link"} {
		idx, ok := intOf(n.Metadata[k])
		if !ok || idx <= 0 {
			continue
		}
		for _, s := range sibs {
			if i, ok := intOf(s.Metadata["IfIndex"]); ok && i == idx {
				return s
			}
		}
	}
	if local, err := netip.ParseAddr(stringOf(n.Metadata["LocalIP"])); err == nil && !local.IsUnspecified() {
		local = local.Unmap()
		for _, s := range sibs {
			if hasAddr(s.Metadata, local) {
				return s
			}
		}
		for _, s := range v.Nodes() {
			if s.ID != n.ID && s.Host == n.Host && hasAddr(s.Metadata, local) {
				return s
			}
		}
	}
	if remote, err := netip.ParseAddr(stringOf(n.Metadata["RemoteIP"])); err == nil && !remote.IsUnspecified() {
		for _, s := range sibs {
			if _, ok := LookupNextHop(s.Metadata, remote); ok {
				return s
			}
		}
	}
	return nil
}

// tunnelIPv6 tells whether the tunnel n has an IPv6 underlay: from its
// LocalIP or RemoteIP, else from the addresses of its underlay.
func tunnelIPv6(n, under *graph.Node) bool {
	for _, k := range []string{"LocalIP", "RemoteIP"} {
		if a, err := netip.ParseAddr(stringOf(n.Metadata[k])); err == nil && !a.IsUnspecified() {
			return !a.Unmap().Is4()
		}
	}
	if under != nil {
		return len(addrs(under.Metadata["IPV4"])) == 0 && len(addrs(under.Metadata["IPV6"])) > 0
	}
	return false
}

// hasAddr tells whether m's IPV4 or IPV6 ("addr/len" strings) hold ip.
func hasAddr(m graph.Metadata, ip netip.Addr) bool {
	for _, k := range []string{"IPV4", "IPV6"} {
		for _, a := range addrs(m[k]) {
			if a == ip {
				return true
			}
		}
	}
	return false
}

func addrs(v any) []netip.Addr {
	var ss []string
	switch t := v.(type) {
	case []string:
		ss = t
	case []any:
		for _, x := range t {
			ss = append(ss, stringOf(x))
		}
	case string:
		ss = []string{t}
	}
	var out []netip.Addr
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Addr().Unmap())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// intOf converts the integers metadata may hold (int64 from the probes,
// float64 from JSON, smaller ones from Go callers).
func intOf(v any) (int64, bool) {
	switch t := v.(type) {
	case int32:
		return int64(t), true
	case uint32:
		return int64(t), true
	case uint64:
		return int64(t), true
	case uint:
		return int64(t), true
	case json.Number:
		i, err := t.Int64()
		return i, err == nil
	}
	return asInt(v)
}
