// Package lldp is the probe of LLDP neighbours: it listens for LLDP frames on
// the host's interfaces and shows the switch and port at the other end of
// each link as `switch` and `switchport` nodes joined to the local interface,
// as the original did. A neighbour that stops announcing itself goes when
// its TTL runs out.
package lldp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

const ethPLLDP = 0x88cc

// The nearest-bridge group address LLDP is sent to.
var lldpMulticast = [8]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}

// Options configure the probe.
type Options struct {
	Writer *topology.Writer
	// Host is the host node, owner of the interfaces listened on.
	Host graph.Identifier
	// Interfaces to listen on; empty: every interface of the host that is up
	// (but loopback).
	Interfaces []string
	Logger     *slog.Logger
}

// Probe listens on the interfaces.
type Probe struct {
	opts Options
	log  *slog.Logger
	rec  topology.Reconciler

	applyMu   sync.Mutex // one reconciliation at a time
	mu        sync.Mutex
	neighbors map[neighborKey]*seen
	listeners map[string]context.CancelFunc // by interface name
	errors    map[string]string
}

type neighborKey struct{ iface, chassis, port string }

type seen struct {
	n       *Neighbor
	ifindex int
	expires time.Time
}

// New returns the probe.
func New(opts Options) *Probe {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("probe", "lldp")
	return &Probe{opts: opts, log: log, rec: topology.Reconciler{W: opts.Writer, Log: log},
		neighbors: map[neighborKey]*seen{}, listeners: map[string]context.CancelFunc{}, errors: map[string]string{}}
}

// State is "running", or names the interfaces it cannot listen on.
func (p *Probe) State() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errors) == 0 {
		return "running"
	}
	var out []string
	for name, err := range p.errors {
		out = append(out, name+": "+err)
	}
	sort.Strings(out)
	return "error: " + strings.Join(out, "; ")
}

// Listening lists the interfaces listened on.
func (p *Probe) Listening() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.listeners))
	for name := range p.listeners {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Run listens until ctx ends, then removes the neighbours.
func (p *Probe) Run(ctx context.Context) error {
	defer func() {
		p.applyMu.Lock()
		p.rec.Clear()
		p.applyMu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The interfaces listened on and linked to: their state, name, index
	// and ownership.
	relevant := func(ev graph.Event) bool {
		return topology.Touches(ev, topology.KeyState, graph.KeyName, topology.KeyIfIndex) || topology.EdgeOf(ev, topology.OwnershipLink)
	}
	topology.RunOnChange(ctx, p.opts.Writer.G, 500*time.Millisecond, time.Second, relevant, func(ctx context.Context) {
		p.listen(ctx, &wg)
		p.apply()
	})
	return nil
}

// listen starts a listener on each wanted interface that has none, and
// stops those on interfaces that are gone or down.
func (p *Probe) listen(ctx context.Context, wg *sync.WaitGroup) {
	want := p.wanted()
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, stop := range p.listeners {
		if _, ok := want[name]; !ok {
			stop()
			delete(p.listeners, name)
		}
	}
	for name, ifindex := range want {
		if _, ok := p.listeners[name]; ok {
			continue
		}
		fd, err := openSocket(ifindex)
		if err != nil {
			if p.errors[name] == "" {
				p.log.Warn("cannot listen for LLDP", "interface", name, "err", err)
			}
			p.errors[name] = err.Error()
			continue
		}
		delete(p.errors, name)
		lctx, stop := context.WithCancel(ctx)
		p.listeners[name] = stop
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.read(lctx, fd, name, ifindex)
		}()
	}
}

// wanted maps the interfaces to listen on to their index.
func (p *Probe) wanted() map[string]int {
	out := map[string]int{}
	g := p.opts.Writer.G
	names := map[string]bool{}
	for _, n := range p.opts.Interfaces {
		names[n] = true
	}
	for _, e := range g.OutEdges(p.opts.Host) {
		if e.Metadata.String(graph.KeyRelationType) != topology.OwnershipLink {
			continue
		}
		n := g.Node(e.Child)
		if n == nil {
			continue
		}
		name := n.Metadata.String(graph.KeyName)
		idx, ok := n.Metadata[topology.KeyIfIndex].(int64)
		if !ok || n.Metadata.String(topology.KeyState) != "UP" {
			continue
		}
		if len(names) > 0 && !names[name] || len(names) == 0 && (name == "lo" || n.Metadata.String(graph.KeyType) == "openvswitch") {
			continue
		}
		out[name] = int(idx)
	}
	return out
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openSocket opens an AF_PACKET socket that gets only LLDP frames of the
// interface: the kernel filters on the ethertype. Bound to one protocol (not
// ETH_P_ALL), it never sees the frames this host sends, so a host running its
// own lldpd is not its own neighbour (the privileged test checks it). The multicast membership
// makes a real NIC accept the LLDP group address.
func openSocket(ifindex int) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethPLLDP)))
	if err != nil {
		return -1, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethPLLDP), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_MULTICAST, Alen: 6, Address: lldpMulticast}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("join the LLDP multicast group: %w", err)
	}
	// A read wakes up every second to notice the end of ctx.
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("receive timeout: %w", err)
	}
	return fd, nil
}

func (p *Probe) read(ctx context.Context, fd int, name string, ifindex int) {
	defer unix.Close(fd)
	buf := make([]byte, 9216)
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			// ENETDOWN: the link went down and may come back.
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENETDOWN) {
				continue
			}
			p.log.Warn("LLDP read", "interface", name, "err", err)
			p.mu.Lock()
			delete(p.listeners, name) // the next pass opens it again
			p.mu.Unlock()
			return
		}
		nb, err := Decode(buf[:n])
		if err != nil {
			p.log.Debug("bad LLDP frame", "interface", name, "err", err)
			continue
		}
		ttl := time.Duration(nb.TTL) * time.Second
		if ttl == 0 {
			ttl = 120 * time.Second
		}
		p.mu.Lock()
		p.neighbors[neighborKey{name, nb.ChassisID, nb.PortID}] = &seen{n: nb, ifindex: ifindex, expires: time.Now().Add(ttl)}
		p.mu.Unlock()
		p.apply()
	}
}

func (p *Probe) apply() {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	p.rec.Apply(p.desired())
}

func (p *Probe) desired() *topology.Desired {
	d := topology.NewDesired()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	host := string(p.opts.Host)
	for k, s := range p.neighbors {
		if now.After(s.expires) {
			delete(p.neighbors, k)
			continue
		}
		sw := topology.GenID(host, "lldp", "switch", k.chassis)
		port := topology.GenID(host, "lldp", "switchport", k.chassis, k.port)
		d.Nodes[sw] = s.n.Switch.Clone()
		d.Nodes[port] = s.n.Port.Clone()
		d.Edges[topology.EdgeKey{Parent: sw, Child: port, Relation: topology.OwnershipLink}] = nil
		d.Edges[topology.EdgeKey{Parent: sw, Child: port, Relation: topology.Layer2Link}] = nil
		if local := p.opts.Writer.OwnedNode(p.opts.Host, k.iface); local != nil {
			d.Edges[topology.EdgeKey{Parent: port, Child: local.ID, Relation: topology.Layer2Link}] = graph.Metadata{"Type": "lldp"}
		}
	}
	return d
}
