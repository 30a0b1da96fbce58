package latency

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Captures creates and deletes captures (the analyzer's capture manager).
type Captures interface {
	Create(c *v1.Capture) (*v1.Capture, error)
	Delete(id string) error
}

// Injector sends packets from a node (the analyzer's injection manager).
type Injector interface {
	Create(ctx context.Context, p *v1.PacketInjection) (*v1.PacketInjection, error)
}

// Probe is one measurement started between two hosts: pings injected from
// an interface of A to an address of B, captured on A's interface, where
// the flow table measures their RTT.
type Probe struct {
	A         string `json:"A"`
	B         string `json:"B"`
	From      string `json:"From"` // A's interface
	To        string `json:"To"`   // B's address
	Capture   string `json:"Capture"`
	Injection string `json:"Injection"`
}

// ProbeAnswer is POST /api/latency/probe's: the probes started, the pairs
// of hosts left out and why, and when the RTTs are in the map.
type ProbeAnswer struct {
	Probes  []Probe   `json:"Probes"`
	Skipped []string  `json:"Skipped"`
	ReadyAt time.Time `json:"ReadyAt"`
}

// Prober injects pings between hosts on request.
type Prober struct {
	Graph    *graph.Graph
	Captures Captures
	Injector Injector
	// Active reports whether a capture runs on a node (its Captures
	// metadata says so); the probe waits for it before injecting.
	Active func(captureID string, node graph.Identifier) bool
}

// hostAddr is an IPv4 address of an interface that a host owns directly
// (its root namespace), up, not loopback.
type hostAddr struct {
	node   *graph.Node
	prefix netip.Prefix
}

func (p *Prober) hostAddrs() (hosts []string, addrs map[string][]hostAddr) {
	addrs = map[string][]hostAddr{}
	for _, h := range p.Graph.Nodes() {
		if h.Metadata.String(graph.KeyType) != "host" {
			continue
		}
		name := h.Metadata.String(graph.KeyName)
		hosts = append(hosts, name)
		for _, e := range p.Graph.OutEdges(h.ID) {
			if e.Metadata.String(graph.KeyRelationType) != topology.OwnershipLink {
				continue
			}
			n := p.Graph.Node(e.Child)
			if n == nil || n.Metadata.String(topology.KeyTID) == "" || n.Metadata.String("State") == "DOWN" {
				continue
			}
			for _, s := range n.Metadata.Strings("IPV4") {
				pre, err := netip.ParsePrefix(s)
				if err != nil || pre.Addr().IsLoopback() || pre.Bits() == 32 {
					continue
				}
				addrs[name] = append(addrs[name], hostAddr{n, pre})
			}
		}
	}
	slices.Sort(hosts)
	for _, list := range addrs {
		slices.SortFunc(list, func(a, b hostAddr) int { return a.prefix.Addr().Compare(b.prefix.Addr()) })
	}
	return hosts, addrs
}

// Start injects count pings, interval apart, between every pair of hosts
// that have interfaces in a shared IPv4 subnet, each captured where it
// leaves; the captures are deleted once the RTTs are in (ReadyAt), under
// ctx. It waits up to ready for the captures to run before injecting.
func (p *Prober) Start(ctx, background context.Context, count int, interval, ready time.Duration) (ProbeAnswer, error) {
	ans := ProbeAnswer{Probes: []Probe{}, Skipped: []string{}}
	hosts, addrs := p.hostAddrs()
	type plan struct {
		probe Probe
		src   *graph.Node
		dstN  *graph.Node
		dst   netip.Addr
	}
	var plans []plan
	for i, a := range hosts {
		for _, b := range hosts[i+1:] {
			pl, ok := pick(addrs[a], addrs[b])
			if !ok {
				ans.Skipped = append(ans.Skipped, fmt.Sprintf("%s and %s: no interfaces of theirs share an IPv4 subnet", a, b))
				continue
			}
			plans = append(plans, plan{probe: Probe{A: a, B: b, From: pl[0].node.Metadata.String(graph.KeyName), To: pl[1].prefix.Addr().String()},
				src: pl[0].node, dstN: pl[1].node, dst: pl[1].prefix.Addr()})
		}
	}
	var created []string
	cleanup := func() {
		for _, id := range created {
			_ = p.Captures.Delete(id)
		}
	}
	for i := range plans {
		pl := &plans[i]
		c, err := p.Captures.Create(&v1.Capture{
			GremlinQuery: fmt.Sprintf("G.V().Has('TID', '%s')", pl.src.Metadata.String(topology.KeyTID)),
			Name:         fmt.Sprintf("latency probe %s %s", pl.probe.A, pl.probe.B),
			Description:  "made by POST /api/latency/probe; deleted when the probe is over",
			BPFFilter:    "icmp and host " + pl.dst.String(),
		})
		if err != nil {
			cleanup()
			return ans, fmt.Errorf("capture on %s of %s: %w", pl.probe.From, pl.probe.A, err)
		}
		created = append(created, c.UUID)
		pl.probe.Capture = c.UUID
	}
	deadline := time.Now().Add(ready)
	for i := 0; i < len(plans); {
		if p.Active == nil || p.Active(plans[i].probe.Capture, plans[i].src.ID) {
			i++
			continue
		}
		if time.Now().After(deadline) {
			cleanup()
			return ans, fmt.Errorf("the capture on %s of %s did not start within %s", plans[i].probe.From, plans[i].probe.A, ready)
		}
		select {
		case <-ctx.Done():
			cleanup()
			return ans, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	for i := range plans {
		pl := &plans[i]
		inj, err := p.Injector.Create(ctx, &v1.PacketInjection{
			Src:      fmt.Sprintf("G.V().Has('TID', '%s')", pl.src.Metadata.String(topology.KeyTID)),
			Dst:      fmt.Sprintf("G.V().Has('TID', '%s')", pl.dstN.Metadata.String(topology.KeyTID)),
			DstIP:    pl.dst.String(),
			Type:     "icmp4",
			Count:    uint64(count),
			Interval: uint64(interval / time.Millisecond),
		})
		if err != nil {
			cleanup()
			return ans, fmt.Errorf("pings from %s of %s: %w", pl.probe.From, pl.probe.A, err)
		}
		pl.probe.Injection = inj.UUID
		ans.Probes = append(ans.Probes, pl.probe)
	}
	// The flow tables report every second: two more for the last reply.
	wait := time.Duration(count)*interval + 2*time.Second
	ans.ReadyAt = time.Now().Add(wait).UTC()
	go func() {
		select {
		case <-background.Done():
		case <-time.After(wait + 2*time.Second):
		}
		cleanup()
	}()
	return ans, nil
}

// pick returns an address of a and one of b in the same subnet.
func pick(a, b []hostAddr) ([2]hostAddr, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.prefix.Masked() == y.prefix.Masked() && x.prefix.Addr() != y.prefix.Addr() {
				return [2]hostAddr{x, y}, true
			}
		}
	}
	return [2]hostAddr{}, false
}
