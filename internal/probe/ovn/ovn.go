// Package ovn is the analyzer's probe of an OVN northbound database: logical
// switches, their ports, logical routers and their ports, followed by
// monitor (libovsdb), and `mapping` edges from each logical switch port to
// the interfaces the agents report with that port in ExtID.iface-id.
package ovn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"

	"github.com/skydive-ng/skydive/internal/graph"
	ovsprobe "github.com/skydive-ng/skydive/internal/probe/ovsdb"
	"github.com/skydive-ng/skydive/internal/probe/probestate"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Node types and the relation to the agents' interfaces.
const (
	TypeSwitch     = "logical_switch"
	TypePort       = "logical_port"
	TypeRouter     = "logical_router"
	TypeRouterPort = "logical_router_port"
	MappingLink    = "mapping"
)

type logicalSwitch struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Ports       []string          `ovsdb:"ports"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	OtherConfig map[string]string `ovsdb:"other_config"`
}

type logicalSwitchPort struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Type        string            `ovsdb:"type"`
	Addresses   []string          `ovsdb:"addresses"`
	Options     map[string]string `ovsdb:"options"`
	Up          *bool             `ovsdb:"up"`
	Enabled     *bool             `ovsdb:"enabled"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

type logicalRouter struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Ports       []string          `ovsdb:"ports"`
	Enabled     *bool             `ovsdb:"enabled"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

type logicalRouterPort struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	MAC         string            `ovsdb:"mac"`
	Networks    []string          `ovsdb:"networks"`
	Peer        *string           `ovsdb:"peer"`
	Enabled     *bool             `ovsdb:"enabled"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

func models() []model.Model {
	return []model.Model{&logicalSwitch{}, &logicalSwitchPort{}, &logicalRouter{}, &logicalRouterPort{}}
}

func dbModel() (model.ClientDBModel, error) {
	return model.NewClientDBModel("OVN_Northbound", map[string]model.Model{
		"Logical_Switch": &logicalSwitch{}, "Logical_Switch_Port": &logicalSwitchPort{},
		"Logical_Router": &logicalRouter{}, "Logical_Router_Port": &logicalRouterPort{},
	})
}

// Options configure the probe.
type Options struct {
	// Writer writes the analyzer's own nodes.
	Writer *topology.Writer
	// Address is analyzer.topology.ovn.address (unix:/path, tcp:host:port).
	Address string
	Logger  *slog.Logger
	// Retry is the delay between connection attempts.
	Retry time.Duration
}

// Probe follows one OVN northbound database.
type Probe struct {
	opts Options
	log  *slog.Logger
	rec  topology.Reconciler

	state probestate.State
}

// New checks the address and returns the probe.
func New(opts Options) (*Probe, error) {
	if _, err := ovsprobe.Endpoint(opts.Address); err != nil {
		return nil, fmt.Errorf("analyzer.topology.ovn.address: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	log := opts.Logger.With("probe", "ovn")
	return &Probe{opts: opts, log: log, rec: topology.Reconciler{W: opts.Writer, Log: log}}, nil
}

// State is the probe's state for /api/status.
func (p *Probe) State() string {
	return p.state.Get()
}

// Run follows the database until ctx ends; while it is away the logical
// topology stays as last seen, and the probe reconnects.
func (p *Probe) Run(ctx context.Context) error {
	ep, _ := ovsprobe.Endpoint(p.opts.Address)
	defer p.rec.Clear()
	quiet := false
	for ctx.Err() == nil {
		err := p.session(ctx, ep)
		if ctx.Err() != nil {
			return nil
		}
		p.state.Set(fmt.Sprintf("error: OVN northbound %s: %v", p.opts.Address, err))
		if !quiet {
			p.log.Warn("OVN northbound database not reachable, retrying", "address", p.opts.Address, "err", err)
			quiet = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(p.opts.Retry):
		}
	}
	return nil
}

func (p *Probe) session(ctx context.Context, ep string) error {
	dbm, err := dbModel()
	if err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	c, err := ovsprobe.Dial(ctx, dbm, ep, models(), poke)
	if err != nil {
		return err
	}
	defer c.Close()
	// New interfaces on the agents' side need their mapping edges too.
	remove := p.rec.W.G.AddListener(func(ev graph.Event) {
		if topology.Touches(ev, "ExtID.iface-id") {
			poke()
		}
	})
	defer remove()
	p.state.Set("running")
	p.log.Info("connected to the OVN northbound database", "address", p.opts.Address)
	poke()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.DisconnectNotify():
			return fmt.Errorf("connection lost")
		case <-tick.C:
			if err := ovsprobe.Alive(ctx, c); err != nil && ctx.Err() == nil {
				return fmt.Errorf("no echo reply: %w", err)
			}
		case <-wake:
			if err := p.reconcile(ctx, c); err != nil {
				p.log.Warn("read the OVN cache", "err", err)
			}
			// Let a transaction's burst settle.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (p *Probe) reconcile(ctx context.Context, c client.Client) error {
	var switches []logicalSwitch
	var ports []logicalSwitchPort
	var routers []logicalRouter
	var rports []logicalRouterPort
	for _, l := range []any{&switches, &ports, &routers, &rports} {
		if err := c.List(ctx, l); err != nil {
			return err
		}
	}
	p.rec.Apply(p.desired(switches, ports, routers, rports))
	return nil
}

// ID of a row's node: deterministic, so a restart of the analyzer or of the
// database keeps the nodes.
func ID(uuid string) graph.Identifier { return topology.GenID("ovn", uuid) }

func (p *Probe) desired(switches []logicalSwitch, ports []logicalSwitchPort, routers []logicalRouter, rports []logicalRouterPort) *topology.Desired {
	d := topology.NewDesired()
	own := func(parent, child graph.Identifier) {
		d.Edges[topology.EdgeKey{Parent: parent, Child: child, Relation: topology.OwnershipLink}] = nil
		d.Edges[topology.EdgeKey{Parent: parent, Child: child, Relation: topology.Layer2Link}] = nil
	}
	node := func(uuid, typ, name string, ovn graph.Metadata, ext map[string]string) graph.Identifier {
		id := ID(uuid)
		ovn["UUID"] = uuid
		m := graph.Metadata{graph.KeyName: name, graph.KeyType: typ, "Manager": "ovn", topology.KeyTID: string(id), "OVN": ovn}
		if len(ext) > 0 {
			ovn["ExtID"] = stringMap(ext)
		}
		d.Nodes[id] = m
		return id
	}
	portByUUID := map[string]*logicalSwitchPort{}
	for i := range ports {
		portByUUID[ports[i].UUID] = &ports[i]
	}
	rportByUUID := map[string]*logicalRouterPort{}
	rportByName := map[string]graph.Identifier{}
	for i := range rports {
		rportByUUID[rports[i].UUID] = &rports[i]
		rportByName[rports[i].Name] = ID(rports[i].UUID)
	}
	ifaces := p.ifacesByPortName()
	var routerLinks [][2]string // switch port uuid, router port name
	for _, s := range switches {
		sid := node(s.UUID, TypeSwitch, s.Name, graph.Metadata{}, s.ExternalIDs)
		for _, pu := range s.Ports {
			lsp := portByUUID[pu]
			if lsp == nil {
				continue
			}
			om := graph.Metadata{"Type": lsp.Type}
			if len(lsp.Addresses) > 0 {
				om["Addresses"] = lsp.Addresses
			}
			if len(lsp.Options) > 0 {
				om["Options"] = stringMap(lsp.Options)
			}
			if lsp.Up != nil {
				om["Up"] = *lsp.Up
			}
			pid := node(lsp.UUID, TypePort, lsp.Name, om, lsp.ExternalIDs)
			own(sid, pid)
			for _, iface := range ifaces[lsp.Name] {
				d.Edges[topology.EdgeKey{Parent: pid, Child: iface, Relation: MappingLink}] = nil
			}
			if lsp.Type == "router" && lsp.Options["router-port"] != "" {
				routerLinks = append(routerLinks, [2]string{lsp.UUID, lsp.Options["router-port"]})
			}
		}
	}
	for _, r := range routers {
		rid := node(r.UUID, TypeRouter, r.Name, graph.Metadata{}, r.ExternalIDs)
		for _, pu := range r.Ports {
			lrp := rportByUUID[pu]
			if lrp == nil {
				continue
			}
			om := graph.Metadata{"MAC": lrp.MAC}
			if len(lrp.Networks) > 0 {
				om["Networks"] = lrp.Networks
			}
			pid := node(lrp.UUID, TypeRouterPort, lrp.Name, om, lrp.ExternalIDs)
			d.Nodes[pid][topology.KeyMAC] = lrp.MAC
			own(rid, pid)
		}
	}
	for _, rl := range routerLinks {
		if rp, ok := rportByName[rl[1]]; ok {
			d.Edges[topology.EdgeKey{Parent: ID(rl[0]), Child: rp, Relation: topology.Layer2Link}] = nil
		}
	}
	return d
}

// ifacesByPortName indexes the agents' interfaces by ExtID.iface-id, the
// logical port they implement.
func (p *Probe) ifacesByPortName() map[string][]graph.Identifier {
	out := map[string][]graph.Identifier{}
	for _, n := range p.rec.W.G.Nodes() {
		if n.Metadata["Manager"] == "ovn" {
			continue
		}
		if v, ok := n.Metadata.Get("ExtID.iface-id"); ok {
			if s, ok := v.(string); ok && s != "" {
				out[s] = append(out[s], n.ID)
			}
		}
	}
	return out
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
