// Package utilisation is the analyzer's probe that writes each interface's
// Utilisation: {"Rx": percent, "Tx": percent} of its Speed (Mb/s), from the
// bytes of its counters over the last update (LastUpdateMetric, which the
// agents' netlink probe writes with its Start and Last in milliseconds). It
// runs on the analyzer, where the node rules are applied: a rule's Speed (a
// veth always says 10000) is the one used.
//
// It follows the changes of LastUpdateMetric, Speed and Utilisation (an
// agent's update of a node replaces its metadata, the analyzer's keys with
// it); it writes only a Utilisation that differs, computed from the other
// two, so that its own writes do not make it loop.
package utilisation

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/topology"
)

// Metadata keys.
const (
	// KeyUtilisation is the key written: {"Rx": percent, "Tx": percent}.
	KeyUtilisation = "Utilisation"
	// KeySpeed is the interface's speed in Mb/s.
	KeySpeed = "Speed"
)

// Probe keeps the nodes' Utilisation.
type Probe struct {
	g *graph.Graph
	// Delay is how long after a change the nodes are computed: the node
	// rules write their Speed again within it after an agent's update
	// (default 100ms).
	Delay time.Duration

	mu    sync.Mutex
	dirty map[graph.Identifier]bool
	wake  chan struct{}
}

// New returns the probe of the analyzer's graph g.
func New(g *graph.Graph) *Probe {
	return &Probe{g: g, Delay: 100 * time.Millisecond,
		dirty: map[graph.Identifier]bool{}, wake: make(chan struct{}, 1)}
}

// Run keeps the Utilisation until ctx ends (it stays on the nodes).
func (p *Probe) Run(ctx context.Context) error {
	// The listener runs under the graph's lock: it only notes the node.
	remove := p.g.AddListener(func(ev graph.Event) {
		if ev.Type == graph.NodeDeleted || !topology.Touches(ev, topology.KeyLastMetric, KeySpeed, KeyUtilisation) {
			return
		}
		p.mu.Lock()
		p.dirty[ev.Node.ID] = true
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
	})
	defer remove()
	for _, n := range p.g.Nodes() {
		p.update(n.ID)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.Delay):
		}
		p.mu.Lock()
		ids := p.dirty
		p.dirty = map[graph.Identifier]bool{}
		p.mu.Unlock()
		for id := range ids {
			p.update(id)
		}
	}
}

// update writes the Utilisation of one node if it differs (removes it
// when it can no longer be computed).
func (p *Probe) update(id graph.Identifier) {
	n := p.g.Node(id)
	if n == nil {
		return
	}
	want, ok := Compute(n.Metadata)
	cur, has := n.Metadata[KeyUtilisation]
	if !ok && !has {
		return
	}
	if ok && has && (graph.Metadata{KeyUtilisation: cur}).Equal(graph.Metadata{KeyUtilisation: want}) {
		return
	}
	_ = p.g.UpdateNodeMetadata(id, func(m graph.Metadata) bool {
		want, ok := Compute(m) // as of now
		if !ok {
			_, had := m[KeyUtilisation]
			delete(m, KeyUtilisation)
			return had
		}
		m[KeyUtilisation] = want
		return true // the graph makes no revision when nothing changed
	})
}

// Compute is the Utilisation of an interface's metadata: the bytes of
// LastUpdateMetric over its time span, in percent of Speed (Mb/s), rounded
// to the hundredth; false without a positive Speed or a span.
func Compute(m graph.Metadata) (map[string]any, bool) {
	speed, ok := number(m[KeySpeed])
	if !ok || speed <= 0 {
		return nil, false
	}
	last, ok := m[topology.KeyLastMetric].(map[string]any)
	if !ok {
		if gm, isMD := m[topology.KeyLastMetric].(graph.Metadata); isMD {
			last, ok = map[string]any(gm), true
		}
	}
	if !ok {
		return nil, false
	}
	start, ok1 := number(last["Start"])
	end, ok2 := number(last["Last"])
	if !ok1 || !ok2 || end <= start {
		return nil, false
	}
	capacity := speed * 1e6 / 8 * (end - start) / 1000 // bytes the span could carry
	pct := func(key string) float64 {
		b, _ := number(last[key]) // zero counters are omitted
		return math.Round(b/capacity*100*100) / 100
	}
	return map[string]any{"Rx": pct("RxBytes"), "Tx": pct("TxBytes")}, true
}

// number reads a metadata number (a node rule's may be a string).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}
