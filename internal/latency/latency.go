// Package latency makes the latency map: the round-trip times between
// hosts, out of the flows' RTT (Metric.RTT, set by the flow tables for TCP
// handshakes and ICMP echo exchanges).
//
// A flow's two ends are mapped to hosts by their network addresses: the
// host of the interface node whose IPV4 or IPV6 list holds the address.
// When an address is on interfaces of several hosts (127.0.0.1, addresses
// reused in namespaces), the host of the capture (the node whose TID is the
// flow's NodeTID) wins if it is one of them, else the end is unknown. An
// end whose address no interface holds is on the capture's host when the
// other end is known to be elsewhere (the capture sees its own side).
//
// Same-host pairs are skipped: the map is about the network between hosts,
// and a flow within one host says nothing of it.
package latency

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Stats are the RTTs of a pair of hosts, in milliseconds.
type Stats struct {
	Min    float64 `json:"Min"`
	Median float64 `json:"Median"`
	Max    float64 `json:"Max"`
	Count  int     `json:"Count"`
}

// Pair is the latency between two hosts, A < B.
type Pair struct {
	A   string `json:"A"`
	B   string `json:"B"`
	RTT Stats  `json:"RTT"`
}

// Map is the answer of GET /api/latency.
type Map struct {
	Hosts []string `json:"Hosts"`
	Pairs []Pair   `json:"Pairs"`
}

// Pair returns the pair of hosts a and b, in either order.
func (m Map) Pair(a, b string) (Pair, bool) {
	if a > b {
		a, b = b, a
	}
	for _, p := range m.Pairs {
		if p.A == a && p.B == b {
			return p, true
		}
	}
	return Pair{}, false
}

// resolver maps addresses and TIDs to hosts.
type resolver struct {
	addrHosts map[netip.Addr][]string
	tidHost   map[string]string
}

func newResolver(nodes []*graph.Node) *resolver {
	r := &resolver{addrHosts: map[netip.Addr][]string{}, tidHost: map[string]string{}}
	for _, n := range nodes {
		if n.Host == "" {
			continue
		}
		if tid, ok := n.Metadata[topology.KeyTID].(string); ok && tid != "" {
			r.tidHost[tid] = n.Host
		}
		for _, key := range []string{topology.KeyIPV4, topology.KeyIPV6} {
			for _, s := range n.Metadata.Strings(key) {
				a, ok := parseAddr(s)
				if !ok {
					continue
				}
				if !slices.Contains(r.addrHosts[a], n.Host) {
					r.addrHosts[a] = append(r.addrHosts[a], n.Host)
				}
			}
		}
	}
	return r
}

// parseAddr reads "10.0.0.1/24", "10.0.0.1" or "fe80::1%eth0".
func parseAddr(s string) (netip.Addr, bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// host of an address seen by a capture on captureHost ("" unknown).
func (r *resolver) host(addr, captureHost string) string {
	a, ok := parseAddr(addr)
	if !ok {
		return ""
	}
	hs := r.addrHosts[a]
	switch {
	case len(hs) == 1:
		return hs[0]
	case captureHost != "" && slices.Contains(hs, captureHost):
		return captureHost
	}
	return ""
}

// hosts returns the hosts of a flow's two ends, ok false when they are not
// known or are the same host.
func (r *resolver) hosts(f *flow.Flow) (a, b string, ok bool) {
	if f.Network == nil {
		return "", "", false
	}
	capHost := r.tidHost[f.NodeTID]
	a, b = r.host(f.Network.A, capHost), r.host(f.Network.B, capHost)
	addrA, okA := parseAddr(f.Network.A)
	addrB, okB := parseAddr(f.Network.B)
	if capHost != "" {
		// An address no interface holds: the capture's side, when the
		// other end is known to be on another host.
		if a == "" && okA && len(r.addrHosts[addrA]) == 0 && b != "" && b != capHost {
			a = capHost
		}
		if b == "" && okB && len(r.addrHosts[addrB]) == 0 && a != "" && a != capHost {
			b = capHost
		}
	}
	if a == "" || b == "" || a == b {
		return "", "", false
	}
	return a, b, true
}

// Compute makes the latency map of the flows, their ends mapped to hosts
// by the nodes. Each flow with an RTT is one sample (a flow seen by two
// captures gives two). Hosts lists every host of the nodes.
func Compute(nodes []*graph.Node, flows []*flow.Flow) Map {
	r := newResolver(nodes)
	hostSet := map[string]bool{}
	for _, n := range nodes {
		if n.Host != "" {
			hostSet[n.Host] = true
		}
	}
	samples := map[[2]string][]float64{}
	seen := map[string]bool{}
	for _, f := range flows {
		if f == nil || f.Metric == nil || f.Metric.RTT <= 0 {
			continue
		}
		if f.UUID != "" {
			if seen[f.UUID] {
				continue
			}
			seen[f.UUID] = true
		}
		a, b, ok := r.hosts(f)
		if !ok {
			continue
		}
		if a > b {
			a, b = b, a
		}
		hostSet[a], hostSet[b] = true, true
		k := [2]string{a, b}
		samples[k] = append(samples[k], float64(f.Metric.RTT)/1e6)
	}
	m := Map{Hosts: make([]string, 0, len(hostSet)), Pairs: make([]Pair, 0, len(samples))}
	for h := range hostSet {
		m.Hosts = append(m.Hosts, h)
	}
	sort.Strings(m.Hosts)
	for k, s := range samples {
		m.Pairs = append(m.Pairs, Pair{A: k[0], B: k[1], RTT: stats(s)})
	}
	sort.Slice(m.Pairs, func(i, j int) bool {
		if m.Pairs[i].A != m.Pairs[j].A {
			return m.Pairs[i].A < m.Pairs[j].A
		}
		return m.Pairs[i].B < m.Pairs[j].B
	})
	return m
}

func stats(s []float64) Stats {
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stats{Min: s[0], Median: med, Max: s[n-1], Count: n}
}
