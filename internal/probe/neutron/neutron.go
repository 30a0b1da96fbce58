// Package neutron is the agent's OpenStack Neutron probe: it lists Neutron's
// ports (one request per poll, whatever the number of interfaces) and
// enriches the interfaces of the agent's graph that belong to a port (VM
// taps, OVS ports, router and DHCP devices) with the port's project,
// network, addresses and segmentation ID, as the original's `Neutron.*`
// metadata. The enrichment is an overlay (topology.Overlays), so the
// netlink probe's rewrites of those nodes keep it.
package neutron

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/probe/probestate"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Source is the probe's overlay source name, and its Manager value.
const Source = "neutron"

// Options configure the probe.
type Options struct {
	Writer *topology.Writer
	// Overlays carry the Neutron metadata to the interfaces' writers.
	Overlays *topology.Overlays
	Config   Config
	Logger   *slog.Logger
}

// Probe enriches the graph's interfaces from Neutron.
type Probe struct {
	opts Options
	cfg  Config
	log  *slog.Logger
	api  *api

	state probestate.State

	// What the probe applied, by interface, to undo what stops matching.
	// Owned by Run's matching loop.
	applied map[ifaceKey]appliedOverlay
}

type appliedOverlay struct {
	node graph.Identifier
	m    graph.Metadata
}

type ifaceKey struct {
	owner graph.Identifier
	name  string
}

// rematchEvery bounds how often graph events make the probe match again.
const rematchEvery = 100 * time.Millisecond

// New checks the configuration and returns the probe.
func New(opts Options) (*Probe, error) {
	if opts.Writer == nil || opts.Writer.G == nil {
		return nil, errors.New("neutron probe: no graph writer")
	}
	if opts.Overlays == nil {
		return nil, errors.New("neutron probe: no overlays")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := opts.Config.withDefaults()
	log := opts.Logger.With("probe", "neutron")
	return &Probe{opts: opts, cfg: cfg, log: log, api: newAPI(cfg),
		applied: map[ifaceKey]appliedOverlay{}}, nil
}

// State is "starting" until Neutron first answers, then "running", or
// "error: ..." while Neutron is unreachable or failing (the last known
// enrichment stays), and "stopped" once Run has returned.
func (p *Probe) State() string {
	return p.state.Get()
}

// Run polls Neutron and matches the graph's interfaces until ctx ends, then
// removes its enrichment. Neutron being away is not an error of Run.
func (p *Probe) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Graph events only poke: listeners run under the graph's lock.
	wake := make(chan struct{}, 1)
	remove := p.opts.Writer.G.AddListener(func(ev graph.Event) {
		if relevant(ev) {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	defer remove()
	// The poller publishes each catalog here, the newest replacing an
	// unread one; a slow Neutron never delays matching graph changes.
	catalogs := make(chan *Catalog, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.poll(ctx, catalogs)
	}()
	defer func() {
		cancel()
		wg.Wait()
		p.apply(nil) // the enrichment goes with the probe
		p.state.Set("stopped")
	}()

	var cat *Catalog
	var last time.Time
	var timer *time.Timer
	var timerC <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case c := <-catalogs:
			cat = c
			p.match(cat)
			last = time.Now()
		case <-wake:
			if timerC != nil || cat == nil {
				continue // a pass is due already, or nothing to match with
			}
			// A short settle lets an interface's node and its ownership
			// edge arrive together.
			d := max(10*time.Millisecond, time.Until(last.Add(rematchEvery)))
			timer = time.NewTimer(d)
			timerC = timer.C
		case <-timerC:
			timerC = nil
			p.match(cat)
			last = time.Now()
		}
	}
}

// relevant tells whether a graph event can change what matches: interfaces
// coming, going, renamed or re-addressed, and ownership edges. The probe's
// own writes (Neutron, Manager, PeerIntfMAC) are not.
func relevant(ev graph.Event) bool {
	switch ev.Type {
	case graph.NodeAdded, graph.NodeDeleted:
		return ev.Node != nil && isIface(ev.Node.Metadata)
	case graph.NodeUpdated:
		if ev.Node == nil || ev.OldNode == nil {
			return ev.Node != nil && isIface(ev.Node.Metadata)
		}
		n, o := ev.Node.Metadata, ev.OldNode.Metadata
		if !isIface(n) && !isIface(o) {
			return false
		}
		for _, k := range []string{graph.KeyName, graph.KeyType, topology.KeyMAC, topology.KeyIfIndex, "ExtID"} {
			if !reflect.DeepEqual(n[k], o[k]) {
				return true
			}
		}
		return false
	case graph.EdgeAdded, graph.EdgeDeleted:
		return ev.Edge != nil && ev.Edge.Metadata.String(graph.KeyRelationType) == topology.OwnershipLink
	}
	return false
}

func isIface(m graph.Metadata) bool {
	_, ok := m[topology.KeyIfIndex]
	return ok
}

// match computes the overlays of the graph's interfaces from cat and
// applies the differences.
func (p *Probe) match(cat *Catalog) {
	g := p.opts.Writer.G
	desired := map[ifaceKey]appliedOverlay{}
	type weakMatch struct {
		key     ifaceKey
		overlay appliedOverlay
		port    string
	}
	var weak []weakMatch
	strongPorts := map[string]bool{}
	for _, n := range g.Nodes() {
		if !isIface(n.Metadata) {
			continue
		}
		owner := p.ownerOf(n.ID)
		if owner == "" {
			continue
		}
		i := interfaceOf(owner, n.Metadata)
		if i.Name == "" {
			continue
		}
		port, strong := cat.MatchEvidence(i)
		if port == nil {
			continue
		}
		a := appliedOverlay{n.ID, cat.Metadata(i, port)}
		if strong {
			desired[ifaceKey{owner, i.Name}] = a
			strongPorts[port.ID] = true
		} else {
			weak = append(weak, weakMatch{ifaceKey{owner, i.Name}, a, port.ID})
		}
	}
	for _, w := range weak {
		if !strongPorts[w.port] {
			desired[w.key] = w.overlay
		}
	}
	p.apply(desired)
}

// ownerOf returns the host or netns node owning an interface ("" if none).
func (p *Probe) ownerOf(id graph.Identifier) graph.Identifier {
	g := p.opts.Writer.G
	for _, e := range g.InEdges(id) {
		if e.Metadata.String(graph.KeyRelationType) != topology.OwnershipLink {
			continue
		}
		if parent := g.Node(e.Parent); parent != nil {
			switch parent.Metadata.String(graph.KeyType) {
			case topology.TypeHost, topology.TypeNetns:
				return e.Parent
			}
		}
	}
	return ""
}

// apply makes the overlays the desired ones (nil: none).
func (p *Probe) apply(desired map[ifaceKey]appliedOverlay) {
	w, o := p.opts.Writer, p.opts.Overlays
	for k, a := range p.applied {
		if _, ok := desired[k]; ok {
			continue
		}
		o.Apply(w, Source, k.owner, k.name, nil)
		delete(p.applied, k)
		p.forget(k, a)
		p.log.Debug("interface no longer matches a port", "name", k.name, "owner", k.owner)
	}
	for k, a := range desired {
		// Unchanged overlays are skipped: the interface's writers put them
		// back on every rewrite of the node.
		if old, ok := p.applied[k]; ok && old.node == a.node && old.m.Equal(a.m) {
			continue
		}
		o.Apply(w, Source, k.owner, k.name, a.m)
		p.applied[k] = a
		p.log.Debug("interface matched", "name", k.name, "owner", k.owner, "neutron", a.m["Neutron"])
	}
}

// forget removes the keys of an overlay from a node renamed since it was
// applied (Apply finds nodes by name): the writer's next rewrite would, but
// the node must not carry a port it no longer matches until then. Keys that
// the overlays of its new name give are kept.
func (p *Probe) forget(k ifaceKey, a appliedOverlay) {
	g := p.opts.Writer.G
	n := g.Node(a.node)
	if n == nil || n.Metadata.String(graph.KeyName) == k.name {
		return
	}
	now := p.opts.Overlays.Get(k.owner, n.Metadata.String(graph.KeyName))
	_ = g.UpdateNodeMetadata(a.node, func(cur graph.Metadata) bool {
		for key := range a.m {
			if _, keep := now[key]; !keep {
				delete(cur, key)
			}
		}
		return true
	})
}
