package flowstore

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
)

// Defaults of MemoryOptions.
const (
	DefaultMaxFlows   = 500000
	DefaultRetention  = time.Hour
	DefaultMaxMetrics = 1440 // 24 h of 60 s updates
)

// MemoryOptions configure a Memory store. Zero values take the defaults.
type MemoryOptions struct {
	// MaxFlows bounds the number of flows kept; the least recently
	// updated ones go first (DefaultMaxFlows).
	MaxFlows int
	// Retention is how long a flow is kept after its last update was
	// received (DefaultRetention).
	Retention time.Duration
	// MaxMetrics bounds the LastUpdateMetric history of a flow
	// (DefaultMaxMetrics); the oldest entries go first.
	MaxMetrics int
	// MaxRawPackets bounds the raw packets kept per flow
	// (rawpacket.MaxLimit).
	MaxRawPackets int
	// Expire and Hold define the flows alive now (Query.Window nil): a
	// flow not ended whose last packet is younger than Expire
	// (flow.DefaultExpire), or ended by FIN/RST less than Hold ago
	// (flow.DefaultHold).
	Expire, Hold time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

type record struct {
	f       *flow.Flow
	metrics []flow.Metric
	raw     []rawpacket.Packet
	seen    int64 // ms, store clock, last insert
}

// Memory is an in-memory Store.
type Memory struct {
	opts MemoryOptions

	mu        sync.RWMutex
	closed    bool
	flows     map[string]*record
	byNode    map[string]map[string]*record
	nMetrics  int
	evicted   int64
	lastSweep int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = DefaultMaxFlows
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxMetrics <= 0 {
		opts.MaxMetrics = DefaultMaxMetrics
	}
	if opts.MaxRawPackets <= 0 {
		opts.MaxRawPackets = rawpacket.MaxLimit
	}
	if opts.Expire <= 0 {
		opts.Expire = flow.DefaultExpire
	}
	if opts.Hold <= 0 {
		opts.Hold = flow.DefaultHold
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{opts: opts, flows: map[string]*record{}, byNode: map[string]map[string]*record{}}
}

// Insert implements Store.
func (m *Memory) Insert(ctx context.Context, flows []*flow.Flow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := m.opts.Now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, f := range flows {
		if f == nil || f.UUID == "" {
			continue
		}
		r := m.flows[f.UUID]
		if r == nil {
			r = &record{}
			m.flows[f.UUID] = r
			idx := m.byNode[f.NodeTID]
			if idx == nil {
				idx = map[string]*record{}
				m.byNode[f.NodeTID] = idx
			}
			idx[f.UUID] = r
		}
		r.f, r.seen = f, now
		if lu := f.LastUpdateMetric; lu != nil {
			n := len(r.metrics)
			if n == 0 || r.metrics[n-1].Start != lu.Start || r.metrics[n-1].Last != lu.Last {
				if n >= m.opts.MaxMetrics {
					drop := n - m.opts.MaxMetrics + 1
					r.metrics = append(r.metrics[:0], r.metrics[drop:]...)
					m.nMetrics -= drop
				}
				r.metrics = append(r.metrics, *lu)
				m.nMetrics++
			}
		}
	}
	m.evictLocked(now)
	return nil
}

// evictLocked applies retention (at most every Retention/16) and the size
// bound (with 1/16 slack so that eviction is amortised).
func (m *Memory) evictLocked(now int64) {
	ret := m.opts.Retention.Milliseconds()
	if now-m.lastSweep >= max(ret/16, 1) {
		m.lastSweep = now
		for id, r := range m.flows {
			if now-r.seen > ret {
				m.removeLocked(id, r)
			}
		}
	}
	if len(m.flows) <= m.opts.MaxFlows+m.opts.MaxFlows/16 {
		return
	}
	rs := make([]*record, 0, len(m.flows))
	for _, r := range m.flows {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b *record) int {
		return cmp.Or(cmp.Compare(a.seen, b.seen), cmp.Compare(a.f.Last, b.f.Last), cmp.Compare(a.f.UUID, b.f.UUID))
	})
	for _, r := range rs[:len(rs)-m.opts.MaxFlows] {
		m.removeLocked(r.f.UUID, r)
	}
}

func (m *Memory) removeLocked(id string, r *record) {
	delete(m.flows, id)
	if idx := m.byNode[r.f.NodeTID]; idx != nil {
		delete(idx, id)
		if len(idx) == 0 {
			delete(m.byNode, r.f.NodeTID)
		}
	}
	m.nMetrics -= len(r.metrics)
	m.evicted++
}

// InsertRawPackets implements Store. Packets of flows the store does not
// know are dropped: insert the flows first.
func (m *Memory) InsertRawPackets(ctx context.Context, pkts map[string][]rawpacket.Packet) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for id, ps := range pkts {
		r := m.flows[id]
		if r == nil {
			continue
		}
		for _, p := range ps {
			if len(r.raw) >= m.opts.MaxRawPackets {
				break
			}
			if slices.ContainsFunc(r.raw, func(q rawpacket.Packet) bool { return q.Index == p.Index }) {
				continue
			}
			r.raw = append(r.raw, p)
		}
	}
	return nil
}

func (m *Memory) alive(f *flow.Flow, now int64) bool {
	idle := now - f.Last
	switch f.FinishType {
	case flow.NotFinished:
		return idle < m.opts.Expire.Milliseconds()
	case flow.TCPFin, flow.TCPRst:
		return idle < m.opts.Hold.Milliseconds()
	}
	return false
}

// Flows implements Store.
func (m *Memory) Flows(ctx context.Context, q Query) ([]*flow.Flow, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.opts.Now().UnixMilli()
	var captures map[string]struct{}
	if len(q.CaptureIDs) > 0 {
		captures = make(map[string]struct{}, len(q.CaptureIDs))
		for _, c := range q.CaptureIDs {
			captures[c] = struct{}{}
		}
	}
	var w0, w1 int64
	if q.Window != nil {
		w0, w1 = q.Window.From.UnixMilli(), q.Window.To.UnixMilli()
	}
	var out []*flow.Flow
	keep := func(r *record) {
		f := r.f
		if q.Window != nil {
			if f.Start > w1 || f.Last < w0 {
				return
			}
		} else if !m.alive(f, now) {
			return
		}
		if captures != nil {
			if _, ok := captures[f.CaptureID]; !ok {
				return
			}
		}
		if q.Filter != nil && !q.Filter(f) {
			return
		}
		out = append(out, f)
	}

	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	n := 0
	if len(q.NodeTIDs) > 0 {
		for _, tid := range dedupStrings(q.NodeTIDs) {
			for _, r := range m.byNode[tid] {
				if n++; n&1023 == 0 && ctx.Err() != nil {
					m.mu.RUnlock()
					return nil, ctx.Err()
				}
				keep(r)
			}
		}
	} else {
		for _, r := range m.flows {
			if n++; n&1023 == 0 && ctx.Err() != nil {
				m.mu.RUnlock()
				return nil, ctx.Err()
			}
			keep(r)
		}
	}
	m.mu.RUnlock()

	slices.SortFunc(out, func(a, b *flow.Flow) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.UUID, b.UUID))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit:q.Limit]
	}
	return out, nil
}

func dedupStrings(s []string) []string {
	if len(s) < 2 {
		return s
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// Metrics implements Store.
func (m *Memory) Metrics(ctx context.Context, uuids []string, w *Window) (map[string][]flow.Metric, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string][]flow.Metric, len(uuids))
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	for _, id := range uuids {
		r := m.flows[id]
		if r == nil {
			continue
		}
		var ms []flow.Metric
		for _, x := range r.metrics {
			if w == nil || w.Contains(x.Start, x.Last) {
				ms = append(ms, x)
			}
		}
		if len(ms) > 0 {
			slices.SortStableFunc(ms, func(a, b flow.Metric) int { return cmp.Compare(a.Start, b.Start) })
			out[id] = ms
		}
	}
	return out, nil
}

// RawPackets implements Store.
func (m *Memory) RawPackets(ctx context.Context, uuids []string) (map[string][]rawpacket.Packet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string][]rawpacket.Packet, len(uuids))
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	for _, id := range uuids {
		if r := m.flows[id]; r != nil && len(r.raw) > 0 {
			out[id] = slices.Clone(r.raw)
		}
	}
	return out, nil
}

// Stats implements Store.
func (m *Memory) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Flows: len(m.flows), Metrics: m.nMetrics, Evicted: m.evicted}
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.flows, m.byNode = map[string]*record{}, map[string]map[string]*record{}
	return nil
}
