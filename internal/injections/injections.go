// Package injections is the analyzer's side of the packet generator: it
// resolves an injection's source and destination nodes into addresses and
// asks the source nodes' agents to send the packets. An injection is kept in
// a cluster.Store (kind injectpacket) while it runs: with etcd, every
// analyzer sees it and tells the agents connected to it.
package injections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/captures"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/inject"
	"github.com/skydive-ng/skydive/internal/resource"
)

// ErrNotFound is returned for an unknown injection.
var ErrNotFound = resource.NotFound("injection not found")

// Manager keeps the injections while they run.
type Manager struct {
	graph  *graph.Graph
	engine *eval.Engine
	agents captures.Sender
	store  cluster.Store
	log    *slog.Logger

	mu    sync.Mutex
	items map[string]*v1.PacketInjection
	// sent: the injections whose orders went to the agents connected here.
	sent map[string]bool
}

// Options configure a Manager.
type Options struct {
	Graph  *graph.Graph
	Agents captures.Sender
	// Store keeps the running injections; nil: in memory.
	Store  cluster.Store
	Logger *slog.Logger
}

// stored is an injection in the store, with the orders of its agents.
type stored struct {
	v1.PacketInjection
	Orders []v1.InjectionOrder `json:"Orders"`
}

// New returns a manager keeping its injections in memory.
func New(g *graph.Graph, agents captures.Sender) *Manager {
	m, _ := NewManager(Options{Graph: g, Agents: agents})
	return m
}

// NewManager returns a manager; Run follows its store.
func NewManager(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Store == nil {
		st, err := cluster.NewFileStore(nil)
		if err != nil {
			return nil, err
		}
		opts.Store = st
	}
	m := &Manager{graph: opts.Graph, engine: eval.NewEngine(eval.Options{}), agents: opts.Agents, store: opts.Store,
		log: opts.Logger.With("component", "injections"), items: map[string]*v1.PacketInjection{}, sent: map[string]bool{}}
	items, _, err := opts.Store.List(context.Background(), cluster.KindInjection)
	if err != nil {
		return nil, fmt.Errorf("injections: %w", err)
	}
	m.reset(items)
	return m, nil
}

// reset takes the store's injections; those already there are not sent
// again (they were when they were made).
func (m *Manager) reset(items map[string]json.RawMessage) {
	all := cluster.Decode[stored](items, nil)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items = make(map[string]*v1.PacketInjection, len(all))
	for id, st := range all {
		p := st.PacketInjection
		p.UUID = id
		m.items[id] = &p
		m.sent[id] = true
	}
}

// changed applies a change of the store: a new injection's orders go to
// the agents connected here.
func (m *Manager) changed(ev cluster.Event) {
	if ev.Type == cluster.EventDelete {
		m.mu.Lock()
		delete(m.items, ev.ID)
		delete(m.sent, ev.ID)
		m.mu.Unlock()
		return
	}
	var st stored
	if err := json.Unmarshal(ev.Value, &st); err != nil {
		m.log.Warn("stored injection ignored", "injection", ev.ID, "err", err)
		return
	}
	p := st.PacketInjection
	p.UUID = ev.ID
	m.mu.Lock()
	m.items[ev.ID] = &p
	sent := m.sent[ev.ID]
	m.sent[ev.ID] = true
	m.mu.Unlock()
	if sent {
		return
	}
	if err := m.sendOrders(st.Orders, true); err != nil {
		m.log.Warn("injection not sent", "injection", ev.ID, "err", err)
	}
}

// Run follows the store until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	cluster.Follow(ctx, m.store, cluster.KindInjection, m.log, m.reset, m.changed)
	return nil
}

func (m *Manager) nodes(ctx context.Context, field, q string) ([]*graph.Node, error) {
	cq, err := m.engine.Compile(q)
	if err != nil {
		return nil, resource.Invalidf("%s: %v", field, err)
	}
	v, err := cq.Run(ctx, eval.Env{Graph: m.graph})
	if err != nil {
		return nil, resource.Invalidf("%s: %v", field, err)
	}
	ns, ok := v.(eval.Nodes)
	if !ok {
		return nil, resource.Invalidf("%s: the query must select nodes", field)
	}
	return ns, nil
}

// firstAddr picks a node's first address of the family (Neutron's first).
func firstAddr(n *graph.Node, v6 bool) string {
	key := "IPV4"
	if v6 {
		key = "IPV6"
	}
	for _, path := range []string{"Neutron." + key, key} {
		if v, ok := n.Metadata.Get(path); ok {
			if l, ok := v.([]any); ok && len(l) > 0 {
				if s, ok := l[0].(string); ok {
					return s
				}
			}
		}
	}
	return ""
}

func macOf(n *graph.Node) string {
	if v, ok := n.Metadata.Get("ExtID.attached-mac"); ok {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return n.Metadata.String("MAC")
}

// Create resolves and starts an injection.
func (m *Manager) Create(ctx context.Context, p *v1.PacketInjection) (*v1.PacketInjection, error) {
	if strings.TrimSpace(p.Src) == "" {
		return nil, resource.Invalidf("Src: a Gremlin query of the source nodes is required")
	}
	replay := len(p.Pcap) > 0
	if p.Type == "" {
		p.Type = "icmp4"
	}
	if p.Count == 0 && !replay {
		p.Count = 1
	}
	if p.Mode == "" {
		p.Mode = "unique"
	}
	v6 := strings.HasSuffix(p.Type, "6")
	srcs, err := m.nodes(ctx, "Src", p.Src)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, resource.Invalidf("Src: Not able to find a source node for '%s'", p.Src)
	}
	if replay {
		// The pcap's packets are sent as they are: no address to resolve.
		return m.start(p, srcs)
	}
	if p.Dst != "" {
		dsts, err := m.nodes(ctx, "Dst", p.Dst)
		if err != nil {
			return nil, err
		}
		if len(dsts) > 0 {
			if p.DstIP == "" {
				if p.DstIP = firstAddr(dsts[0], v6); p.DstIP == "" {
					return nil, resource.Invalidf("Dst: No destination IP in node")
				}
			}
			if p.DstMAC == "" {
				p.DstMAC = macOf(dsts[0])
			}
		}
	}
	if p.DstIP == "" {
		return nil, resource.Invalidf("DstIP: No destination node and IP")
	}
	if p.DstMAC == "" {
		return nil, resource.Invalidf("DstMAC: Failed to resolve destination MAC address (give Dst or DstMAC)")
	}
	if p.ICMPID == 0 {
		p.ICMPID = 1
	}
	if strings.HasPrefix(p.Type, "tcp") || strings.HasPrefix(p.Type, "udp") {
		if p.SrcPort == 0 {
			p.SrcPort = uint16(rand.IntN(64511) + 1024)
		}
		if p.DstPort == 0 {
			p.DstPort = uint16(rand.IntN(64511) + 1024)
		}
	}
	var orders []v1.InjectionOrder
	for i, n := range srcs {
		o := *p
		if o.SrcIP == "" {
			if o.SrcIP = firstAddr(n, v6); o.SrcIP == "" {
				return nil, resource.Invalidf("Src: No source IP in node %s", n.Metadata.String(graph.KeyName))
			}
		}
		if o.SrcMAC == "" {
			if o.SrcMAC = macOf(n); o.SrcMAC == "" {
				return nil, resource.Invalidf("Src: No source MAC in node %s", n.Metadata.String(graph.KeyName))
			}
		}
		if o.Mode == "unique" {
			o.ICMPID += uint16(i)
			if o.SrcPort != 0 {
				o.SrcPort += uint16(i)
			}
		}
		orders = append(orders, v1.InjectionOrder{NodeID: string(n.ID), Injection: o})
	}
	return m.send(p, orders)
}

// start sends the same injection from each source node.
func (m *Manager) start(p *v1.PacketInjection, srcs []*graph.Node) (*v1.PacketInjection, error) {
	orders := make([]v1.InjectionOrder, 0, len(srcs))
	for _, n := range srcs {
		orders = append(orders, v1.InjectionOrder{NodeID: string(n.ID), Injection: *p})
	}
	return m.send(p, orders)
}

// send validates the orders and sends them to the source nodes' agents.
func (m *Manager) send(p *v1.PacketInjection, orders []v1.InjectionOrder) (*v1.PacketInjection, error) {
	for i := range orders {
		o := &orders[i]
		if err := inject.Validate(&o.Injection); err != nil {
			return nil, resource.Invalid(err)
		}
		if n := m.graph.Node(graph.Identifier(o.NodeID)); n == nil || n.Host == "" {
			return nil, resource.Invalidf("Src: node %s belongs to no agent", o.NodeID)
		}
	}
	if p.Count == 0 && len(orders) > 0 {
		p.Count = orders[0].Injection.Count // a pcap's number of packets
	}
	p.UUID = uuid.NewString()
	for i := range orders {
		orders[i].Injection.UUID = p.UUID
	}
	m.mu.Lock()
	m.sent[p.UUID] = true
	m.mu.Unlock()
	// With a shared store, the agents connected to other analyzers are
	// told by those, when the injection reaches them.
	if err := m.sendOrders(orders, m.store.Shared()); err != nil {
		m.mu.Lock()
		delete(m.sent, p.UUID)
		m.mu.Unlock()
		return nil, err
	}
	out := *p
	// As the original: the resource lives while it runs, plus 5 s.
	ttl := time.Duration(p.Count*p.Interval)*time.Millisecond + 5*time.Second
	if err := m.store.Put(context.Background(), cluster.KindInjection, p.UUID, stored{PacketInjection: out, Orders: orders},
		cluster.WithTTL(ttl)); err != nil {
		return nil, fmt.Errorf("injections: %w", err)
	}
	m.mu.Lock()
	m.items[p.UUID] = &out
	m.mu.Unlock()
	// The store forgets it by itself; so does this manager, even when Run
	// does not follow the store.
	time.AfterFunc(ttl, func() {
		m.mu.Lock()
		delete(m.items, out.UUID)
		delete(m.sent, out.UUID)
		m.mu.Unlock()
	})
	return &out, nil
}

// sendOrders sends each order to its node's agent; localOnly skips the
// agents not connected here.
func (m *Manager) sendOrders(orders []v1.InjectionOrder, localOnly bool) error {
	local := map[string]bool{}
	for _, h := range m.agents.Hosts() {
		local[h] = true
	}
	for _, o := range orders {
		n := m.graph.Node(graph.Identifier(o.NodeID))
		if n == nil {
			if localOnly {
				continue
			}
			return fmt.Errorf("node %s is gone", o.NodeID)
		}
		if localOnly && !local[n.Host] {
			continue
		}
		raw, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if err := m.agents.Send(n.Host, v1.Message{Namespace: v1.NamespaceOnDemandPacketInjection, Type: v1.InjectMsgType,
			Status: http.StatusOK, Obj: raw}); err != nil {
			return fmt.Errorf("agent of %s: %w", n.Host, err)
		}
	}
	return nil
}

// Get returns an injection.
func (m *Manager) Get(id string) (*v1.PacketInjection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.items[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := *p
	return &cp, nil
}

// List returns the injections by UUID.
func (m *Manager) List() map[string]*v1.PacketInjection {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*v1.PacketInjection, len(m.items))
	for k, v := range m.items {
		cp := *v
		out[k] = &cp
	}
	return out
}

// Delete forgets an injection (the packets already sent stay sent).
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	_, ok := m.items[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := m.store.Delete(context.Background(), cluster.KindInjection, id); err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return fmt.Errorf("injections: %w", err)
	}
	m.mu.Lock()
	delete(m.items, id)
	m.mu.Unlock()
	return nil
}
