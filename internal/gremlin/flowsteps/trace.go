package flowsteps

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/skydive-ng/skydive/internal/capture"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
)

// KindTraces is the kind of Trace()'s result.
const KindTraces eval.Kind = "traces"

// GapFinder tells why flow answers over a time window may be short of
// packets for reasons the flows themselves cannot show: an agent that was
// disconnected, a store that refused writes. The analyzer implements it.
type GapFinder interface {
	// Gaps returns the reasons, in plain words, that concern the given
	// hosts (every host when hosts is empty) in [from, to].
	Gaps(from, to time.Time, hosts []string) []string
}

// Counts are the packets and bytes of one direction of a flow at one hop.
type Counts struct {
	Packets int64 `json:"Packets"`
	Bytes   int64 `json:"Bytes"`
}

// TraceTunnel is the outer flow that carried a hop's flow inside a tunnel:
// the trace follows the underlay through it.
type TraceTunnel struct {
	UUID         string `json:"UUID"`
	LayersPath   string `json:"LayersPath"`
	A            string `json:"A"`
	B            string `json:"B"`
	ID           int64  `json:"ID,omitempty"` // VNI, GRE key ...
	L3TrackingID string `json:"L3TrackingID,omitempty"`
	AB           Counts `json:"AB"`
	BA           Counts `json:"BA"`
}

// TraceHop is a place where the traced flow was captured. AB and BA are
// oriented as the trace's first hop sees them, whatever the capture there
// took for A.
type TraceHop struct {
	Node     string       `json:"Node"` // TID
	Name     string       `json:"Name"`
	Host     string       `json:"Host"`
	Type     string       `json:"Type,omitempty"`
	FlowUUID string       `json:"FlowUUID"`
	AB       Counts       `json:"AB"`
	BA       Counts       `json:"BA"`
	Tunnel   *TraceTunnel `json:"Tunnel,omitempty"`
}

// TraceLoss is packets seen at one hop and not at the next one in their
// direction. Via names what lies between the two hops on the topology
// (every node of a shortest path), where the packets were lost.
type TraceLoss struct {
	From      string   `json:"From"`
	To        string   `json:"To"`
	FromHost  string   `json:"FromHost"`
	ToHost    string   `json:"ToHost"`
	FromNode  string   `json:"FromNode"`
	ToNode    string   `json:"ToNode"`
	Direction string   `json:"Direction"` // AB or BA
	Lost      int64    `json:"Lost"`
	Of        int64    `json:"Of"`
	Via       []string `json:"Via"`
}

// Trace is the path of one flow (one TrackingID) through the captures
// that saw it, with the losses between them.
type Trace struct {
	TrackingID string      `json:"TrackingID"`
	Hops       []TraceHop  `json:"Hops"`
	Loss       []TraceLoss `json:"Loss"`
	Incomplete []string    `json:"Incomplete"`
}

// Traces are Trace()'s answers, one per TrackingID; JSON array.
type Traces []Trace

// Kind implements eval.Value.
func (Traces) Kind() eval.Kind { return KindTraces }

// MarshalJSON writes [] when empty.
func (t Traces) MarshalJSON() ([]byte, error) {
	if len(t) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]Trace(t))
}

func compileTrace(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		fs := v.(Flows)
		src, _ := sourceOf(r.Env.Flows)
		q, _, _ := resolve(r.Env.Flows)
		t := tracer{ctx: r.Ctx, view: r.View, hist: r.Env.History, flows: q, gaps: src.Gaps, timed: isTimed(r.Env.Flows)}
		out := Traces{}
		for _, group := range byTrackingID(fs) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			out = append(out, t.trace(group))
		}
		return out, nil
	}, KindTraces, nil
}

func isTimed(v any) bool { _, ok := v.(*timed); return ok }

// byTrackingID groups flows by TrackingID, in the order of their first
// flow; flows without one are traces of their own.
func byTrackingID(fs Flows) [][]*flow.Flow {
	var groups [][]*flow.Flow
	index := map[string]int{}
	for _, f := range fs {
		if f.TrackingID == "" {
			groups = append(groups, []*flow.Flow{f})
			continue
		}
		i, ok := index[f.TrackingID]
		if !ok {
			i = len(groups)
			index[f.TrackingID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], f)
	}
	return groups
}

type tracer struct {
	ctx   context.Context
	view  graph.View
	hist  eval.History
	flows Querier
	gaps  GapFinder
	timed bool
	live  *paths // the query's view read once for all the run's traces
}

// hop is a TraceHop being built, with what ordering needs.
type hop struct {
	TraceHop
	flow *flow.Flow
	node *graph.Node
}

func (t *tracer) trace(group []*flow.Flow) Trace {
	tr := Trace{TrackingID: group[0].TrackingID, Hops: []TraceHop{}, Loss: []TraceLoss{}, Incomplete: []string{}}
	hops := onePerNode(group)
	ref := hops[0].flow // the earliest: its A is the trace's A
	from, to := window(group)
	p := t.viewFor(hops, ref, from)
	for i := range hops {
		h := &hops[i]
		t.fill(h, ref, p.ix)
		if h.node == nil {
			tr.Incomplete = append(tr.Incomplete, fmt.Sprintf("the node %s that captured flow %s is not in the topology", h.Node, h.FlowUUID))
		}
	}
	if why := p.order(hops, ref); why != "" {
		tr.Incomplete = append(tr.Incomplete, why)
	}
	for i := range hops {
		tr.Hops = append(tr.Hops, hops[i].TraceHop)
	}
	// The hosts the flow crossed: its captures' and its two ends'; an agent
	// of one of them away during the flow leaves counts short there.
	var hosts []string
	addHost := func(h string) {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, h := range hops {
		addHost(h.Host)
	}
	if ref.Network != nil {
		for _, addr := range []string{ref.Network.A, ref.Network.B} {
			if n := p.owner(addr); n != nil {
				addHost(n.Host)
			}
		}
	}
	away := map[string]bool{}
	var gaps []string
	if t.gaps != nil {
		for _, h := range hosts {
			if g := t.gaps.Gaps(from, to, []string{h}); len(g) > 0 {
				away[h] = true
				gaps = append(gaps, g...)
			}
		}
	}
	tr.Loss, tr.Incomplete = p.losses(hops, away, tr.Incomplete)
	if len(hops) < 2 {
		tr.Incomplete = append(tr.Incomplete, "the flow was captured at one place only: capture along its path to locate losses")
	}
	tr.Incomplete = append(tr.Incomplete, captureGaps(hops)...)
	if t.gaps != nil {
		// What concerns no host in particular (the store's losses) too.
		for _, g := range t.gaps.Gaps(from, to, hosts) {
			if !slices.Contains(gaps, g) {
				gaps = append(gaps, g)
			}
		}
	}
	tr.Incomplete = append(tr.Incomplete, gaps...)
	return tr
}

// onePerNode keeps, for each capturing node, the flow with the most
// packets (two captures on one interface see the same packets), earliest
// first.
func onePerNode(group []*flow.Flow) []hop {
	best := map[string]*flow.Flow{}
	var keys []string
	for _, f := range group {
		k := f.NodeTID
		if k == "" {
			k = "uuid:" + f.UUID
		}
		b, ok := best[k]
		if !ok {
			keys = append(keys, k)
		}
		if !ok || packets(f) > packets(b) {
			best[k] = f
		}
	}
	hops := make([]hop, 0, len(keys))
	for _, k := range keys {
		f := best[k]
		hops = append(hops, hop{TraceHop: TraceHop{Node: f.NodeTID, FlowUUID: f.UUID}, flow: f})
	}
	slices.SortStableFunc(hops, func(a, b hop) int {
		return cmp.Or(cmp.Compare(a.flow.Start, b.flow.Start), cmp.Compare(a.flow.UUID, b.flow.UUID))
	})
	return hops
}

func packets(f *flow.Flow) int64 {
	if f.Metric == nil {
		return 0
	}
	return f.Metric.ABPackets + f.Metric.BAPackets
}

// viewFor returns the graph to place the hops on: the query's, unless a
// hop's node or an end's interface has left it (its agent gone) and
// history has the graph as it was when the flow began.
func (t *tracer) viewFor(hops []hop, ref *flow.Flow, from time.Time) *paths {
	if t.live == nil {
		t.live = newPaths(t.view)
	}
	if t.timed || t.hist == nil {
		return t.live
	}
	missing := false
	for _, h := range hops {
		if len(t.live.ix.byTID[h.Node]) == 0 && h.Node != "" {
			missing = true
		}
	}
	if ref.Network != nil && (t.live.owner(ref.Network.A) == nil || t.live.owner(ref.Network.B) == nil) {
		missing = true
	}
	if !missing {
		return t.live
	}
	return newPaths(t.hist.At(from))
}

// fill sets a hop's node, names and counts, oriented as ref.
func (t *tracer) fill(h *hop, ref *flow.Flow, ix *nodeIndex) {
	f := h.flow
	if ns := ix.byTID[f.NodeTID]; len(ns) > 0 {
		h.node = ns[0]
		h.Name = h.node.Metadata.String("Name")
		h.Type = h.node.Metadata.String("Type")
		h.Host = h.node.Host
	}
	if h.Name == "" {
		h.Name = f.NodeTID
	}
	h.AB, h.BA = oriented(f, ref)
	if f.ParentUUID != "" && t.flows != nil {
		if outer := t.outer(f.ParentUUID); outer != nil {
			tun := &TraceTunnel{UUID: outer.UUID, LayersPath: outer.LayersPath, L3TrackingID: outer.L3TrackingID}
			if outer.Network != nil {
				tun.A, tun.B, tun.ID = outer.Network.A, outer.Network.B, outer.Network.ID
			}
			if outer.Metric != nil {
				tun.AB = Counts{outer.Metric.ABPackets, outer.Metric.ABBytes}
				tun.BA = Counts{outer.Metric.BAPackets, outer.Metric.BABytes}
			}
			h.Tunnel = tun
		}
	}
}

func (t *tracer) outer(uuid string) *flow.Flow {
	fs, err := t.flows.Flows(t.ctx, flowstore.Query{Filter: func(f *flow.Flow) bool { return f.UUID == uuid }, Limit: 1})
	if err != nil || len(fs) == 0 {
		return nil
	}
	return fs[0]
}

// oriented returns f's AB and BA counts with A being ref's A: a capture
// whose first packet went the other way has its sides swapped.
func oriented(f, ref *flow.Flow) (ab, ba Counts) {
	if f.Metric == nil {
		return
	}
	ab = Counts{f.Metric.ABPackets, f.Metric.ABBytes}
	ba = Counts{f.Metric.BAPackets, f.Metric.BABytes}
	if swapped(f, ref) {
		ab, ba = ba, ab
	}
	return
}

func swapped(f, ref *flow.Flow) bool {
	same := func(a, b *flow.FlowLayer) (bool, bool) {
		if a == nil || b == nil || a.A == a.B {
			return false, false
		}
		return a.A == b.B && a.B == b.A, true
	}
	if s, ok := same(f.Network, ref.Network); ok {
		return s
	}
	if s, ok := same(f.Link, ref.Link); ok {
		return s
	}
	return false
}

// order sorts hops along the topology from the trace's A to its B: by
// their distance to the interface holding A's address minus their distance
// to B's; between hops at the same difference, nearest to A first on A's
// half, nearest to B last on B's. When the topology cannot place them all,
// the hops keep the order of their first packet and the reason is returned.
func (p *paths) order(hops []hop, ref *flow.Flow) string {
	if len(hops) < 2 {
		return ""
	}
	const unplaced = "the topology does not place every hop on a path between the flow's ends (%s): hops are in the order of their first packet"
	if ref.Network == nil {
		return fmt.Sprintf(unplaced, "not an IP flow")
	}
	endA, endB := p.owner(ref.Network.A), p.owner(ref.Network.B)
	if endA == nil || endB == nil {
		return fmt.Sprintf(unplaced, "no interface holds "+ref.Network.A+" or "+ref.Network.B)
	}
	type place struct{ a, b int }
	dA, dB := p.distances(endA.ID), p.distances(endB.ID)
	at := make(map[string]place, len(hops))
	for _, h := range hops {
		if h.node == nil {
			return fmt.Sprintf(unplaced, h.Node+" is not in the topology")
		}
		a, okA := dA[h.node.ID]
		b, okB := dB[h.node.ID]
		if !okA || !okB {
			return fmt.Sprintf(unplaced, h.Name+" on "+h.Host+" is on no path to both ends")
		}
		at[h.FlowUUID] = place{a, b}
	}
	slices.SortStableFunc(hops, func(x, y hop) int {
		px, py := at[x.FlowUUID], at[y.FlowUUID]
		if c := cmp.Compare(px.a-px.b, py.a-py.b); c != 0 {
			return c
		}
		if px.a-px.b <= 0 {
			return cmp.Compare(px.a, py.a)
		}
		return cmp.Compare(py.b, px.b)
	})
	return ""
}

// paths walks a view for the trace: its edges both ways, plus the link
// between each tunnel interface and the underlay interface that carries its
// packets (VtepDevIndex), which the topology has no edge for.
type paths struct {
	view     graph.View
	underlay map[graph.Identifier][]graph.Identifier
	ix       *nodeIndex                 // nodes by TID
	owners   map[netip.Addr]*graph.Node // interfaces by address, the first in creation order
}

// newPaths reads the view once: what every trace of a run asks of it.
func newPaths(view graph.View) *paths {
	p := &paths{view: view, underlay: map[graph.Identifier][]graph.Identifier{}, ix: indexNodes(view, false),
		owners: map[netip.Addr]*graph.Node{}}
	nodes := view.Nodes()
	graph.SortNodes(nodes)
	for _, n := range nodes {
		for _, key := range []string{"IPV4", "IPV6"} {
			for _, s := range n.Metadata.Strings(key) {
				if a, ok := ifAddr(s); ok {
					if _, seen := p.owners[a]; !seen {
						p.owners[a] = n
					}
				}
			}
		}
	}
	for _, n := range nodes {
		dev := number(n.Metadata["VtepDevIndex"])
		if dev <= 0 {
			continue
		}
		for _, e := range view.InEdges(n.ID) {
			if e.Metadata.String("RelationType") != "ownership" {
				continue
			}
			for _, sib := range view.OutEdges(e.Parent) {
				if c := view.Node(sib.Child); c != nil && c.ID != n.ID && number(c.Metadata["IfIndex"]) == dev {
					p.underlay[n.ID] = append(p.underlay[n.ID], c.ID)
					p.underlay[c.ID] = append(p.underlay[c.ID], n.ID)
				}
			}
		}
	}
	return p
}

// owner returns the interface whose IPV4 or IPV6 holds addr.
func (p *paths) owner(addr string) *graph.Node {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil
	}
	return p.owners[a]
}

// ifAddr reads an interface's address, "10.0.0.1/24" or "10.0.0.1".
func ifAddr(s string) (netip.Addr, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), true
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// detour is what crossing a link packets do not take costs: a host owns
// its interfaces, packets do not go through it (ownership), and a logical
// model (OVN's, Neutron's) is not the wire (mapping). Such links still join
// what nothing else does, at a price that keeps every real path shorter.
const detour = 16

// distances are the costs of the cheapest paths from id to every node it
// reaches, links taken both ways: 1 a link packets cross, detour another.
func (p *paths) distances(id graph.Identifier) map[graph.Identifier]int {
	view := p.view
	d := map[graph.Identifier]int{id: 0}
	q := &costQueue{{id, 0}}
	for q.Len() > 0 {
		cur := heap.Pop(q).(costItem)
		if cur.cost > d[cur.id] {
			continue
		}
		visit := func(m graph.Identifier, w int) {
			if old, ok := d[m]; !ok || cur.cost+w < old {
				d[m] = cur.cost + w
				heap.Push(q, costItem{m, cur.cost + w})
			}
		}
		for _, e := range view.OutEdges(cur.id) {
			visit(e.Child, cost(e))
		}
		for _, e := range view.InEdges(cur.id) {
			visit(e.Parent, cost(e))
		}
		for _, m := range p.underlay[cur.id] {
			visit(m, 1)
		}
	}
	return d
}

type costItem struct {
	id   graph.Identifier
	cost int
}

// costQueue is a min-heap of costItems (container/heap).
type costQueue []costItem

func (q costQueue) Len() int           { return len(q) }
func (q costQueue) Less(i, j int) bool { return q[i].cost < q[j].cost }
func (q costQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *costQueue) Push(x any)        { *q = append(*q, x.(costItem)) }
func (q *costQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

func cost(e *graph.Edge) int {
	if carries(e) {
		return 1
	}
	return detour
}

func carries(e *graph.Edge) bool {
	switch e.Metadata.String("RelationType") {
	case "ownership", "mapping":
		return false
	}
	return true
}

// via names the nodes on any cheapest path between two hops (links packets
// cross first, see distances), nearest to from first.
func (p *paths) via(from, to *graph.Node) []string {
	out := []string{}
	if from == nil || to == nil {
		return out
	}
	dF, dT := p.distances(from.ID), p.distances(to.ID)
	total, ok := dF[to.ID]
	if !ok {
		return out
	}
	type step struct {
		d    int
		name string
	}
	var steps []step
	for id, df := range dF {
		if id == from.ID || id == to.ID {
			continue
		}
		if dt, ok := dT[id]; ok && df+dt == total {
			if n := p.view.Node(id); n != nil {
				steps = append(steps, step{df, n.Metadata.String("Name")})
			}
		}
	}
	slices.SortFunc(steps, func(a, b step) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name)) })
	for _, s := range steps {
		out = append(out, s.name)
	}
	return out
}

// losses compares consecutive hops: AB packets seen at a hop and not at the
// next, BA packets seen at a hop and not at the previous one. More packets
// downstream than upstream means the counts were taken at different times
// (an active flow), and a hop on a host whose agent was away (away) counts
// short: both said in incomplete rather than reported as loss.
func (p *paths) losses(hops []hop, away map[string]bool, incomplete []string) ([]TraceLoss, []string) {
	out := []TraceLoss{}
	for i := 0; i+1 < len(hops); i++ {
		up, down := &hops[i], &hops[i+1]
		check := func(dir string, from, to *hop, sent, got int64) {
			if sent != got && (away[from.Host] || away[to.Host]) {
				incomplete = append(incomplete, fmt.Sprintf("no %s loss is measured between %s on %s and %s on %s: an agent there was away (below)",
					dir, from.Name, from.Host, to.Name, to.Host))
				return
			}
			switch {
			case sent > got:
				out = append(out, TraceLoss{From: from.Name, To: to.Name, FromHost: from.Host, ToHost: to.Host,
					FromNode: from.Node, ToNode: to.Node, Direction: dir, Lost: sent - got, Of: sent, Via: p.via(from.node, to.node)})
			case got > sent:
				incomplete = append(incomplete, fmt.Sprintf("%s on %s counted %d %s packets more than %s on %s before it: counts taken at different times (flow still active?)",
					to.Name, to.Host, got-sent, dir, from.Name, from.Host))
			}
		}
		check("AB", up, down, up.AB.Packets, down.AB.Packets)
		check("BA", down, up, down.BA.Packets, up.BA.Packets)
	}
	return out, incomplete
}

// captureGaps reads the hops' capture states (CaptureGaps).
func captureGaps(hops []hop) []string {
	var out []string
	for _, h := range hops {
		if h.node != nil {
			out = append(out, CaptureGaps(h.node, h.flow.CaptureID)...)
		}
	}
	return out
}

// CaptureGaps reads a node's capture states (of capture captureID, or of
// all when ""): a sampling capture counts a share of the packets, a
// dropping one misses some.
func CaptureGaps(n *graph.Node, captureID string) []string {
	var out []string
	name, host := n.Metadata.String(graph.KeyName), n.Host
	caps, _ := n.Metadata["Captures"].([]any)
	for _, c := range caps {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if id, _ := m["ID"].(string); captureID != "" && id != captureID {
			continue
		}
		switch typ, _ := m["Type"].(string); typ {
		case capture.TypeSFlow, capture.TypeOVSSFlow, capture.TypeNetFlow, capture.TypeOVSNetFlow:
			out = append(out, fmt.Sprintf("the %s capture on %s of %s samples packets: its counts are not every packet", typ, name, host))
		}
		if d := number(m["PacketsDropped"]) + number(m["PacketsIfDropped"]); d > 0 {
			out = append(out, fmt.Sprintf("the capture on %s of %s dropped %d packets", name, host, d))
		}
	}
	return out
}

func number(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	}
	return 0
}

// window is the time the group's flows were seen in.
func window(group []*flow.Flow) (time.Time, time.Time) {
	from, to := group[0].Start, group[0].Last
	for _, f := range group[1:] {
		from, to = min(from, f.Start), max(to, f.Last)
	}
	return time.UnixMilli(from), time.UnixMilli(to)
}
