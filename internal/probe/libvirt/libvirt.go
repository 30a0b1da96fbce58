// Package libvirt is the probe of libvirt domains: each domain is a node of
// the host, kept up to date by libvirt's lifecycle events (and a periodic
// re-list as a safety net), and linked (vlayer2) to the host interfaces its
// XML plugs it into, which it enriches with the guest side's Libvirt
// metadata through the overlays.
package libvirt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/probe/probestate"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Node type, relation and overlay source of the probe.
const (
	TypeLibvirt   = "libvirt"
	VLayer2Link   = "vlayer2"
	OverlaySource = "libvirt"
	KeyLibvirt    = "Libvirt"
	KeyPeerMAC    = "PeerIntfMAC"
)

// Options configure the probe.
type Options struct {
	Writer *topology.Writer
	// Host is the host node: it owns the domains and the interfaces they use.
	Host graph.Identifier
	// Overlays carry the Libvirt metadata of host interfaces to their writers.
	Overlays *topology.Overlays
	// URL is agent.topology.libvirt.url (default qemu:///system).
	URL    string
	Logger *slog.Logger
	// Retry is the delay between connection attempts (default 1 s).
	Retry time.Duration
	// Resync is the period of the full re-list (default 30 s).
	Resync time.Duration
}

// Probe follows one libvirt connection.
type Probe struct {
	opts Options
	url  *url.URL
	log  *slog.Logger

	state probestate.State

	poke chan struct{}

	// Only Run's goroutine touches these.
	hostTID  string
	domains  map[string]*domain // by UUID
	nodes    map[graph.Identifier]bool
	edges    map[edgeKey]bool
	overlays map[string]bool // host device names
}

type edgeKey struct{ parent, child graph.Identifier }

// New checks the options; Run connects.
func New(opts Options) (*Probe, error) {
	u, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Writer == nil {
		return nil, errors.New("libvirt probe: no graph writer")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Overlays == nil { // then only the probe's own writes carry them
		opts.Overlays = topology.NewOverlays()
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.Resync <= 0 {
		opts.Resync = 30 * time.Second
	}
	return &Probe{
		opts: opts, url: u, log: opts.Logger.With("probe", "libvirt"),
		poke: make(chan struct{}, 1), domains: map[string]*domain{},
		nodes: map[graph.Identifier]bool{}, edges: map[edgeKey]bool{}, overlays: map[string]bool{},
	}, nil
}

// State is "running" while connected, "error: ..." while libvirt is away
// (the probe keeps retrying), "starting" before the first attempt.
func (p *Probe) State() string {
	return p.state.Get()
}

func (p *Probe) wake() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// Run follows libvirt until ctx ends, reconnecting when it goes away; the
// domains stay in the graph meanwhile (the re-list on reconnection corrects
// them) and are removed when Run returns.
func (p *Probe) Run(ctx context.Context) error {
	if h := p.opts.Writer.G.Node(p.opts.Host); h != nil {
		p.hostTID = h.Metadata.String(topology.KeyTID)
	}
	// Interfaces appear after the domains that use them (a tap made by the
	// hypervisor at start): new interface nodes wake the loop. Listeners run
	// under the graph's lock, so this one only pokes.
	remove := p.opts.Writer.G.AddListener(func(ev graph.Event) {
		if ev.Type == graph.NodeAdded {
			if _, ok := ev.Node.Metadata[topology.KeyIfIndex]; ok {
				p.wake()
			}
		}
	})
	defer remove()
	defer func() {
		p.domains = map[string]*domain{}
		p.apply()
	}()
	quiet := false
	for ctx.Err() == nil {
		err := p.session(ctx)
		if ctx.Err() != nil {
			break
		}
		p.state.Set("error: " + err.Error())
		if errors.Is(err, errLost) {
			p.log.Warn("libvirt connection lost, reconnecting", "url", p.url.Redacted())
			quiet = false
		} else if !quiet {
			p.log.Info("libvirt not reachable, waiting for it", "url", p.url.Redacted(), "err", err)
			quiet = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(p.opts.Retry):
		}
	}
	p.state.Set("stopped")
	return nil
}

var errLost = errors.New("libvirt connection lost")

func (p *Probe) session(ctx context.Context) error {
	l, err := golibvirt.ConnectToURI(p.url)
	if err != nil {
		return err
	}
	defer func() { _ = l.Disconnect() }()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := l.LifecycleEvents(sctx)
	if err != nil {
		return fmt.Errorf("lifecycle events: %w", err)
	}
	// go-libvirt sends on the channel without watching the context: drain
	// it once we stop reading, or its goroutine stays blocked.
	defer func() {
		go func() {
			for range events {
			}
		}()
	}()
	if err := p.relist(l); err != nil {
		return err
	}
	p.state.Set("running")
	p.log.Info("connected to libvirt", "url", p.url.Redacted(), "domains", len(p.domains))
	tick := time.NewTicker(p.opts.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.Disconnected():
			return errLost
		case ev, ok := <-events:
			if !ok {
				return errLost
			}
			p.event(l, ev)
		case <-tick.C:
			if err := p.relist(l); err != nil {
				if !l.IsConnected() {
					return errLost
				}
				p.log.Warn("list libvirt domains", "err", err)
			}
		case <-p.poke:
			p.apply()
		}
	}
}

// relist reads every domain again.
func (p *Probe) relist(l *golibvirt.Libvirt) error {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	next := map[string]*domain{}
	for _, dom := range doms {
		d, err := p.read(l, dom)
		if err != nil {
			if !golibvirt.IsNotFound(err) { // undefined meanwhile: its event follows
				p.log.Warn("read libvirt domain", "domain", dom.Name, "err", err)
			}
			continue
		}
		next[d.UUID] = d
	}
	p.domains = next
	p.apply()
	return nil
}

// event reads the domain an event is about; an undefined domain goes.
func (p *Probe) event(l *golibvirt.Libvirt, ev golibvirt.DomainEventLifecycleMsg) {
	u := uuidString(ev.Dom.UUID)
	p.log.Debug("libvirt event", "domain", ev.Dom.Name, "event", golibvirt.DomainEventType(ev.Event).String(), "detail", ev.Detail)
	if golibvirt.DomainEventType(ev.Event) == golibvirt.DomainEventUndefined {
		delete(p.domains, u)
		p.apply()
		return
	}
	// Read the domain now rather than trusting the event: events of a
	// domain that is already gone or changed again are then harmless.
	d, err := p.read(l, ev.Dom)
	switch {
	case golibvirt.IsNotFound(err):
		delete(p.domains, u)
	case err != nil:
		p.log.Warn("read libvirt domain", "domain", ev.Dom.Name, "err", err)
		return
	default:
		p.domains[d.UUID] = d
	}
	p.apply()
}

func (p *Probe) read(l *golibvirt.Libvirt, dom golibvirt.Domain) (*domain, error) {
	// An event's copy of the domain has the id of that moment.
	dom, err := l.DomainLookupByUUID(dom.UUID)
	if err != nil {
		return nil, err
	}
	state, _, err := l.DomainGetState(dom, 0)
	if err != nil {
		return nil, fmt.Errorf("state of %s: %w", dom.Name, err)
	}
	x, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return nil, fmt.Errorf("XML of %s: %w", dom.Name, err)
	}
	name, uuid, ifaces, err := parseDomainXML([]byte(x))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dom.Name, err)
	}
	if name == "" {
		name = dom.Name
	}
	if uuid == "" {
		uuid = uuidString(dom.UUID)
	}
	return &domain{UUID: uuid, Name: name, State: stateName(golibvirt.DomainState(state)), ID: dom.ID, Ifaces: ifaces}, nil
}

func (p *Probe) domainID(uuid string) graph.Identifier {
	return topology.GenID(p.hostTID, TypeLibvirt, uuid)
}

// apply makes the graph match p.domains, and undoes what the probe wrote
// that is no longer true. Cheap enough to run on every change: a host has
// few domains.
func (p *Probe) apply() {
	w, host := p.opts.Writer, p.opts.Host
	nodes := map[graph.Identifier]bool{}
	for _, d := range p.domains {
		id := p.domainID(d.UUID)
		lv := graph.Metadata{"UUID": d.UUID}
		if d.ID > 0 {
			lv["ID"] = int64(d.ID)
		}
		m := graph.Metadata{
			graph.KeyName: d.Name, graph.KeyType: TypeLibvirt, topology.KeyState: d.State,
			topology.KeyTID: string(id), KeyLibvirt: lv,
		}
		if err := w.AddNode(id, m); err != nil {
			p.log.Warn("add domain node", "domain", d.Name, "err", err)
			continue
		}
		if _, err := w.Link(host, id, topology.OwnershipLink, nil); err != nil {
			p.log.Warn("link domain node", "domain", d.Name, "err", err)
		}
		nodes[id] = true
	}

	edges := map[edgeKey]bool{}
	overlays := map[string]bool{}
	for target, d := range claim(p.domains) {
		var it iface
		for _, i := range d.Ifaces {
			if i.Target == target {
				it = i
				break
			}
		}
		lv := graph.Metadata{"Domain": d.Name}
		putStr(lv, "MAC", it.MAC)
		putStr(lv, "BusType", it.BusType)
		putStr(lv, "BusInfo", it.BusInfo)
		putStr(lv, "Alias", it.Alias)
		m := graph.Metadata{KeyLibvirt: lv}
		putStr(m, KeyPeerMAC, it.MAC)
		overlays[target] = true
		p.opts.Overlays.Apply(w, OverlaySource, host, target, m)
		n := w.OwnedNode(host, target)
		if n == nil || !nodes[p.domainID(d.UUID)] {
			continue // linked when the interface shows up
		}
		k := edgeKey{n.ID, p.domainID(d.UUID)}
		if _, err := w.Link(k.parent, k.child, VLayer2Link, nil); err != nil {
			p.log.Warn("link interface to domain", "interface", target, "domain", d.Name, "err", err)
			continue
		}
		edges[k] = true
	}

	for k := range p.edges {
		if !edges[k] {
			w.Unlink(k.parent, k.child, VLayer2Link)
		}
	}
	for name := range p.overlays {
		if !overlays[name] {
			p.opts.Overlays.Apply(w, OverlaySource, host, name, nil)
		}
	}
	for id := range p.nodes {
		if !nodes[id] {
			_ = w.G.DeleteNode(id) // takes its edges along
		}
	}
	p.nodes, p.edges, p.overlays = nodes, edges, overlays
}

func putStr(m graph.Metadata, k, v string) {
	if v != "" {
		m[k] = v
	}
}
