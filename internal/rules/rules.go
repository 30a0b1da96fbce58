// Package rules is the analyzer's user topology: node rules that create
// nodes or add metadata to the nodes a Gremlin query selects, and edge rules
// that link the first node of one query to the first node of another. The
// rules are kept in a cluster.Store (a file, or etcd shared by the analyzers
// of a cluster, each applying them to its graph) and re-applied whenever the
// graph changes, so that the nodes appearing later get their metadata and
// edges.
//
// The nodes and edges made by rules are the analyzer's own (its Host and an
// "analyzer." Origin): the agents' resyncs never remove them.
package rules

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
	"github.com/skydive-ng/skydive/internal/cluster"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/resource"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Errors of the resource API.
var (
	ErrNotFound  = resource.NotFound("rule not found")
	ErrDuplicate = resource.Conflict("duplicate rule")
)

// Options configure a Manager.
type Options struct {
	Graph *graph.Graph
	// Host and Origin stamp the nodes and edges the rules make.
	Host, Origin string
	// Store keeps the rules (kinds noderule and edgerule); nil: a file
	// store of File.
	Store cluster.Store
	// File keeps the rules across restarts when Store is nil ("" keeps
	// them in memory), in two sections NodeRules and EdgeRules.
	File string
	// Debounce is the least time between two applications caused by graph
	// changes (default 100ms).
	Debounce time.Duration
	Logger   *slog.Logger
}

// FileRefs are where a file store keeps the rules in file: the two
// sections of one file, as the analyzer always wrote it.
func FileRefs(file string) map[cluster.Kind]cluster.FileRef {
	return map[cluster.Kind]cluster.FileRef{
		cluster.KindNodeRule: {Path: file, Section: "NodeRules"},
		cluster.KindEdgeRule: {Path: file, Section: "EdgeRules"},
	}
}

// Manager keeps the rules and applies them.
type Manager struct {
	opts   Options
	w      *topology.Writer
	engine *eval.Engine
	log    *slog.Logger
	wake   chan struct{}

	// apply serializes the graph writes of the rules (Run's passes and the
	// resource calls).
	apply sync.Mutex
	// creating serializes creations: the duplicate check and the store.
	creating sync.Mutex
	mu       sync.Mutex
	nodes    map[string]*v1.NodeRule
	edges    map[string]*v1.EdgeRule
	// updated: the nodes an update rule has set metadata on.
	updated map[string]map[graph.Identifier]bool
	// linked: the edge an edge rule made.
	linked map[string]graph.Identifier
}

// New loads the rules kept in opts.File.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Store == nil {
		st, err := cluster.NewFileStore(FileRefs(opts.File))
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		opts.Store = st
	}
	m := &Manager{opts: opts, w: &topology.Writer{G: opts.Graph, Host: opts.Host, Origin: opts.Origin},
		engine: eval.NewEngine(eval.Options{}), log: opts.Logger.With("component", "rules"), wake: make(chan struct{}, 1),
		nodes: map[string]*v1.NodeRule{}, edges: map[string]*v1.EdgeRule{},
		updated: map[string]map[graph.Identifier]bool{}, linked: map[string]graph.Identifier{}}
	for _, kind := range []cluster.Kind{cluster.KindNodeRule, cluster.KindEdgeRule} {
		items, _, err := opts.Store.List(context.Background(), kind)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		m.reset(context.Background(), kind, items)
	}
	return m, nil
}

// decode decodes and checks a rule of the store.
func (m *Manager) decode(kind cluster.Kind, id string, raw json.RawMessage) (nr *v1.NodeRule, er *v1.EdgeRule, err error) {
	if kind == cluster.KindNodeRule {
		nr = &v1.NodeRule{}
		if err = json.Unmarshal(raw, nr); err == nil {
			err = m.ValidateNodeRule(nr)
		}
		nr.UUID = id
		return nr, nil, err
	}
	er = &v1.EdgeRule{}
	if err = json.Unmarshal(raw, er); err == nil {
		err = m.ValidateEdgeRule(er)
	}
	er.UUID = id
	return nil, er, err
}

// reset makes the rules of kind those of items: the others are undone.
func (m *Manager) reset(ctx context.Context, kind cluster.Kind, items map[string]json.RawMessage) {
	m.mu.Lock()
	var gone []string
	if kind == cluster.KindNodeRule {
		for id := range m.nodes {
			if _, ok := items[id]; !ok {
				gone = append(gone, id)
			}
		}
	} else {
		for id := range m.edges {
			if _, ok := items[id]; !ok {
				gone = append(gone, id)
			}
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.storeChanged(ctx, cluster.Event{Type: cluster.EventDelete, Kind: kind, ID: id})
	}
	for id, raw := range items {
		m.storeChanged(ctx, cluster.Event{Type: cluster.EventPut, Kind: kind, ID: id, Value: raw})
	}
}

// storeChanged applies a change of the store, made here or by another
// analyzer: a new rule is applied soon, a removed one undone.
func (m *Manager) storeChanged(ctx context.Context, ev cluster.Event) {
	if ev.Type == cluster.EventDelete {
		var err error
		if ev.Kind == cluster.KindNodeRule {
			err = m.forgetNodeRule(ctx, ev.ID)
		} else {
			err = m.forgetEdgeRule(ev.ID)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			m.log.Warn("rule removal", "rule", ev.ID, "err", err)
		}
		return
	}
	nr, er, err := m.decode(ev.Kind, ev.ID, ev.Value)
	if err != nil {
		m.log.Warn("stored rule ignored", "kind", ev.Kind, "rule", ev.ID, "err", err)
		return
	}
	m.mu.Lock()
	if nr != nil {
		if _, ok := m.nodes[ev.ID]; !ok {
			m.nodes[ev.ID] = nr
		}
	} else if _, ok := m.edges[ev.ID]; !ok {
		m.edges[ev.ID] = er
	}
	m.mu.Unlock()
	m.Wake()
}

// checkQuery compiles a query that must select nodes.
func (m *Manager) checkQuery(field, q string) error {
	if strings.TrimSpace(q) == "" {
		return resource.Invalidf("%s: required, e.g. G.V().Has('Name', 'eth0')", field)
	}
	cq, err := m.engine.Compile(q)
	if err != nil {
		return resource.Invalidf("%s: %v", field, err)
	}
	if k := cq.Kind(); k != eval.KindNodes && k != eval.KindAny {
		return resource.Invalidf("%s: must select nodes, this query gives %s", field, k)
	}
	return nil
}

// ValidateNodeRule fills the defaults of r (Action create) and checks it;
// errors are resource.Invalid naming the field.
func (m *Manager) ValidateNodeRule(r *v1.NodeRule) error {
	if r.Action == "" {
		r.Action = v1.NodeRuleCreate
	}
	if len(r.Metadata) == 0 {
		return resource.Invalidf("Metadata: required")
	}
	switch r.Action {
	case v1.NodeRuleCreate:
		for _, k := range []string{graph.KeyName, graph.KeyType} {
			if s, _ := r.Metadata[k].(string); s == "" {
				return resource.Invalidf("Metadata: Name and Type fields are required to create a node (no %s)", k)
			}
		}
		if r.Query != "" {
			return resource.Invalidf("Query: only for the update action")
		}
	case v1.NodeRuleUpdate:
		for _, k := range []string{graph.KeyName, graph.KeyType} {
			if _, ok := r.Metadata[k]; ok {
				return resource.Invalidf("Metadata: Name and Type fields can not be changed")
			}
		}
		if err := m.checkQuery("Query", r.Query); err != nil {
			return err
		}
	default:
		return resource.Invalidf("Action: %q must be create or update", r.Action)
	}
	return nil
}

// ValidateEdgeRule checks r; errors are resource.Invalid naming the field.
func (m *Manager) ValidateEdgeRule(r *v1.EdgeRule) error {
	if err := m.checkQuery("Src", r.Src); err != nil {
		return err
	}
	if err := m.checkQuery("Dst", r.Dst); err != nil {
		return err
	}
	if s, _ := r.Metadata[graph.KeyRelationType].(string); s == "" {
		return resource.Invalidf("Metadata: RelationType is required")
	}
	return nil
}

// nodeID is the ID of the node a create rule makes.
func nodeID(r *v1.NodeRule) graph.Identifier {
	return topology.GenID(r.Metadata[graph.KeyType].(string), r.Metadata[graph.KeyName].(string))
}

// CreateNodeRule validates and stores r; a create rule's node exists when it
// returns, an update rule is applied soon.
func (m *Manager) CreateNodeRule(ctx context.Context, r *v1.NodeRule) (*v1.NodeRule, error) {
	if err := m.ValidateNodeRule(r); err != nil {
		return nil, err
	}
	cp := *r
	cp.Metadata = graph.Metadata(r.Metadata).Clone()
	cp.UUID = uuid.NewString()
	m.creating.Lock()
	defer m.creating.Unlock()
	m.mu.Lock()
	if cp.Action == v1.NodeRuleCreate {
		for _, o := range m.nodes {
			if o.Action == v1.NodeRuleCreate && nodeID(o) == nodeID(&cp) {
				m.mu.Unlock()
				return nil, fmt.Errorf("%w: node rule %s creates the same node", ErrDuplicate, o.UUID)
			}
		}
	}
	m.mu.Unlock()
	if err := m.opts.Store.Put(ctx, cluster.KindNodeRule, cp.UUID, &cp); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	m.mu.Lock()
	m.nodes[cp.UUID] = &cp
	m.mu.Unlock()
	if cp.Action == v1.NodeRuleCreate {
		m.apply.Lock()
		err := m.createNode(&cp)
		m.apply.Unlock()
		if err != nil {
			return nil, fmt.Errorf("rules: create node: %w", err)
		}
	}
	m.Wake()
	out := cp
	return &out, nil
}

// EdgeRule stores an edge rule, applied soon.
func (m *Manager) CreateEdgeRule(r *v1.EdgeRule) (*v1.EdgeRule, error) {
	if err := m.ValidateEdgeRule(r); err != nil {
		return nil, err
	}
	cp := *r
	cp.Metadata = graph.Metadata(r.Metadata).Clone()
	cp.UUID = uuid.NewString()
	if err := m.opts.Store.Put(context.Background(), cluster.KindEdgeRule, cp.UUID, &cp); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	m.mu.Lock()
	m.edges[cp.UUID] = &cp
	m.mu.Unlock()
	m.Wake()
	out := cp
	return &out, nil
}

// DeleteNodeRule removes a rule and undoes it: the node of a create rule is
// deleted, the keys of an update rule are removed from the nodes it set.
func (m *Manager) DeleteNodeRule(ctx context.Context, id string) error {
	m.mu.Lock()
	_, ok := m.nodes[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: node rule %s", ErrNotFound, id)
	}
	if err := m.opts.Store.Delete(ctx, cluster.KindNodeRule, id); err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return fmt.Errorf("rules: %w", err)
	}
	return forgotten(m.forgetNodeRule(ctx, id))
}

// forgotten is the error of undoing a rule just deleted from the store:
// the store's delete event may have undone it first (storeChanged), which
// is no failure of the deletion.
func forgotten(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// forgetNodeRule undoes a node rule that left the store.
func (m *Manager) forgetNodeRule(ctx context.Context, id string) error {
	m.apply.Lock()
	defer m.apply.Unlock()
	m.mu.Lock()
	r, ok := m.nodes[id]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: node rule %s", ErrNotFound, id)
	}
	delete(m.nodes, id)
	touched := m.updated[id]
	delete(m.updated, id)
	m.mu.Unlock()
	switch r.Action {
	case v1.NodeRuleCreate:
		if derr := m.opts.Graph.DeleteNode(nodeID(r)); derr != nil && !errors.Is(derr, graph.ErrNodeNotFound) {
			return derr
		}
	case v1.NodeRuleUpdate:
		ids := map[graph.Identifier]bool{}
		for n := range touched {
			ids[n] = true
		}
		for _, n := range m.queryNodes(ctx, r.Query) {
			ids[n.ID] = true
		}
		for n := range ids {
			_ = m.opts.Graph.UpdateNodeMetadata(n, func(cur graph.Metadata) bool {
				changed := false
				for k := range r.Metadata {
					if _, ok := cur[k]; ok {
						delete(cur, k)
						changed = true
					}
				}
				return changed
			})
		}
	}
	return nil
}

// DeleteEdgeRule removes a rule and the edge it made.
func (m *Manager) DeleteEdgeRule(id string) error {
	m.mu.Lock()
	_, ok := m.edges[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: edge rule %s", ErrNotFound, id)
	}
	if err := m.opts.Store.Delete(context.Background(), cluster.KindEdgeRule, id); err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return fmt.Errorf("rules: %w", err)
	}
	return forgotten(m.forgetEdgeRule(id))
}

// forgetEdgeRule undoes an edge rule that left the store.
func (m *Manager) forgetEdgeRule(id string) error {
	m.apply.Lock()
	defer m.apply.Unlock()
	m.mu.Lock()
	if _, ok := m.edges[id]; !ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: edge rule %s", ErrNotFound, id)
	}
	delete(m.edges, id)
	eid, made := m.linked[id]
	delete(m.linked, id)
	m.mu.Unlock()
	if made {
		_ = m.opts.Graph.DeleteEdge(eid)
	}
	return nil
}

// NodeRule returns a node rule.
func (m *Manager) NodeRule(id string) (*v1.NodeRule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.nodes[id]
	if !ok {
		return nil, fmt.Errorf("%w: node rule %s", ErrNotFound, id)
	}
	cp := *r
	return &cp, nil
}

// EdgeRule returns an edge rule.
func (m *Manager) EdgeRule(id string) (*v1.EdgeRule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.edges[id]
	if !ok {
		return nil, fmt.Errorf("%w: edge rule %s", ErrNotFound, id)
	}
	cp := *r
	return &cp, nil
}

// NodeRules returns every node rule keyed by UUID.
func (m *Manager) NodeRules() map[string]*v1.NodeRule {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*v1.NodeRule, len(m.nodes))
	for id, r := range m.nodes {
		cp := *r
		out[id] = &cp
	}
	return out
}

// EdgeRules returns every edge rule keyed by UUID.
func (m *Manager) EdgeRules() map[string]*v1.EdgeRule {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*v1.EdgeRule, len(m.edges))
	for id, r := range m.edges {
		cp := *r
		out[id] = &cp
	}
	return out
}

// Wake asks for an application of the rules soon.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run applies the rules when the graph or the rules change, at most every
// Debounce, until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	var follow sync.WaitGroup
	defer follow.Wait()
	for _, kind := range []cluster.Kind{cluster.KindNodeRule, cluster.KindEdgeRule} {
		follow.Add(1)
		go func() {
			defer follow.Done()
			cluster.Follow(ctx, m.opts.Store, kind, m.log,
				func(items map[string]json.RawMessage) { m.reset(ctx, kind, items) },
				func(ev cluster.Event) { m.storeChanged(ctx, ev) })
		}()
	}
	// The listener runs under the graph's lock: it only pokes.
	remove := m.opts.Graph.AddListener(func(graph.Event) { m.Wake() })
	defer remove()
	m.Wake()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		}
		m.Apply(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(m.opts.Debounce):
		}
	}
}

// Apply makes the graph follow every rule once: create rules' nodes exist,
// update rules' metadata is on the nodes their query selects, edge rules'
// edges link their nodes. It writes only what differs, so that its own
// changes do not make it loop.
func (m *Manager) Apply(ctx context.Context) {
	m.apply.Lock()
	defer m.apply.Unlock()
	m.mu.Lock()
	nodes := make([]*v1.NodeRule, 0, len(m.nodes))
	for _, r := range m.nodes {
		nodes = append(nodes, r)
	}
	edges := make([]*v1.EdgeRule, 0, len(m.edges))
	for _, r := range m.edges {
		edges = append(edges, r)
	}
	m.mu.Unlock()
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].UUID < nodes[j].UUID })
	sort.Slice(edges, func(i, j int) bool { return edges[i].UUID < edges[j].UUID })
	// Creations first: update and edge rules may select the created nodes.
	for _, r := range nodes {
		if r.Action != v1.NodeRuleCreate {
			continue
		}
		if n := m.opts.Graph.Node(nodeID(r)); n == nil || n.Origin != m.opts.Origin {
			if err := m.createNode(r); err != nil {
				m.log.Warn("node rule: create node", "rule", r.UUID, "err", err)
			}
		}
	}
	for _, r := range nodes {
		if r.Action == v1.NodeRuleUpdate {
			m.updateNodes(ctx, r)
		}
	}
	for _, r := range edges {
		m.link(ctx, r)
	}
}

func (m *Manager) createNode(r *v1.NodeRule) error {
	id := nodeID(r)
	if n := m.opts.Graph.Node(id); n != nil && n.Origin != m.opts.Origin {
		// Another analyzer's copy of the node (cluster): this analyzer
		// applies the rule too and makes the node its own, so that it
		// outlives that analyzer.
		return m.opts.Graph.ReplaceNode(&graph.Node{Element: graph.Element{ID: id, Metadata: graph.Metadata(r.Metadata).Clone(),
			Host: m.opts.Host, Origin: m.opts.Origin}})
	}
	return m.w.AddNode(id, graph.Metadata(r.Metadata).Clone())
}

func (m *Manager) updateNodes(ctx context.Context, r *v1.NodeRule) {
	want := graph.NormalizeMetadata(graph.Metadata(r.Metadata).Clone())
	for _, n := range m.queryNodes(ctx, r.Query) {
		differs := false
		for k, v := range want {
			if !(graph.Metadata{k: n.Metadata[k]}).Equal(graph.Metadata{k: v}) {
				differs = true
				break
			}
		}
		if differs {
			err := m.opts.Graph.UpdateNodeMetadata(n.ID, func(cur graph.Metadata) bool {
				for k, v := range want.Clone() {
					cur[k] = v
				}
				return true
			})
			if err != nil {
				continue // deleted meanwhile
			}
		}
		m.mu.Lock()
		if _, live := m.nodes[r.UUID]; live {
			if m.updated[r.UUID] == nil {
				m.updated[r.UUID] = map[graph.Identifier]bool{}
			}
			m.updated[r.UUID][n.ID] = true
		}
		m.mu.Unlock()
	}
}

func (m *Manager) link(ctx context.Context, r *v1.EdgeRule) {
	rel, _ := r.Metadata[graph.KeyRelationType].(string)
	var want graph.Identifier
	src, dst := m.queryNodes(ctx, r.Src), m.queryNodes(ctx, r.Dst)
	if len(src) > 0 && len(dst) > 0 {
		want = topology.EdgeID(src[0].ID, dst[0].ID, rel)
	}
	m.mu.Lock()
	had, made := m.linked[r.UUID]
	m.mu.Unlock()
	if made && had != want {
		_ = m.opts.Graph.DeleteEdge(had)
		m.mu.Lock()
		delete(m.linked, r.UUID)
		m.mu.Unlock()
	}
	if want == "" {
		return
	}
	extra := graph.Metadata(r.Metadata).Clone()
	delete(extra, graph.KeyRelationType)
	if _, err := m.w.Link(src[0].ID, dst[0].ID, rel, extra); err != nil {
		m.log.Warn("edge rule: link", "rule", r.UUID, "err", err)
		return
	}
	m.mu.Lock()
	m.linked[r.UUID] = want
	m.mu.Unlock()
}

// queryNodes runs a query on the live graph; errors select nothing.
func (m *Manager) queryNodes(ctx context.Context, q string) eval.Nodes {
	cq, err := m.engine.Compile(q)
	if err != nil {
		return nil
	}
	v, err := cq.Run(ctx, eval.Env{Graph: m.opts.Graph})
	if err != nil {
		m.log.Debug("rule query failed", "query", q, "err", err)
		return nil
	}
	nodes, _ := v.(eval.Nodes)
	return nodes
}
