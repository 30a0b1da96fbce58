// Package flowsteps extends the Gremlin engine (package eval) with the
// flow steps of the Skydive dialect: G.Flows(), V().Flows(), Has/HasEither/
// HasNot/HasKey on flow fields, Sort, Dedup, Limit, Range, Count, Values,
// Keys, Sum, Hops, CaptureNode, Nodes, In/Out/Both, Metrics, RawPackets,
// BPF, Group and MoreThan.
//
//	eng := eval.NewEngine(flowsteps.Options())
//	q, _ := eng.Compile("G.V().Has('Name', 'eth0').Flows().Has('Network', '10.0.0.1')")
//	res, _ := q.Run(ctx, eval.Env{Graph: g, History: h,
//		Flows: &flowsteps.Source{Live: liveFlows, Store: store}})
//
// Without time context flows come from Source.Live (or Source.Store when
// Live is nil): the flows alive now. After G.At(t[, d]) / G.Context they
// come from Source.Store, the flows alive in [t-d, t] (error "no storage
// configured" without a store).
package flowsteps

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/skydive-ng/skydive/internal/capture"
	"github.com/skydive-ng/skydive/internal/capture/rawpacket"
	"github.com/skydive-ng/skydive/internal/flow"
	"github.com/skydive-ng/skydive/internal/flowstore"
	"github.com/skydive-ng/skydive/internal/graph"
	"github.com/skydive-ng/skydive/internal/gremlin/eval"
	"github.com/skydive-ng/skydive/internal/gremlin/syntax"
	"github.com/skydive-ng/skydive/internal/predicate"
	"github.com/skydive-ng/skydive/internal/store"
)

// Node metadata keys the flow steps use.
const (
	keyTID         = "TID"
	keyMAC         = "MAC"
	keyPeerIntfMAC = "PeerIntfMAC"
)

// Options returns the engine extension with the flow steps.
func Options() eval.Options {
	onFlows := []eval.Kind{KindFlows}
	def := func(name string, in []eval.Kind, f compileFunc) eval.StepDef {
		return eval.StepDef{Name: name, In: in, Compile: f}
	}
	var steps []eval.StepDef
	// Flow steps on anything else are compile errors (the core's
	// placeholders would fail at run time only). Listed first: the
	// specific definitions below win.
	for _, name := range []string{"Flows", "Hops", "CaptureNode", "Nodes", "Metrics", "RawPackets", "BPF", "Group", "MoreThan", "Trace"} {
		steps = append(steps, def(name, nil, cannotFollow))
	}
	return eval.Options{Steps: append(steps, []eval.StepDef{
		def("Context", []eval.Kind{eval.KindGraph}, compileContext),
		def("Flows", []eval.Kind{eval.KindGraph, eval.KindNodes, eval.KindPaths}, compileFlows),
		def("Has", onFlows, compileHas),
		def("HasEither", onFlows, compileHas),
		def("HasKey", onFlows, compileHas),
		def("HasNot", onFlows, compileHas),
		def("Dedup", onFlows, compileDedup),
		def("Sort", onFlows, compileSort),
		def("Limit", onFlows, compileSlice),
		def("Range", onFlows, compileSlice),
		def("Count", []eval.Kind{KindFlows, KindGroups}, compileCount),
		def("Values", onFlows, compileValues),
		def("Keys", onFlows, compileKeys),
		def("Sum", onFlows, compileSum),
		def("Hops", onFlows, compileCaptureNodes),
		def("CaptureNode", onFlows, compileCaptureNodes),
		def("Nodes", onFlows, compileNodes(true, true, true)),
		def("Out", onFlows, compileNodes(false, true, false)),
		def("In", onFlows, compileNodes(true, false, false)),
		def("Both", onFlows, compileNodes(true, true, false)),
		def("Metrics", onFlows, compileMetrics),
		def("RawPackets", onFlows, compileRawPackets),
		def("BPF", []eval.Kind{KindRawPackets}, compileBPF),
		def("Group", onFlows, compileGroup),
		def("MoreThan", []eval.Kind{KindGroups}, compileMoreThan),
		def("Trace", onFlows, compileTrace),
	}...)}
}

func cannotFollow(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	prev := "G"
	if p := c.Previous(); p != nil && p.Name != "G" {
		prev = p.Name + "()"
	}
	return nil, "", syntax.Errorf(s.Pos(), "%s() cannot follow %s", s.Name, prev)
}

// NewEngine returns an engine with the core and the flow steps.
func NewEngine() *eval.Engine { return eval.NewEngine(Options()) }

type compileFunc = func(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error)

func stepErr(s *syntax.Step, format string, args ...any) error {
	return syntax.Errorf(s.Pos(), "%s(): %s", s.Name, fmt.Sprintf(format, args...))
}

// flowFilter is a compiled flow filter.
type flowFilter struct {
	conds []flowCond
	any   bool
}

type flowCond struct {
	key      string
	get, alt getter // alt: the B side of a Network/Link/Transport shortcut
	p        *predicate.P
}

func (c *flowCond) match(f *flow.Flow) bool {
	v, ok := c.get(f)
	if c.p.Match(v, ok) {
		return true
	}
	if c.alt != nil {
		v, ok = c.alt(f)
		return c.p.Match(v, ok)
	}
	return false
}

// newCond compiles a condition; the shortcuts Network, Link and Transport
// test .A then .B without building a list per flow.
func newCond(key string, p *predicate.P) flowCond {
	switch key {
	case "Network", "Link", "Transport":
		return flowCond{key: key, get: fieldGetter(key + ".A"), alt: fieldGetter(key + ".B"), p: p}
	}
	return flowCond{key: key, get: fieldGetter(key), p: p}
}

func (ff *flowFilter) match(f *flow.Flow) bool {
	if ff == nil || len(ff.conds) == 0 {
		return true
	}
	for i := range ff.conds {
		if ff.conds[i].match(f) == ff.any {
			return ff.any
		}
	}
	return !ff.any
}

func toFlowFilter(f *eval.Filter) *flowFilter {
	if f == nil {
		return nil
	}
	ff := &flowFilter{any: f.Any}
	for _, c := range f.Conds {
		ff.conds = append(ff.conds, newCond(c.Key, c.P))
	}
	return ff
}

// fusedFlows is what Flows() notes for the Has() steps right after it:
// they add their conditions to the store query instead of filtering after.
type fusedFlows struct {
	ff   *flowFilter
	last *syntax.Step // the step the next Has() must follow to fuse
}

const fusedKey = "flowsteps.fused"

func compileFlows(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	ff := &flowFilter{}
	if len(s.Args) > 0 {
		f, err := c.Filter(s.Args)
		if err != nil {
			return nil, "", err
		}
		ff = toFlowFilter(f)
	}
	c.SetNote(fusedKey, &fusedFlows{ff: ff, last: s})
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		q, w, err := resolve(r.Env.Flows)
		if err != nil {
			return nil, stepErr(s, "%v", err)
		}
		query := flowstore.Query{Window: w}
		if len(ff.conds) > 0 {
			query.Filter = ff.match
		}
		switch t := v.(type) {
		case eval.Nodes:
			query.NodeTIDs = nodeTIDs(t)
		case eval.Paths:
			var ns eval.Nodes
			for _, p := range t {
				ns = append(ns, p...)
			}
			query.NodeTIDs = nodeTIDs(ns)
		}
		if v.Kind() != eval.KindGraph && len(query.NodeTIDs) == 0 {
			return Flows{}, nil
		}
		var fs []*flow.Flow
		if cq, ok := q.(store.CondQuerier); ok && !ff.any {
			// The store evaluates what it can; the filter stays the final check.
			fs, err = cq.FlowsWhere(r.Ctx, store.FlowQuery{Query: query, Conds: ff.pushable()})
		} else {
			fs, err = q.Flows(r.Ctx, query)
		}
		if err != nil {
			if ctxErr := r.Ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, stepErr(s, "%v", err)
		}
		return Flows(fs), nil
	}, KindFlows, nil
}

// pushable turns the conditions a store can evaluate into store.Conds.
func (ff *flowFilter) pushable() []store.Cond {
	var out []store.Cond
	for _, c := range ff.conds {
		kind, ok := store.Pushable(c.key)
		if !ok || c.alt != nil {
			continue
		}
		args := c.p.Args()
		if len(args) == 0 {
			continue
		}
		valid := true
		for _, a := range args {
			switch a.(type) {
			case string:
				valid = valid && kind == store.StringField
			case int64:
				valid = valid && kind == store.IntField
			default:
				valid = false
			}
		}
		if !valid {
			continue
		}
		op, ok := map[string]store.Op{"EQ": store.Eq, "WITHIN": store.In, "LT": store.Lt, "LTE": store.Le,
			"GT": store.Gt, "GTE": store.Ge}[c.p.Name()]
		if !ok {
			continue // NE also matches flows without the field: not a Cond
		}
		out = append(out, store.Cond{Field: c.key, Op: op, Values: args})
	}
	return out
}

func nodeTIDs(ns []*graph.Node) []string {
	var out []string
	for _, n := range ns {
		if tid := n.Metadata.String(keyTID); tid != "" {
			out = append(out, tid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func compileHas(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	var ff *flowFilter
	switch s.Sig.Name {
	case "HasKey", "HasNot":
		p := predicate.Exists()
		if s.Sig.Name == "HasNot" {
			p = predicate.Absent()
		}
		ff = &flowFilter{conds: []flowCond{newCond(s.Args[0].(*syntax.StringLit).Value, p)}}
	default:
		f, err := c.Filter(s.Args)
		if err != nil {
			return nil, "", err
		}
		f.Any = s.Sig.Name == "HasEither"
		ff = toFlowFilter(f)
	}
	if fused, ok := c.Note(fusedKey).(*fusedFlows); ok && fused.last == c.Previous() && !ff.any && !fused.ff.any {
		// Right after Flows() (or a Has() fused with it): a condition of
		// the store query, where the store can use its indexes.
		fused.ff.conds = append(fused.ff.conds, ff.conds...)
		fused.last = s
		return func(_ *eval.Run, v eval.Value) (eval.Value, error) { return v, nil }, KindFlows, nil
	}
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		in := v.(Flows)
		out := make(Flows, 0, min(len(in), 64))
		for _, f := range in {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			if ff.match(f) {
				out = append(out, f)
			}
		}
		return out, nil
	}, KindFlows, nil
}

func stringArgs(args []syntax.Expr) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if s, ok := a.(*syntax.StringLit); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

func valueKey(vs []any, oks []bool) string {
	var b strings.Builder
	for i, v := range vs {
		if !oks[i] {
			b.WriteString("\x00-")
		} else {
			fmt.Fprintf(&b, "\x00%T:%v", v, v)
		}
	}
	return b.String()
}

// compileDedup keeps the first flow of each value of the keys (default
// TrackingID: one flow per flow seen on several interfaces).
func compileDedup(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	keys := stringArgs(s.Args)
	if len(keys) == 0 {
		keys = []string{"TrackingID"}
	}
	gets := make([]getter, len(keys))
	for i, k := range keys {
		gets[i] = fieldGetter(k)
	}
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		in := v.(Flows)
		seen := make(map[string]struct{}, len(in))
		out := make(Flows, 0, len(in))
		vs, oks := make([]any, len(gets)), make([]bool, len(gets))
		for _, f := range in {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			for i, g := range gets {
				vs[i], oks[i] = g(f)
			}
			k := valueKey(vs, oks)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, f)
		}
		return out, nil
	}, KindFlows, nil
}

// compileSort sorts flows by a key, default Last (the time of the last
// packet), ascending unless DESC.
func compileSort(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	key, desc := eval.SortArgs(s, "Last")
	get := fieldGetter(key)
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		out := slices.Clone(v.(Flows))
		slices.SortStableFunc(out, func(a, b *flow.Flow) int {
			av, aok := get(a)
			bv, bok := get(b)
			c := eval.CompareValues(av, aok, bv, bok)
			if desc && aok && bok {
				c = -c
			}
			return c
		})
		return out, nil
	}, KindFlows, nil
}

func compileSlice(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	var from, to int64
	if s.Sig.Name == "Limit" {
		to = s.Args[0].(*syntax.NumberLit).Int
	} else {
		from, to = s.Args[0].(*syntax.NumberLit).Int, s.Args[1].(*syntax.NumberLit).Int
	}
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		fs := v.(Flows)
		n := int64(len(fs))
		a, b := min(from, n), min(to, n)
		return fs[a:b:b], nil
	}, KindFlows, nil
}

func compileCount(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		switch t := v.(type) {
		case Flows:
			return eval.Number{V: int64(len(t))}, nil
		case Groups:
			return eval.Number{V: int64(len(t))}, nil
		}
		return nil, stepErr(s, "unexpected input %T", v)
	}, eval.KindNumber, nil
}

func compileValues(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	get := fieldGetter(s.Args[0].(*syntax.StringLit).Value)
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		out := eval.Values{}
		for _, f := range v.(Flows) {
			if x, ok := get(f); ok {
				out = append(out, x)
			}
		}
		return out, nil
	}, eval.KindValues, nil
}

func compileKeys(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		set := map[string]struct{}{}
		for _, f := range v.(Flows) {
			if err := r.Tick(); err != nil {
				return nil, err
			}
			for _, k := range flowKeys(f) {
				set[k] = struct{}{}
			}
		}
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(eval.Values, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	}, eval.KindValues, nil
}

// compileSum sums an integer field of the flows ('Metric.ABPackets').
func compileSum(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	if len(s.Args) == 0 {
		return nil, "", stepErr(s, "a key is required on flows, e.g. Sum('Metric.ABPackets')")
	}
	key := s.Args[0].(*syntax.StringLit).Value
	get := fieldGetter(key)
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		var sum int64
		for _, f := range v.(Flows) {
			x, ok := get(f)
			if !ok {
				continue
			}
			n, isInt := x.(int64)
			if !isInt {
				return nil, stepErr(s, "%s is not an integer field (%T)", key, x)
			}
			sum += n
		}
		return eval.Number{V: sum}, nil
	}, eval.KindNumber, nil
}

// nodeIndex indexes the nodes of a view by TID and by MAC/PeerIntfMAC.
type nodeIndex struct {
	byTID map[string][]*graph.Node
	byMAC map[string]*graph.Node
}

func indexNodes(view graph.View, macs bool) *nodeIndex {
	ns := view.Nodes()
	graph.SortNodes(ns)
	ix := &nodeIndex{byTID: map[string][]*graph.Node{}}
	if macs {
		ix.byMAC = map[string]*graph.Node{}
	}
	for _, n := range ns {
		if tid := n.Metadata.String(keyTID); tid != "" {
			ix.byTID[tid] = append(ix.byTID[tid], n)
		}
		if macs {
			for _, k := range []string{keyMAC, keyPeerIntfMAC} {
				if mac := strings.ToLower(n.Metadata.String(k)); mac != "" {
					if _, ok := ix.byMAC[mac]; !ok {
						ix.byMAC[mac] = n
					}
				}
			}
		}
	}
	return ix
}

type nodeSet struct {
	seen map[graph.Identifier]struct{}
	out  eval.Nodes
}

func (s *nodeSet) add(n *graph.Node) {
	if n == nil {
		return
	}
	if _, ok := s.seen[n.ID]; ok {
		return
	}
	s.seen[n.ID] = struct{}{}
	s.out = append(s.out, n)
}

func (s *nodeSet) sorted() eval.Nodes {
	graph.SortNodes(s.out)
	if s.out == nil {
		return eval.Nodes{}
	}
	return s.out
}

// compileCaptureNodes: Hops() and CaptureNode() give the nodes where the
// flows were captured (node TID = flow NodeTID).
func compileCaptureNodes(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	return compileNodes(false, false, true)(c, s, in)
}

// compileNodes gives the A side (by Link.A MAC), B side (Link.B) and/or
// capture nodes of flows: In(), Out(), Both(), Nodes(), Hops().
func compileNodes(a, b, capture bool) compileFunc {
	return func(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
		var nf *eval.Filter
		if len(s.Args) > 0 {
			f, err := c.Filter(s.Args)
			if err != nil {
				return nil, "", err
			}
			nf = f
		}
		return func(r *eval.Run, v eval.Value) (eval.Value, error) {
			ix := indexNodes(r.View, a || b)
			set := &nodeSet{seen: map[graph.Identifier]struct{}{}}
			for _, f := range v.(Flows) {
				if err := r.Tick(); err != nil {
					return nil, err
				}
				if capture {
					for _, n := range ix.byTID[f.NodeTID] {
						set.add(n)
					}
				}
				if f.Link != nil {
					if a {
						set.add(ix.byMAC[strings.ToLower(f.Link.A)])
					}
					if b {
						set.add(ix.byMAC[strings.ToLower(f.Link.B)])
					}
				}
			}
			out := set.sorted()
			if nf != nil {
				kept := eval.Nodes{}
				for _, n := range out {
					if nf.Element(&n.Element) {
						kept = append(kept, n)
					}
				}
				out = kept
			}
			return out, nil
		}, eval.KindNodes, nil
	}
}

func uuidsOf(fs Flows) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.UUID
	}
	return out
}

// compileMetrics: live, the current LastUpdateMetric of each flow (or its
// Metric before the first update); in a time context, the stored history
// of LastUpdateMetric within the window.
func compileMetrics(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	if len(s.Args) > 0 {
		return nil, "", stepErr(s, "takes no key on flows")
	}
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		fs := v.(Flows)
		q, w, err := resolve(r.Env.Flows)
		if err != nil {
			return nil, stepErr(s, "%v", err)
		}
		if w == nil {
			out := Metrics{}
			for _, f := range fs {
				if m := cmp.Or(f.LastUpdateMetric, f.Metric); m != nil {
					out[f.UUID] = []flow.Metric{*m}
				}
			}
			return out, nil
		}
		ms, err := q.Metrics(r.Ctx, uuidsOf(fs), w)
		if err != nil {
			return nil, stepErr(s, "%v", err)
		}
		return Metrics(ms), nil
	}, KindMetrics, nil
}

func compileRawPackets(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		q, _, err := resolve(r.Env.Flows)
		if err != nil {
			return nil, stepErr(s, "%v", err)
		}
		rp, err := q.RawPackets(r.Ctx, uuidsOf(v.(Flows)))
		if err != nil {
			return nil, stepErr(s, "%v", err)
		}
		return RawPackets(rp), nil
	}, KindRawPackets, nil
}

// compileBPF keeps the raw packets matching a tcpdump filter.
func compileBPF(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	expr := s.Args[0].(*syntax.StringLit).Value
	vm, err := newBPFVM(layers.LinkTypeEthernet, expr)
	if err != nil {
		return nil, "", stepErr(s, "%v", err)
	}
	var mu sync.Mutex
	vms := map[layers.LinkType]*bpf.VM{layers.LinkTypeEthernet: vm}
	vmFor := func(lt layers.LinkType) (*bpf.VM, error) {
		mu.Lock()
		defer mu.Unlock()
		if vm, ok := vms[lt]; ok {
			return vm, nil
		}
		vm, err := newBPFVM(lt, expr)
		if err != nil {
			return nil, err
		}
		vms[lt] = vm
		return vm, nil
	}
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		out := RawPackets{}
		for id, ps := range v.(RawPackets) {
			var kept []rawpacket.Packet
			for _, p := range ps {
				vm, err := vmFor(p.LinkType)
				if err != nil {
					return nil, stepErr(s, "%v", err)
				}
				if n, err := vm.Run(p.Data); err == nil && n > 0 {
					kept = append(kept, p)
				}
			}
			if len(kept) > 0 {
				out[id] = kept
			}
		}
		return out, nil
	}, KindRawPackets, nil
}

func newBPFVM(lt layers.LinkType, expr string) (*bpf.VM, error) {
	raw, err := capture.CompileBPFFor(lt, expr, 65535)
	if err != nil {
		return nil, err
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		return nil, fmt.Errorf("filter %q uses BPF extensions", expr)
	}
	return bpf.NewVM(ins)
}

// compileGroup groups flows by a key (default TrackingID).
func compileGroup(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	key := "TrackingID"
	if len(s.Args) > 0 {
		key = s.Args[0].(*syntax.StringLit).Value
	}
	get := fieldGetter(key)
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		out := Groups{}
		for _, f := range v.(Flows) {
			x, ok := get(f)
			if !ok {
				continue
			}
			k := fmt.Sprint(x)
			out[k] = append(out[k], f)
		}
		return out, nil
	}, KindGroups, nil
}

// compileMoreThan keeps the groups of more than n flows (default 1).
func compileMoreThan(c *eval.Compiler, s *syntax.Step, in eval.Kind) (eval.StepFunc, eval.Kind, error) {
	n := int64(1)
	if len(s.Args) > 0 {
		n = s.Args[0].(*syntax.NumberLit).Int
	}
	return func(r *eval.Run, v eval.Value) (eval.Value, error) {
		out := Groups{}
		for k, fs := range v.(Groups) {
			if int64(len(fs)) > n {
				out[k] = fs
			}
		}
		return out, nil
	}, KindGroups, nil
}
