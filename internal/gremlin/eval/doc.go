// Package eval compiles and runs queries of the Skydive Gremlin dialect
// (see /work/shared/reference/gremlin.md) over a graph.View.
//
// # Use
//
//	q, err := eval.Compile("G.V().Has('Type', 'veth').Count()")
//	if err != nil { ... }               // *syntax.Error: "1:17: ..." → HTTP 400
//	res, err := q.Run(ctx, eval.Env{
//		Graph:   g,                     // the live *graph.Graph (any graph.View)
//		History: hist,                  // optional: *history.Store, for At/Context/Diff
//		Flows:   flowSource,            // optional: handed to flow-step extensions
//		Now:     time.Now,              // optional clock for '-1m', NOW
//	})
//	if err != nil { ... }               // *syntax.Error (query error) or ctx.Err()
//	body, _ := json.Marshal(res)        // the original's JSON shapes
//
// A compiled *Query is immutable: compile once, run many times, from many
// goroutines. Run checks ctx between steps and regularly inside loops.
//
// Every query error, at compile or run time, is a *syntax.Error with the
// 1-based line:column of the offending token or step, e.g.
// `1:17: Out() cannot follow Count()` or `1:3: Node 'x' does not exist`.
// Type errors (a step applied to the wrong kind of input) are found at
// compile time. Errors that are not *syntax.Error are context errors.
//
// # Results
//
// Run returns a Value; its concrete type tells the shape:
//
//	Graph   G, At(), SubGraph()          [{"Nodes":[...],"Edges":[...]}]
//	Nodes   V(), Has(), Out() ...        [node, ...]
//	Edges   E(), OutE() ...              [edge, ...]
//	Values  Values(), ValueMap(), Keys() [v, ...] (flat)
//	Number  Count(), Sum()               42
//	Paths   ShortestPathTo()             [[node, ...], ...]
//	Object  Diff()                       [{...}] (map-shaped, wrapped in an array)
//	NextHops NextHop('ip')               [{"<node ID>":{Priority,IP,MAC,IfIndex}}], [] if none
//	MTUAudits MTUAudit() after paths     [{Path,Tunnels,MaxPacket,Bottleneck,Verdict}, ...] one per path
//
// Nodes and edges are in a deterministic order: creation time, then ID
// (then revision in history windows); traversal steps return each element
// once.
//
// # Steps
//
// G, V([id] | [k, v, ...]), E(...), Has(k[, v, k2, v2 ...]), HasKey(k),
// HasNot(k), HasEither(k, v, ...), Out/In/Both([k, v ...]),
// OutE/InE/BothE([k, v ...]), OutV/InV/BothV([k, v ...]) — with Skydive's
// convention InV = parent, OutV = child —, Dedup([k ...]), Count(),
// Limit(n), Range(a, b), Sort([ASC|DESC,] [k]) (default key @CreatedAt),
// Values(k), ValueMap([k ...]) (no key: all metadata), Keys() (metadata
// keys, dotted), Sum([k]), As(name), Select(name ...),
// ShortestPathTo(Metadata(...)[, Metadata(edge filter)]), SubGraph([k, v
// ...]), Descendants/Ascendants([k, v ...][, depth]) (default
// RelationType=ownership, depth 1, 0 = unlimited), Neighbors([k, v ...][,
// depth]), Context/At(time[, duration]), Diff([time]), NextHop('ip'),
// MTUAudit() (after ShortestPathTo).
//
// NextHop('ip') on nodes answers how each node (an interface, from the
// RoutingTables and Neighbors the netlink probe gives it) reaches ip: the
// main table (254) first, then the others by ID, the first table with a
// route to ip answering; in a table the longest prefix wins, then the
// lowest Priority (metric). IP is the gateway, or ip itself for a connected
// route; MAC is that IP's in the node's Neighbors when known. Nodes without
// a route to ip are left out (see LookupNextHop).
//
// MTUAudit() after ShortestPathTo audits each path's MTU (see AuditMTU):
//
//	{"Path": [{"ID", "Name", "Type", "MTU"}, ...],          the nodes with an MTU
//	 "Tunnels": [{"Name", "Overhead", "Underlay", "UnderlayMTU"}, ...],
//	 "MaxPacket": 1350,                                     largest IP packet end to end
//	 "Bottleneck": "eth1",                                  the interface that limits it
//	 "Verdict": "instance MTU 1500 over VXLAN on a 1400 underlay (eth1): 1350 needed, or an underlay MTU of 1550"}
//
// A tunnel's overhead: VXLAN and Geneve 50 over IPv4, 70 over IPv6 (Geneve
// options come on top), GRE 24/44, gretap 38/58, ipip and sit 20/40; its
// underlay is the interface that carries the outer packets: of index
// VtepDevIndex, ParentIndex or Link in the tunnel's namespace, else the
// one owning its LocalIP, else the one routing its RemoteIP (Underlay ""
// when none is found, and the verdict says so). MaxPacket is the smallest
// of the interfaces' MTUs (an underlay on the path counts only through its
// tunnels) and of each UnderlayMTU - Overhead; the verdict compares it with
// the first interface's MTU ("ok: 1500 passes" when that passes).
//
// Keys are dotted metadata paths ('Neutron.IPV4', 'ExtID.vm-id'), with an
// optional "Metadata." prefix, or element fields: @ID, @Host, @Origin,
// @CreatedAt, @UpdatedAt, @DeletedAt, @Revision (bare ID, Host ...
// resolve to the field when the metadata has no such key). A list value
// matches when any element matches. Predicates: see package predicate (NE,
// NEE, LT, GT, LTE, GTE, INSIDE, OUTSIDE, BETWEEN, WITHIN, WITHOUT, REGEX,
// IPV4RANGE alias IPRANGE).
//
// V().Has(...) is one index lookup when the filter has a Type or Name
// equality: consecutive Has() steps are merged into V() at compile time.
// Has() steps right after Out()/In()/Both() merge into them the same way.
// On the live graph (*graph.Graph), V() scans and the walks run in the
// graph under one read lock: conditions on top-level keys read its dense
// metadata columns (IPV4RANGE the addresses it keeps parsed), Out/In/Both
// and OutE/InE/BothE read its adjacency in place and order their result by
// creation position (no per-node allocation). Other views (history,
// SubGraph()) take the per-node path; both give the same answers.
//
// # Time
//
// G.At(t) / G.Context(t) (directly after G) runs on Env.History.At(t);
// G.At(t, d) on Env.History.Window(t-d, t): every revision alive in the
// window. t is NOW, a duration relative to now ('-1m'), a Unix timestamp
// (≤ MaxInt32: seconds, else milliseconds; a negative integer: seconds
// relative to now), or a date (RFC1123 'Sun, 27 Nov 2016 15:53:58 CET',
// RFC3339 ...); d is seconds, a duration ('5m') or FOREVER. Without
// History: error "Backend does not support history".
//
// Diff([t]) (beyond the original) compares the nodes or edges selected so
// far with what the same query prefix selected at time t (default: now,
// which is useful after At): G.V().Has('Type', 'veth').Diff('-5m') tells
// what appeared, disappeared and changed in the last five minutes;
// G.At('-1m').V().Diff('-1h') between one hour and one minute ago. Result:
// [{"From":ms,"To":ms,"Added":[...],"Removed":[...],"Changed":[{"ID",
// "Keys":[changed dotted keys, @Host, @Origin],"Old":elem,"New":elem}]}].
//
// # Extensions (flows)
//
// The step table is per Engine, built at construction; there is no global
// registration. Flow steps are added by the flow engine:
//
//	eng := eval.NewEngine(eval.Options{
//		Signatures: []*syntax.Signature{...}, // new step syntax, if any
//		Steps: []eval.StepDef{
//			{Name: "Flows", In: []eval.Kind{eval.KindGraph, eval.KindNodes}, Compile: compileFlows},
//			{Name: "Has", In: []eval.Kind{KindFlows}, Compile: compileFlowHas},
//			...
//		},
//	})
//	q, err := eng.Compile(src)
//
// A StepDef's Compile receives the *Compiler (c.Filter(args) compiles
// key/value pairs into a *Filter usable on flows via Filter.Fields, and
// c.Predicate compiles one value) and returns a StepFunc(r *Run, in Value)
// and its output Kind; r.Env.Flows carries the flow source, r.View the
// graph, r.Tick() reports cancellation. The output Value must marshal to
// JSON. Steps of the same name are chosen by input kind, the last given
// first.
//
// Without a flow extension, the dialect's flow steps (Flows, Hops,
// CaptureNode/Node, Nodes, Metrics, Aggregates, RawPackets, BPF, Group,
// MoreThan, Sockets) parse and fail at run time with "<Step>(): no flow
// source"; Workflow fails with "not supported by this server".
package eval
