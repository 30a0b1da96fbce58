// Package captures is the analyzer's side of captures: the capture
// resources (kept in a cluster.Store: a file, so they survive a restart, or
// etcd, shared by the analyzers of a cluster), their validation, and the
// continuous resolution of each capture's Gremlin query into the nodes every
// agent must capture on. Every analyzer sends the assignments to the agents
// connected to it.
package captures

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	v1 "github.com/skydive-ng/skydive/api/v1"
	"github.com/skydive-ng/skydive/internal/capture"
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/resource"
)

// Errors of the resource API.
var (
	ErrNotFound  = resource.NotFound("capture not found")
	ErrDuplicate = resource.Conflict("duplicate capture")
)

// Types lists the capture types the agents run.
var Types = capture.Types

// Sender delivers a message to the agent of a host.
type Sender interface {
	Send(host string, msg v1.Message) error
	Hosts() []string
}

// Manager keeps the captures and tells the agents where to capture.
type Manager struct {
	graph  *graph.Graph
	engine *eval.Engine
	store  cluster.Store
	agents Sender
	log    *slog.Logger

	// creating serializes creations: the duplicate check and the store.
	creating sync.Mutex
	mu       sync.Mutex
	captures map[string]*v1.Capture
	sent     map[string]string // host -> last assignment JSON sent
	wake     chan struct{}
}

// Options configure a Manager.
type Options struct {
	Graph *graph.Graph
	// Store keeps the captures (kind capture); nil: a file store of File.
	Store cluster.Store
	// File keeps the captures across restarts when Store is nil ("" keeps
	// them in memory).
	File   string
	Agents Sender
	Logger *slog.Logger
}

// New loads the captures kept in the store.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Store == nil {
		st, err := cluster.NewFileStore(map[cluster.Kind]cluster.FileRef{cluster.KindCapture: {Path: opts.File}})
		if err != nil {
			return nil, fmt.Errorf("captures: %w", err)
		}
		opts.Store = st
	}
	m := &Manager{graph: opts.Graph, engine: eval.NewEngine(eval.Options{}), store: opts.Store, agents: opts.Agents,
		log: opts.Logger.With("component", "captures"), captures: map[string]*v1.Capture{}, sent: map[string]string{},
		wake: make(chan struct{}, 1)}
	items, _, err := opts.Store.List(context.Background(), cluster.KindCapture)
	if err != nil {
		return nil, fmt.Errorf("captures: %w", err)
	}
	m.reset(items)
	return m, nil
}

// reset replaces the captures by the store's.
func (m *Manager) reset(items map[string]json.RawMessage) {
	caps := cluster.Decode[v1.Capture](items, func(id string, err error) {
		m.log.Warn("stored capture ignored", "capture", id, "err", err)
	})
	for id, c := range caps {
		c.UUID = id
	}
	m.mu.Lock()
	m.captures = caps
	m.mu.Unlock()
	m.Wake()
}

// changed applies a change of the store (made here or by another analyzer).
func (m *Manager) changed(ev cluster.Event) {
	m.mu.Lock()
	switch ev.Type {
	case cluster.EventPut:
		var c v1.Capture
		if err := json.Unmarshal(ev.Value, &c); err != nil {
			m.mu.Unlock()
			m.log.Warn("stored capture ignored", "capture", ev.ID, "err", err)
			return
		}
		c.UUID = ev.ID
		m.captures[ev.ID] = &c
	case cluster.EventDelete:
		delete(m.captures, ev.ID)
	}
	m.mu.Unlock()
	m.Wake()
}

// Validate fills the defaults of c and checks it; errors are
// resource.Invalid naming the field.
func (m *Manager) Validate(c *v1.Capture) error {
	if strings.TrimSpace(c.GremlinQuery) == "" {
		return resource.Invalidf("GremlinQuery: required, e.g. G.V().Has('Name', 'eth0')")
	}
	q, err := m.engine.Compile(c.GremlinQuery)
	if err != nil {
		return resource.Invalidf("GremlinQuery: %v", err)
	}
	if k := q.Kind(); k != eval.KindNodes && k != eval.KindAny {
		return resource.Invalidf("GremlinQuery: must select nodes, this query gives %s", k)
	}
	if c.Type == "" {
		c.Type = capture.TypeAFPacket
	}
	if c.LayerKeyMode == "" {
		c.LayerKeyMode = "L2"
	}
	if c.SamplingRate == 0 {
		c.SamplingRate = 1
	}
	if c.PollingInterval == 0 {
		c.PollingInterval = 10
	}
	spec := capture.SpecOf(c, "")
	if err := spec.Validate(); err != nil {
		return resource.Invalid(err)
	}
	return nil
}

// Create validates and stores c, giving it a UUID.
func (m *Manager) Create(c *v1.Capture) (*v1.Capture, error) {
	if err := m.Validate(c); err != nil {
		return nil, err
	}
	m.creating.Lock()
	defer m.creating.Unlock()
	m.mu.Lock()
	for _, o := range m.captures {
		if o.Type == c.Type && o.GremlinQuery == c.GremlinQuery && o.BPFFilter == c.BPFFilter {
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: capture %s has the same type, query and filter", ErrDuplicate, o.UUID)
		}
	}
	m.mu.Unlock()
	cp := *c
	cp.UUID = uuid.NewString()
	cp.Count = 0
	if err := m.store.Put(context.Background(), cluster.KindCapture, cp.UUID, &cp); err != nil {
		return nil, fmt.Errorf("captures: %w", err)
	}
	m.mu.Lock()
	m.captures[cp.UUID] = &cp
	m.mu.Unlock()
	m.Wake()
	return m.Get(cp.UUID)
}

// Delete removes a capture; agents stop it.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	_, ok := m.captures[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	err := m.store.Delete(context.Background(), cluster.KindCapture, id)
	if err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return fmt.Errorf("captures: %w", err)
	}
	m.mu.Lock()
	delete(m.captures, id)
	m.mu.Unlock()
	m.Wake()
	return nil
}

// Get returns a capture with its Count: how many nodes capture it now.
func (m *Manager) Get(id string) (*v1.Capture, error) {
	m.mu.Lock()
	c, ok := m.captures[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cp := *c
	cp.Count = m.activeCount(id)
	return &cp, nil
}

// List returns every capture keyed by UUID.
func (m *Manager) List() map[string]*v1.Capture {
	m.mu.Lock()
	ids := make([]string, 0, len(m.captures))
	for id := range m.captures {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	out := make(map[string]*v1.Capture, len(ids))
	for _, id := range ids {
		if c, err := m.Get(id); err == nil {
			out[id] = c
		}
	}
	return out
}

// activeCount counts the nodes whose Captures metadata has id active.
func (m *Manager) activeCount(id string) int {
	n := 0
	for _, node := range m.graph.Nodes() {
		v, ok := node.Metadata["Captures"].([]any)
		if !ok {
			continue
		}
		for _, c := range v {
			if cm, ok := c.(map[string]any); ok && cm["ID"] == id && cm["State"] == "active" {
				n++
			}
		}
	}
	return n
}

// Wake asks for a new resolution soon.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// AgentConnected makes the next resolution resend the agent's set.
func (m *Manager) AgentConnected(host string) {
	m.mu.Lock()
	delete(m.sent, host)
	m.mu.Unlock()
	m.Wake()
}

// Run follows the store, resolves the captures' queries when the graph or
// the captures change (at most every 200 ms) and sends each agent connected
// here its assignments.
func (m *Manager) Run(ctx context.Context) error {
	followed := make(chan struct{})
	defer func() { <-followed }()
	go func() {
		defer close(followed)
		cluster.Follow(ctx, m.store, cluster.KindCapture, m.log, m.reset, m.changed)
	}()
	remove := m.graph.AddListener(func(ev graph.Event) {
		// Capture state updates of nodes do not change where to capture.
		if ev.Type == graph.NodeUpdated && ev.OldNode != nil && sameExceptCaptures(ev.OldNode.Metadata, ev.Node.Metadata) {
			return
		}
		m.Wake()
	})
	defer remove()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-tick.C:
		}
		m.resolve(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func sameExceptCaptures(a, b graph.Metadata) bool {
	for k := range a {
		if k != "Captures" && k != "Metric" && k != "LastUpdateMetric" {
			if _, ok := b[k]; !ok {
				return false
			}
		}
	}
	strip := func(m graph.Metadata) graph.Metadata {
		c := graph.Metadata{}
		for k, v := range m {
			if k != "Captures" && k != "Metric" && k != "LastUpdateMetric" {
				c[k] = v
			}
		}
		return c
	}
	return strip(a).Equal(strip(b))
}

// resolve computes every agent's assignments and sends those that changed.
func (m *Manager) resolve(ctx context.Context) {
	m.mu.Lock()
	caps := make([]*v1.Capture, 0, len(m.captures))
	for _, c := range m.captures {
		cp := *c
		caps = append(caps, &cp)
	}
	m.mu.Unlock()
	sort.Slice(caps, func(i, j int) bool { return caps[i].UUID < caps[j].UUID })
	perHost := map[string][]v1.CaptureAssignment{}
	for _, c := range caps {
		q, err := m.engine.Compile(c.GremlinQuery)
		if err != nil {
			continue
		}
		v, err := q.Run(ctx, eval.Env{Graph: m.graph})
		if err != nil {
			m.log.Debug("capture query failed", "capture", c.UUID, "err", err)
			continue
		}
		nodes, ok := v.(eval.Nodes)
		if !ok {
			continue
		}
		for _, n := range nodes {
			if n.Host == "" || !strings.HasPrefix(n.Origin, "agent.") {
				continue // only agents' interfaces can be captured
			}
			perHost[n.Host] = append(perHost[n.Host], v1.CaptureAssignment{NodeID: string(n.ID), Capture: *c})
		}
	}
	for _, host := range m.agents.Hosts() {
		list := perHost[host]
		if list == nil {
			list = []v1.CaptureAssignment{}
		}
		raw, err := json.Marshal(list)
		if err != nil {
			continue
		}
		m.mu.Lock()
		same := m.sent[host] == string(raw)
		m.mu.Unlock()
		if same {
			continue
		}
		if err := m.agents.Send(host, v1.Message{Namespace: v1.NamespaceOnDemandCapture, Type: v1.CaptureSetMsgType, Status: 200, Obj: raw}); err != nil {
			m.log.Warn("send captures to agent", "host", host, "err", err)
			continue
		}
		m.mu.Lock()
		m.sent[host] = string(raw)
		m.mu.Unlock()
		m.log.Debug("captures sent to agent", "host", host, "count", len(list))
	}
}
